"""N samples of one conversation over any chat model.

Two ways, picked per model:

- native `n`: chat models with an `n` field (ChatOpenAI against vLLM or OpenAI, ChatVLLM,
  ChatTransformers) get one request for all N samples, so the engine shares the prompt's
  prefix across them;
- fan-out: any other chat-model Runnable (`.bind(...)`, `.with_retry()`, ...) gets N
  requests, each with a distinct seed where it takes one.

Every request is a traced chat-model run (the callbacks of the node's config flow into it),
and goes through `resilience`: a time limit per attempt, retries with backoff for errors that
may pass. Sampling knobs (temperature, top_p, max_tokens, seed) are passed only to models that
declare them as fields, so a model that does not know a knob never receives it.

Each reply is read into a `thinking.Reply` (answer and thinking apart, whichever form the
policy used); with an answer schema, a tool call's arguments are the answer. A stage's thinking
setting and the answer schema become request arguments in the form the model understands
(`thinking.thinking_kwargs`, `structured.AnswerSchema.request_kwargs`).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from langchain_core.runnables import Runnable, RunnableBinding, RunnableConfig
from langchain_core.runnables.config import get_executor_for_config

from langchain_tpo.config import DEFAULT_THINKING_TAGS
from langchain_tpo.resilience import RequestPolicy, acall, call, describe
from langchain_tpo.structured import AnswerSchema
from langchain_tpo.thinking import Reply, not_understood_warning, split_reply, thinking_kwargs

_USAGE_KEYS = ("input_tokens", "output_tokens", "total_tokens", "reasoning_tokens")


@dataclass(frozen=True)
class SamplingParams:
    """What every policy request of a run asks for (None: leave the model's setting)."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    """Base seed of this request; sample i gets a seed derived from it."""
    thinking: bool | None = None
    """Ask the policy to think (True) or not (False); None asks nothing."""
    thinking_switch: str = "enable_thinking"
    """How the request says it (`TPOConfig.thinking_switch`)."""
    thinking_budget: int | None = None
    """Thinking tokens on top of `max_tokens`, where the policy may think."""
    thinking_tags: tuple[str, str] = DEFAULT_THINKING_TAGS
    """Tags of thinking written into the reply text."""
    answer_schema: AnswerSchema | None = None
    """Ask for, and read, replies in this schema."""


@dataclass
class Samples:
    """The replies of one sampling request, with what it cost and what went wrong."""

    replies: list[Reply] = field(default_factory=list)
    """Each reply's answer and thinking, in order."""
    requests: int = 0
    failures: int = 0
    """Requests that failed for good (after their retries)."""
    retries: int = 0
    """Attempts that failed and were tried again."""
    errors: list[str] = field(default_factory=list)
    last_error: BaseException | None = None
    usage: dict[str, int] = field(default_factory=dict)
    """Token usage of the requests, where the model reports it; `reasoning_tokens` and
    `answer_tokens` split the output of the requests whose model reports its thinking."""
    notes: list[str] = field(default_factory=list)
    """What the run should know about how the requests were made (a thinking setting the
    model cannot take, a schema asked for in the prompt only)."""

    @property
    def texts(self) -> list[str]:
        """The answers of the replies (thinking removed), in order."""
        return [r.answer for r in self.replies]

    def add_usage(self, usage: Any) -> None:
        """Add one request's `{"input_tokens", "output_tokens", "total_tokens"}`, and its
        `reasoning_tokens` where the model reports them."""
        usage = usage or {}
        for key in _USAGE_KEYS:
            value = usage.get(key)
            if value:
                self.usage[key] = self.usage.get(key, 0) + int(value)
        reasoning = usage.get("reasoning_tokens")
        if reasoning is not None:
            answer = max(int(usage.get("output_tokens") or 0) - int(reasoning), 0)
            self.usage["answer_tokens"] = self.usage.get("answer_tokens", 0) + answer
            self.usage.setdefault("reasoning_tokens", 0)

    def note(self, text: str) -> None:
        """Keep a note once."""
        if text not in self.notes:
            self.notes.append(text)

    def count_retry(self, _error: BaseException) -> None:
        """Called by `resilience` before each retry."""
        self.retries += 1

    def add_failure(self, error: BaseException) -> None:
        """A request that failed for good."""
        self.failures += 1
        self.errors.append(describe(error))
        self.last_error = error


def result_usage(result: Any) -> dict[str, int] | None:
    """Token usage of one `generate` call: the provider's total (`llm_output`), else the
    first generation's `usage_metadata` (providers put the request's usage on each of the n
    generations, so adding them up would count the prompt n times). `reasoning_tokens` is
    there when the provider reports the thinking part of the output."""
    token_usage = (getattr(result, "llm_output", None) or {}).get("token_usage") or {}
    if token_usage.get("total_tokens"):
        usage = {
            "input_tokens": int(token_usage.get("prompt_tokens", 0)),
            "output_tokens": int(token_usage.get("completion_tokens", 0)),
            "total_tokens": int(token_usage["total_tokens"]),
        }
        details = token_usage.get("completion_tokens_details") or {}
        if details.get("reasoning_tokens") is not None:
            usage["reasoning_tokens"] = int(details["reasoning_tokens"])
        return usage
    generations = result.generations[0] if getattr(result, "generations", None) else []
    messages = [getattr(g, "message", None) for g in generations]
    return message_usage(messages[0]) if messages else None


def message_usage(message: Any) -> dict[str, int] | None:
    """A message's `usage_metadata` as TPO counts it (`reasoning_tokens` from
    `output_token_details["reasoning"]`, where reported)."""
    metadata = getattr(message, "usage_metadata", None)
    if not metadata:
        return None
    usage = {key: int(metadata.get(key) or 0) for key in _USAGE_KEYS[:3]}
    reasoning = (metadata.get("output_token_details") or {}).get("reasoning")
    if reasoning is not None:
        usage["reasoning_tokens"] = int(reasoning)
    return usage


def derive_seed(base: int, *parts: object) -> int:
    """A stable 31-bit seed for one request, distinct per (base, parts)."""
    digest = hashlib.blake2b(repr((base, *parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % (2**31 - 1)


def _unwrap(model: Runnable) -> tuple[Runnable, dict[str, Any]]:
    """The model under `.bind(...)` layers, with the bound kwargs merged (outer wins)."""
    kwargs: dict[str, Any] = {}
    while isinstance(model, RunnableBinding):
        kwargs = {**model.kwargs, **kwargs}
        model = model.bound
    return model, kwargs


def _fields(model: Runnable) -> set[str]:
    return set(getattr(type(model), "model_fields", {}))


def _knobs(
    model: Runnable,
    params: SamplingParams,
    seed: int | None,
    bound: dict[str, Any] | None = None,
) -> dict[str, Any]:
    declared = _fields(model)
    max_tokens = params.max_tokens
    if params.thinking_budget and params.thinking is not False:
        # The answer keeps its own limit (the run's, else the model's); thinking gets more.
        answer = max_tokens if max_tokens is not None else (bound or {}).get("max_tokens")
        if answer is None:
            answer = getattr(model, "max_tokens", None)
        if isinstance(answer, int):
            max_tokens = answer + params.thinking_budget
    values = {
        "temperature": params.temperature,
        "top_p": params.top_p,
        "max_tokens": max_tokens,
        "seed": seed,
    }
    return {k: v for k, v in values.items() if v is not None and k in declared}


def _shape(
    model: Runnable, bound: dict[str, Any], params: SamplingParams, out: Samples
) -> dict[str, Any]:
    """The request arguments that carry the stage's thinking setting and the answer schema."""
    kwargs, understood = thinking_kwargs(
        model,
        bound,
        enabled=params.thinking,
        switch=params.thinking_switch,
        budget=params.thinking_budget,
    )
    if not understood:
        out.note(not_understood_warning(model, params.thinking_switch))
    schema = params.answer_schema
    if schema is not None:
        structured, constrained = schema.request_kwargs(model)
        kwargs.update(structured)
        if not constrained:
            out.note(
                f"The policy {type(model).__name__} has no structured output TPO knows, so the "
                f"schema {schema.name} was asked for in the prompt only; replies that do not "
                "fit it are counted as invalid_outputs."
            )
    return kwargs


def read_reply(message: Any, params: SamplingParams) -> Reply:
    """A reply's answer and thinking; with an answer schema, a tool call's arguments are the
    answer."""
    off = params.thinking is False
    if isinstance(message, str):
        return split_reply(message, params.thinking_tags, asked_not_to_think=off)
    reply = split_reply(message, params.thinking_tags, asked_not_to_think=off)
    if params.answer_schema is not None:
        answer = params.answer_schema.reply_text(
            message if isinstance(message, AIMessage) else None, reply.answer
        )
        return Reply(answer=answer, thinking=reply.thinking)
    return reply


def is_native(model: Runnable) -> bool:
    """Whether the model draws N samples in one request (it has an `n` field)."""
    inner, _ = _unwrap(model)
    return isinstance(inner, BaseChatModel) and "n" in _fields(inner)


def _seeds(params: SamplingParams, n: int) -> list[int | None]:
    if params.seed is None:
        return [None] * n
    return [derive_seed(params.seed, i) for i in range(n)]


def _generate_kwargs(config: RunnableConfig | None, stage: str) -> dict[str, Any]:
    config = config or {}
    return {
        "callbacks": config.get("callbacks"),
        "tags": config.get("tags"),
        "metadata": {**(config.get("metadata") or {}), "tpo_stage": stage},
    }


def _stage_config(config: RunnableConfig | None, stage: str) -> RunnableConfig:
    staged: dict[str, Any] = dict(config or {})
    staged["metadata"] = {**(staged.get("metadata") or {}), "tpo_stage": stage}
    return cast(RunnableConfig, staged)


def sample(
    model: Runnable,
    messages: Sequence[BaseMessage],
    n: int,
    params: SamplingParams,
    config: RunnableConfig | None = None,
    *,
    policy: RequestPolicy | None = None,
    stage: str = "sample",
) -> Samples:
    """Draw `n` samples of the model's reply to `messages`.

    Requests that fail for good are skipped and counted (`failures`, `errors`, `last_error`);
    the caller decides what a stage with too few samples means.
    """
    out = Samples()
    policy = policy or RequestPolicy()
    if is_native(model):
        inner, kwargs = _one_request_for_all(model, n, params, out)
        out.requests += 1
        try:
            result = call(
                lambda: inner.generate(
                    [list(messages)], **_generate_kwargs(config, stage), **kwargs
                ),
                policy,
                f"the {stage} request",
                on_retry=out.count_retry,
            )
            _keep_generations(result, out, params)
        except Exception as e:
            out.add_failure(e)
            return out
    if len(out.replies) < n:
        _fan_out(model, messages, n - len(out.replies), params, policy, config, stage, out)
    return out


async def asample(
    model: Runnable,
    messages: Sequence[BaseMessage],
    n: int,
    params: SamplingParams,
    config: RunnableConfig | None = None,
    *,
    policy: RequestPolicy | None = None,
    stage: str = "sample",
) -> Samples:
    """Async twin of `sample`: awaits the model, so an engine can batch concurrent queries."""
    out = Samples()
    policy = policy or RequestPolicy()
    if is_native(model):
        inner, kwargs = _one_request_for_all(model, n, params, out)
        out.requests += 1
        try:
            result = await acall(
                lambda: inner.agenerate(
                    [list(messages)], **_generate_kwargs(config, stage), **kwargs
                ),
                policy,
                f"the {stage} request",
                on_retry=out.count_retry,
            )
            _keep_generations(result, out, params)
        except Exception as e:
            out.add_failure(e)
            return out
    if len(out.replies) < n:
        await _afan_out(model, messages, n - len(out.replies), params, policy, config, stage, out)
    return out


def _one_request_for_all(
    model: Runnable, n: int, params: SamplingParams, out: Samples
) -> tuple[BaseChatModel, dict[str, Any]]:
    """The chat model that takes `n`, and the sampling arguments of its one `generate` call."""
    inner, bound = _unwrap(model)
    assert isinstance(inner, BaseChatModel)
    shape = _shape(inner, bound, params, out)
    return inner, {**bound, **_knobs(inner, params, params.seed, bound), **shape, "n": n}


def _keep_generations(result: LLMResult, out: Samples, params: SamplingParams) -> None:
    out.replies = [
        read_reply(g.message if isinstance(g, ChatGeneration) else g.text, params)
        for g in result.generations[0]
    ]
    out.add_usage(result_usage(result))


def _fan_out(
    model: Runnable,
    messages: Sequence[BaseMessage],
    n: int,
    params: SamplingParams,
    policy: RequestPolicy,
    config: RunnableConfig | None,
    stage: str,
    out: Samples,
) -> None:
    inner, bound = _unwrap(model)
    shape = _shape(inner, bound, params, out)
    calls = [{**_knobs(inner, params, seed, bound), **shape} for seed in _seeds(params, n)]
    run_config = _stage_config(config, stage)
    what = f"the {stage} request"

    def one(kwargs: dict[str, Any]) -> Any:
        try:
            return call(
                lambda: model.invoke(list(messages), run_config, **kwargs),
                policy,
                what,
                on_retry=out.count_retry,
            )
        except Exception as e:
            return e

    if n == 1:
        results = [one(calls[0])]
    else:
        with get_executor_for_config(config) as executor:
            results = list(executor.map(one, calls))
    _collect(results, out, params)


async def _afan_out(
    model: Runnable,
    messages: Sequence[BaseMessage],
    n: int,
    params: SamplingParams,
    policy: RequestPolicy,
    config: RunnableConfig | None,
    stage: str,
    out: Samples,
) -> None:
    inner, bound = _unwrap(model)
    shape = _shape(inner, bound, params, out)
    calls = [{**_knobs(inner, params, seed, bound), **shape} for seed in _seeds(params, n)]
    run_config = _stage_config(config, stage)
    what = f"the {stage} request"

    async def one(kwargs: dict[str, Any]) -> Any:
        try:
            return await acall(
                lambda: model.ainvoke(list(messages), run_config, **kwargs),
                policy,
                what,
                on_retry=out.count_retry,
            )
        except Exception as e:
            return e

    _collect(list(await asyncio.gather(*(one(kwargs) for kwargs in calls))), out, params)


def _collect(results: list[Any], out: Samples, params: SamplingParams) -> None:
    out.requests += len(results)
    for result in results:
        if isinstance(result, BaseException):
            out.add_failure(result)
        else:
            out.replies.append(read_reply(result, params))
            out.add_usage(message_usage(result))
