"""Write the 30-prompt benchmark subsets shipped in `langchain_tpo/evaluation/data/`.

Each subset is what `tpo eval --benchmark NAME --sample 30` (sample seed 0) selects from the
full file, rows copied byte for byte, so a run on the subset and a run on the full file answer
the same prompts under the same ids. Run it where the full files are (default
/work/shared/benchmarks):

    python benchmarks/make_benchmark_subsets.py [--from DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from langchain_tpo.evaluation.benchmarks import BENCHMARKS, SHARED_DIR, SHIPPED_DIR, SUBSET_SIZE
from langchain_tpo.evaluation.datasets import PromptRow, iter_prompts
from langchain_tpo.evaluation.selection import Selection


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, default=SHARED_DIR)
    args = parser.parse_args()
    SHIPPED_DIR.mkdir(parents=True, exist_ok=True)
    for name, benchmark in BENCHMARKS.items():
        path = args.source / benchmark.file_name
        selection = Selection(sample=SUBSET_SIZE, sample_seed=0, keep=benchmark.keep)
        lines = {
            row.line
            for row in selection.rows(lambda p=path: iter_prompts(p))
            if isinstance(row, PromptRow)
        }
        with path.open("rb") as f:
            kept = [line for number, line in enumerate(f, start=1) if number in lines]
        out = SHIPPED_DIR / benchmark.file_name
        out.write_bytes(b"".join(kept))
        ids = [json.loads(line)["id"] for line in kept]
        digest = hashlib.sha256(out.read_bytes()).hexdigest()
        print(f"{name}: {len(kept)} rows, sha256 {digest}, first ids {ids[:3]}")


if __name__ == "__main__":
    main()
