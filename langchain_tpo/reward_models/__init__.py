"""Reward models: Runnables that score (query, response) pairs with raw rewards.

Heavy backends (transformers, vLLM) are imported only when their class is first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from langchain_tpo.reward_models.base import (
    Pair,
    Query,
    Reward,
    RewardModel,
    RewardModelError,
    query_text,
)
from langchain_tpo.reward_models.combination import Combination
from langchain_tpo.reward_models.combined import CombinedReward
from langchain_tpo.reward_models.function import FunctionReward

if TYPE_CHECKING:
    from langchain_tpo.reward_models.default import load_default_reward
    from langchain_tpo.reward_models.huggingface import HuggingFaceRewardModel
    from langchain_tpo.reward_models.judge import LLMJudgeReward
    from langchain_tpo.reward_models.relevance import RelevanceReward
    from langchain_tpo.reward_models.remote import RemoteRewardModel, RewardServerError
    from langchain_tpo.reward_models.similarity import SimilarityReward
    from langchain_tpo.reward_models.vllm import VLLMRewardModel

# name -> module that defines it; loaded on first attribute access.
_LAZY: dict[str, str] = {
    "HuggingFaceRewardModel": "langchain_tpo.reward_models.huggingface",
    "LLMJudgeReward": "langchain_tpo.reward_models.judge",
    "RelevanceReward": "langchain_tpo.reward_models.relevance",
    "RemoteRewardModel": "langchain_tpo.reward_models.remote",
    "RewardServerError": "langchain_tpo.reward_models.remote",
    "SimilarityReward": "langchain_tpo.reward_models.similarity",
    "VLLMRewardModel": "langchain_tpo.reward_models.vllm",
    "load_default_reward": "langchain_tpo.reward_models.default",
}

__all__ = [
    "Combination",
    "CombinedReward",
    "FunctionReward",
    "HuggingFaceRewardModel",
    "LLMJudgeReward",
    "Pair",
    "Query",
    "RelevanceReward",
    "RemoteRewardModel",
    "Reward",
    "RewardModel",
    "RewardModelError",
    "RewardServerError",
    "SimilarityReward",
    "VLLMRewardModel",
    "load_default_reward",
    "query_text",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    return getattr(importlib.import_module(module), name)
