"""Length-controlled win rate: the win rate a judge would give if both answers were as long.

LLM judges favour longer answers, so a model can raise its judged win rate by writing more.
AlpacaEval 2 corrects for this with a regression (Dubois et al., 2024, "Length-Controlled
AlpacaEval"): it models the judge's preference for answer A over answer B as a logistic
function of A's quality and of the length difference, then reports the win rate the model
predicts at zero length difference. This module does the same for two runs judged on the
same prompts:

    P(A preferred on prompt i) = sigmoid(theta + phi * tanh(d_i / s))

where `d_i = len(A_i) - len(B_i)` in characters and `s` is the sample standard deviation
(ddof 1) of the `d_i`, so the length term is bounded and scale-free. `theta` and `phi` are
fitted by maximum likelihood (Newton's method on the Bernoulli log-likelihood) with soft
targets: a prompt's preference is a number in [0, 1] (1: A won, 0: B won, 0.5: a tie or a
split between the two presentation orders). The length-controlled win rate is
`sigmoid(theta)`, the prediction at `d = 0`.

Differences from AlpacaEval's own fit, deliberately: AlpacaEval also fits a per-instruction
difficulty term estimated across its whole leaderboard of models, and fits with an L1
penalty chosen by cross-validation. Two runs alone cannot estimate the difficulty term
(without it, the average prediction over prompts is just `sigmoid(theta)`; AlpacaEval's code
names this form `length_controlled_minimal`), and an unpenalised fit keeps the estimate
checkable by hand. Where the maximum-likelihood estimate does not exist, no number is
invented: `None` is returned when there are fewer than `MIN_PAIRS` prompts, when the length
difference does not vary, when A always or never wins, or when the outcomes are separated by
length (every prompt where A is longer than some threshold goes one way and every other
prompt the other way), since the fitted coefficients then run off to infinity.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MIN_PAIRS = 10
"""Fewer judged prompts than this give no length-controlled win rate."""

_MAX_NEWTON_STEPS = 100
_TOLERANCE = 1e-10


@dataclass(frozen=True)
class LengthControlledFit:
    """The fitted regression and the win rate it predicts at equal lengths."""

    win_rate: float
    """sigmoid(intercept): the predicted preference for A when both answers are as long."""
    intercept: float
    """theta: A's advantage on the logit scale, length aside."""
    length_slope: float
    """phi: how much the judge's preference moves with the (squashed) length difference."""
    length_scale: float
    """s: the standard deviation of the length differences, in characters."""
    n: int
    """Prompts the fit used."""


def fit_length_controlled(
    preferences: Sequence[float], lengths_a: Sequence[int], lengths_b: Sequence[int]
) -> LengthControlledFit | None:
    """Fit the length regression (see the module docstring).

    Args:
        preferences: Per prompt, the judged preference for A in [0, 1].
        lengths_a: Per prompt, the length of A's answer in characters.
        lengths_b: Per prompt, the length of B's answer in characters.

    Returns:
        The fit, or None when the data do not determine one.

    Raises:
        ValueError: The sequences differ in length, or a preference is outside [0, 1].
    """
    y = np.asarray(preferences, dtype=float)
    if not len(y) == len(lengths_a) == len(lengths_b):
        msg = (
            f"preferences, lengths_a and lengths_b must be as long as each other "
            f"(got {len(y)}, {len(lengths_a)}, {len(lengths_b)})."
        )
        raise ValueError(msg)
    if y.size and (not np.all(np.isfinite(y)) or y.min() < 0 or y.max() > 1):
        msg = "Every preference must be a number from 0 (B preferred) to 1 (A preferred)."
        raise ValueError(msg)
    if len(y) < MIN_PAIRS:
        return None
    difference = np.asarray(lengths_a, dtype=float) - np.asarray(lengths_b, dtype=float)
    scale = float(difference.std(ddof=1))
    if not scale > 0:
        return None
    x = np.tanh(difference / scale)
    if _separated(x, y):
        return None
    design = np.column_stack([np.ones_like(x), x])
    weights = _newton_logistic(design, y)
    if weights is None:
        return None
    intercept, slope = (float(w) for w in weights)
    return LengthControlledFit(
        win_rate=_sigmoid(intercept),
        intercept=intercept,
        length_slope=slope,
        length_scale=scale,
        n=len(y),
    )


def length_controlled_win_rate(
    preferences: Sequence[float], lengths_a: Sequence[int], lengths_b: Sequence[int]
) -> float | None:
    """The win rate of A at zero length difference, or None (see `fit_length_controlled`)."""
    fit = fit_length_controlled(preferences, lengths_a, lengths_b)
    return None if fit is None else fit.win_rate


def _separated(x: np.ndarray, y: np.ndarray) -> bool:
    """Whether some threshold on x splits A's wins from its losses (no finite estimate then).

    A prompt with preference above 0 counts among the wins, one below 1 among the losses (a
    soft preference counts in both). With an intercept and one feature, the likelihood has a
    finite maximum exactly when both groups are non-empty and overlap on x, strictly.
    """
    wins, losses = x[y > 0], x[y < 1]
    if wins.size == 0 or losses.size == 0:
        return True
    return not (losses.max() > wins.min() and wins.max() > losses.min())


def _newton_logistic(design: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    """Maximise sum(y log p + (1 - y) log(1 - p)), p = sigmoid(design @ w), by Newton steps."""
    w = np.zeros(design.shape[1])
    for _ in range(_MAX_NEWTON_STEPS):
        p = 1.0 / (1.0 + np.exp(-(design @ w)))
        gradient = design.T @ (y - p)
        hessian = design.T @ (design * (p * (1.0 - p))[:, None])
        try:
            step = np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError:
            return None
        w = w + step
        if not np.all(np.isfinite(w)):
            return None
        if float(np.max(np.abs(step))) < _TOLERANCE:
            return w
    return None


def _sigmoid(value: float) -> float:
    return 1.0 / (1.0 + math.exp(-value)) if value >= 0 else math.exp(value) / (1 + math.exp(value))
