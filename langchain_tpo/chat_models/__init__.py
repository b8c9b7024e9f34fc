"""Policy chat models: in-process vLLM and the embedded default policy.

Heavy backends (transformers, vLLM) are imported only when their name is first used.
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> module that defines it; loaded on first attribute access.
_LAZY: dict[str, str] = {}

__all__ = [*_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    return getattr(importlib.import_module(module), name)
