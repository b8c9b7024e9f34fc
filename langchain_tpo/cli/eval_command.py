"""`tpo eval`: answer a dataset or the paper's benchmarks in one or more modes, resumably.

    tpo eval --data FILE --mode tpo --out results.jsonl
    tpo eval --benchmark hh_rlhf,xstest --mode tpo,bon,revision,base --sample 30 --out-dir runs

Every (dataset, mode) pair is one results file; the models are loaded once for all of them.
Before anything is loaded, each file is checked (ours, same settings, same prompts under the
same ids) and the dataset is read once to report its problems and count what is left to do.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from langchain_tpo.cli import models
from langchain_tpo.cli.errors import CLIError
from langchain_tpo.cli.progress_bar import ProgressBar
from langchain_tpo.cli.run_command import config_from_args
from langchain_tpo.concurrent_runs import runs_at_once
from langchain_tpo.config import TPOConfig
from langchain_tpo.evaluation.benchmarks import (
    BENCHMARKS,
    SHIPPED_DIR,
    benchmark_path,
    get_benchmark,
)
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
from langchain_tpo.evaluation.runs import shard_file_name
from langchain_tpo.evaluation.selection import Selection, Shard, Stream
from langchain_tpo.state import TPOResult


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "eval",
        help="run modes over a prompt file or benchmarks, resumably",
        description="Answer every prompt of a dataset (--data) or of the paper's benchmarks "
        "(--benchmark) in one or more modes, appending one JSON line per prompt to a results "
        "file per mode. Re-running the same command resumes: finished prompts are skipped.",
    )
    source = parser.add_argument_group("what to answer")
    which = source.add_mutually_exclusive_group(required=True)
    which.add_argument("--data", help="prompts: .jsonl (one object per line) or .csv")
    which.add_argument(
        "--benchmark",
        metavar="NAME[,NAME...]",
        help=f"the paper's benchmarks by name: {', '.join(BENCHMARKS)} (or all)",
    )
    source.add_argument(
        "--benchmark-dir",
        metavar="DIR",
        help="where the benchmark files are (default: $TPO_BENCHMARK_DIR, "
        "/work/shared/benchmarks if present, else the 30-prompt subsets shipped with the package)",
    )
    source.add_argument("--prompt-field", default="prompt", help="prompt key/column (prompt)")
    source.add_argument("--id-field", default="id", help="id key/column (id)")
    source.add_argument(
        "--sample", type=int, metavar="K", help="answer K prompts drawn at random (seeded)"
    )
    source.add_argument("--sample-seed", type=int, default=0, help="seed of the --sample draw (0)")
    source.add_argument("--limit", type=int, help="only the first LIMIT usable prompts")
    source.add_argument(
        "--shard",
        metavar="I/K",
        help="answer part I of K of the prompts (split by id; run I=1..K on K machines)",
    )
    parser.add_argument(
        "--mode",
        required=True,
        metavar="MODE[,MODE...]",
        help="tpo, revision, bon (best of --bon-samples), base (one sample), or several "
        "separated by commas (all = tpo,revision,bon,base)",
    )
    out = parser.add_argument_group("where results go")
    where = out.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", help="results file (JSONL, appended); one mode, one dataset")
    where.add_argument(
        "--out-dir",
        metavar="DIR",
        help="one results file per mode, DIR/<mode>.jsonl (DIR/<benchmark>/<mode>.jsonl "
        "for several benchmarks; <mode>.shard-I-of-K.jsonl with --shard)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        help="prompts in flight at once (default: 32, or as many as an in-process "
        "transformers policy serves well: 1 on a CPU)",
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


def _say(text: str) -> None:
    print(f"tpo eval: {text}", file=sys.stderr, flush=True)


@dataclass
class Plan:
    """One mode on one dataset: its settings and its open results file."""

    mode: str
    config: TPOConfig
    settings: dict[str, Any]
    out: ResultsFile
    todo: int = 0


@dataclass
class Dataset:
    """What to answer: a file, how to select from it, and the modes to run on it."""

    name: str
    """The benchmark name, or the --data path."""
    path: Path
    selection: Selection
    benchmark: str | None
    plans: list[Plan] = field(default_factory=list)
    selected: int = 0
    """Usable prompts selected (before the shard)."""
    usable: int = 0
    """The selected prompts this run answers (those of its shard)."""

    def read(self, args: argparse.Namespace) -> Callable[[], Stream]:
        fields = (
            {"prompt_field": args.prompt_field, "id_field": args.id_field}
            if self.benchmark is None
            else {}
        )
        return lambda: self.selection.rows(lambda: iter_prompts(self.path, **fields))


def _modes(text: str) -> list[str]:
    modes = list(EVAL_MODES) if text.strip() == "all" else [m.strip() for m in text.split(",")]
    unknown = [m for m in modes if m not in EVAL_MODES]
    if unknown or not modes:
        raise CLIError(
            f"--mode {text!r}: unknown mode {', '.join(unknown)}; choose among "
            f"{', '.join(EVAL_MODES)} (comma-separated) or all"
        )
    if len(set(modes)) != len(modes):
        raise CLIError(f"--mode {text!r} names a mode twice")
    return modes


def _benchmarks(text: str) -> list[str]:
    names = list(BENCHMARKS) if text.strip() == "all" else [n.strip() for n in text.split(",")]
    try:
        for name in names:
            get_benchmark(name)
    except ValueError as e:
        raise CLIError(str(e)) from None
    if len(set(names)) != len(names):
        raise CLIError(f"--benchmark {text!r} names a benchmark twice")
    return names


def mode_config(args: argparse.Namespace, mode: str) -> TPOConfig:
    """The TPOConfig of one mode from the flags (base: 1 sample; bon: --bon-samples)."""
    if mode == "base":
        update = {"samples": 1, "iterations": 0}
    elif mode == "bon":
        update = {"samples": args.bon_samples or args.samples * (args.iterations + 1)}
        update["iterations"] = 0
    else:
        update = {}
    flags = argparse.Namespace(**{**vars(args), **update})
    return config_from_args(flags, mode="bon" if mode == "base" else mode)


def _check_args(args: argparse.Namespace) -> Shard | None:
    if args.concurrency is not None and args.concurrency < 1:
        raise CLIError("--concurrency must be at least 1")
    if args.bon_samples is not None and args.bon_samples < 1:
        raise CLIError("--bon-samples must be at least 1")
    if args.benchmark_dir and not args.benchmark:
        raise CLIError("--benchmark-dir goes with --benchmark")
    try:
        return Shard.parse(args.shard) if args.shard else None
    except ValueError as e:
        raise CLIError(str(e)) from None


def _datasets(args: argparse.Namespace, shard: Shard | None) -> list[Dataset]:
    try:
        if args.data:
            path = check_dataset_path(args.data)
            selection = Selection(args.sample, args.sample_seed, args.limit, shard)
            return [Dataset(args.data, path, selection, None)]
        out = []
        for name in _benchmarks(args.benchmark):
            spec = get_benchmark(name)
            path = benchmark_path(name, args.benchmark_dir)
            selection = Selection(args.sample, args.sample_seed, args.limit, shard, spec.keep)
            out.append(Dataset(name, path, selection, name))
        if out and out[0].path.parent == SHIPPED_DIR:
            _say(
                "reading the 30-prompt benchmark subsets shipped with the package; give "
                "--benchmark-dir (or TPO_BENCHMARK_DIR) for the full sets."
            )
        return out
    except (FileNotFoundError, ValueError) as e:
        raise CLIError(str(e)) from None


def _out_path(
    args: argparse.Namespace, dataset: Dataset, mode: str, shard: Shard | None, several: bool
) -> Path:
    if args.out:
        return Path(args.out)
    folder = Path(args.out_dir) / dataset.name if several else Path(args.out_dir)
    return folder / shard_file_name(mode, str(shard) if shard else None)


def _open(out: ResultsFile) -> None:
    try:
        out.open()
    except (NotOurFileError, SettingsMismatchError, BadRecordError) as e:
        raise CLIError(str(e)) from None
    except (RuntimeError, OSError) as e:
        raise CLIError(str(e), exit_code=1) from None
    if out.repaired:
        _say(f"{out.path}: repaired a last line cut short by an earlier stop.")


def _survey(args: argparse.Namespace, dataset: Dataset) -> None:
    """Read the selected rows once before any work: report the dataset's problems, refuse a
    file whose ids were answered for other prompts, count what is left to do per mode."""
    shard = dataset.selection.shard
    whole = replace(dataset, selection=replace(dataset.selection, shard=None))
    try:
        for row in whole.read(args)():
            if isinstance(row, DatasetProblem):
                _say(f"{dataset.path}: {row}")
                continue
            dataset.selected += 1
            if shard is not None and not shard.holds(row.id):
                continue
            dataset.usable += 1
            for plan in dataset.plans:
                if not plan.out.has(row.id, row.prompt):
                    plan.todo += 1
    except (FileNotFoundError, ValueError) as e:  # PromptMismatchError is a ValueError
        raise CLIError(str(e)) from None
    if not dataset.selected:
        raise CLIError(f"{dataset.path} has no usable prompt.")


def _remove_if_empty(plans: list[Plan]) -> None:
    """Remove the files this command created that hold only their header."""
    for plan in plans:
        if plan.out.created and not plan.out.done:
            plan.out.path.unlink(missing_ok=True)


def run(args: argparse.Namespace) -> int:
    shard = _check_args(args)
    modes = _modes(args.mode)
    datasets = _datasets(args, shard)
    if args.out and (len(modes) > 1 or len(datasets) > 1):
        raise CLIError("--out holds one mode of one dataset; use --out-dir for several")
    opened: list[Plan] = []
    try:
        for dataset in datasets:
            for mode in modes:
                config = mode_config(args, mode)
                settings = run_settings(
                    mode,
                    config,
                    policy=models.describe_policy(args),
                    reward=models.describe_reward(args),
                    seed=args.seed,
                    benchmark=dataset.benchmark,
                )
                extra = {"dataset": dataset.name, "selection": dataset.selection.describe()}
                if shard is not None:
                    extra["shard"] = str(shard)
                path = _out_path(args, dataset, mode, shard, several=len(datasets) > 1)
                plan = Plan(mode, config, settings, ResultsFile(path, settings, extra=extra))
                _open(plan.out)
                opened.append(plan)
                dataset.plans.append(plan)
        try:
            for dataset in datasets:
                _survey(args, dataset)
        except CLIError:
            _remove_if_empty(opened)
            raise
        for dataset in datasets:
            if not dataset.usable:  # a shard can be empty when there are few prompts
                _say(
                    f"{dataset.name}: shard {dataset.selection.shard} holds none of the "
                    f"{dataset.selected} selected prompts; nothing to do."
                )
                _remove_if_empty(dataset.plans)
                continue
            for plan in dataset.plans:
                c = plan.config
                _say(
                    f"{dataset.name}: {dataset.usable} prompts ({dataset.selection.describe()}), "
                    f"{dataset.usable - plan.todo} already in {plan.out.path}, {plan.todo} to run "
                    f"(mode {plan.mode}, N={c.num_samples}, D={c.max_iterations})."
                )
        if not any(plan.todo for plan in opened):
            return 0
        failed = _run_all(args, datasets)
    finally:
        for plan in opened:
            plan.out.close()
    if failed:
        _say("re-run the same command to retry the failed prompts.")
        return 1
    return 0


def _only_rows(stream: Stream) -> Iterator[PromptRow]:
    return (row for row in stream if isinstance(row, PromptRow))


def _run_all(args: argparse.Namespace, datasets: list[Dataset]) -> int:
    """Every plan with work left, on models loaded once; the number of failed prompts."""
    failed = 0
    with models.loaded_models(args, _say) as (policy, reward):
        if args.concurrency is None:
            args.concurrency, why = runs_at_once(policy, usual=32)
            if why:
                _say(f"{args.concurrency} prompt(s) in flight: {why} (--concurrency to change).")
        for dataset in datasets:
            for plan in dataset.plans:
                if plan.todo:
                    summary = _run_plan(args, dataset, plan, policy, reward)
                    failed += len(summary.failed)
    return failed


def _run_plan(
    args: argparse.Namespace, dataset: Dataset, plan: Plan, policy: Any, reward: Any
) -> EvalSummary:
    bar = ProgressBar(plan.todo)

    def progress(done: int, total: int, row: PromptRow, result: TPOResult | None) -> None:
        if result is None:
            note = f"{row.id} failed"
        elif result.score is None:
            note = f"{row.id} no answer"
        else:
            note = f"{row.id} {result.score:+.3f}"
        bar.update(done, note)

    _say(f"{dataset.name}: mode {plan.mode} -> {plan.out.path}")
    start = time.perf_counter()
    try:
        summary = asyncio.run(
            evaluate(
                policy,
                reward,
                _only_rows(dataset.read(args)()),
                plan.out,
                config=plan.config,
                run=plan.settings,
                concurrency=args.concurrency,
                expected=plan.todo,
                progress=progress,
            )
        )
    except PromptMismatchError as e:  # the dataset changed since the survey
        raise CLIError(str(e)) from None
    finally:
        bar.close()
    _say(
        f"{dataset.name}: mode {plan.mode}: {summary.finished} finished, {summary.skipped} "
        f"skipped (already done), {len(summary.failed)} failed in "
        f"{time.perf_counter() - start:.1f} s -> {plan.out.path}"
    )
    for row_id, error in summary.failed.items():
        _say(f"{row_id} failed: {error}")
    return summary
