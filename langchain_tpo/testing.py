"""Scripted chat models for testing TPO pipelines without a real LLM.

`ScriptedChatModel` answers every request through a `responder(messages, index)` function and
records every request it gets, so tests can count calls per node and read the prompts TPO sent.
It has no `n` field, so TPO fans out one request per sample; `ScriptedChatModelWithN` has one, so
TPO asks for all samples in a single request. `ScriptedToolCallingModel` also binds tools and
calls them, for agents. `ScriptedReasoningModel` thinks before it answers, in any of the three
forms reasoning policies use, and runs out of tokens while thinking when its limit is short.

Every scripted model takes `chat_template_kwargs` (recorded with the request) and answers a
request for a JSON schema (`response_format`, as OpenAI-compatible servers take it) with an
object of that schema (`structured_responder`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    OutputTokenDetails,
    ToolCall,
    ToolMessage,
    UsageMetadata,
)
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field, PrivateAttr

from langchain_tpo.parsing import RESPONSE_END, RESPONSE_START

Responder = Callable[[list[BaseMessage], int], str]
StructuredResponder = Callable[[dict[str, Any] | None, list[BaseMessage], int], Any]


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


def default_structured_responder(
    schema: dict[str, Any] | None, messages: list[BaseMessage], index: int
) -> Any:
    """An object of the JSON schema, its strings made from the default reply (distinct
    lengths per index), numbers from the index; `{"text": ...}` when no schema was given."""
    text = default_responder(messages, index)
    if schema is None:
        return {"text": text}
    return _instance(schema, text, index, schema.get("$defs") or {})


def _instance(schema: dict[str, Any], text: str, index: int, defs: dict[str, Any]) -> Any:
    if "$ref" in schema:
        return _instance(defs[schema["$ref"].rsplit("/", 1)[-1]], text, index, defs)
    for key in ("anyOf", "oneOf", "allOf"):
        options = [o for o in schema.get(key, []) if o.get("type") != "null"]
        if options:
            return _instance(options[0], text, index, defs)
    if "enum" in schema:
        return schema["enum"][index % len(schema["enum"])]
    kind = schema.get("type", "object")
    if kind == "object":
        properties = schema.get("properties") or {}
        return {k: _instance(v, f"{k}: {text}", index, defs) for k, v in properties.items()}
    if kind == "array":
        return [_instance(schema.get("items") or {"type": "string"}, text, index, defs)]
    values = {"integer": index, "number": float(index), "boolean": index % 2 == 0, "null": None}
    return values.get(kind, text)


def _requested_schema(kwargs: dict[str, Any]) -> tuple[bool, dict[str, Any] | None]:
    """Whether a request asks for JSON (`response_format`), and the schema it names."""
    wanted = kwargs.get("response_format")
    if not isinstance(wanted, dict):
        return False, None
    if wanted.get("type") == "json_schema":
        return True, dict((wanted.get("json_schema") or {}).get("schema") or {})
    return wanted.get("type") == "json_object", None


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
    chat_template_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Chat-template variables for every request (as ChatVLLM and ChatTransformers take
    them); a request's own are merged over them and recorded in its kwargs."""
    structured_responder: StructuredResponder = default_structured_responder
    """`structured_responder(schema, messages, index)` returns the object of a reply to a
    request for JSON (`response_format`); `schema` is None for a plain JSON object. A string
    is the reply's text as it is (to script replies that are not valid)."""

    reports_reasoning: ClassVar[bool] = False
    """Whether usage reports the thinking tokens (as a server with a reasoning parser does,
    zero included)."""

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
        # Token usage as a real provider reports it: words stand in for tokens.
        prompt = sum(len(m.text.split()) for m in messages)
        replies = [self._reply(list(messages), i, kwargs) for i in indices]
        generations = []
        completion = reasoning = 0
        for message, info in replies:
            usage: dict[str, Any] = dict(message.usage_metadata or {})
            out = int(usage.get("output_tokens", 0))
            thought = int((usage.get("output_token_details") or {}).get("reasoning", 0))
            completion, reasoning = completion + out, reasoning + thought
            message.usage_metadata = _usage(prompt, out, thought, self.reports_reasoning)
            generations.append(ChatGeneration(message=message, generation_info=info))
        token_usage: dict[str, Any] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        if reasoning or self.reports_reasoning:
            token_usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
        return ChatResult(generations=generations, llm_output={"token_usage": token_usage})

    def _combine_llm_outputs(self, llm_outputs: list[dict[str, Any] | None]) -> dict[str, Any]:
        """The requests' token usage summed, as a provider's client reports it."""
        total: dict[str, Any] = {}
        for output in llm_outputs:
            for key, value in (output or {}).get("token_usage", {}).items():
                if isinstance(value, dict):
                    inner = total.setdefault(key, {})
                    for name, count in value.items():
                        inner[name] = inner.get(name, 0) + count
                else:
                    total[key] = total.get(key, 0) + value
        return {"token_usage": total}

    def _reply(
        self, messages: list[BaseMessage], index: int, kwargs: dict[str, Any]
    ) -> tuple[AIMessage, dict[str, Any]]:
        """The index-th reply and its generation info; its usage counts its own words."""
        text = self._answer_text(messages, index, kwargs)
        usage = _usage(0, len(text.split()), 0)
        return AIMessage(text, usage_metadata=usage), {"finish_reason": "stop"}

    def _answer_text(self, messages: list[BaseMessage], index: int, kwargs: dict[str, Any]) -> str:
        wants_json, schema = _requested_schema(kwargs)
        if wants_json:
            value = self.structured_responder(schema, list(messages), index)
            return value if isinstance(value, str) else json.dumps(value)
        return self.responder(list(messages), index)

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


def _usage(prompt: int, output: int, reasoning: int, report: bool = False) -> UsageMetadata:
    usage = UsageMetadata(input_tokens=prompt, output_tokens=output, total_tokens=prompt + output)
    if reasoning or report:
        usage["output_token_details"] = OutputTokenDetails(reasoning=reasoning)
    return usage


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


THINKING_MARK = "(private reasoning)"
"""In every thought `default_thinker` writes, so a test can look for thinking anywhere."""


def default_thinker(messages: list[BaseMessage], index: int) -> str:
    """A thought of a few words per reply, carrying `THINKING_MARK` and the reply's index."""
    return f"Thought {index} {THINKING_MARK}: first work out what is asked, then answer it."


ThinkingForm = Literal["tags", "reasoning_content", "content_blocks"]


class ScriptedReasoningModel(ScriptedChatModel):
    """A scripted reasoning policy: every reply thinks, then answers.

    The thinking comes in the form a real policy uses (`thinking_form`):

    - `"tags"`: `<think>thought</think>answer` in the text, as a model served without a
      reasoning parser writes it (`template_opens_thinking=True`: the template wrote the
      opening tag, so the reply starts inside the block);
    - `"reasoning_content"`: the thought in `additional_kwargs["reasoning_content"]`, the
      answer in the content, as a server with a reasoning parser returns them;
    - `"content_blocks"`: a LangChain v1 `reasoning` block, then a `text` block.

    Words stand in for tokens: with `max_tokens`, a thought as long as the limit leaves no
    room, so the reply ends inside its thinking with no answer (finish reason `length`); a
    `thinking_token_budget` (vLLM's) cuts the thought there and lets the answer follow.
    `cut_every=k` cuts every k-th reply inside its thinking whatever the limit. A request
    whose chat template kwargs say `enable_thinking` (or `thinking`) False, or whose
    `reasoning_effort` is "none", gets the answer alone. Usage reports the thinking words in
    `output_token_details["reasoning"]`.

    Example:
        ```python
        from langchain_tpo.testing import ScriptedReasoningModel

        model = ScriptedReasoningModel(thinking_form="reasoning_content")
        reply = model.invoke("hi")
        reply.text  # "sample 0:"
        reply.additional_kwargs["reasoning_content"]  # "Thought 0 (private reasoning): ..."
        ```
    """

    reports_reasoning: ClassVar[bool] = True

    thinking_form: ThinkingForm = "tags"
    """Where the thinking goes: the text, `reasoning_content`, or a content block."""
    thinker: Responder = default_thinker
    """`thinker(messages, index)` returns the thought of the index-th reply."""
    template_opens_thinking: bool = False
    """With `"tags"`: the reply leaves out the opening tag (the chat template wrote it)."""
    thinking_tags: tuple[str, str] = ("<think>", "</think>")
    """The tags around thinking in the `"tags"` form."""
    cut_every: int | None = None
    """Cut every k-th reply (indices k-1, 2k-1, ...) inside its thinking."""

    def _reply(
        self, messages: list[BaseMessage], index: int, kwargs: dict[str, Any]
    ) -> tuple[AIMessage, dict[str, Any]]:
        if not self._thinks(kwargs):
            return super()._reply(messages, index, kwargs)
        answer = self._answer_text(messages, index, kwargs)
        thought = self.thinker(messages, index).split()
        budget = kwargs.get("thinking_token_budget")
        if budget is not None:
            thought = thought[:budget]
        limit = kwargs.get("max_tokens", self.max_tokens)
        forced = self.cut_every is not None and index % self.cut_every == self.cut_every - 1
        words = answer.split()
        finish = "stop"
        if forced or (limit is not None and len(thought) >= limit):
            thought = thought[: max(limit - 1, 1)] if limit is not None else thought[:-2]
            words, finish = [], "length"
        elif limit is not None and len(thought) + len(words) > limit:
            words, finish = words[: limit - len(thought)], "length"
        message = self._shaped(" ".join(thought), " ".join(words), cut=not words)
        message.usage_metadata = _usage(0, len(thought) + len(words), len(thought))
        return message, {"finish_reason": finish}

    def _thinks(self, kwargs: dict[str, Any]) -> bool:
        template = {**self.chat_template_kwargs, **(kwargs.get("chat_template_kwargs") or {})}
        if template.get("enable_thinking") is False or template.get("thinking") is False:
            return False
        return kwargs.get("reasoning_effort") != "none"

    def _shaped(self, thought: str, answer: str, *, cut: bool) -> AIMessage:
        if self.thinking_form == "reasoning_content":
            return AIMessage(answer, additional_kwargs={"reasoning_content": thought})
        if self.thinking_form == "content_blocks":
            blocks: list[str | dict[str, Any]] = [{"type": "reasoning", "reasoning": thought}]
            if answer:
                blocks.append({"type": "text", "text": answer})
            return AIMessage(blocks)
        start, end = self.thinking_tags
        opening = "" if self.template_opens_thinking else start
        if cut:
            return AIMessage(f"{opening}{thought}")
        return AIMessage(f"{opening}{thought}{end}\n\n{answer}")


class ScriptedReasoningModelWithN(ScriptedReasoningModel):
    """A scripted reasoning policy that returns `n` samples per request."""

    n: int = 1
