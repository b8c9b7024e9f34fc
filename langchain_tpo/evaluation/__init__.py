"""Evaluation harness: load prompt sets, run TPO / BoN / revision / base over them with resume,
and report rewards, win rates, exact-match accuracy and plots."""

from langchain_tpo.evaluation.datasets import DatasetProblem, PromptRow, load_prompts
from langchain_tpo.evaluation.results import ResultsFile, read_results
from langchain_tpo.evaluation.runner import EVAL_MODES, evaluate, mode_config, run_settings

__all__ = [
    "EVAL_MODES",
    "DatasetProblem",
    "PromptRow",
    "ResultsFile",
    "evaluate",
    "load_prompts",
    "mode_config",
    "read_results",
    "run_settings",
]
