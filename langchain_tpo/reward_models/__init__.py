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
from langchain_tpo.reward_models.function import FunctionReward

if TYPE_CHECKING:
    pass

# name -> module that defines it; loaded on first attribute access.
_LAZY: dict[str, str] = {}

__all__ = [
    "FunctionReward",
    "Pair",
    "Query",
    "Reward",
    "RewardModel",
    "RewardModelError",
    "query_text",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    return getattr(importlib.import_module(module), name)
