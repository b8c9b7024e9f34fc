"""Evaluate TPO against best-of-N on a few HH-RLHF prompts from Python, then report.

The same harness as `tpo eval` / `tpo report`: results are appended to JSONL files as prompts
finish, so re-running this script resumes where it stopped.

Run: python examples/evaluate_dataset.py [--data FILE] [--limit 4] [--out-dir eval_out]
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from _models import BACKEND, SMALL, default_models

from langchain_tpo.evaluation import (
    ResultsFile,
    evaluate,
    load_prompts,
    mode_config,
    run_settings,
)
from langchain_tpo.evaluation.plots import stability, training_curve
from langchain_tpo.evaluation.report import load_runs, markdown_report

SHIPPED = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "hh_rlhf_30.jsonl"


async def run(data: Path, limit: int, out_dir: Path) -> None:
    rows = load_prompts(data, limit=limit).rows
    policy, reward = default_models()
    n, d, tokens = SMALL.num_samples, SMALL.max_iterations, SMALL.max_tokens
    budget = n * (d + 1)  # BoN gets as many samples as TPO draws
    for mode, config in [
        ("tpo", mode_config("tpo", num_samples=n, max_iterations=d, max_tokens=tokens)),
        ("bon", mode_config("bon", num_samples=budget, max_tokens=tokens)),
    ]:
        name = f"default ({BACKEND})"
        settings = run_settings(mode, config, policy=name, reward=name)
        with ResultsFile(out_dir / f"{mode}.jsonl", settings) as out:
            summary = await evaluate(
                policy,
                reward,
                rows,
                out,
                config=config,
                run=settings,
                progress=lambda done, total, row, result, mode=mode: print(
                    f"{mode}: {done}/{total} {row.id}"
                ),
            )
        print(f"{mode}: {summary.finished} new, {summary.skipped} already done")

    runs = load_runs([out_dir / "tpo.jsonl", out_dir / "bon.jsonl"])
    print(markdown_report(runs))
    print(
        training_curve(runs, out_dir / "training_curve.png"),
        stability(runs, out_dir / "stability.png"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHIPPED)
    parser.add_argument("--limit", type=int, default=4)
    parser.add_argument("--out-dir", type=Path, default=Path("eval_out"))
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(run(args.data, args.limit, args.out_dir))


if __name__ == "__main__":
    main()
