"""Let the default policy write what TPO asks of it, to find its own non-answers.

For each selected HH-RLHF row the default policy (SmolLM2-135M-Instruct) runs one real TPO
iteration through `TPOChain` (N=2, D=1, the project's prompts and extraction): two plain
answers, a critique of one against the other (textual loss), suggestions (textual gradient)
and two rewrites (variable update). The reward during generation is a constant: which answer
is "chosen" does not matter here. The outputs go to a JSONL file; `scripts/reward_data.py`
sorts them into answers and scaffolding with the published rule (`langchain_tpo.answer_kinds`).

The training script only ever trains on training rows' outputs; held-out rows (for checks)
can be generated too. Rows with a long dialogue are skipped to keep prefill cheap. Rows are
appended as they finish, so a killed run resumes where it stopped.

Usage:
    python scripts/reward_policy_outputs.py --train-prompts 150 --held-out-prompts 0
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scripts.reward_data import (  # noqa: E402
    DATA,
    Row,
    held_out_rows,
    load_rows,
    messages_of,
    training_rows,
)

DEFAULT_OUT = Path("/tmp/langchain-tpo-reward-features/policy_outputs.jsonl")


def select(rows: list[Row], count: int, max_chars: int) -> list[Row]:
    """The first `count` rows whose dialogue is at most `max_chars` long."""
    return [r for r in rows if len(r["context"]) <= max_chars][:count]


def record_of(row: Row, result: Any) -> dict[str, Any]:
    """The texts one TPO iteration produced for `row`."""
    step = result.history[0] if result.history else None
    return {
        "id": row["id"],
        "answers": [c.text for c in result.candidates if c.iteration == -1],
        "critique": step.critique if step else "",
        "suggestion": step.suggestion if step else "",
        "rewrites": [c.text for c in step.candidates] if step else [],
    }


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--train-prompts", type=int, default=150)
    parser.add_argument("--held-out-prompts", type=int, default=80)
    parser.add_argument("--train-rows", type=int, default=1000, help="as in the training script")
    parser.add_argument("--max-context-chars", type=int, default=1200)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--backend", choices=["vllm", "transformers"], default="vllm")
    parser.add_argument("--batch", type=int, default=16, help="rows in flight at once")
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
    from langchain_tpo.chat_models import load_default_policy

    rows = load_rows(args.data)
    chosen = [
        *select(training_rows(rows, args.train_rows, args.seed), args.train_prompts,
                args.max_context_chars),
        *select(held_out_rows(rows, 463), args.held_out_prompts, args.max_context_chars),
    ]  # fmt: skip
    done = set()
    if args.out.is_file():
        done = {json.loads(line)["id"] for line in args.out.read_text().splitlines() if line}
    todo = [r for r in chosen if r["id"] not in done]
    print(f"{len(todo)} rows to generate ({len(done)} already in {args.out})", flush=True)
    if not todo:
        return
    args.out.parent.mkdir(parents=True, exist_ok=True)
    from langchain_tpo import TPOChain, TPOConfig
    from langchain_tpo.reward_models import FunctionReward

    extra = {"kv_cache_memory_bytes": 1 << 30} if args.backend == "vllm" else {}
    policy = load_default_policy(args.backend, **extra)
    config = TPOConfig(
        num_samples=2,
        max_iterations=1,
        temperature=0.7,
        top_p=0.95,
        max_tokens=args.max_tokens,
        seed=args.seed,
    )
    chain = TPOChain(policy=policy, reward=FunctionReward(lambda q, r: 0.0), config=config)
    start = time.perf_counter()
    written = 0
    try:
        with args.out.open("a", encoding="utf-8") as f:
            for begin in range(0, len(todo), args.batch):
                batch = todo[begin : begin + args.batch]
                results = chain.batch([messages_of(r["context"]) for r in batch])
                for row, result in zip(batch, results, strict=True):
                    f.write(json.dumps(record_of(row, result) | {"backend": args.backend}) + "\n")
                f.flush()
                written += len(batch)
                elapsed = time.perf_counter() - start
                print(f"  {written}/{len(todo)} rows, {elapsed:.0f} s", flush=True)
    finally:
        close = getattr(policy, "close", None)
        if close is not None:
            close()


if __name__ == "__main__":
    main()
