"""Draw the second quality prompt set, benchmarks/data/hh_rlhf_30b.jsonl, with a fixed seed.

Candidates: single-turn rows of the HH-RLHF harmless-base test file whose number is divisible
by 5 (never seen by the default reward head in training) and that are not in
benchmarks/data/hh_rlhf_30.jsonl. Thirty are drawn with `random.Random(2025)`, kept in file
order, with the same fields as the first set (id, prompt, source).

Run:  python benchmarks/draw_hh_rlhf_30b.py [--from /work/shared/benchmarks/hh_rlhf.jsonl]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIRST = HERE / "data" / "hh_rlhf_30.jsonl"
OUT = HERE / "data" / "hh_rlhf_30b.jsonl"
SEED = 2025


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--from", dest="source", type=Path, default=Path("/work/shared/benchmarks/hh_rlhf.jsonl")
    )
    args = parser.parse_args()
    taken = {json.loads(line)["id"] for line in FIRST.open()}
    candidates = []
    for line in args.source.open():
        row = json.loads(line)
        number = int(row["id"].rsplit("_", 1)[1])
        if number % 5 == 0 and row.get("num_human_turns") == 1 and row["id"] not in taken:
            candidates.append(row)
    drawn = sorted(random.Random(SEED).sample(range(len(candidates)), 30))
    with OUT.open("w", encoding="utf-8") as f:
        for index in drawn:
            row = candidates[index]
            keep = {"id": row["id"], "prompt": row["prompt"], "source": row["source"]}
            f.write(json.dumps(keep, ensure_ascii=False) + "\n")
    print(f"{len(candidates)} candidates; wrote {len(drawn)} rows to {OUT}")


if __name__ == "__main__":
    main()
