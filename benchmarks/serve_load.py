"""`tpo serve` under load: 64 concurrent clients, a stub policy, the default reward model.

The server runs in this process on 127.0.0.1 (uvicorn in a thread), over a scripted policy
with `n` that answers every request after `--policy-delay` seconds (a policy server that is
never the bottleneck) and the embedded default reward model on transformers, the real cost
here. `--clients` concurrent clients (the `openai` package's async client) each send
`--requests` chat completions, one after another; nothing new is sent after `--time-limit`.

Recorded: requests answered per second, p50 / p99 latency, the process's peak memory, and
the reward's work three ways: score calls (one per scoring step of a run, from the server's
own `/metrics`), reward batches (calls of the reward model's `_score`, the batch it is given)
and forward passes (its `_forward`, at most `batch_size` pairs each). Without coalescing across
runs, batches equal score calls; with it, fewer, larger batches serve the same calls.

    OMP_NUM_THREADS=2 python benchmarks/serve_load.py --write
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from _results import machine, write_section

SECTION = "## Serving under load"
QUESTIONS = [
    "How do I take care of a wooden table?",
    "What should I pack for a weekend hike?",
    "Explain why the sky is blue to a child.",
    "Give me three tips for a job interview.",
    "How can I sleep better at night?",
    "What is a good way to start learning to cook?",
    "How do I keep houseplants alive?",
    "Suggest a plan for a rainy Sunday.",
]
ANSWERS = [
    "Wipe it with a soft damp cloth, dry it at once, and use coasters under hot or wet cups.",
    "Pack water, layers, a map, snacks, sun cream and a small first-aid kit.",
    "Sunlight holds every colour; the air scatters blue light most, so blue comes from all over.",
    "Research the company, prepare examples of your work, and ask a question of your own.",
    "Keep a regular bedtime, avoid screens for an hour before, and keep the room cool and dark.",
    "Start with a few simple dishes you like and cook each one several times.",
    "Water when the top soil is dry, give them light, and do not let roots sit in water.",
    "Read in the morning, cook something slow for lunch, and watch a film in the evening.",
]


@dataclass
class RewardWork:
    """Calls and pair counts at the reward model's two levels."""

    batches: list[int] = field(default_factory=list)
    forwards: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _count_reward_work(reward: Any) -> RewardWork:
    """Wrap the reward class's `_score` and `_forward` to record the pairs each one gets."""
    work = RewardWork()
    cls = type(reward)
    score, forward = cls._score, getattr(cls, "_forward", None)

    def counted_score(self: Any, pairs: Any) -> Any:
        with work.lock:
            work.batches.append(len(pairs))
        return score(self, pairs)

    cls._score = counted_score
    if forward is not None:

        def counted_forward(self: Any, sequences: Any) -> Any:
            with work.lock:
                work.forwards.append(len(sequences))
            return forward(self, sequences)

        cls._forward = counted_forward
    return work


def _policy(delay: float) -> Any:
    from langchain_tpo.testing import ScriptedChatModelWithN, stage_of

    def respond(messages: list[Any], index: int) -> str:
        stage = stage_of(messages)
        if stage == "critique":
            return "The first answer is more direct and more useful than the second."
        if stage == "suggest":
            return "Start with the direct answer. Give one concrete example."
        question = messages[-1].text
        base = ANSWERS[sum(map(ord, question)) % len(ANSWERS)]
        return f"{base} ({index % 7 + 1})"

    return ScriptedChatModelWithN(responder=respond, delay=delay, record_requests=False)


def _metric(text: str, name: str) -> float:
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _load(url: str, args: argparse.Namespace) -> tuple[list[float], int, float]:
    import openai

    client = openai.AsyncOpenAI(
        base_url=f"{url}/v1", api_key="bench", max_retries=0, timeout=args.time_limit + 600
    )
    latencies: list[float] = []
    failures = 0
    deadline = time.monotonic() + args.time_limit

    async def one_client(c: int) -> None:
        nonlocal failures
        for r in range(args.requests):
            if time.monotonic() > deadline:
                return
            question = f"{QUESTIONS[(c + r) % len(QUESTIONS)]} (client {c})"
            started = time.monotonic()
            try:
                await client.chat.completions.create(
                    model="tpo", messages=[{"role": "user", "content": question}]
                )
            except openai.APIError:
                failures += 1
                continue
            latencies.append(time.monotonic() - started)

    started = time.monotonic()
    await asyncio.gather(*(one_client(c) for c in range(args.clients)))
    wall = time.monotonic() - started
    await client.close()
    return latencies, failures, wall


def _calls(sizes: list[int]) -> str:
    if not sizes:
        return "0"
    return f"{len(sizes)} (mean {statistics.fmean(sizes):.1f} pairs, max {max(sizes)})"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--requests", type=int, default=1, help="per client, one after another")
    parser.add_argument("--samples", type=int, default=3, help="N")
    parser.add_argument("--iterations", type=int, default=1, help="D")
    parser.add_argument("--policy-delay", type=float, default=0.2, help="seconds per request")
    parser.add_argument("--reward", choices=("default", "length"), default="default")
    parser.add_argument("--time-limit", type=float, default=900.0, help="no request after it")
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import httpx

    from langchain_tpo import TPOChain, TPOConfig
    from langchain_tpo.reward_models import FunctionReward, load_default_reward
    from langchain_tpo.server import ServerSettings, ServerThread, create_app

    if args.reward == "default":
        reward: Any = load_default_reward("transformers")
    else:
        reward = FunctionReward(lambda query, response: float(len(response)))
    work = _count_reward_work(reward)
    chain = TPOChain(
        policy=_policy(args.policy_delay),
        reward=reward,
        config=TPOConfig(num_samples=args.samples, max_iterations=args.iterations, seed=0),
    )
    settings = ServerSettings(
        max_concurrency=args.clients,
        max_queue=args.clients,
        request_timeout_s=args.time_limit + 600,
    )
    rss_loaded = _rss_mib()
    with ServerThread(create_app(chain, settings)) as server:
        latencies, failures, wall = asyncio.run(_load(server.url, args))
        metrics = httpx.get(f"{server.url}/metrics").text
    score_calls = int(_metric(metrics, "tpo_reward_batch_size_count"))
    scored_pairs = int(_metric(metrics, "tpo_reward_batch_size_sum"))
    batches, forwards = work.batches, work.forwards
    p50, p99 = _percentile(latencies, 0.5), _percentile(latencies, 0.99)
    per_call = scored_pairs / max(1, score_calls)
    rows = [
        ("clients x requests", f"{args.clients} x {args.requests}"),
        ("TPO settings", f"N={args.samples}, D={args.iterations}"),
        ("answered / failed", f"{len(latencies)} / {failures}"),
        ("wall time", f"{wall:.1f} s"),
        ("throughput", f"{len(latencies) / wall:.2f} requests/s"),
        ("latency p50 / p99", f"{p50:.1f} s / {p99:.1f} s"),
        ("peak memory (process)", f"{_rss_mib():.0f} MiB"),
        ("memory with the models loaded, before the load", f"{rss_loaded:.0f} MiB"),
        ("score calls (server metrics)", f"{score_calls} ({per_call:.1f} pairs per call)"),
        ("reward batches (`_score` calls)", _calls(batches)),
        ("forward passes (`_forward` calls)", _calls(forwards)),
        ("reward batches per score call", f"{len(batches) / max(1, score_calls):.2f}"),
    ]
    table = "| measure | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)
    print(table)
    if args.write:
        reward_name = (
            "the embedded default reward (transformers)"
            if args.reward == "default"
            else "a length function"
        )
        section = (
            f"{SECTION}\n\n`python benchmarks/serve_load.py --clients {args.clients} --requests "
            f"{args.requests}` on {time.strftime('%Y-%m-%d')}; {machine(load_before)}; "
            f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}. Policy: scripted, "
            f"{args.policy_delay:g} s per request; reward: {reward_name}.\n\n{table}\n\n{NOTES}\n"
        )
        write_section(SECTION, section)


NOTES = """\
The reward model is the bottleneck here: each score call is one forward of its pairs on the
CPU, behind the model's lock, so 64 runs take turns at it and latency grows with the number of
runs in flight while throughput stays at what the reward can score. Score calls count what the
TPO graphs asked for; reward batches what the model was handed. They are equal here: each
run's scoring step is its own batch. Coalescing the score calls of concurrent runs into one
batch (issue 23, item 4, another branch) shows up as fewer batches than score calls in this
table, with the same pairs scored.

Memory: the reward's weights are memory-mapped and become resident at its first forward (one
score call in a fresh process takes it from 538 to 942 MiB), so most of the difference between
the two memory rows is the model, not the load; 64 runs in flight themselves add about 40 MiB
(132 MiB peak against 91 MiB with a length function as the reward, same script).
"""


if __name__ == "__main__":
    main()
