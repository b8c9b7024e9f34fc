"""What the default reward's relevance and similarity parts cost, next to its classifier.

The pairs are real TPO candidates: the 15 answers per prompt of the committed everyday run
(`benchmarks/quality/everyday_30/tpo.jsonl`, 128-token answers of the embedded policy). Each is
scored in one call by:

- the classifier (`HuggingFaceRewardModel` on the default reward checkpoint): one forward per
  pair, pooled at its last token;
- the relevance part (`RelevanceReward` on the same base model): two forwards per pair, the
  conversation and a neutral request before the response;
- the similarity part (`SimilarityReward` on all-MiniLM-L6-v2, 22M parameters): one encoder
  forward per response and one per distinct request;

at each torch thread count asked for.

Float32 on the CPU, best of `--repeats` timed runs after one warm-up. The table gives seconds,
pairs per second and the ratio to the classifier at the same thread count. Nothing is written.

Run:  python benchmarks/reward_parts_cost.py [--prompts 10] [--threads 1 2]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from _results import best_time, machine

RUN = Path(__file__).parent / "quality" / "everyday_30" / "tpo.jsonl"


def candidates(prompts: int) -> list[tuple[str, str]]:
    """(prompt, candidate) pairs of the first `prompts` rows of the committed run."""
    pairs: list[tuple[str, str]] = []
    with RUN.open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    for row in [r for r in rows if "candidates" in r][:prompts]:
        pairs += [(row["prompt"], c["text"]) for c in row["candidates"]]
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=10, help="rows of 15 candidates each")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    import torch

    from langchain_tpo.bundled import default_model_dir, similarity_model_dir
    from langchain_tpo.reward_models import (
        RelevanceReward,
        SimilarityReward,
        load_default_reward,
    )
    from langchain_tpo.reward_models.default import default_reward_info

    pairs = candidates(args.prompts)
    classifier = load_default_reward(relevance_weight=0, similarity_weight=0, batch_size=16)
    similarity = SimilarityReward.from_model_id(similarity_model_dir(), device="cpu")
    settings = default_reward_info()["relevance"]
    relevance = RelevanceReward.from_model_id(
        default_model_dir(),
        device="cpu",
        neutral_request=settings["neutral_request"],
        max_response_tokens=settings["max_response_tokens"],
    )
    print(machine())
    print(f"{len(pairs)} TPO candidates ({args.prompts} prompts x 15), one score call each\n")
    print("| part | torch threads | seconds | pairs/s | vs classifier |")
    print("|---|---|---|---|---|")
    for threads in args.threads:
        torch.set_num_threads(threads)
        base = best_time(lambda: classifier.score(pairs), args.repeats)
        print(f"| classifier | {threads} | {base:.1f} | {len(pairs) / base:.1f} | 1.00 |")
        for name, part in (("relevance", relevance), ("similarity", similarity)):
            took = best_time(lambda part=part: part.score(pairs), args.repeats)
            print(
                f"| {name} | {threads} | {took:.1f} | {len(pairs) / took:.1f} "
                f"| {took / base:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
