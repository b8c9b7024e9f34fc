"""HuggingFaceRewardModel: a transformers sequence classifier with one label as a reward model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self

from pydantic import Field, model_validator

from langchain_tpo.reward_models._checkpoint import (
    default_max_length,
    load_transformers_model,
    require,
    right_padded,
)
from langchain_tpo.reward_models.base import Pair, Reward
from langchain_tpo.reward_models.checkpoint_reward import (
    CheckpointRewardModel,
    load_checked_tokenizer,
)
from langchain_tpo.reward_models.combination import Combination


class HuggingFaceRewardModel(CheckpointRewardModel):
    """Any `AutoModelForSequenceClassification` reward checkpoint, run with transformers.

    Each pair is rendered with the reward model's own chat template (the conversation before
    the response, then the response as the final assistant turn), tokenized without adding a
    second BOS token, and scored at its last token. The score is the raw logit of the reward
    label (no sigmoid). Pairs are scored in batches of similar length; which pairs share a
    forward moves a score only by float rounding (float32 on the CPU: about 1e-7, since the
    matrix kernels round differently for different batch shapes).

    Concurrent async score calls are coalesced (`batch_window_ms`, 5 ms by default): one batch
    runs at a time, and the calls that arrive meanwhile are scored together in the next.

    Inputs longer than `max_length` tokens are cut from the end of the response (the closing
    tokens of the template are kept), counted in `truncated`, and logged as a warning; scoring
    never fails because a response is too long.

    Example:
        ```python
        from langchain_tpo.reward_models import HuggingFaceRewardModel

        reward = HuggingFaceRewardModel.from_model_id("Skywork/Skywork-Reward-V2-Qwen3-0.6B")
        reward.score([("How do I boil an egg?", "Simmer it for 9 minutes.")])
        ```
    """

    model: Any
    """A loaded transformers sequence-classification model."""
    batch_size: int = Field(default=8, ge=1)
    """Pairs per forward pass."""
    max_batches_in_flight: int | None = Field(default=1, ge=1)
    """One coalesced batch at a time (the forwards share one model): async score calls that
    arrive while it runs are scored together in the next."""

    @model_validator(mode="after")
    def _prepare(self) -> Self:
        name = self.model_name or str(getattr(self.model, "name_or_path", "")) or "model"
        self.model_name = name
        limit = self.max_length or default_max_length(self.model.config, self.tokenizer)
        self._setup(self.model.config, limit)
        return self

    @classmethod
    def from_model_id(
        cls,
        model_id_or_path: str | Path,
        *,
        device: str | None = None,
        torch_dtype: Any = None,
        batch_size: int = 8,
        max_length: int | None = None,
        chat_template: str | None = None,
        label_index: int | None = None,
        combination: Combination | Mapping[str, float] | None = None,
        tokenizer_kwargs: dict[str, Any] | None = None,
        **model_kwargs: Any,
    ) -> HuggingFaceRewardModel:
        """Load a reward checkpoint from the Hugging Face Hub or a local directory.

        Args:
            model_id_or_path: Hub id or local directory of an
                `AutoModelForSequenceClassification` checkpoint.
            device: `"cpu"`, `"cuda"`, `"cuda:1"`...; by default CUDA when available.
                Ignored when `device_map` is passed in `model_kwargs`.
            torch_dtype: Weight dtype (`torch.bfloat16`, `"auto"`...); by default float32 on
                the CPU and the checkpoint's own dtype on a GPU.
            batch_size: Pairs per forward pass.
            max_length: Most tokens per scored sequence; by default the context length.
            chat_template: A Jinja chat template, for tokenizers that lack one.
            label_index: Output column holding the reward, for checkpoints with several labels.
            combination: For checkpoints with several labels, how to combine them (a
                `Combination`, or `{label: weight}` for a weighted sum); by default the one
                the checkpoint declares, if any. Each label's raw score is kept.
            tokenizer_kwargs: Extra arguments of `AutoTokenizer.from_pretrained`.
            **model_kwargs: Extra arguments of `AutoModelForSequenceClassification.from_pretrained`;
                `batch_window_ms`, `max_batch_pairs` and `max_batches_in_flight` set those
                fields instead (how concurrent async calls are coalesced).

        Returns:
            The reward model, in evaluation mode.

        Raises:
            ImportError: torch or transformers is missing.
            ValueError: The checkpoint has several labels and no `label_index` or combination
                (given or declared), or there is no chat template.
        """
        require(("torch", "transformers"), "HuggingFaceRewardModel", "hf")
        fields = {k: model_kwargs.pop(k) for k in list(model_kwargs) if k in _COALESCING}
        from transformers import AutoModelForSequenceClassification

        path = str(model_id_or_path)
        tokenizer = load_checked_tokenizer(
            path,
            trust_remote_code=model_kwargs.get("trust_remote_code", False),
            tokenizer_kwargs=tokenizer_kwargs,
            label_index=label_index,
            chat_template=chat_template,
            max_length=max_length,
            combination=combination,
        )
        model = load_transformers_model(
            AutoModelForSequenceClassification, path, device, torch_dtype, **model_kwargs
        )
        return cls(
            model=model,
            tokenizer=tokenizer,
            model_name=path,
            batch_size=batch_size,
            max_length=max_length,
            chat_template=chat_template,
            label_index=label_index,
            combination=None if combination is None else Combination.of(combination),
            **fields,
        )

    def _score(self, pairs: Sequence[Pair]) -> Sequence[float | Reward]:
        encoded = self._encode(pairs)
        # Longest first: each batch pads its sequences to similar lengths.
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i].input_ids))
        rows: list[list[float]] = [[] for _ in encoded]
        with self._lock:
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                values = self._forward([encoded[i].input_ids for i in batch])
                for i, value in zip(batch, values, strict=True):
                    rows[i] = value
        return self._rewards(rows)

    def _forward(self, sequences: list[list[int]]) -> list[list[float]]:
        """Raw logits (every label) of token sequences, pooled at each one's last real token."""
        import torch

        device = self.model.device
        ids, mask = right_padded(sequences, self.tokenizer.pad_token_id)
        ids, mask = ids.to(device), mask.to(device)
        backbone = getattr(self.model, getattr(self.model, "base_model_prefix", ""), None)
        head = getattr(self.model, "score", None)
        with torch.inference_mode():
            if isinstance(backbone, torch.nn.Module) and isinstance(head, torch.nn.Module):
                # Pool at the last attended position ourselves: transformers' own pooling looks
                # for the last token that is not the pad id, which is wrong when the sequence
                # itself ends with that id (pad = eos is common) and differs from vLLM.
                hidden = backbone(input_ids=ids, attention_mask=mask).last_hidden_state
                last = mask.sum(dim=1) - 1
                logits = head(hidden[torch.arange(len(sequences), device=device), last])
            else:
                logits = self.model(input_ids=ids, attention_mask=mask).logits
        return [[float(x) for x in row] for row in logits.float().cpu().tolist()]


_COALESCING = ("batch_window_ms", "max_batch_pairs", "max_batches_in_flight")
