"""N samples of one conversation over any chat model.

Three ways, picked per model:

- native `n`: models with an `n` field (ChatOpenAI against vLLM or OpenAI, ChatVLLM) get one
  request for all N samples, so the engine shares the prompt's prefix across them;
- Hugging Face pipelines: `ChatHuggingFace(llm=HuggingFacePipeline(...))` gets one `generate`
  with `num_return_sequences` (the stock wrapper would keep only the first sample);
- fan-out: any other chat model gets N requests, each with a distinct seed where it takes one.

Sampling knobs (temperature, top_p, max_tokens, seed) are passed only to models that declare them
as fields, so a model that does not know a knob never receives it.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable, RunnableBinding, RunnableConfig
from langchain_core.runnables.config import get_executor_for_config

_KNOBS = ("temperature", "top_p", "max_tokens", "seed")


@dataclass(frozen=True)
class SamplingParams:
    """What every policy request of a run asks for (None: leave the model's setting)."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    """Base seed of this request; sample i gets a seed derived from it."""


@dataclass
class Samples:
    """Raw texts of one sampling request, with what it cost and what went wrong."""

    texts: list[str] = field(default_factory=list)
    requests: int = 0
    usage: dict[str, int] = field(default_factory=dict)
    """Token usage of the requests, where the model reports it."""
    failures: int = 0
    errors: list[str] = field(default_factory=list)

    def add_usage(self, usage: Any) -> None:
        """Add one request's `{"input_tokens", "output_tokens", "total_tokens"}`."""
        for key in ("input_tokens", "output_tokens", "total_tokens"):
            value = (usage or {}).get(key)
            if value:
                self.usage[key] = self.usage.get(key, 0) + int(value)


def result_usage(result: Any) -> dict[str, int] | None:
    """Token usage of one `generate` call: the provider's total (`llm_output`), else the
    first generation's `usage_metadata` (providers put the request's usage on each of the n
    generations, so adding them up would count the prompt n times)."""
    token_usage = (getattr(result, "llm_output", None) or {}).get("token_usage") or {}
    if token_usage.get("total_tokens"):
        return {
            "input_tokens": int(token_usage.get("prompt_tokens", 0)),
            "output_tokens": int(token_usage.get("completion_tokens", 0)),
            "total_tokens": int(token_usage["total_tokens"]),
        }
    generations = result.generations[0] if getattr(result, "generations", None) else []
    messages = [getattr(g, "message", None) for g in generations]
    usages = [getattr(m, "usage_metadata", None) for m in messages]
    return usages[0] if usages and usages[0] else None


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


def _knobs(model: Runnable, params: SamplingParams, seed: int | None) -> dict[str, Any]:
    declared = _fields(model)
    values = {
        "temperature": params.temperature,
        "top_p": params.top_p,
        "max_tokens": params.max_tokens,
        "seed": seed,
    }
    return {k: v for k, v in values.items() if v is not None and k in declared}


def _kind(model: Runnable) -> str:
    inner, _ = _unwrap(model)
    if type(inner).__name__ == "ChatHuggingFace":
        from langchain_tpo.chat_models.huggingface import is_pipeline_chat_model

        if is_pipeline_chat_model(inner):
            return "pipeline"
    if isinstance(inner, BaseChatModel) and "n" in _fields(inner):
        return "native"
    return "fanout"


def _seeds(params: SamplingParams, n: int) -> list[int | None]:
    if params.seed is None:
        return [None] * n
    return [derive_seed(params.seed, i) for i in range(n)]


def _generate_kwargs(config: RunnableConfig | None) -> dict[str, Any]:
    config = config or {}
    return {
        "callbacks": config.get("callbacks"),
        "tags": config.get("tags"),
        "metadata": config.get("metadata"),
    }


def sample(
    model: Runnable,
    messages: Sequence[BaseMessage],
    n: int,
    params: SamplingParams,
    config: RunnableConfig | None = None,
) -> Samples:
    """Draw `n` samples of the model's reply to `messages`."""
    kind = _kind(model)
    out = Samples()
    if kind == "pipeline":
        from langchain_tpo.chat_models.huggingface import sample_pipeline_chat

        inner, _ = _unwrap(model)
        texts, _usage = sample_pipeline_chat(
            inner,
            [list(messages)],
            n,
            temperature=params.temperature,
            top_p=params.top_p,
            max_tokens=params.max_tokens,
            seed=params.seed,
        )
        out.texts, out.requests = list(texts[0]), 1
        out.add_usage(_usage)
    elif kind == "native":
        inner, bound = _unwrap(model)
        assert isinstance(inner, BaseChatModel)
        kwargs = {**bound, **_knobs(inner, params, params.seed), "n": n}
        result = inner.generate([list(messages)], **_generate_kwargs(config), **kwargs)
        out.texts, out.requests = [g.text for g in result.generations[0]], 1
        out.add_usage(result_usage(result))
    if len(out.texts) < n:
        _fan_out(model, messages, n - len(out.texts), params, config, out)
    return out


async def asample(
    model: Runnable,
    messages: Sequence[BaseMessage],
    n: int,
    params: SamplingParams,
    config: RunnableConfig | None = None,
) -> Samples:
    """Async twin of `sample`: awaits the model, so an engine can batch concurrent queries."""
    kind = _kind(model)
    out = Samples()
    if kind == "pipeline":
        # transformers pipelines have no async API: run the batched generate in a thread.
        return await asyncio.get_running_loop().run_in_executor(
            None, sample, model, messages, n, params, config
        )
    if kind == "native":
        inner, bound = _unwrap(model)
        assert isinstance(inner, BaseChatModel)
        kwargs = {**bound, **_knobs(inner, params, params.seed), "n": n}
        result = await inner.agenerate([list(messages)], **_generate_kwargs(config), **kwargs)
        out.texts, out.requests = [g.text for g in result.generations[0]], 1
        out.add_usage(result_usage(result))
    if len(out.texts) < n:
        await _afan_out(model, messages, n - len(out.texts), params, config, out)
    return out


def _fan_out(
    model: Runnable,
    messages: Sequence[BaseMessage],
    n: int,
    params: SamplingParams,
    config: RunnableConfig | None,
    out: Samples,
) -> None:
    inner, _ = _unwrap(model)
    calls = [_knobs(inner, params, seed) for seed in _seeds(params, n)]

    def one(kwargs: dict[str, Any]) -> BaseMessage | BaseException:
        try:
            return model.invoke(list(messages), config, **kwargs)
        except Exception as e:
            return e

    if n == 1:
        results = [one(calls[0])]
    else:
        with get_executor_for_config(config) as executor:
            results = list(executor.map(one, calls))
    _collect(results, out)


async def _afan_out(
    model: Runnable,
    messages: Sequence[BaseMessage],
    n: int,
    params: SamplingParams,
    config: RunnableConfig | None,
    out: Samples,
) -> None:
    inner, _ = _unwrap(model)
    calls = [_knobs(inner, params, seed) for seed in _seeds(params, n)]
    results = await asyncio.gather(
        *(model.ainvoke(list(messages), config, **kwargs) for kwargs in calls),
        return_exceptions=True,
    )
    _collect(list(results), out)


def _collect(results: list[Any], out: Samples) -> None:
    errors = [r for r in results if isinstance(r, BaseException)]
    replies = [r for r in results if not isinstance(r, BaseException)]
    out.requests += len(results)
    out.failures += len(errors)
    out.errors += [f"{type(e).__name__}: {e}" for e in errors]
    out.texts += [r.text for r in replies]
    for reply in replies:
        out.add_usage(getattr(reply, "usage_metadata", None))
    if errors and len(errors) == len(results) and not out.texts:
        # Nothing came back at all: the model is broken, not flaky. Surface the real error.
        raise errors[0]
