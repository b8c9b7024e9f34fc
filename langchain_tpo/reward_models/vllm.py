"""VLLMRewardModel: a sequence-classifier reward checkpoint on vLLM's pooling runner."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self

from pydantic import PrivateAttr, model_validator

from langchain_tpo._vllm_engine import (
    AsyncEngineRunner,
    engine_model_config,
    is_async_engine,
    on_cpu,
    reuse_cpu_compile_cache,
    start_async_engine,
)
from langchain_tpo.reward_models._checkpoint import default_max_length, require
from langchain_tpo.reward_models.base import Pair, Reward
from langchain_tpo.reward_models.checkpoint_reward import (
    CheckpointRewardModel,
    load_checked_tokenizer,
)
from langchain_tpo.reward_models.combination import Combination


class VLLMRewardModel(CheckpointRewardModel):
    """A reward checkpoint served in-process by vLLM (`runner="pooling"`, classify task).

    Pairs are formatted and tokenized by the same code as `HuggingFaceRewardModel` (the
    checkpoint's chat template, one BOS, truncation from the end of the response) and sent to
    the engine as token ids. Scores are the raw logits: vLLM's classify pooling applies a
    sigmoid unless told not to, and it is told not to.

    `from_model_id` starts vLLM's async engine: every pair is a request added to its
    continuous batch, so concurrent score calls (from threads or event loops) are scored
    together rather than one after another, and a cancelled async call aborts its requests.
    Async calls arriving within `batch_window_ms` are also coalesced into one batch (see
    `RewardModel`). A `vllm.LLM` passed as `llm` still works: its calls are serialized.

    Example:
        ```python
        from langchain_tpo.reward_models import VLLMRewardModel

        reward = VLLMRewardModel.from_model_id(
            "Skywork/Skywork-Reward-V2-Qwen3-0.6B", gpu_memory_utilization=0.3
        )
        reward.score([("How do I boil an egg?", "Simmer it for 9 minutes.")])
        ```
    """

    llm: Any
    """The engine, created with `runner="pooling"`: vLLM's `AsyncLLM` (what `from_model_id`
    starts) or a `vllm.LLM`."""

    _runner: AsyncEngineRunner | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _prepare(self) -> Self:
        model_config = engine_model_config(self.llm)
        if is_async_engine(self.llm):
            self._runner = AsyncEngineRunner(self.llm)
        self.model_name = self.model_name or str(model_config.model)
        engine_limit = int(model_config.max_model_len)
        if self.max_length is None:
            limit = min(engine_limit, default_max_length(None, self.tokenizer))
        elif self.max_length > engine_limit:
            msg = (
                f"max_length={self.max_length} exceeds the engine's max_model_len="
                f"{engine_limit}; raise max_model_len or lower max_length."
            )
            raise ValueError(msg)
        else:
            limit = self.max_length
        self._setup(model_config.hf_config, limit)
        return self

    @classmethod
    def from_model_id(
        cls,
        model_id_or_path: str | Path,
        *,
        max_length: int | None = None,
        chat_template: str | None = None,
        label_index: int | None = None,
        combination: Combination | Mapping[str, float] | None = None,
        tokenizer_kwargs: dict[str, Any] | None = None,
        **engine_kwargs: Any,
    ) -> VLLMRewardModel:
        """Start a vLLM pooling engine on a reward checkpoint.

        Args:
            model_id_or_path: Hub id or local directory of an
                `AutoModelForSequenceClassification` checkpoint.
            max_length: Most tokens per scored sequence; also the engine's `max_model_len`
                unless that is given.
            chat_template: A Jinja chat template, for tokenizers that lack one.
            label_index: Output column holding the reward, for checkpoints with several labels.
            combination: For checkpoints with several labels, how to combine them (a
                `Combination`, or `{label: weight}` for a weighted sum); by default the one
                the checkpoint declares, if any. Each label's raw score is kept.
            tokenizer_kwargs: Extra arguments of `AutoTokenizer.from_pretrained`.
            **engine_kwargs: Arguments of `vllm.AsyncEngineArgs` (`dtype`,
                `gpu_memory_utilization`, `max_model_len`, `tensor_parallel_size`...);
                `batch_window_ms`, `max_batch_pairs` and `max_batches_in_flight` set those
                fields instead (how concurrent async calls are coalesced).

        Returns:
            The reward model.

        Raises:
            ImportError: vLLM is missing.
            ValueError: The checkpoint has several labels and no `label_index` or combination
                (given or declared), or there is no chat template.
        """
        require(("vllm", "transformers"), "VLLMRewardModel", "vllm")
        from vllm import AsyncEngineArgs

        path = str(model_id_or_path)
        tokenizer = load_checked_tokenizer(
            path,
            trust_remote_code=engine_kwargs.get("trust_remote_code", False),
            tokenizer_kwargs=tokenizer_kwargs,
            label_index=label_index,
            chat_template=chat_template,
            max_length=max_length,
            combination=combination,
        )

        fields = {k: engine_kwargs.pop(k) for k in list(engine_kwargs) if k in _COALESCING}
        if max_length is not None:
            engine_kwargs.setdefault("max_model_len", max_length)
        engine_kwargs.setdefault("runner", "pooling")
        engine_kwargs.setdefault("disable_log_stats", True)
        if on_cpu():
            reuse_cpu_compile_cache()
        engine = start_async_engine(AsyncEngineArgs(model=path, **engine_kwargs))
        try:
            reward = cls(
                llm=engine,
                tokenizer=tokenizer,
                model_name=path,
                max_length=max_length,
                chat_template=chat_template,
                label_index=label_index,
                combination=None if combination is None else Combination.of(combination),
                **fields,
            )
        except BaseException:
            AsyncEngineRunner(engine, owns_engine=True).close()
            raise
        # The runner shuts the engine down on close(), or at interpreter exit if nobody did.
        reward._runner = AsyncEngineRunner(engine, owns_engine=True)
        return reward

    def close(self) -> None:
        """Shut down the engine if `from_model_id` started it; an `llm` passed in is left alone.

        Safe to call twice; also done at interpreter exit if nobody did.
        """
        if self._runner is not None:
            self._runner.close()

    def _requests(self, pairs: Sequence[Pair]) -> tuple[list[Any], list[Any]]:
        from vllm import PoolingParams
        from vllm.inputs import TokensPrompt

        prompts = [TokensPrompt(prompt_token_ids=item.input_ids) for item in self._encode(pairs)]
        # use_activation=False: the raw logit, not its sigmoid.
        params = [PoolingParams(task="classify", use_activation=False) for _ in prompts]
        return prompts, params

    def _from_outputs(self, outputs: Sequence[Any]) -> list[float | Reward]:
        """Rewards from the engine's pooling outputs (every label's logit)."""
        return self._rewards([list(map(float, out.outputs.data)) for out in outputs])

    def _score(self, pairs: Sequence[Pair]) -> Sequence[float | Reward]:
        prompts, params = self._requests(pairs)
        if self._runner is not None:
            return self._from_outputs(self._runner.encode(prompts, params))
        from vllm import PoolingParams

        with self._lock:  # vllm.LLM must not be called from two threads at once
            outputs = self.llm.encode(
                prompts,
                PoolingParams(use_activation=False),
                pooling_task="classify",
                use_tqdm=False,
            )
        return self._from_outputs(outputs)

    async def _ascore(self, pairs: Sequence[Pair]) -> Sequence[float | Reward]:
        if self._runner is None:
            return await super()._ascore(pairs)
        prompts, params = self._requests(pairs)
        return self._from_outputs(await self._runner.aencode(prompts, params))


_COALESCING = ("batch_window_ms", "max_batch_pairs", "max_batches_in_flight")
