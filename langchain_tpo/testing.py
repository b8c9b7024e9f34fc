"""Scripted chat models for testing TPO pipelines without a real LLM.

`ScriptedChatModel` answers every request through a `responder(messages, index)` function and
records every request it gets, so tests can count calls per node and read the prompts TPO sent.
It has no `n` field, so TPO fans out one request per sample; `ScriptedChatModelWithN` has one, so
TPO asks for all samples in a single request. `ScriptedToolCallingModel` also binds tools and
calls them, for agents.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, ToolCall, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import PrivateAttr

from langchain_tpo.parsing import RESPONSE_END, RESPONSE_START

Responder = Callable[[list[BaseMessage], int], str]


def stage_of(messages: list[BaseMessage]) -> str:
    """Which TPO step sent these messages (with the default prompts): sample, critique,
    suggest or rewrite. `Request.stage` also knows it for replaced prompts."""
    text = messages[-1].text
    first = messages[0].text if messages else ""
    if "Answer B (not preferred)" in text or "Here is an answer to review" in text:
        return "critique"
    if "A review of this answer" in text:
        return "suggest"
    if "How to make it better (between the lines" in first:
        return "rewrite"
    if RESPONSE_START in text and "Suggested improvements" in text:
        return "rewrite"
    return "sample"


def default_responder(messages: list[BaseMessage], index: int) -> str:
    """Distinct texts of distinct lengths; rewrites asked for markers come wrapped in them."""
    stage = stage_of(messages)
    body = f"{stage} {index}: " + "detail " * (index % 7)
    if stage == "rewrite" and RESPONSE_START in messages[-1].text:
        return f"{RESPONSE_START}{body.strip()}{RESPONSE_END}"
    return body.strip()


@dataclass
class Request:
    """One request the scripted model received."""

    messages: list[BaseMessage]
    kwargs: dict[str, Any]
    samples: int
    stage: str = ""
    """The TPO step (from the request's `tpo_stage` run metadata, else from its text)."""
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.stage = self.stage or stage_of(self.messages)


class ScriptedChatModel(BaseChatModel):
    """A chat model whose replies come from a function; it records every request.

    Example:
        ```python
        from langchain_tpo.testing import ScriptedChatModel

        model = ScriptedChatModel(responder=lambda messages, i: f"answer {i}")
        model.invoke("hi").content  # "answer 0"
        model.requests[0].stage  # "sample"
        ```
    """

    responder: Responder = default_responder
    """`responder(messages, index)` returns the text of the index-th sample overall."""
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    delay: float = 0.0
    """Seconds each request takes (async requests sleep without blocking the loop)."""
    record_requests: bool = True
    """Keep every request for `requests`; off for benchmarks, where the log is not TPO's cost."""

    _requests: list[Request] = PrivateAttr(default_factory=list)
    _counter: itertools.count = PrivateAttr(default_factory=itertools.count)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    @property
    def requests(self) -> list[Request]:
        """Every request received so far, in order."""
        return list(self._requests)

    def requests_for(self, stage: str) -> list[Request]:
        """The requests one TPO step sent."""
        return [r for r in self._requests if r.stage == stage]

    def _respond(
        self, messages: list[BaseMessage], kwargs: dict[str, Any], run_manager: Any = None
    ) -> ChatResult:
        n = kwargs.get("n") or getattr(self, "n", None) or 1
        with self._lock:
            if self.record_requests:
                metadata = dict(getattr(run_manager, "metadata", None) or {})
                stage = metadata.get("tpo_stage", "")
                self._requests.append(Request(list(messages), dict(kwargs), n, stage, metadata))
            indices = [next(self._counter) for _ in range(n)]
        texts = [self.responder(list(messages), i) for i in indices]
        # Token usage as a real provider reports it: words stand in for tokens.
        prompt = sum(len(m.text.split()) for m in messages)
        completion = sum(len(t.split()) for t in texts)
        generations = [
            ChatGeneration(
                message=AIMessage(
                    t,
                    usage_metadata={
                        "input_tokens": prompt,
                        "output_tokens": len(t.split()),
                        "total_tokens": prompt + len(t.split()),
                    },
                )
            )
            for t in texts
        ]
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        return ChatResult(generations=generations, llm_output={"token_usage": usage})

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.delay:
            threading.Event().wait(self.delay)
        return self._respond(messages, _with_stop(kwargs, stop), run_manager)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.delay:
            await asyncio.sleep(self.delay)
        return self._respond(messages, _with_stop(kwargs, stop), run_manager)


def _with_stop(kwargs: dict[str, Any], stop: list[str] | None) -> dict[str, Any]:
    """The call's keyword arguments as recorded: stop sequences included."""
    return {**kwargs, "stop": stop} if stop else kwargs


class ScriptedChatModelWithN(ScriptedChatModel):
    """A scripted model that returns `n` samples per request, like ChatOpenAI or ChatVLLM."""

    n: int = 1


ToolCaller = Callable[[list[BaseMessage], list[dict[str, Any]], Any], list[ToolCall]]


def default_tool_caller(
    messages: list[BaseMessage], tools: list[dict[str, Any]], tool_choice: Any
) -> list[ToolCall]:
    """Call the first bound tool (or the one `tool_choice` names) until a tool has answered the
    last human message; then answer in text. A forcing `tool_choice` always calls a tool.

    The arguments come from the tool's schema: the last human message for string parameters,
    the first number in it (else 1) for numbers, True for booleans.
    """
    humans = [i for i, m in enumerate(messages) if m.type == "human"]
    answered = bool(humans) and any(isinstance(m, ToolMessage) for m in messages[humans[-1] + 1 :])
    forced = tool_choice in ("any", "required", True) or _named_tool(tool_choice) is not None
    if not tools or (answered and not forced) or tool_choice in ("none", False):
        return []
    name = _named_tool(tool_choice)
    tool = next((t for t in tools if _tool_name(t) == name), tools[0])
    question = messages[humans[-1]].text if humans else ""
    return [
        ToolCall(
            name=_tool_name(tool),
            args=_arguments(tool, question),
            id=f"call_{len(messages)}",
            type="tool_call",
        )
    ]


def _tool_name(tool: dict[str, Any]) -> str:
    return str(tool.get("function", tool).get("name"))


def _named_tool(tool_choice: Any) -> str | None:
    if isinstance(tool_choice, dict):
        return str(tool_choice.get("function", tool_choice).get("name"))
    if isinstance(tool_choice, str) and tool_choice not in ("auto", "any", "required", "none"):
        return tool_choice
    return None


def _arguments(tool: dict[str, Any], question: str) -> dict[str, Any]:
    schema = tool.get("function", tool).get("parameters") or {}
    number = re.search(r"-?\d+", question)
    values = {
        "string": question,
        "integer": int(number.group()) if number else 1,
        "number": int(number.group()) if number else 1,
        "boolean": True,
    }
    return {
        name: values.get(spec.get("type"), question)
        for name, spec in (schema.get("properties") or {}).items()
        if name in (schema.get("required") or [])
    }


class ScriptedToolCallingModel(ScriptedChatModel):
    """A scripted model that binds tools and calls them, like a tool-calling chat model.

    With tools bound, `tool_caller(messages, tools, tool_choice)` decides the tool calls of a
    reply (by default: call a tool until one has answered the last human message, then answer
    in text); a reply without tool calls comes from `responder`. Requests record the tools
    they carried (`request.kwargs["tools"]`).

    Example:
        ```python
        from langchain_core.tools import tool

        from langchain_tpo.testing import ScriptedToolCallingModel


        @tool
        def weather(city: str) -> str:
            '''The weather in a city.'''
            return "sunny"


        model = ScriptedToolCallingModel().bind_tools([weather])
        model.invoke("Weather in Oslo?").tool_calls[0]["name"]  # "weather"
        ```
    """

    tool_caller: ToolCaller = default_tool_caller
    """`tool_caller(messages, tools, tool_choice)` returns the tool calls of a reply ([]: none)."""

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | Any],
        *,
        tool_choice: Any = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        formatted = [convert_to_openai_tool(t) for t in tools]
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)

    def _respond(
        self, messages: list[BaseMessage], kwargs: dict[str, Any], run_manager: Any = None
    ) -> ChatResult:
        tools = kwargs.get("tools") or []
        calls = self.tool_caller(list(messages), tools, kwargs.get("tool_choice"))
        if not calls:
            return super()._respond(messages, kwargs, run_manager)
        metadata = dict(getattr(run_manager, "metadata", None) or {})
        with self._lock:
            self._requests.append(
                Request(list(messages), dict(kwargs), 1, metadata.get("tpo_stage", ""), metadata)
            )
            next(self._counter)
        prompt = sum(len(m.text.split()) for m in messages)
        usage = {"input_tokens": prompt, "output_tokens": 5, "total_tokens": prompt + 5}
        message = AIMessage("", tool_calls=calls, usage_metadata=usage)
        return ChatResult(generations=[ChatGeneration(message=message)])
