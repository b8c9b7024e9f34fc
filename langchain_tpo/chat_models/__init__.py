"""Policy chat models: in-process vLLM, transformers, OpenAI-compatible servers, and the
embedded default policy.

Heavy backends (transformers, vLLM, langchain-openai) are imported only when their name is first
used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_tpo.chat_models.default import load_default_policy
    from langchain_tpo.chat_models.openai_compatible import ChatOpenAICompatible
    from langchain_tpo.chat_models.transformers import ChatTransformers
    from langchain_tpo.chat_models.vllm import ChatVLLM

# name -> module that defines it; loaded on first attribute access.
_LAZY: dict[str, str] = {
    "ChatVLLM": "langchain_tpo.chat_models.vllm",
    "load_default_policy": "langchain_tpo.chat_models.default",
    "ChatTransformers": "langchain_tpo.chat_models.transformers",
    "ChatOpenAICompatible": "langchain_tpo.chat_models.openai_compatible",
}

__all__ = [
    "ChatOpenAICompatible",
    "ChatTransformers",
    "ChatVLLM",
    "load_default_policy",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    return getattr(importlib.import_module(module), name)
