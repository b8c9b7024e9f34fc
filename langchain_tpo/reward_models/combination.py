"""Combination: how named reward parts make one reward (a weighted sum, optionally gated)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Combination(BaseModel):
    """A rule that turns raw part scores into one reward.

    Without a gate the reward is `sum(weights[k] * part[k])`. With a gate (a part whose score
    is a logit that the request calls for caution, such as "this prompt is unsafe"), it is
    Llama 2's combination made smooth: with `p = sigmoid(part[gate] + gate_bias)`,

        reward = (1 - p) * sum(weights[k] * part[k]) + p * sum(gated_weights[k] * part[k])

    so a helpfulness score decides on ordinary requests and a safety score on risky ones.

    Example:
        ```python
        Combination(weights={"helpfulness": 1.0, "safety": 0.2})
        Combination(
            weights={"helpfulness": 1.0},
            gate="unsafe_request",
            gated_weights={"safety": 1.0},
        )
        ```
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    weights: dict[str, float] = Field(default_factory=dict)
    """Weight of each part in the reward (the reward when the gate is off)."""
    gate: str | None = None
    """The part whose score, through a sigmoid, moves the reward from `weights` to
    `gated_weights`."""
    gate_bias: float = 0.0
    """Added to the gate's score before the sigmoid (the gate's threshold)."""
    gated_weights: dict[str, float] = Field(default_factory=dict)
    """Weight of each part when the gate is fully on."""

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not self.weights and not self.gated_weights:
            msg = "A reward combination needs at least one weighted part."
            raise ValueError(msg)
        if self.gate is None and self.gated_weights:
            msg = "gated_weights apply only with a gate: name the part that gates them."
            raise ValueError(msg)
        if self.gate is not None and not self.gated_weights:
            msg = f"The gate {self.gate!r} needs gated_weights: the parts it switches to."
            raise ValueError(msg)
        values = [*self.weights.items(), *self.gated_weights.items(), ("gate_bias", self.gate_bias)]
        for name, value in values:
            if isinstance(value, bool) or not math.isfinite(value):
                msg = f"The weight of {name!r} must be a finite number, not {value!r}."
                raise ValueError(msg)
        return self

    @classmethod
    def of(cls, value: Combination | Mapping[str, float]) -> Combination:
        """A combination, or plain weights by part name (a weighted sum)."""
        if isinstance(value, Combination):
            return value
        return cls(weights={str(k): float(v) for k, v in value.items()})

    @property
    def parts(self) -> list[str]:
        """Every part the rule reads, in first-mentioned order."""
        names = [*self.weights, *([self.gate] if self.gate else []), *self.gated_weights]
        return list(dict.fromkeys(names))

    def __call__(self, parts: Mapping[str, float]) -> float:
        """The reward of one response from its parts' raw scores."""
        plain = sum(w * parts[name] for name, w in self.weights.items())
        if self.gate is None:
            return plain
        z = parts[self.gate] + self.gate_bias
        p = 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
        gated = sum(w * parts[name] for name, w in self.gated_weights.items())
        return (1.0 - p) * plain + p * gated
