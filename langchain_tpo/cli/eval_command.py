"""`tpo eval --data FILE --mode MODE --out results.jsonl`: many prompts, resumable."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from langchain_tpo.cli import models
from langchain_tpo.cli.errors import CLIError
from langchain_tpo.cli.progress_bar import ProgressBar
from langchain_tpo.cli.run_command import config_from_args
from langchain_tpo.config import TPOConfig
from langchain_tpo.evaluation.datasets import (
    DatasetProblem,
    PromptRow,
    check_dataset_path,
    iter_prompts,
)
from langchain_tpo.evaluation.record_file import (
    BadRecordError,
    NotOurFileError,
    SettingsMismatchError,
)
from langchain_tpo.evaluation.results import PromptMismatchError, ResultsFile
from langchain_tpo.evaluation.runner import EVAL_MODES, EvalSummary, evaluate, run_settings
from langchain_tpo.evaluation.selection import Selection, Stream
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
        help="tpo, revision, bon (best of --bon-samples) or base (one sample)",
    )
    parser.add_argument("--out", required=True, help="results file (JSONL, appended)")
    parser.add_argument("--prompt-field", default="prompt", help="prompt key/column (prompt)")
    parser.add_argument("--id-field", default="id", help="id key/column (id)")
    parser.add_argument("--limit", type=int, help="only the first LIMIT usable prompts")
    parser.add_argument(
        "--concurrency", type=int, default=32, help="prompts in flight at once (32)"
    )
    parser.add_argument(
        "--bon-samples",
        type=int,
        metavar="K",
        help="samples of mode bon (default: N x (D + 1), TPO's sample budget)",
    )
    models.add_sampling_arguments(parser, max_tokens=128)
    models.add_model_arguments(parser)
    parser.set_defaults(handler=run)


@dataclass
class Plan:
    """One mode of the run: its settings and its open results file."""

    mode: str
    config: TPOConfig
    settings: dict[str, Any]
    out: ResultsFile
    todo: int = 0
    done: int = 0


def _say(text: str) -> None:
    print(f"tpo eval: {text}", file=sys.stderr, flush=True)


def mode_configs(args: argparse.Namespace, mode: str) -> TPOConfig:
    """The TPOConfig of one mode from the flags (base: 1 sample; bon: --bon-samples)."""
    config = config_from_args(args, mode="bon" if mode == "base" else mode)
    if mode == "base":
        return config.model_copy(update={"num_samples": 1, "max_iterations": 0})
    if mode == "bon":
        samples = args.bon_samples or args.samples * (args.iterations + 1)
        return config_from_args(
            argparse.Namespace(**{**vars(args), "samples": samples, "iterations": 0}), mode="bon"
        )
    return config


def _check_args(args: argparse.Namespace) -> None:
    if args.concurrency < 1:
        raise CLIError("--concurrency must be at least 1")
    if args.bon_samples is not None and args.bon_samples < 1:
        raise CLIError("--bon-samples must be at least 1")


def _selection(args: argparse.Namespace) -> Selection:
    try:
        return Selection(limit=args.limit)
    except ValueError as e:
        raise CLIError(str(e)) from None


def _reader(args: argparse.Namespace) -> Callable[[], Stream]:
    return lambda: iter_prompts(args.data, prompt_field=args.prompt_field, id_field=args.id_field)


def _open(out: ResultsFile) -> None:
    try:
        out.open()
    except (NotOurFileError, SettingsMismatchError, BadRecordError) as e:
        raise CLIError(str(e)) from None
    except (RuntimeError, OSError) as e:
        raise CLIError(str(e), exit_code=1) from None


def _survey(rows: Callable[[], Stream], plans: list[Plan], source: str) -> int:
    """Read the selected rows once before any work: report the dataset's problems, refuse a
    file whose ids were answered for other prompts, count what is left to do per mode.

    Returns:
        The number of usable prompts.
    """
    usable = 0
    try:
        for row in rows():
            if isinstance(row, DatasetProblem):
                _say(f"{source}: {row}")
                continue
            usable += 1
            for plan in plans:
                if not plan.out.has(row.id, row.prompt):
                    plan.todo += 1
    except PromptMismatchError as e:
        raise CLIError(str(e)) from None
    except (FileNotFoundError, ValueError) as e:
        raise CLIError(str(e)) from None
    if not usable:
        raise CLIError(f"{source} has no usable prompt.")
    return usable


def _only_rows(stream: Stream) -> Iterator[PromptRow]:
    return (row for row in stream if isinstance(row, PromptRow))


def run(args: argparse.Namespace) -> int:
    _check_args(args)
    modes = [args.mode]
    selection = _selection(args)
    read = _reader(args)
    rows = lambda: selection.rows(read)  # noqa: E731
    source = args.data
    try:
        check_dataset_path(args.data)
    except (FileNotFoundError, ValueError) as e:
        raise CLIError(str(e)) from None
    plans: list[Plan] = []
    try:
        for mode in modes:
            config = mode_configs(args, mode)
            settings = run_settings(
                mode,
                config,
                policy=models.describe_policy(args),
                reward=models.describe_reward(args),
                seed=args.seed,
            )
            plan = Plan(mode, config, settings, ResultsFile(args.out, settings))
            _open(plan.out)
            plans.append(plan)
            if plan.out.repaired:
                _say(f"{plan.out.path}: repaired a last line cut short by an earlier stop.")
        try:
            usable = _survey(rows, plans, source)
        except CLIError:
            for plan in plans:  # a file this command created holds only its header: remove it
                if plan.out.created and not plan.out.done:
                    plan.out.path.unlink(missing_ok=True)
            raise
        for plan in plans:
            c = plan.config
            _say(
                f"{usable} prompts, {usable - plan.todo} already in {plan.out.path}, "
                f"{plan.todo} to run (mode {plan.mode}, N={c.num_samples}, D={c.max_iterations})."
            )
        if not any(plan.todo for plan in plans):
            return 0
        failed = _run_plans(args, plans, rows)
    finally:
        for plan in plans:
            plan.out.close()
    if failed:
        _say("re-run the same command to retry the failed prompts.")
        return 1
    return 0


def _run_plans(args: argparse.Namespace, plans: list[Plan], rows: Callable[[], Stream]) -> int:
    """Run every mode with work left on the same loaded models; the number of failed prompts."""
    failed = 0
    with models.loaded_models(args, _say) as (policy, reward):
        for plan in plans:
            if not plan.todo:
                continue
            bar = ProgressBar(plan.todo)

            def progress(
                done: int,
                total: int,
                row: PromptRow,
                result: TPOResult | None,
                bar: ProgressBar = bar,
            ) -> None:
                note = (
                    f"{row.id} {result.score:+.3f}"
                    if result and result.score is not None
                    else (f"{row.id} failed" if result is None else f"{row.id} no answer")
                )
                bar.update(done, note)

            start = time.perf_counter()
            try:
                summary: EvalSummary = asyncio.run(
                    evaluate(
                        policy,
                        reward,
                        _only_rows(rows()),
                        plan.out,
                        config=plan.config,
                        run=plan.settings,
                        concurrency=args.concurrency,
                        expected=plan.todo,
                        progress=progress,
                    )
                )
            except PromptMismatchError as e:  # the file changed under us since the survey
                raise CLIError(str(e)) from None
            finally:
                bar.close()
            _say(
                f"{plan.mode}: {summary.finished} finished, {summary.skipped} skipped (already "
                f"done), {len(summary.failed)} failed in {time.perf_counter() - start:.1f} s "
                f"-> {plan.out.path}"
            )
            for row_id, error in summary.failed.items():
                _say(f"{row_id} failed: {error}")
            failed += len(summary.failed)
    return failed
