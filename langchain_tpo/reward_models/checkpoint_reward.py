"""CheckpointRewardModel: what the transformers and vLLM reward backends share.

Both score a sequence-classifier checkpoint on exactly the same token ids: the pair rendered
with the checkpoint's chat template, one BOS, cut from the end of the response when too long.
The reward is one output column, or a weighted sum of several (`label_weights`, for
checkpoints with one head per objective, such as the default helpfulness and harmlessness
reward), each column's raw score kept. This base holds those settings, the formatter, the
truncation count and the checks that run before any weights are loaded.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ConfigDict, PrivateAttr

from langchain_tpo.reward_models._checkpoint import reward_columns
from langchain_tpo.reward_models.base import Pair, Reward, RewardModel
from langchain_tpo.reward_models.formatting import (
    EncodedPair,
    RewardInputFormatter,
    count_truncated,
)


class CheckpointRewardModel(RewardModel):
    """Base of reward models that run a sequence-classifier checkpoint on token ids."""

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    tokenizer: Any
    """The checkpoint's Hugging Face tokenizer (formats and tokenizes the pairs)."""
    model_name: str = ""
    """Name or path of the checkpoint, for messages."""
    max_length: int | None = None
    """Most tokens per scored sequence; by default the model's context length."""
    chat_template: str | None = None
    """A Jinja chat template to use instead of the tokenizer's own."""
    label_index: int | None = None
    """Output column holding the reward; required when the checkpoint has several labels,
    unless `label_weights` combines them."""
    label_weights: dict[str | int, float] | None = None
    """Score a multi-label checkpoint as `sum(weight * column)` over these labels (named as in
    the checkpoint's `id2label`, or by column); each column's raw score is kept in the
    reward's `components`. By default, the weights the checkpoint declares in its config
    (`reward_label_weights`), if any."""
    truncated: int = 0
    """How many pairs were truncated to `max_length` so far."""

    _formatter: RewardInputFormatter = PrivateAttr()
    _label: int = PrivateAttr(default=0)
    _columns: list[tuple[str, int, float]] = PrivateAttr(default_factory=list)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def _setup(self, hf_config: Any, max_length: int) -> None:
        """Resolve the reward label(s) and build the formatter (call from a model validator)."""
        self._label, self._columns = reward_columns(
            hf_config, self.label_index, self.label_weights, self.model_name
        )
        self.max_length = max_length
        self._formatter = RewardInputFormatter(self.tokenizer, self.chat_template, max_length)

    def get_name(self, suffix: str | None = None, *, name: str | None = None) -> str:
        """`<Class>(<checkpoint>)`, so messages say which model it is."""
        if name is None and self.name is None:
            name = f"{type(self).__name__}({self.model_name})"
        return super().get_name(suffix, name=name)

    def _rewards(self, rows: Sequence[Sequence[float]]) -> list[float | Reward]:
        """The reward of each row of output logits: one column, or the weighted columns."""
        if not self._columns:
            return [float(row[self._label]) for row in rows]
        rewards: list[float | Reward] = []
        for row in rows:
            parts = {label: float(row[column]) for label, column, _ in self._columns}
            total = sum(weight * float(row[column]) for _, column, weight in self._columns)
            rewards.append(Reward(total, None, parts))
        return rewards

    def _encode(self, pairs: Sequence[Pair]) -> list[EncodedPair]:
        """Token ids of every pair; truncations are counted and logged."""
        encoded = self._formatter.encode_all(pairs)
        self.truncated += count_truncated(self.get_name(), encoded, self._formatter.max_length)
        return encoded


def load_checked_tokenizer(
    path: str,
    *,
    trust_remote_code: bool,
    tokenizer_kwargs: dict[str, Any] | None,
    label_index: int | None,
    chat_template: str | None,
    max_length: int | None,
    label_weights: Mapping[str | int, float] | None = None,
) -> Any:
    """The checkpoint's tokenizer, after checking that the checkpoint can be used as it is.

    Runs before the weights load (or an engine starts, a minute on a CPU), so that a checkpoint
    with several labels, or a tokenizer without a chat template, fails at once.

    Raises:
        ValueError: Several labels and no way to read them (`label_index`, `label_weights`,
            or weights the config declares); labels in `label_weights` the checkpoint lacks;
            no chat template and none given.
    """
    from transformers import AutoConfig, AutoTokenizer

    kwargs = {"trust_remote_code": trust_remote_code, **(tokenizer_kwargs or {})}
    tokenizer = AutoTokenizer.from_pretrained(path, **kwargs)
    config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
    reward_columns(config, label_index, label_weights, path)
    RewardInputFormatter(tokenizer, chat_template, max_length or 8)
    return tokenizer
