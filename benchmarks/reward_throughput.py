"""Reward throughput: pairs scored per second by the default reward model, against its limit.

For each batch size B, B HH-RLHF (conversation, response) pairs are scored in one call by:

- `HuggingFaceRewardModel` (batch_size=B): formatting, tokenizing, one padded forward;
- `VLLMRewardModel`: formatting, tokenizing, one engine `encode` call;
- the limit: one padded transformers forward over the same B token sequences, already
  tokenized, on the same weights: what any backend must at least spend on this machine.

Both backends run float32 on the CPU. Each figure is the best of `--repeats` timed runs after
one warm-up run. With `--write`, replaces the "Reward throughput" section of
benchmarks/RESULTS.md.

Run:  python benchmarks/reward_throughput.py [--batch-sizes 1 2 4 8 16 32 64] [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from _results import RESULTS, best_time, machine, write_section

SECTION = "## Reward throughput"
DATA = Path("/work/shared/benchmarks/hh_rlhf.jsonl")
MAX_LENGTH = 512


def _pairs(count: int) -> list[Any]:
    from langchain_core.messages import AIMessage, HumanMessage

    pairs: list[Any] = []
    with DATA.open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            parts = re.split(r"\n\n(Human|Assistant):", row["context"])
            messages = [
                HumanMessage(text.strip()) if role == "Human" else AIMessage(text.strip())
                for role, text in zip(parts[1::2], parts[2::2], strict=True)
            ][:-1]
            pairs.append((messages, row["chosen"].strip()))
            if len(pairs) == count:
                return pairs
    return pairs


def _padded_forward(hf: Any, sequences: list[list[int]]) -> Callable[[], Any]:
    import torch

    width = max(len(s) for s in sequences)
    ids = torch.zeros((len(sequences), width), dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.tensor(seq)
        mask[row, : len(seq)] = 1

    def run() -> Any:
        with torch.inference_mode():
            return hf.model(input_ids=ids, attention_mask=mask).logits

    return run


def main() -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32, 64])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-vllm", action="store_true", help="transformers only")
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = parser.parse_args()

    import torch

    from langchain_tpo.reward_models import HuggingFaceRewardModel, VLLMRewardModel
    from langchain_tpo.reward_models.default import default_reward_dir

    torch.set_num_threads(os.cpu_count() or 1)
    path = default_reward_dir()
    hf = HuggingFaceRewardModel.from_model_id(path, max_length=MAX_LENGTH)
    all_pairs = _pairs(max(args.batch_sizes))
    batches = [all_pairs[:size] for size in args.batch_sizes]

    # transformers first, with no engine alive: vLLM's idle CPU workers take cores from torch.
    measured: list[dict[str, float]] = []
    for pairs in batches:
        size = len(pairs)
        sequences = [e.input_ids for e in hf._formatter.encode_all(pairs)]
        runner = hf.model_copy(update={"batch_size": size})
        measured.append(
            {
                "tokens": sum(len(s) for s in sequences) / size,
                "limit": size / best_time(_padded_forward(hf, sequences), args.repeats),
                "hf": size / best_time(partial(runner.score, pairs), args.repeats),
            }
        )
        print(f"batch {size}: {measured[-1]}", flush=True)
    if not args.no_vllm:
        vllm = VLLMRewardModel.from_model_id(
            path, max_length=MAX_LENGTH, dtype="float32", kv_cache_memory_bytes=2 << 30
        )
        for pairs, row in zip(batches, measured, strict=True):
            row["vllm"] = len(pairs) / best_time(partial(vllm.score, pairs), args.repeats)
            print(f"batch {len(pairs)}: vLLM {row['vllm']:.2f} pairs/s", flush=True)

    header = (
        "| batch | mean tokens | limit (pairs/s) | transformers (pairs/s) | % of limit "
        "| vLLM (pairs/s) | % of limit |"
    )
    rows = []
    for size, row in zip(args.batch_sizes, measured, strict=True):
        vllm_cells = (
            f"{row['vllm']:.2f} | {100 * row['vllm'] / row['limit']:.0f}%"
            if "vllm" in row
            else "- | -"
        )
        rows.append(
            f"| {size} | {row['tokens']:.0f} | {row['limit']:.2f} | {row['hf']:.2f} | "
            f"{100 * row['hf'] / row['limit']:.0f}% | {vllm_cells} |"
        )
    print(header)
    print("\n".join(rows))

    if args.write:
        section = (
            f"{SECTION}\n\n"
            "Pairs scored per second by the default reward model (SmolLM2-135M "
            "`LlamaForSequenceClassification`, float32), B HH-RLHF (conversation, chosen "
            f"response) pairs per call, at most {MAX_LENGTH} tokens each. The limit is one padded "
            "transformers forward over the same B pre-tokenized sequences; vLLM's kernels can "
            "beat it. Best of "
            f"{args.repeats} runs after a warm-up; {machine()}; shared with other jobs, so "
            "treat the figures as rough.\n\n"
            "Command: `python benchmarks/reward_throughput.py --write`\n\n"
            f"{header}\n|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
        )
        write_section(SECTION, section)
        print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
