"""`ChatOpenAICompatible`: `ChatOpenAI` that keeps the thinking an OpenAI-compatible server sends.

A reasoning model served with a reasoning parser (`vllm serve ... --reasoning-parser qwen3`,
SGLang, DeepSeek's API) returns its thinking beside the answer, in the message's `reasoning`
field (vLLM 0.10 and later) or `reasoning_content` (earlier vLLM, DeepSeek). `ChatOpenAI` keeps
to OpenAI's own fields and drops both, so the answer arrives clean but the thinking is lost.
This subclass keeps it where LangChain expects it, `additional_kwargs["reasoning_content"]`
(which `content_blocks` shows as a `reasoning` block), for whole replies and streamed deltas.
TPO then records it with each candidate; it never sends it back to the model.

Needs `langchain-openai` (`pip install "langchain-tpo[openai]"`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_openai import ChatOpenAI

__all__ = ["ChatOpenAICompatible"]

_THINKING_FIELDS = ("reasoning", "reasoning_content")


class ChatOpenAICompatible(ChatOpenAI):
    """`ChatOpenAI` for OpenAI-compatible servers, keeping the thinking they send.

    Example:
        ```python
        from langchain_tpo.chat_models import ChatOpenAICompatible

        policy = ChatOpenAICompatible(
            base_url="http://127.0.0.1:8000/v1", api_key="EMPTY", model="Qwen/Qwen3-8B"
        )
        reply = policy.invoke("Why is the sky blue?")
        reply.text  # the answer
        reply.additional_kwargs["reasoning_content"]  # the thinking
        ```
    """

    def _create_chat_result(
        self, response: Any, generation_info: dict[str, Any] | None = None
    ) -> ChatResult:
        result = super()._create_chat_result(response, generation_info)
        choices = _choices(response)
        for generation, choice in zip(result.generations, choices, strict=False):
            thinking = _thinking(choice.get("message"))
            if thinking is not None:
                generation.message.additional_kwargs["reasoning_content"] = thinking
        return result

    def _convert_chunk_to_generation_chunk(
        self,
        chunk: dict[str, Any],
        default_chunk_class: type,
        base_generation_info: dict[str, Any] | None,
    ) -> ChatGenerationChunk | None:
        generation = super()._convert_chunk_to_generation_chunk(
            chunk, default_chunk_class, base_generation_info
        )
        choices = chunk.get("choices") or (chunk.get("chunk") or {}).get("choices") or []
        if generation is not None and choices:
            thinking = _thinking(choices[0].get("delta"))
            if thinking:
                generation.message.additional_kwargs["reasoning_content"] = thinking
        return generation


def _choices(response: Any) -> list[dict[str, Any]]:
    if isinstance(response, Mapping):
        return list(response.get("choices") or [])
    dump = getattr(response, "model_dump", None)
    if dump is None:
        return []
    return list(
        dump(exclude={"choices": {"__all__": {"message": {"parsed"}}}}, warnings=False).get(
            "choices"
        )
        or []
    )


def _thinking(message: Any) -> str | None:
    if not isinstance(message, Mapping):
        return None
    for name in _THINKING_FIELDS:
        value = message.get(name)
        if isinstance(value, str):
            return value
    return None
