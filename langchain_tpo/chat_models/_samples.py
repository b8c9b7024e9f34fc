"""What chat models that draw `n` samples per request report: trace params, usage, results.

`ChatVLLM` and `ChatTransformers` share their sampling fields (`n`, `temperature`, `top_p`,
`max_tokens`, `seed`, `stop`) and report them, and the token usage of each sample, the same way;
only the provider's name and where the samples come from differ.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from langchain_core.language_models import LangSmithParams
from langchain_core.messages import AIMessage, UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatResult


class SamplingFields(Protocol):
    """The fields a chat model drawing `n` samples per request has."""

    @property
    def model_name(self) -> str | None: ...
    @property
    def n(self) -> int: ...
    @property
    def temperature(self) -> float | None: ...
    @property
    def top_p(self) -> float | None: ...
    @property
    def max_tokens(self) -> int | None: ...
    @property
    def seed(self) -> int | None: ...
    @property
    def stop(self) -> list[str] | None: ...


def identifying_params(chat: SamplingFields, more: Mapping[str, Any]) -> dict[str, Any]:
    """The model's name and sampling fields, then `more` (the backend's own settings)."""
    return {
        "model_name": chat.model_name,
        "n": chat.n,
        "temperature": chat.temperature,
        "top_p": chat.top_p,
        "max_tokens": chat.max_tokens,
        "seed": chat.seed,
        **more,
    }


def ls_params(
    chat: SamplingFields,
    *,
    provider: str,
    model_name: str,
    stop: list[str] | None,
    kwargs: Mapping[str, Any],
) -> LangSmithParams:
    """LangSmith's params of one call: a call's keyword arguments win over the fields."""
    params = LangSmithParams(ls_provider=provider, ls_model_name=model_name, ls_model_type="chat")
    temperature = kwargs.get("temperature", chat.temperature)
    if temperature is not None:
        params["ls_temperature"] = temperature
    max_tokens = kwargs.get("max_tokens", chat.max_tokens)
    if max_tokens is not None:
        params["ls_max_tokens"] = max_tokens
    if stop or chat.stop:
        params["ls_stop"] = stop or chat.stop
    return params


def usage(prompt_tokens: int, output_tokens: int) -> UsageMetadata:
    """Token usage of one sample (its prompt counted in full)."""
    return UsageMetadata(
        input_tokens=prompt_tokens,
        output_tokens=output_tokens,
        total_tokens=prompt_tokens + output_tokens,
    )


def chat_result(
    samples: Sequence[tuple[str, int, dict[str, Any]]],
    *,
    prompt_tokens: int,
    model_name: str | None,
    provider: str,
) -> ChatResult:
    """One generation per sample (text, output tokens, generation info such as
    `finish_reason`), each with its usage, and the request's total usage in `llm_output`."""
    generations = []
    for text, tokens, info in samples:
        message = AIMessage(
            content=text,
            usage_metadata=usage(prompt_tokens, tokens),
            response_metadata={"model_name": model_name, "model_provider": provider, **info},
        )
        generations.append(ChatGeneration(message=message, generation_info=info))
    output_tokens = sum(tokens for _, tokens, _ in samples)
    token_usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": output_tokens,
        "total_tokens": prompt_tokens + output_tokens,
    }
    return ChatResult(
        generations=generations,
        llm_output={"token_usage": token_usage, "model_name": model_name},
    )


def combined_llm_output(
    llm_outputs: Sequence[Mapping[str, Any] | None], model_name: str | None
) -> dict[str, Any]:
    """The token usage of several requests, summed (`BaseChatModel._combine_llm_outputs`)."""
    total: dict[str, int] = {}
    for output in llm_outputs:
        for key, value in (output or {}).get("token_usage", {}).items():
            total[key] = total.get(key, 0) + value
    return {"token_usage": total, "model_name": model_name}
