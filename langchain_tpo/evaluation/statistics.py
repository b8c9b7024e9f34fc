"""Intervals a reader can trust: seeded percentile bootstrap of a mean and of paired differences.

A paired comparison of runs A and B uses the prompts both answered: d_i = a_i - b_i. The
bootstrap draws len(d) prompts with replacement `resamples` times from a `random.Random(seed)`
and takes the mean of each draw; the 95% interval is the 2.5th and 97.5th percentile of those
means (nearest-rank: the values at positions floor(0.025 * R) and ceil(0.975 * R) - 1 of the
sorted means). The same seed gives the same interval, so a report is reproducible.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

RESAMPLES = 10_000
LEVEL = 0.95
LABEL = "95%"
"""How every interval is labelled in reports."""


@dataclass(frozen=True)
class Interval:
    """A mean with its bootstrap interval."""

    mean: float
    low: float
    high: float
    n: int

    def __str__(self) -> str:
        if self.n == 0 or math.isnan(self.mean):
            return "-"
        return f"{self.mean:+.3f} [{self.low:+.3f}, {self.high:+.3f}]"


@dataclass(frozen=True)
class PairedDifference:
    """How run A compares with run B on the same prompts."""

    difference: Interval
    """Mean of a_i - b_i with its bootstrap interval."""
    wins: int
    ties: int
    losses: int

    @property
    def n(self) -> int:
        return self.wins + self.ties + self.losses

    @property
    def win_rate(self) -> float:
        """Share of prompts where A is higher, a tie counting half."""
        return (self.wins + 0.5 * self.ties) / self.n if self.n else math.nan


def percentile_bounds(values: Sequence[float], level: float = LEVEL) -> tuple[float, float]:
    """The nearest-rank percentiles bounding the central `level` of `values`."""
    ordered = sorted(values)
    tail = (1 - level) / 2
    low = ordered[math.floor(tail * len(ordered))]
    high = ordered[max(math.ceil((1 - tail) * len(ordered)) - 1, 0)]
    return low, high


def bootstrap_mean(
    values: Sequence[float], *, resamples: int = RESAMPLES, seed: int = 0, level: float = LEVEL
) -> Interval:
    """The mean of `values` with a seeded percentile-bootstrap interval."""
    values = list(values)
    if not values:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = statistics.fmean(values)
    if len(values) == 1:
        return Interval(mean, mean, mean, 1)
    rng = random.Random(seed)
    n = len(values)
    means = [math.fsum(rng.choices(values, k=n)) / n for _ in range(resamples)]
    low, high = percentile_bounds(means, level)
    return Interval(mean, low, high, n)


def paired_bootstrap(
    a: Sequence[float],
    b: Sequence[float],
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
    level: float = LEVEL,
    tie_tolerance: float = 1e-9,
) -> PairedDifference:
    """Paired comparison of two score lists over the same prompts (same order).

    Returns:
        The mean difference a - b with its interval, and win / tie / loss counts (a tie is a
        difference within `tie_tolerance`).
    """
    if len(a) != len(b):
        msg = f"paired scores need equal lengths; got {len(a)} and {len(b)}"
        raise ValueError(msg)
    differences = [x - y for x, y in zip(a, b, strict=True)]
    wins = sum(d > tie_tolerance for d in differences)
    losses = sum(d < -tie_tolerance for d in differences)
    interval = bootstrap_mean(differences, resamples=resamples, seed=seed, level=level)
    return PairedDifference(interval, wins, len(differences) - wins - losses, losses)
