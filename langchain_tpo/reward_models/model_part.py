"""ModelPartReward: the base of reward parts that run one transformers model in-process.

`RelevanceReward` and `SimilarityReward` hold a model and its tokenizer, name themselves after
it, score one batch at a time under a lock, and load from the Hub or a local directory the
same way; only the model class and what they compute differ.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, ClassVar, Self

from pydantic import ConfigDict, Field, PrivateAttr, model_validator

from langchain_tpo.reward_models._checkpoint import load_transformers_model, require
from langchain_tpo.reward_models.base import RewardModel


class ModelPartReward(RewardModel):
    """A reward model around one loaded transformers model and its tokenizer."""

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    model: Any
    """The loaded transformers model."""
    tokenizer: Any
    """Its tokenizer."""
    model_name: str = ""
    """Name or path of the model, for messages."""
    batch_window_ms: float | None = Field(default=5.0, ge=0)
    """Milliseconds an async score call waits for concurrent calls to join its batch."""
    max_batches_in_flight: int | None = Field(default=1, ge=1)
    """One batch at a time: the forwards share one model."""

    auto_class: ClassVar[str] = "AutoModel"
    """The transformers auto class `from_model_id` loads the model with."""

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @model_validator(mode="after")
    def _name_the_model(self) -> Self:
        self.model_name = self.model_name or str(getattr(self.model, "name_or_path", "")) or "model"
        return self

    def get_name(self, suffix: str | None = None, *, name: str | None = None) -> str:
        """`<Class>(<model>)`, so messages say which model it is."""
        if name is None and self.name is None:
            name = f"{type(self).__name__}({self.model_name})"
        return super().get_name(suffix, name=name)

    @classmethod
    def from_model_id(
        cls,
        model_id_or_path: str | Path,
        *,
        device: str | None = None,
        torch_dtype: Any = None,
        tokenizer_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Self:
        """Load the model (with `auto_class`) from the Hugging Face Hub or a local directory.

        Args:
            model_id_or_path: Hub id or local directory.
            device: `"cpu"`, `"cuda"`...; by default CUDA when available.
            torch_dtype: Weight dtype; by default float32 on the CPU, the checkpoint's own on
                a GPU.
            tokenizer_kwargs: Extra arguments of `AutoTokenizer.from_pretrained`.
            **kwargs: Fields of the class (`batch_size`, ...); the rest go to the model's
                `from_pretrained`.

        Raises:
            ImportError: torch or transformers is missing.
            ValueError: The model does not suit the class (see the class's own notes).
        """
        require(("torch", "transformers"), cls.__name__, "hf")
        import transformers

        fields = {k: kwargs.pop(k) for k in list(kwargs) if k in cls.model_fields}
        path = str(model_id_or_path)
        fields = {**cls._saved_settings(Path(path), given=set(fields)), **fields}
        tokenizer = transformers.AutoTokenizer.from_pretrained(path, **(tokenizer_kwargs or {}))
        auto_class = getattr(transformers, cls.auto_class)
        model = load_transformers_model(auto_class, path, device, torch_dtype, **kwargs)
        return cls(model=model, tokenizer=tokenizer, model_name=path, **fields)

    @classmethod
    def _saved_settings(cls, directory: Path, given: set[str]) -> dict[str, Any]:
        """Fields a model directory states for itself, except those `given` (none here)."""
        return {}
