"""The length-controlled win rate against hand-computed fits."""

from __future__ import annotations

import math

import numpy as np
import pytest

from langchain_tpo.evaluation.length_control import (
    MIN_PAIRS,
    fit_length_controlled,
    length_controlled_win_rate,
)


def gamed_by_length() -> tuple[list[float], list[int], list[int]]:
    """20 prompts: on 15, A is 100 characters longer and wins 12; on 5, A is 100 shorter
    and wins 2. Raw win rate 14/20 = 0.70."""
    preferences = [1.0] * 12 + [0.0] * 3 + [1.0] * 2 + [0.0] * 3
    lengths_a = [300] * 15 + [100] * 5
    lengths_b = [200] * 20
    return preferences, lengths_a, lengths_b


def test_hand_computed_two_group_example() -> None:
    # The length feature takes two values, +c and -c (c = tanh(100 / s)), so the model is
    # saturated: sigmoid(theta + phi c) = 12/15 = 0.8 and sigmoid(theta - phi c) = 2/5 = 0.4.
    # Adding the two logits: theta = (logit 0.8 + logit 0.4) / 2 = (ln 4 + ln 2/3) / 2, so
    # exp(theta) = sqrt(4 * 2/3) = sqrt(8/3) and the LC win rate is sqrt(8/3) / (1 + sqrt(8/3)).
    fit = fit_length_controlled(*gamed_by_length())
    assert fit is not None
    odds = math.sqrt(8 / 3)
    assert fit.win_rate == pytest.approx(odds / (1 + odds), abs=1e-9)  # 0.6202...
    assert fit.intercept == pytest.approx((math.log(4) + math.log(2 / 3)) / 2, abs=1e-9)
    # s is the sample standard deviation (ddof 1) of the differences: 15 of +100, 5 of -100.
    differences = np.array([100] * 15 + [-100] * 5, dtype=float)
    assert fit.length_scale == pytest.approx(differences.std(ddof=1))
    c = math.tanh(100 / fit.length_scale)
    assert fit.length_slope == pytest.approx((math.log(4) - math.log(2 / 3)) / (2 * c), abs=1e-9)
    assert fit.n == 20


def test_the_length_advantage_is_taken_out() -> None:
    preferences, lengths_a, lengths_b = gamed_by_length()
    raw = sum(preferences) / len(preferences)
    lc = length_controlled_win_rate(preferences, lengths_a, lengths_b)
    assert raw == pytest.approx(0.70)
    assert lc is not None and lc < raw


def test_soft_preferences_and_no_length_effect() -> None:
    # Same preference mix whatever the length: phi = 0 and the LC win rate is the raw one.
    pattern = [1.0, 0.75, 0.5, 0.5, 0.0]
    preferences = pattern * 4
    lengths_a = [50] * 5 + [80] * 5 + [120] * 5 + [400] * 5
    fit = fit_length_controlled(preferences, lengths_a, [100] * 20)
    assert fit is not None
    assert fit.length_slope == pytest.approx(0.0, abs=1e-9)
    assert fit.win_rate == pytest.approx(sum(pattern) / len(pattern))


def test_swapping_the_runs_mirrors_the_result() -> None:
    preferences, lengths_a, lengths_b = gamed_by_length()
    lc = length_controlled_win_rate(preferences, lengths_a, lengths_b)
    mirrored = length_controlled_win_rate([1 - p for p in preferences], lengths_b, lengths_a)
    assert lc is not None and mirrored is not None
    assert lc + mirrored == pytest.approx(1.0)


def test_the_fit_is_the_maximum_likelihood() -> None:
    rng = np.random.default_rng(0)
    lengths_a = rng.integers(50, 800, size=60).tolist()
    lengths_b = rng.integers(50, 800, size=60).tolist()
    preferences = rng.choice([0.0, 0.25, 0.5, 0.75, 1.0], size=60).tolist()
    fit = fit_length_controlled(preferences, lengths_a, lengths_b)
    assert fit is not None
    x = np.tanh((np.array(lengths_a) - np.array(lengths_b)) / fit.length_scale)
    y = np.array(preferences)

    def loglik(theta: float, phi: float) -> float:
        p = 1 / (1 + np.exp(-(theta + phi * x)))
        return float(np.sum(y * np.log(p) + (1 - y) * np.log(1 - p)))

    best = loglik(fit.intercept, fit.length_slope)
    for dt, dp in [(1e-3, 0), (-1e-3, 0), (0, 1e-3), (0, -1e-3), (1e-3, -1e-3)]:
        assert loglik(fit.intercept + dt, fit.length_slope + dp) < best


@pytest.mark.parametrize(
    ("preferences", "lengths_a"),
    [
        ([1.0] * (MIN_PAIRS - 1), list(range(MIN_PAIRS - 1))),  # too few prompts
        ([1.0, 0.0] * 10, [100] * 20),  # the length difference never varies
        ([1.0] * 20, list(range(20))),  # A always wins
        ([0.0] * 20, list(range(20))),  # A never wins
        ([0.0] * 10 + [1.0] * 10, list(range(20))),  # longer A always wins: separated
        ([1.0] * 10 + [0.5] + [0.0] * 9, list(range(20))),  # quasi-separated at one point
    ],
)
def test_none_when_the_data_do_not_determine_a_fit(
    preferences: list[float], lengths_a: list[int]
) -> None:
    assert length_controlled_win_rate(preferences, lengths_a, [0] * len(lengths_a)) is None


def test_overlapping_outcomes_do_fit() -> None:
    # The same data as the separated case, with one win and one loss swapped across the
    # threshold: now finite.
    preferences = [0.0] * 9 + [1.0] + [0.0] + [1.0] * 9
    assert length_controlled_win_rate(preferences, list(range(20)), [0] * 20) is not None


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="as long as each other"):
        length_controlled_win_rate([1.0], [1, 2], [1, 2])
    with pytest.raises(ValueError, match="from 0"):
        length_controlled_win_rate([1.5] * 10, [1] * 10, [0] * 10)
