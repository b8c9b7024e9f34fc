"""Quality on the default models: base, best-of-N, revision and TPO on 30 HH-RLHF prompts.

Two fixed prompt sets (`--prompts`), both single-turn rows of the shipped HH-RLHF
harmless-base test file whose number is divisible by 5, i.e. rows the default reward model's
head was never trained on:

- `hh_rlhf_30` (benchmarks/data/hh_rlhf_30.jsonl): the first 30 such rows;
- `hh_rlhf_30b` (benchmarks/data/hh_rlhf_30b.jsonl): 30 more drawn with a fixed seed from
  the rest (`benchmarks/draw_hh_rlhf_30b.py`), a held-out check of the first set's findings.

BoN gets TPO's sample budget, N x (D + 1). Each set's results go to their own directory,
benchmarks/quality/<set>/ (one results file per mode, resumable), with `tpo report`'s report:
reward figures with paired-bootstrap 95% intervals, and what users receive: the share of final
answers that are scaffolding, refusals or near-empty, their length, control rows (fixed
non-answer texts scored by the same reward) and answers side by side.

Run: python benchmarks/quality.py [--prompts hh_rlhf_30|hh_rlhf_30b|FILE] [--backend vllm]
         [--samples 5] [--iterations 2] [--max-tokens 96] [--limit 30] [--report-only]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from langchain_tpo.chat_models import load_default_policy
from langchain_tpo.evaluation import (
    ResultsFile,
    evaluate,
    load_prompts,
    mode_config,
    run_settings,
)
from langchain_tpo.evaluation.plots import stability, training_curve, win_rate_vs_compute
from langchain_tpo.evaluation.report import load_runs, markdown_report
from langchain_tpo.reward_models import load_default_reward

HERE = Path(__file__).resolve().parent
PROMPT_SETS = {
    "hh_rlhf_30": HERE / "data" / "hh_rlhf_30.jsonl",
    "hh_rlhf_30b": HERE / "data" / "hh_rlhf_30b.jsonl",
}
MODES = ("tpo", "revision", "bon", "base")


def prompt_file(name: str) -> Path:
    return PROMPT_SETS.get(name, Path(name))


async def run(args: argparse.Namespace) -> None:
    if not args.report_only:
        await run_modes(args)
    write_report(args.out_dir, args.examples)


async def run_modes(args: argparse.Namespace) -> None:
    out_dir: Path = args.out_dir
    rows = load_prompts(prompt_file(args.prompts), limit=args.limit).rows
    policy = load_default_policy(backend=args.backend)
    reward = load_default_reward(backend=args.backend)
    n, d, tokens = args.samples, args.iterations, args.max_tokens
    plans = {
        "base": mode_config("base", max_tokens=tokens),
        "bon": mode_config("bon", num_samples=n * (d + 1), max_tokens=tokens),
        "revision": mode_config("revision", num_samples=n, max_iterations=d, max_tokens=tokens),
        "tpo": mode_config("tpo", num_samples=n, max_iterations=d, max_tokens=tokens),
    }
    for mode, config in plans.items():
        name = f"default ({args.backend})"
        settings = run_settings(mode, config, policy=name, reward=name, seed=args.seed)
        start = time.perf_counter()
        with ResultsFile(out_dir / f"{mode}.jsonl", settings) as out:
            summary = await evaluate(
                policy,
                reward,
                rows,
                out,
                config=config,
                run=settings,
                concurrency=args.concurrency,
            )
        print(
            f"{mode:>9}: {summary.finished} run, {summary.skipped} resumed, "
            f"{len(summary.failed)} failed, {time.perf_counter() - start:.0f} s"
        )


def write_report(out_dir: Path, examples: int) -> None:
    runs = load_runs([out_dir / f"{mode}.jsonl" for mode in MODES])
    report = markdown_report(runs, examples=examples)
    figures = [
        ("Reward by iteration", training_curve(runs, out_dir / "training_curve.png")),
        ("Inference stability", stability(runs, out_dir / "stability.png")),
        (
            "Win rate against compute",
            win_rate_vs_compute(runs, out_dir / "win_rate_vs_compute.png"),
        ),
    ]
    report += "\n## Figures\n\n" + "\n\n".join(f"![{t}]({p.name})" for t, p in figures) + "\n"
    (out_dir / "report.md").write_text(report, encoding="utf-8")
    print(report)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--prompts",
        default="hh_rlhf_30",
        help="hh_rlhf_30 (default), hh_rlhf_30b, or a prompt file",
    )
    parser.add_argument("--backend", choices=("transformers", "vllm"), default="vllm")
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--limit", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--examples", type=int, default=4, help="answers shown side by side")
    parser.add_argument(
        "--out-dir", type=Path, help="default: benchmarks/quality/<prompt set name>/"
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite report.md and the plots from the results files, loading no model",
    )
    args = parser.parse_args()
    args.out_dir = args.out_dir or HERE / "quality" / prompt_file(args.prompts).stem
    args.out_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
