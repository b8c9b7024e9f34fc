"""CheckpointRewardModel: what the transformers and vLLM reward backends share.

Both score a sequence-classifier checkpoint on exactly the same token ids: the pair rendered
with the checkpoint's chat template, one BOS, cut from the end of the response when too long.
The reward is one output column, or a `Combination` of several (for checkpoints with one head
per objective, such as the default reward's helpfulness, harmlessness and gate heads), each
column's raw score kept. This base holds those settings, the formatter, the
truncation count and the checks that run before any weights are loaded.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ConfigDict, Field, PrivateAttr

from langchain_tpo.reward_models._checkpoint import reward_columns
from langchain_tpo.reward_models.base import Pair, Reward, RewardModel
from langchain_tpo.reward_models.combination import Combination
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
    unless a combination reads them."""
    combination: Combination | None = None
    """Read a multi-label checkpoint as a `Combination` of its labels (named as in its
    `id2label`, or by column number); each label's raw score is kept in the reward's
    `components`. By default, the combination the checkpoint declares in its config
    (`reward_combination`), if any. A plain `{"label": weight}` mapping is a weighted sum."""
    truncated: int = 0
    """How many pairs were truncated to `max_length` so far."""
    batch_window_ms: float | None = Field(default=5.0, ge=0)
    """Milliseconds an async score call waits for concurrent calls to join its batch
    (see `RewardModel`); None scores every call alone."""

    _formatter: RewardInputFormatter = PrivateAttr()
    _label: int = PrivateAttr(default=0)
    _rule: Combination | None = PrivateAttr(default=None)
    _columns: dict[str, int] = PrivateAttr(default_factory=dict)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def _setup(self, hf_config: Any, max_length: int) -> None:
        """Resolve the reward label(s) and build the formatter (call from a model validator)."""
        self._label, self._rule, self._columns = reward_columns(
            hf_config, self.label_index, self.combination, self.model_name
        )
        self.max_length = max_length
        self._formatter = RewardInputFormatter(self.tokenizer, self.chat_template, max_length)

    def get_name(self, suffix: str | None = None, *, name: str | None = None) -> str:
        """`<Class>(<checkpoint>)`, so messages say which model it is."""
        if name is None and self.name is None:
            name = f"{type(self).__name__}({self.model_name})"
        return super().get_name(suffix, name=name)

    def _rewards(self, rows: Sequence[Sequence[float]]) -> list[float | Reward]:
        """The reward of each row of output logits: one column, or the combined columns."""
        return rewards_of_rows(rows, self._label, self._rule, self._columns)

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
    combination: Combination | Mapping[str, float] | None = None,
) -> Any:
    """The checkpoint's tokenizer, after checking that the checkpoint can be used as it is.

    Runs before the weights load (or an engine starts, a minute on a CPU), so that a checkpoint
    with several labels, or a tokenizer without a chat template, fails at once.

    Raises:
        ValueError: Several labels and no way to read them (`label_index`, a combination, or
            one the config declares); labels in the combination the checkpoint lacks; no chat
            template and none given.
    """
    from transformers import AutoConfig, AutoTokenizer

    kwargs = {"trust_remote_code": trust_remote_code, **(tokenizer_kwargs or {})}
    tokenizer = AutoTokenizer.from_pretrained(path, **kwargs)
    config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
    reward_columns(config, label_index, combination, path)
    RewardInputFormatter(tokenizer, chat_template, max_length or 8)
    return tokenizer


def rewards_of_rows(
    rows: Sequence[Sequence[float]],
    label: int,
    rule: Combination | None,
    columns: Mapping[str, int],
) -> list[float | Reward]:
    """Rewards from rows of output logits: column `label`, or `rule` over named columns."""
    if rule is None:
        return [float(row[label]) for row in rows]
    rewards: list[float | Reward] = []
    for row in rows:
        parts = {part: float(row[column]) for part, column in columns.items()}
        rewards.append(Reward(rule(parts), None, parts))
    return rewards
