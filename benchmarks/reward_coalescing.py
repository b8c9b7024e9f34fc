"""Reward coalescing under 32 concurrent TPO runs: score calls against batches, in counts.

32 TPO runs (N=5, D=2) run at once (`asyncio.gather` of `TPOChain.ainvoke`) on a stub policy
(scripted answers of everyday length, each request taking a short, prompt-dependent time) and
the default reward model on transformers. Printed for each setting: the score calls the runs
made, the batches the reward model ran (calls of its `_ascore`), the pairs per batch, and the
wall time:

- `coalesced`: the default (`batch_window_ms=5`, one batch in flight; calls that arrive while a
  batch runs join the next);
- `alone`: `batch_window_ms=None`, every score call its own batch (what main did).

Scores are then checked against unbatched scoring: every score call of the coalesced run is
scored again on its own (`score`, sync, one call = one batch, as without coalescing), and the
number of identical scores and the largest difference are printed. The criterion: the reward
model receives at most a quarter as many batches as there are score calls. On this CPU one
forward of 160 pairs costs about as much as 32 forwards of 5, so the time shows little gain;
on an accelerator the count is what saves time.

Run:  python benchmarks/reward_coalescing.py [--runs 32] [--threads 2] [--write]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import machine, write_section

SECTION = "## Reward coalescing under 32 concurrent runs"
TOPICS = [
    "get a stripped screw out of wood",
    "stop rice from sticking to the pot",
    "fall asleep faster at night",
    "keep tomato leaves from turning yellow",
    "fix a bicycle chain that keeps slipping",
    "clear ice from a car windscreen",
    "get a coffee stain out of a white shirt",
    "start a simple monthly budget",
]
SENTENCES = [
    "Start with the simplest fix and check the result before going further.",
    "Use a rubber band or a wider bit for more grip if the first try slips.",
    "Work slowly and apply steady pressure rather than force.",
    "If that does not help, a specialised tool from a hardware shop will.",
    "Clean up afterwards so the problem does not come back next time.",
    "Ask someone with experience if you are unsure about any step.",
]


def _responder() -> Any:
    """Answers that depend on the prompt and on how often it was asked, nothing else."""
    asked: Counter[str] = Counter()

    def respond(messages: list[Any], index: int) -> str:
        key = "\n".join(m.text for m in messages)
        asked[key] += 1
        digest = int(hashlib.sha256(f"{key}{asked[key]}".encode()).hexdigest(), 16)
        count = 2 + digest % 4
        return " ".join(SENTENCES[(digest >> (4 * k)) % len(SENTENCES)] for k in range(count))

    return respond


class SlowScripted:
    """Wraps the scripted policy: each request takes 0.1-0.6 s, depending on its prompt."""

    @staticmethod
    def make() -> Any:
        from langchain_tpo.testing import ScriptedChatModelWithN

        class Policy(ScriptedChatModelWithN):
            async def _agenerate(self, messages: Any, stop: Any = None, **kwargs: Any) -> Any:
                text = messages[-1].text
                await asyncio.sleep(
                    0.1 + int(hashlib.sha256(text.encode()).hexdigest(), 16) % 6 / 10
                )
                return await super()._agenerate(messages, stop, **kwargs)

        return Policy(responder=_responder(), record_requests=False)


def _run(reward: Any, runs: int) -> tuple[float, list[tuple[list[Any], list[float]]]]:
    """Wall seconds of `runs` concurrent TPO runs, and every score call with its scores."""
    from langchain_tpo import TPOChain, TPOConfig

    calls: list[tuple[list[Any], list[float]]] = []
    original = reward.aevaluate

    async def recorded(pairs: Any, config: Any = None) -> Any:
        rewards = await original(pairs, config)
        calls.append((list(pairs), [r.score for r in rewards]))
        return rewards

    object.__setattr__(reward, "aevaluate", recorded)
    chain = TPOChain(
        policy=SlowScripted.make(),
        reward=reward,
        config=TPOConfig(num_samples=5, max_iterations=2, seed=0),
    )
    queries = [f"How do I {TOPICS[i % len(TOPICS)]}? (asker {i})" for i in range(runs)]

    async def all_runs() -> None:
        await asyncio.gather(*(chain.ainvoke(q) for q in queries))

    start = time.perf_counter()
    asyncio.run(all_runs())
    seconds = time.perf_counter() - start
    object.__delattr__(reward, "aevaluate")
    return seconds, calls


def _sizes(batch_sizes: dict[int, int]) -> str:
    return ", ".join(
        f"{size}x{count}" if count > 1 else str(size) for size, count in batch_sizes.items()
    )


def main() -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=32)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--skip-alone", action="store_true", help="only the coalesced run")
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = parser.parse_args()

    import torch

    from langchain_tpo.reward_models import load_default_reward

    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    reward = load_default_reward("transformers")
    reward.score([("warm up", "the model")])
    rows = []
    settings = [("coalesced", {})]
    if not args.skip_alone:
        settings.append(("alone", {"batch_window_ms": None}))
    recorded: list[tuple[list[Any], list[float]]] = []
    for name, update in settings:
        model = reward.model_copy(update=update)
        seconds, calls = _run(model, args.runs)
        counts = model.score_counts()
        if name == "coalesced":
            recorded, coalesced_counts = calls, counts
        per_batch = counts.score_calls / max(counts.batches, 1)
        rows.append(
            f"| {name} | {counts.score_calls} | {counts.batches} | {per_batch:.1f} | "
            f"{_sizes(dict(counts.batch_sizes))} | {seconds:.0f} s |"
        )
        print(rows[-1], flush=True)

    unbatched = reward.model_copy(update={"batch_window_ms": None})
    identical = total = 0
    largest = 0.0
    for pairs, scores in recorded:
        for got, alone in zip(scores, unbatched.score(pairs), strict=True):
            total += 1
            identical += got == alone
            largest = max(largest, abs(got - alone))
    quarter = coalesced_counts.batches * 4 <= coalesced_counts.score_calls
    table = "\n".join(
        [
            f"| {args.runs} concurrent runs | score calls | batches | calls per batch "
            "| pairs per batch | wall time |",
            "|---|---|---|---|---|---|",
            *rows,
        ]
    )
    check = (
        f"Batches <= score calls / 4: {'yes' if quarter else 'NO'} "
        f"({coalesced_counts.batches} batches for {coalesced_counts.score_calls} score calls). "
        f"Against each call scored alone: {identical} of {total} scores identical, largest "
        f"difference {largest:.1e}."
    )
    print(table)
    print(check)
    if args.write:
        write_section(
            SECTION,
            f"{SECTION}\n\n"
            f"{args.runs} TPO runs at once (N=5, D=2) on a stub policy (scripted answers, "
            "0.1-0.6 s per request) and the default reward model on transformers (float32, "
            f"batches of 8 pairs per forward), `torch` threads {args.threads}. `coalesced` is "
            "the default (`batch_window_ms=5`, one batch in flight); `alone` scores every call "
            "as its own batch, as before. A batch is one call of the reward model; its pairs "
            "still go through forwards of `batch_size` pairs. "
            f"{machine(load_before)}.\n\n{table}\n\n{check}\n\n"
            "Scores that are not bit-identical differ by float32 rounding: a pair's forward "
            "shares its matrix products with other pairs, and the CPU kernels round "
            "differently for different batch shapes (seen on a tiny model too, where pairs "
            "scored one per forward are identical; `tests/unit_tests/reward_models/"
            "test_huggingface_coalescing.py`).\n\n"
            "Run: `python benchmarks/reward_coalescing.py --threads 2 --write`.\n",
        )


if __name__ == "__main__":
    main()
