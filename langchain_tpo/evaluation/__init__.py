"""Evaluation harness: the paper's benchmarks or any prompt file, run in TPO / revision / BoN /
base modes with resume, and reports a reader can trust.

| module | one idea |
|---|---|
| `record_file` | our append-only JSONL files: header, validation, lock, fsync, resume by key |
| `results` | the results file of `tpo eval` (kind "results") |
| `fingerprints` | hashes of prompts and of the loop's prompt templates |
| `datasets` | read prompt files as a stream, bad lines named |
| `selection` | seeded sample, limit, shard |
| `benchmarks` | the six benchmarks: data, licence, metric |
| `runner` | answer a stream of prompts with bounded concurrency |
| `controls` | fixed non-answer texts scored by the same reward |
| `runs` | results files as runs, shards merged |
| `statistics` | seeded bootstrap intervals, paired differences |
| `answer_quality` | kinds and length of final answers |
| `benchmark_metrics` | each benchmark's metric |
| `judged` | `tpo judge` verdict files linked to runs |
| `compute_curve` | win rate against compute (BoN vs TPO) |
| `metrics` | reward curves, spread, exact-match extraction |
| `report`, `plots` | the Markdown report and its figures |
"""

from langchain_tpo.evaluation.datasets import (
    DatasetProblem,
    PromptRow,
    iter_prompts,
    load_prompts,
)
from langchain_tpo.evaluation.record_file import (
    BadRecordError,
    NotOurFileError,
    RecordFile,
    SettingsMismatchError,
)
from langchain_tpo.evaluation.results import (
    PromptMismatchError,
    ResultsFile,
    iter_results,
    read_results,
)
from langchain_tpo.evaluation.runner import EVAL_MODES, evaluate, mode_config, run_settings
from langchain_tpo.evaluation.selection import Selection, Shard

__all__ = [
    "EVAL_MODES",
    "BadRecordError",
    "DatasetProblem",
    "NotOurFileError",
    "PromptMismatchError",
    "PromptRow",
    "RecordFile",
    "ResultsFile",
    "Selection",
    "SettingsMismatchError",
    "Shard",
    "evaluate",
    "iter_prompts",
    "iter_results",
    "load_prompts",
    "mode_config",
    "read_results",
    "run_settings",
]
