"""The TPO paper's six benchmarks by name: where their data is, its licence, and their metric.

`tpo eval --benchmark NAME` reads `<dir>/<NAME>.jsonl`, where `<dir>` is, in order:
`--benchmark-dir`, the `TPO_BENCHMARK_DIR` environment variable, `/work/shared/benchmarks`
when it exists (the full sets on the machine this project is built on), else the 30-prompt
subsets shipped inside the package (`langchain_tpo/evaluation/data/`). The shipped subsets
are exactly the rows that `--sample 30` (seed 0) draws from the full files, so a run on either
answers the same prompts under the same ids.

Every file is JSONL with `id` and `prompt`, plus `reference` (AlpacaEval: GPT-4 Turbo's
answer; Arena-Hard: gpt-4-0314's answer; MATH-500: the final answer), `label` (XSTest: safe or
unsafe) and `category` where the benchmark has them. Provenance: see SOURCES.md next to the
data and `Benchmark.source` / `Benchmark.licence`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from langchain_tpo.evaluation.datasets import PromptRow

Metric = Literal["mean_reward", "refusal_accuracy", "exact_match", "judged_win_rate"]

ENV_DIR = "TPO_BENCHMARK_DIR"
SHARED_DIR = Path("/work/shared/benchmarks")
SHIPPED_DIR = Path(__file__).resolve().parent / "data"
SUBSET_SIZE = 30
"""Rows per shipped subset; equal to what `--sample 30 --sample-seed 0` draws."""


def _held_out_of_reward_training(row: PromptRow) -> bool:
    """HH-RLHF rows whose number is divisible by 5: the default reward head never saw them."""
    number = re.search(r"(\d+)$", row.id)
    return number is not None and int(number.group(1)) % 5 == 0


@dataclass(frozen=True)
class Benchmark:
    """One benchmark: its file, what the paper measures on it, and where the data comes from."""

    name: str
    title: str
    metric: Metric
    metric_label: str
    """How the metric's column is headed in the report."""
    source: str
    licence: str
    paper_count: int
    """Prompts the paper evaluates."""
    keep: Callable[[PromptRow], bool] | None = None
    """Rows counted (None: all); see `note`."""
    note: str = ""

    @property
    def file_name(self) -> str:
        return f"{self.name}.jsonl"


BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        Benchmark(
            "alpaca_eval",
            "AlpacaEval 2",
            "judged_win_rate",
            "win rate / LC win rate vs GPT-4 Turbo (judged)",
            "tatsu-lab/alpaca_eval@cd543a14:results/gpt4_1106_preview/model_outputs.json",
            "CC BY-NC 4.0 (data; code Apache-2.0)",
            805,
            note="`reference` is GPT-4 Turbo's answer; `tpo judge --reference` compares with it.",
        ),
        Benchmark(
            "arena_hard",
            "Arena-Hard v0.1",
            "judged_win_rate",
            "win rate vs gpt-4-0314 (judged)",
            "lmarena/arena-hard-auto@196f6b82:data/arena-hard-v0.1/",
            "Apache-2.0 (repository)",
            500,
            note="`reference` is gpt-4-0314's answer, the v0.1 baseline.",
        ),
        Benchmark(
            "hh_rlhf",
            "HH-RLHF (harmless-base test)",
            "mean_reward",
            "mean reward",
            "anthropics/hh-rlhf@354e5c3c:harmless-base/test.jsonl.gz",
            "MIT",
            500,
            keep=_held_out_of_reward_training,
            note="Only rows whose number is divisible by 5 (463 of 2312): the default reward "
            "model was trained on the others. Only the harmless-base test split is available; "
            "the paper samples 500 rows of the whole test split.",
        ),
        Benchmark(
            "beavertails",
            "BeaverTails-Evaluation",
            "mean_reward",
            "mean reward",
            "SwimmingChoi/Value_Analysis@55bb27ee:data/BeaverTails-Evaluation.csv "
            "(third-party copy of PKU-Alignment/BeaverTails-Evaluation)",
            "CC BY-NC 4.0 (upstream dataset card)",
            700,
        ),
        Benchmark(
            "xstest",
            "XSTest v2",
            "refusal_accuracy",
            "accuracy (comply with safe, refuse unsafe)",
            "paul-rottger/exaggerated-safety@d7bb5bd7:xstest_prompts.csv",
            "CC BY 4.0",
            450,
            note="Refusals are read by the published string rule (`answer_kinds`) and, when a "
            "`tpo judge` verdict file is given, by the judge; both are reported.",
        ),
        Benchmark(
            "math500",
            "MATH-500",
            "exact_match",
            "accuracy (exact match)",
            "openreasoner/openr@54ae004c:envs/MATH/dataset/test500.jsonl (= openai/prm800k "
            "math_splits/test.jsonl, checked by size and SHA-256)",
            "MIT",
            500,
            note="The last \\boxed{} (else the last number) is compared with `reference` after "
            "normalisation (`evaluation.metrics`).",
        ),
    )
}


def get_benchmark(name: str) -> Benchmark:
    """The benchmark called `name`, or a ValueError listing the names."""
    try:
        return BENCHMARKS[name]
    except KeyError:
        msg = f"Unknown benchmark {name!r}; choose one of {', '.join(BENCHMARKS)}."
        raise ValueError(msg) from None


def benchmark_dir(given: str | Path | None = None) -> Path:
    """Where benchmark files are read from (see the module docstring for the order)."""
    if given:
        return Path(given)
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR])
    if SHARED_DIR.is_dir():
        return SHARED_DIR
    return SHIPPED_DIR


def benchmark_path(name: str, directory: str | Path | None = None) -> Path:
    """The data file of benchmark `name`.

    Raises:
        ValueError: Unknown benchmark.
        FileNotFoundError: The directory has no file for it (the message says where to look).
    """
    benchmark = get_benchmark(name)
    folder = benchmark_dir(directory)
    path = folder / benchmark.file_name
    if not path.is_file():
        msg = (
            f"No {benchmark.file_name} in {folder}. Point --benchmark-dir (or {ENV_DIR}) at a "
            f"directory holding the benchmark files; the package ships {SUBSET_SIZE}-prompt "
            f"subsets in {SHIPPED_DIR}."
        )
        raise FileNotFoundError(msg)
    return path
