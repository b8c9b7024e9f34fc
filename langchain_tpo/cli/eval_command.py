"""`tpo eval --data FILE --mode MODE --out results.jsonl`: many prompts, resumable."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from langchain_tpo.cli import models
from langchain_tpo.cli.errors import CLIError
from langchain_tpo.cli.progress_bar import ProgressBar
from langchain_tpo.cli.run_command import config_from_args
from langchain_tpo.evaluation.datasets import PromptRow, load_prompts
from langchain_tpo.evaluation.results import ResultsFile
from langchain_tpo.evaluation.runner import EVAL_MODES, evaluate, run_settings
from langchain_tpo.state import TPOResult


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "eval",
        help="run a mode over a prompt file, resumably",
        description="Answer every prompt of a dataset and append one JSON line per prompt to "
        "--out. Re-running the same command resumes: finished prompts are skipped.",
    )
    parser.add_argument(
        "--data", required=True, help="prompts: .jsonl (one object per line) or .csv"
    )
    parser.add_argument(
        "--mode",
        choices=EVAL_MODES,
        required=True,
        help="tpo, revision, bon (N samples, best kept) or base (one sample)",
    )
    parser.add_argument("--out", required=True, help="results file (JSONL, appended)")
    parser.add_argument("--prompt-field", default="prompt", help="prompt key/column (prompt)")
    parser.add_argument("--id-field", default="id", help="id key/column (id)")
    parser.add_argument("--limit", type=int, help="only the first LIMIT usable prompts")
    parser.add_argument(
        "--concurrency", type=int, default=32, help="prompts in flight at once (32)"
    )
    models.add_sampling_arguments(parser, max_tokens=128)
    models.add_model_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 1:
        raise CLIError("--limit must be at least 1")
    if args.concurrency < 1:
        raise CLIError("--concurrency must be at least 1")
    mode = "bon" if args.mode == "base" else args.mode
    config = config_from_args(args, mode=mode)
    if args.mode == "base":
        config = config.model_copy(update={"num_samples": 1, "max_iterations": 0})
    elif args.mode == "bon":
        config = config.model_copy(update={"max_iterations": 0})
    try:
        loaded = load_prompts(
            args.data, prompt_field=args.prompt_field, id_field=args.id_field, limit=args.limit
        )
    except (FileNotFoundError, ValueError) as e:
        raise CLIError(str(e)) from None
    for problem in loaded.problems:
        print(f"tpo eval: {args.data}: {problem}", file=sys.stderr)
    if not loaded.rows:
        raise CLIError(f"{args.data} has no usable prompt.")

    settings = run_settings(
        args.mode,
        config,
        policy=models.describe_policy(args),
        reward=models.describe_reward(args),
    )
    try:
        out = ResultsFile(args.out)
        out.open()
    except (RuntimeError, ValueError, OSError) as e:
        raise CLIError(str(e)) from None
    with out:
        try:
            out.check_same_run(settings)
        except ValueError as e:
            raise CLIError(str(e)) from None
        if out.repaired:
            print(
                f"tpo eval: {args.out}: removed a line cut short by an earlier stop.",
                file=sys.stderr,
            )
        todo = [r for r in loaded.rows if r.id not in out.done]
        print(
            f"tpo eval: {len(loaded.rows)} prompts, {len(loaded.rows) - len(todo)} already in "
            f"{args.out}, {len(todo)} to run (mode {args.mode}, N={config.num_samples}, "
            f"D={config.max_iterations}).",
            file=sys.stderr,
        )
        if not todo:
            return 0
        say = lambda text: print(f"tpo eval: {text}", file=sys.stderr, flush=True)  # noqa: E731
        with models.loaded_models(args, say) as (policy, reward):
            bar = ProgressBar(len(todo))

            def progress(done: int, total: int, row: PromptRow, result: TPOResult | None) -> None:
                note = (
                    f"{row.id} {result.score:+.3f}"
                    if result and result.score is not None
                    else (f"{row.id} failed" if result is None else f"{row.id} no answer")
                )
                bar.update(done, note)

            start = time.perf_counter()
            summary = asyncio.run(
                evaluate(
                    policy,
                    reward,
                    loaded.rows,
                    out,
                    config=config,
                    run=settings,
                    seed=args.seed,
                    concurrency=args.concurrency,
                    progress=progress,
                )
            )
            bar.close()
    print(
        f"tpo eval: {summary.finished} finished, {summary.skipped} skipped (already done), "
        f"{len(summary.failed)} failed in {time.perf_counter() - start:.1f} s -> {args.out}",
        file=sys.stderr,
    )
    for row_id, error in summary.failed.items():
        print(f"tpo eval: {row_id} failed: {error}", file=sys.stderr)
    if summary.failed:
        print("tpo eval: re-run the same command to retry the failed prompts.", file=sys.stderr)
        return 1
    return 0
