"""Which callback handlers see the chat-model runs TPO makes inside a TPOChatModel call.

A TPOChatModel call is one chat-model run to its caller: its usage already sums every policy
request, and LangChain's contract (and its standard tests) expect one `on_chat_model_start`
per call. Tracers (LangSmith and every other `BaseTracer`) still see the whole tree: the graph,
each policy request, each reward batch. Every other handler sees the graph's chain runs, the
reward's runs and TPO's progress events, but not the policy's chat-model runs inside, so a
token counter does not count the policy's tokens twice.
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.tracers.base import BaseTracer


class _WithoutModelRuns:
    """A handler as it is, except that chat-model and LLM runs pass it by."""

    def __init__(self, handler: BaseCallbackHandler) -> None:
        self._handler = handler

    @property
    def ignore_llm(self) -> bool:
        return True

    @property
    def ignore_chat_model(self) -> bool:
        return True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handler, name)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _WithoutModelRuns):
            return self._handler is other._handler
        return NotImplemented

    def __hash__(self) -> int:
        return hash(id(self._handler))


def tracers_see_model_runs(handlers: list[BaseCallbackHandler]) -> list[BaseCallbackHandler]:
    """`handlers` with every non-tracer one blind to chat-model and LLM runs."""
    return [
        h if isinstance(h, BaseTracer | _WithoutModelRuns) else _WithoutModelRuns(h)  # type: ignore[misc]
        for h in handlers
    ]
