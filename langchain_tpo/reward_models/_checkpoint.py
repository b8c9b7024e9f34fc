"""Checks shared by the backends that load a sequence-classifier reward checkpoint."""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Mapping
from typing import Any

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
                "or `label_weights=` to add the columns up with weights."
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


DECLARED_WEIGHTS = "reward_label_weights"
"""A config.json key naming the label weights a multi-label reward checkpoint is meant to be
used with (the default reward declares its helpfulness and harmlessness weights there)."""


def reward_columns(
    config: Any,
    label_index: int | None,
    label_weights: Mapping[str | int, float] | None,
    name: str,
) -> tuple[int, list[tuple[str, int, float]]]:
    """Which output columns make the reward: `(column, [])` for one, `(0, weighted)` for several.

    `label_index` picks one column; `label_weights` adds several up; with neither, a checkpoint
    whose config declares `reward_label_weights` uses those, and a one-label checkpoint its
    only column.

    Raises:
        ValueError: Both are given, or the checkpoint has several labels and nothing says
            how to read them, or a label or weight is wrong.
    """
    if label_index is not None and label_weights is not None:
        msg = f"{name}: give label_index or label_weights, not both."
        raise ValueError(msg)
    if label_weights is None and label_index is None:
        declared = getattr(config, DECLARED_WEIGHTS, None)
        if isinstance(declared, Mapping) and declared:
            label_weights = dict(declared)
    if label_weights is not None:
        return 0, resolve_label_weights(config, label_weights, name)
    return resolve_label_index(config, label_index, name), []


def resolve_label_weights(
    config: Any, label_weights: Mapping[str | int, float], name: str
) -> list[tuple[str, int, float]]:
    """The output columns a weighted multi-label reward adds up: (label, column, weight).

    Args:
        config: The checkpoint's `PretrainedConfig` (`num_labels`, `id2label`).
        label_weights: Weight per label, by the label's name in `id2label` or by column.
        name: The checkpoint's name, for error messages.

    Raises:
        ValueError: No weights, an unknown label, a column out of range, the same column
            twice, or a weight that is not a finite number.
    """
    num_labels = int(getattr(config, "num_labels", 1) or 1)
    names = {int(k): str(v) for k, v in (getattr(config, "id2label", None) or {}).items()}
    by_name = {v: k for k, v in names.items()}
    shown = ", ".join(f"{i}={names.get(i, '?')}" for i in range(num_labels))
    if not label_weights:
        msg = f"label_weights for {name} is empty; give a weight to at least one of: {shown}."
        raise ValueError(msg)
    columns: list[tuple[str, int, float]] = []
    for key, weight in label_weights.items():
        if isinstance(key, int) and not isinstance(key, bool):
            column = key
        elif isinstance(key, str) and key in by_name:
            column = by_name[key]
        elif isinstance(key, str) and key.isdigit():
            column = int(key)
        else:
            msg = f"label_weights for {name}: no label {key!r}; the labels are {shown}."
            raise ValueError(msg)
        if not 0 <= column < num_labels:
            msg = f"label_weights for {name}: column {column} is out of range ({shown})."
            raise ValueError(msg)
        if any(column == c for _, c, _ in columns):
            msg = f"label_weights for {name}: column {column} is given twice."
            raise ValueError(msg)
        if (
            isinstance(weight, bool)
            or not isinstance(weight, int | float)
            or not math.isfinite(weight)
        ):
            msg = f"label_weights for {name}: the weight of {key!r} must be a finite number."
            raise ValueError(msg)
        columns.append((names.get(column, str(column)), column, float(weight)))
    return columns
