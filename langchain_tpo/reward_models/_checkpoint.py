"""Checks and loading shared by the reward models that run a transformers checkpoint."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

from langchain_tpo.reward_models.combination import Combination

# Used when neither the tokenizer nor the config states a usable context length.
_FALLBACK_MAX_LENGTH = 4096
# Tokenizers without a limit report a huge sentinel (1e30) as `model_max_length`.
_NO_LIMIT = 10**9


def require(packages: tuple[str, ...], what: str, extra: str) -> None:
    """Raise an ImportError naming the pip command when an optional package is missing.

    Args:
        packages: Import names that must be available.
        what: The component that needs them, for the message.
        extra: The langchain-tpo extra that installs them.
    """
    missing = [name for name in packages if importlib.util.find_spec(name) is None]
    if missing:
        msg = (
            f"{what} needs {', '.join(missing)}, which is not installed. Install it with "
            f'`pip install "langchain-tpo[{extra}]"`.'
        )
        raise ImportError(msg)


def load_transformers_model(
    auto_class: Any, path: str, device: str | None, torch_dtype: Any, **model_kwargs: Any
) -> Any:
    """`auto_class.from_pretrained(path)` on `device`, in evaluation mode.

    `device` defaults to CUDA when available; `torch_dtype` to float32 on the CPU and the
    checkpoint's own dtype on a GPU. With `device_map` in `model_kwargs` the model stays where
    transformers placed it.
    """
    import torch

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if torch_dtype is None:
        torch_dtype = torch.float32 if str(device).startswith("cpu") else "auto"
    model = auto_class.from_pretrained(path, dtype=torch_dtype, **model_kwargs)
    if "device_map" not in model_kwargs:
        model = model.to(device)
    model.eval()
    return model


def right_padded(sequences: list[list[int]], pad_id: int | None) -> tuple[Any, Any]:
    """Token sequences as one right-padded id tensor and its attention mask.

    Padded here rather than by the tokenizer, so a tokenizer without a pad token works too
    (`pad_id` None pads with 0; the mask hides it either way).
    """
    import torch

    width = max(len(seq) for seq in sequences)
    ids = torch.full((len(sequences), width), 0 if pad_id is None else pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return ids, mask


def resolve_label_index(config: Any, label_index: int | None, name: str) -> int:
    """The output column that holds the reward.

    Args:
        config: The checkpoint's `PretrainedConfig` (anything with `num_labels`).
        label_index: The column chosen by the user, if any.
        name: The checkpoint's name, for error messages.

    Returns:
        `label_index`, or 0 for a single-label checkpoint.

    Raises:
        ValueError: The checkpoint has several labels and no `label_index` was given, or the
            index is out of range.
    """
    num_labels = int(getattr(config, "num_labels", 1) or 1)
    if label_index is None:
        if num_labels != 1:
            labels = getattr(config, "id2label", None) or {}
            shown = ", ".join(f"{i}={labels.get(i, '?')}" for i in range(num_labels))
            msg = (
                f"The checkpoint {name} has {num_labels} output labels ({shown}); a reward "
                "model has one. Pass `label_index=` to choose the column that holds the reward, "
                "or `combination=` to combine the columns (for example "
                '`combination={"label_a": 1.0, "label_b": 0.5}`).'
            )
            raise ValueError(msg)
        return 0
    if not 0 <= label_index < num_labels:
        msg = f"label_index={label_index} is out of range for {name} ({num_labels} label(s))."
        raise ValueError(msg)
    return label_index


def default_max_length(config: Any, tokenizer: Any) -> int:
    """The longest sequence the checkpoint can score: its context length.

    Args:
        config: The checkpoint's config (`max_position_embeddings`, if it has one).
        tokenizer: Its tokenizer (`model_max_length`, if it states a real limit).

    Returns:
        The smaller of the two limits that are stated, else 4096.
    """
    limits = [
        int(value)
        for value in (
            getattr(config, "max_position_embeddings", None),
            getattr(tokenizer, "model_max_length", None),
        )
        if isinstance(value, int | float) and 0 < value < _NO_LIMIT
    ]
    return min(limits) if limits else _FALLBACK_MAX_LENGTH


DECLARED_COMBINATION = "reward_combination"
"""A config.json key holding the `Combination` a multi-label reward checkpoint is meant to be
read with (the default reward declares its helpfulness, harmlessness and gate heads there)."""


def reward_columns(
    config: Any,
    label_index: int | None,
    combination: Combination | Mapping[str, float] | None,
    name: str,
) -> tuple[int, Combination | None, dict[str, int]]:
    """How to read the reward off a checkpoint's output columns.

    `label_index` picks one column. `combination` combines several, named by label (as in the
    config's `id2label`) or by column number. With neither, a checkpoint whose config declares
    `reward_combination` is read with it, and a one-label checkpoint by its only column.

    Returns:
        `(column, None, {})` for one column, or `(0, combination, {part: column})`.

    Raises:
        ValueError: Both are given, or the checkpoint has several labels and nothing says how
            to read them, or the combination names a label the checkpoint lacks.
    """
    if label_index is not None and combination is not None:
        msg = f"{name}: give label_index or a combination of labels, not both."
        raise ValueError(msg)
    if combination is None and label_index is None:
        declared = getattr(config, DECLARED_COMBINATION, None)
        if isinstance(declared, Mapping) and declared:
            combination = Combination.model_validate(dict(declared))
    if combination is None:
        return resolve_label_index(config, label_index, name), None, {}
    combination = Combination.of(combination)
    return 0, combination, label_columns(config, combination.parts, name)


def label_columns(config: Any, labels: list[str], name: str) -> dict[str, int]:
    """The output column of each label, named as in `id2label` or by column number.

    Raises:
        ValueError: A label the checkpoint does not have, or a column out of range.
    """
    num_labels = int(getattr(config, "num_labels", 1) or 1)
    names = {int(k): str(v) for k, v in (getattr(config, "id2label", None) or {}).items()}
    by_name = {v: k for k, v in names.items()}
    shown = ", ".join(f"{i}={names.get(i, '?')}" for i in range(num_labels))
    columns = {}
    for label in labels:
        if label in by_name:
            column = by_name[label]
        elif label.isdigit():
            column = int(label)
        else:
            msg = f"{name}: no label {label!r} to combine; the labels are {shown}."
            raise ValueError(msg)
        if not 0 <= column < num_labels:
            msg = f"{name}: column {column} is out of range ({shown})."
            raise ValueError(msg)
        columns[label] = column
    return columns
