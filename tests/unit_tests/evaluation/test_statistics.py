import math

import pytest

from langchain_tpo.evaluation.statistics import (
    bootstrap_mean,
    paired_bootstrap,
    percentile_bounds,
)


def test_paired_interval_matches_a_hand_computed_example() -> None:
    # Four prompts; A beats B by 1 on one of them and ties on three: d = [0, 0, 0, 1].
    # A bootstrap draw of 4 prompts has mean k/4 with k ~ Binomial(4, 1/4):
    #   P(k=0) = 0.3164, P(k<=1) = 0.7383, P(k<=2) = 0.9492, P(k<=3) = 0.9961.
    # The 2.5th percentile is therefore 0 and the 97.5th is 3/4 (0.9492 < 0.975 <= 0.9961).
    result = paired_bootstrap([1.0, 2.0, 3.0, 5.0], [1.0, 2.0, 3.0, 4.0], seed=0)
    assert result.difference.mean == pytest.approx(0.25)
    assert (result.difference.low, result.difference.high) == (0.0, 0.75)
    assert (result.wins, result.ties, result.losses) == (1, 3, 0)
    assert result.win_rate == pytest.approx((1 + 1.5) / 4)


def test_a_constant_difference_has_a_point_interval() -> None:
    result = paired_bootstrap([3.0, 4.0, 5.0], [1.0, 2.0, 3.0])
    assert (result.difference.mean, result.difference.low, result.difference.high) == (2, 2, 2)
    assert result.wins == 3


def test_the_interval_is_seeded_and_covers_the_mean() -> None:
    values = [math.sin(i) for i in range(50)]
    first, again = bootstrap_mean(values, seed=1), bootstrap_mean(values, seed=1)
    assert first == again
    assert first.low < first.mean < first.high
    assert bootstrap_mean(values, seed=2) != first
    # The width is about 2 x 1.96 standard errors for a mean of 50 values.
    se = (sum((v - first.mean) ** 2 for v in values) / 49) ** 0.5 / 50**0.5
    assert first.high - first.low == pytest.approx(2 * 1.96 * se, rel=0.15)


def test_percentile_bounds_by_nearest_rank() -> None:
    assert percentile_bounds(list(range(1000))) == (25, 974)
    assert percentile_bounds([7.0]) == (7.0, 7.0)


def test_edge_cases() -> None:
    assert str(bootstrap_mean([])) == "-"
    assert bootstrap_mean([2.0]).low == 2.0
    with pytest.raises(ValueError, match="equal lengths"):
        paired_bootstrap([1.0], [1.0, 2.0])
