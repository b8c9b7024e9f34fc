"""Evaluation harness: load prompt sets, run TPO / BoN / revision / base over them with resume,
and report rewards, win rates, exact-match accuracy and plots."""

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
