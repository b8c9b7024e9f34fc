"""`ChatTransformers`: a Hugging Face transformers causal LM as a chat model with `n` samples.

LangChain's `ChatHuggingFace` over a pipeline keeps one sample per call and runs one call at a
time. TPO asks for N samples of one conversation; this chat model draws them in one `generate`
call (one row per sample), merges concurrent requests (many TPO runs) into batched `generate`
calls, reports token usage, refuses prompts longer than the model's context before
generating, and goes through the normal chat-model path, so every request is a traced run with
its prompt, completion and usage.
"""

from __future__ import annotations

import asyncio
import copy
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatResult
from pydantic import ConfigDict, Field, PrivateAttr, model_validator

from langchain_tpo.chat_models._generation_batcher import (
    GenerationBatcher,
    GenerationCounts,
    GenerationJob,
    SeededSampler,
    row_seeds,
)
from langchain_tpo.chat_models._messages import to_chat_dicts
from langchain_tpo.chat_models._samples import (
    chat_result,
    combined_llm_output,
    identifying_params,
    ls_params,
)
from langchain_tpo.errors import ContextLengthError
from langchain_tpo.run_order import run_order_of

__all__ = ["ChatTransformers"]

_PROVIDER = "huggingface"

# Tokenizers without a limit report a huge sentinel (1e30) as `model_max_length`.
_NO_LIMIT = 10**9


class ChatTransformers(BaseChatModel):
    """A transformers causal LM with a chat template, drawing `n` samples per request.

    Sampling fields left as None come from the model's `generation_config.json`. One worker
    thread runs `generate`; concurrent requests (threads, or many `ainvoke`s: the async
    methods wait without holding a thread) that arrive while it is busy, or within
    `batch_window_ms` while it is idle, are decoded together: grouped by generation settings,
    left-padded, one row per sample, at most `max_batch_rows` rows per call. Requests of
    earlier TPO runs go first (each run's requests carry its admission number, `run_order`),
    so that with many runs in flight the earliest finish first while later runs fill the
    batches (a request that waited a minute goes first, whatever its run).
    A prompt that leaves no room in the model's context raises `ContextLengthError` before
    anything is generated; otherwise the reply is capped to the room that is left.

    Seeds: each sample draws from its own generator, seeded from the request's `seed` and the
    sample's index, so a seeded request gives the same samples whatever it is batched with, up
    to float rounding of the logits between batch shapes (which moves a token only where two
    candidates tie within it). Sampling honours temperature, top_k and top_p; other sampling
    filters of a generation config (min_p, typical_p...) are not applied.

    Example:
        ```python
        from langchain_tpo.chat_models import ChatTransformers

        chat = ChatTransformers.from_model_id(
            "HuggingFaceTB/SmolLM2-360M-Instruct", n=3, max_tokens=64, temperature=0.8
        )
        result = chat.generate([[("human", "Name a colour.")]])
        [g.text for g in result.generations[0]]  # three samples
        ```
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True, arbitrary_types_allowed=True)

    model: Any = Field(exclude=True, repr=False)
    """A loaded `AutoModelForCausalLM`."""
    tokenizer: Any = Field(exclude=True, repr=False)
    """Its tokenizer, with a chat template."""
    model_name: str | None = Field(default=None, alias="model_id")
    """Name reported in traces; defaults to the model's `name_or_path`."""
    n: int = Field(default=1, ge=1)
    """Samples per request."""
    temperature: float | None = None
    """Sampling temperature; 0 means greedy decoding (the reply is repeated `n` times)."""
    top_p: float | None = None
    """Nucleus sampling mass."""
    max_tokens: int | None = None
    """Most new tokens per reply; None: the generation config's, capped by the context."""
    seed: int | None = None
    """Seeds torch's generators before each request, for reproducible samples."""
    stop: list[str] | None = None
    """Stop strings: a reply is cut before the first one."""
    max_time: float | None = None
    """Seconds one `generate` call may take; transformers stops it there."""
    generation_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Further `GenerationConfig` settings for every request (top_k, repetition_penalty...)."""
    batch_window_ms: float = Field(default=5.0, ge=0)
    """Milliseconds a request waits, while the model is idle, for concurrent requests to join
    its batch (requests that arrive while it is busy join the next batch anyway)."""
    chat_template_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Variables for the chat template of every request (`enable_thinking`...); a call's
    `chat_template_kwargs` are merged over them."""
    max_batch_rows: int = Field(default=8, ge=1)
    """Most rows (samples) decoded in one `generate` call; a larger request goes alone. On a
    2-core CPU a 5-row decode step is already compute-bound (three 5-sample requests decoded
    together took about as long as one after another), while 1-row requests (TPO's critique
    and suggest) decoded 8 together took a third of the time: 8 lets those share batches and
    keeps the earliest run's sampling stages near their speed alone. Raise it on a GPU."""

    concurrent_runs: int | None = Field(default=None, ge=1)
    """TPO runs that `tpo eval` and `tpo serve` admit at once on this model (`runs_at_once`);
    None: 1 on a CPU, 8 on an accelerator."""

    _batcher: GenerationBatcher | None = PrivateAttr(default=None)
    _batcher_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not getattr(self.tokenizer, "chat_template", None):
            msg = (
                "ChatTransformers needs a tokenizer with a chat template; set "
                "tokenizer.chat_template to the template the model was trained with."
            )
            raise ValueError(msg)
        if self.model_name is None:
            self.model_name = str(getattr(self.model, "name_or_path", "") or "transformers")
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token  # batching pads
        return self

    def runs_at_once(self) -> int:
        """TPO runs to admit at once on this model: more only delay the first answers.

        One `generate` runs at a time, and on a CPU a 5-row decode step is already
        compute-bound: `tpo eval` of 10 prompts on 2 idle cores took 12.2 minutes with one
        run at a time and with two (batched together), and two delayed the first row from 1.4
        to 2.6 minutes (`benchmarks/eval_first_row.py`). An accelerator has room to batch.
        """
        if self.concurrent_runs is not None:
            return self.concurrent_runs
        device = getattr(self.model, "device", None)
        return 1 if getattr(device, "type", "cpu") == "cpu" else 8

    @classmethod
    def from_model_id(
        cls,
        model_id_or_path: str | os.PathLike[str],
        *,
        device: Any = None,
        dtype: Any = "auto",
        tokenizer_kwargs: dict[str, Any] | None = None,
        model_kwargs: dict[str, Any] | None = None,
        **fields: Any,
    ) -> ChatTransformers:
        """Load a model directory or hub id with transformers.

        Args:
            model_id_or_path: A local directory or a Hugging Face hub id.
            device: Where to put the model (`"cpu"`, `"cuda"`); by default where it loads.
            dtype: Weight dtype (`"auto"`: the checkpoint's own).
            tokenizer_kwargs: Extra arguments of `AutoTokenizer.from_pretrained`.
            model_kwargs: Extra arguments of `AutoModelForCausalLM.from_pretrained`.
            **fields: `ChatTransformers` fields (`n`, `temperature`, `max_tokens`, ...).

        Raises:
            ImportError: transformers or torch is missing.
            FileNotFoundError: A path that looks local does not exist.
        """
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as e:
            msg = 'ChatTransformers needs transformers and torch: pip install "langchain-tpo[hf]".'
            raise ImportError(msg) from e
        path = os.fspath(model_id_or_path)
        if (path.startswith((".", "/", "~")) or os.sep in path[:2]) and not Path(
            path
        ).expanduser().exists():
            msg = f"No model directory at {path}."
            raise FileNotFoundError(msg)
        tokenizer = AutoTokenizer.from_pretrained(path, **(tokenizer_kwargs or {}))
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, **(model_kwargs or {}))
        if device is not None:
            model = model.to(device)
        model.eval()
        name = fields.pop("model_id", path)
        return cls(model=model, tokenizer=tokenizer, model_id=name, **fields)

    @property
    def _llm_type(self) -> str:
        return "transformers-chat"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return identifying_params(self, self.generation_kwargs)

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        name = self.model_name or "transformers"
        return ls_params(self, provider=_PROVIDER, model_name=name, stop=stop, kwargs=kwargs)

    @property
    def context_length(self) -> int | None:
        """The most tokens the model takes (prompt plus reply), where it states a limit."""
        limits = [
            int(value)
            for value in (
                getattr(self.model.config, "max_position_embeddings", None),
                getattr(self.tokenizer, "model_max_length", None),
            )
            if isinstance(value, int | float) and 0 < value < _NO_LIMIT
        ]
        return min(limits) if limits else None

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        job, n = self._job(messages, self._settings(kwargs), run_manager)
        rows = self._get_batcher().submit(job).result()
        return self._result(rows, n, job, stop)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        # Tokenizing is quick; the wait for the batch holds no thread, so any number of
        # concurrent requests can join one batch.
        job, n = self._job(messages, self._settings(kwargs), run_manager)
        future = self._get_batcher().submit(job)
        rows = await asyncio.wrap_future(future)  # cancelling drops a job still queued
        return self._result(rows, n, job, stop)

    def _combine_llm_outputs(self, llm_outputs: list[dict[str, Any] | None]) -> dict[str, Any]:
        return combined_llm_output(llm_outputs, self.model_name)

    def generation_counts(self) -> GenerationCounts:
        """Requests received and batched `generate` calls made so far, for benchmarks and
        metrics."""
        return self._get_batcher().counts()

    def _get_batcher(self) -> GenerationBatcher:
        with self._batcher_lock:
            if self._batcher is None:
                self._batcher = GenerationBatcher(
                    self._run_batch,
                    window_s=self.batch_window_ms / 1000,
                    max_rows=self.max_batch_rows,
                )
            return self._batcher

    def _settings(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "n": self.n,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "max_time": self.max_time,
        }
        settings.update({k: v for k, v in kwargs.items() if k in settings and v is not None})
        settings["chat_template_kwargs"] = {
            **self.chat_template_kwargs,
            **(kwargs.get("chat_template_kwargs") or {}),
        }
        unknown = set(kwargs) - set(settings) - {"model"}
        if unknown:
            msg = f"ChatTransformers does not take {sorted(unknown)} per call."
            raise TypeError(msg)
        return settings

    def _job(
        self, messages: list[BaseMessage], settings: dict[str, Any], run_manager: Any = None
    ) -> tuple[GenerationJob, int]:
        """The request as a batch job (raises ContextLengthError before anything is queued)."""
        text = self.tokenizer.apply_chat_template(
            to_chat_dicts(messages),
            tokenize=False,
            add_generation_prompt=True,
            **settings["chat_template_kwargs"],
        )
        # The chat template already writes the special tokens the model expects at the start.
        ids = list(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        config = self._generation_config(settings, len(ids))
        sampling = bool(config.do_sample)
        key = (
            sampling,
            config.temperature if sampling else None,
            config.top_p if sampling else None,
            config.top_k if sampling else None,
            config.max_new_tokens,
            config.max_time,
        )
        rows = settings["n"] if sampling else 1
        order = run_order_of(getattr(run_manager, "metadata", None))
        job = GenerationJob(ids, rows, key, config, settings["seed"], order)
        return job, settings["n"]

    def _run_batch(self, jobs: Sequence[GenerationJob]) -> list[list[list[int]]]:
        """Decode a group of jobs with equal settings in one left-padded `generate` call."""
        import torch
        from transformers import LogitsProcessorList

        prompts = [job.prompt_ids for job in jobs for _ in range(job.rows)]
        width = max(len(ids) for ids in prompts)
        pad = self.tokenizer.pad_token_id
        ids = torch.full((len(prompts), width), pad, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, prompt in enumerate(prompts):
            ids[row, width - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
            mask[row, width - len(prompt) :] = 1
        config = copy.deepcopy(jobs[0].settings)
        processors = LogitsProcessorList()
        if config.do_sample:
            seeds = [s for job in jobs for s in row_seeds(job.seed, job.rows)]
            processors.append(
                SeededSampler(seeds, config.temperature or 1.0, config.top_p, config.top_k)
            )
            # Greedy over the sampler's noisy scores is the sample (see _generation_batcher).
            config.do_sample = False
            config.temperature = config.top_p = config.top_k = None
        config.num_return_sequences = 1
        device = self.model.device
        with torch.inference_mode():
            output = self.model.generate(
                input_ids=ids.to(device),
                attention_mask=mask.to(device),
                generation_config=config,
                logits_processor=processors,
            )
        generated = output[:, width:].tolist()
        results, start = [], 0
        for job in jobs:
            results.append(generated[start : start + job.rows])
            start += job.rows
        return results

    def _result(
        self, rows: list[list[int]], n: int, job: GenerationJob, stop: list[str] | None
    ) -> ChatResult:
        end = _stop_ids(job.settings, self.tokenizer)
        prompt_tokens = len(job.prompt_ids)
        stops = stop if stop is not None else self.stop
        samples = []
        for generated in rows * (n // len(rows)):  # greedy: one row, the reply n times
            reply_ids, finished = _until_stop(generated, end)
            text = self.tokenizer.decode(reply_ids, skip_special_tokens=True).strip()
            finish = "stop" if finished else "length"
            for word in stops or []:
                if word and word in text:
                    text, finish = text[: text.index(word)], "stop"
            samples.append((text, len(reply_ids), {"finish_reason": finish}))
        return chat_result(
            samples, prompt_tokens=prompt_tokens, model_name=self.model_name, provider=_PROVIDER
        )

    def _generation_config(self, settings: dict[str, Any], prompt_tokens: int) -> Any:
        config = copy.deepcopy(self.model.generation_config)
        for key, value in self.generation_kwargs.items():
            setattr(config, key, value)
        limit = self.context_length
        room = None if limit is None else limit - prompt_tokens
        if room is not None and room < 1:
            msg = (
                f"The prompt is {prompt_tokens} tokens long, but {self.model_name} takes at "
                f"most {limit} tokens (prompt and reply): shorten the conversation or the query."
            )
            raise ContextLengthError(msg)
        wanted = settings["max_tokens"] or config.max_new_tokens or 256
        config.max_new_tokens = wanted if room is None else min(wanted, room)
        config.max_length = None
        if settings["top_p"] is not None:
            config.top_p = settings["top_p"]
        temperature = settings["temperature"]
        if temperature is not None:
            config.do_sample = temperature > 0
            if temperature > 0:
                config.temperature = temperature
        elif config.do_sample is None or (settings["n"] > 1 and not config.do_sample):
            config.do_sample = True  # n greedy copies would all be the same
        if not config.do_sample:
            config.temperature = None
            config.top_p = None
            config.top_k = None
        config.num_return_sequences = 1
        config.pad_token_id = self.tokenizer.pad_token_id
        if settings["max_time"] is not None:
            config.max_time = float(settings["max_time"])
        return config


def _stop_ids(config: Any, tokenizer: Any) -> set[int]:
    eos = config.eos_token_id if config.eos_token_id is not None else tokenizer.eos_token_id
    if eos is None:
        return set()
    return {int(e) for e in eos} if isinstance(eos, list | tuple) else {int(eos)}


def _until_stop(ids: list[int], stops: set[int]) -> tuple[list[int], bool]:
    """The generated ids up to and including the first stop token (padding follows it)."""
    for k, token in enumerate(ids):
        if token in stops:
            return ids[: k + 1], True
    return ids, False
