"""Numbers a report is made of: reward by iteration, sample spread, win rate, exact match."""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Row = dict[str, Any]


@dataclass(frozen=True)
class Stat:
    """Mean, standard deviation and count of a set of numbers."""

    mean: float
    std: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Stat:
        if not values:
            return cls(math.nan, math.nan, 0)
        std = statistics.pstdev(values) if len(values) > 1 else 0.0
        return cls(statistics.fmean(values), std, len(values))


def best_so_far_curve(rows: Sequence[Row]) -> list[Stat]:
    """Best reward so far after the initial samples (index 0) and after each iteration.

    A prompt that stopped early keeps its last best reward for the later iterations.
    """
    series = [r["best_scores"] for r in rows if r.get("best_scores")]
    length = max((len(s) for s in series), default=0)
    return [Stat.of([s[min(k, len(s) - 1)] for s in series]) for k in range(length)]


def sample_spread(rows: Sequence[Row]) -> list[Stat]:
    """Per round (initial samples, then each iteration's rewrites): the mean over prompts of the
    standard deviation of the rewards of that round's samples. Lower is a more stable policy."""
    rounds = max((len(r.get("scores_by_iteration", [])) for r in rows), default=0)
    out = []
    for k in range(rounds):
        spreads = [
            statistics.pstdev(r["scores_by_iteration"][k])
            for r in rows
            if len(r.get("scores_by_iteration", [])) > k and len(r["scores_by_iteration"][k]) > 1
        ]
        out.append(Stat.of(spreads))
    return out


def round_means(rows: Sequence[Row]) -> list[Stat]:
    """Per round: mean reward of that round's samples, over prompts."""
    rounds = max((len(r.get("scores_by_iteration", [])) for r in rows), default=0)
    return [
        Stat.of(
            [
                statistics.fmean(r["scores_by_iteration"][k])
                for r in rows
                if len(r.get("scores_by_iteration", [])) > k and r["scores_by_iteration"][k]
            ]
        )
        for k in range(rounds)
    ]


@dataclass(frozen=True)
class WinRate:
    """How often run A's answer scored above run B's on the same prompts (a tie counts half)."""

    wins: int
    ties: int
    losses: int

    @property
    def n(self) -> int:
        return self.wins + self.ties + self.losses

    @property
    def rate(self) -> float:
        return (self.wins + 0.5 * self.ties) / self.n if self.n else math.nan


def win_rate(a: Sequence[Row], b: Sequence[Row]) -> WinRate:
    """Win rate of `a` over `b` by final reward, on the prompt ids both have scored."""
    scores_b = {r["id"]: r["score"] for r in b if r.get("score") is not None}
    wins = ties = losses = 0
    for row in a:
        other = scores_b.get(row["id"])
        if other is None or row.get("score") is None:
            continue
        if math.isclose(row["score"], other, rel_tol=1e-9, abs_tol=1e-9):
            ties += 1
        elif row["score"] > other:
            wins += 1
        else:
            losses += 1
    return WinRate(wins, ties, losses)


# -- exact match -----------------------------------------------------------------------------

_MAX_SHORT_REFERENCE = 64


def is_short_answer(reference: str | None) -> bool:
    """A reference that is a final answer (MATH-500 style), not a model answer to compare with."""
    if not reference:
        return False
    return len(reference) <= _MAX_SHORT_REFERENCE and "\n" not in reference


def extract_final_answer(text: str) -> str | None:
    """The content of the last `\\boxed{...}` (nested braces allowed), else the last number."""
    start = text.rfind("\\boxed")
    while start != -1:
        brace = text.find("{", start)
        if brace != -1:
            depth = 0
            for i in range(brace, len(text)):
                if text[i] == "{":
                    depth += 1
                elif text[i] == "}":
                    depth -= 1
                    if depth == 0:
                        return text[brace + 1 : i]
        start = text.rfind("\\boxed", 0, start)
    numbers = re.findall(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?", text)
    return numbers[-1] if numbers else None


_REPLACEMENTS = [
    (r"\\left|\\right|\\!|\\,|\\;|\\:|\\ |\$", ""),
    (r"\\[dt]frac", r"\\frac"),
    (r"\\text\{([^{}]*)\}", r"\1"),
    (r"\\mbox\{([^{}]*)\}", r"\1"),
    (r"\^\{?\\circ\}?|°", ""),
    (r"\s+", ""),
]


def normalize_answer(answer: str) -> str:
    """Canonical form for comparing final answers: no spacing, $, \\left/\\right, degree signs,
    units-as-text wrappers or thousands separators; `\\dfrac` is `\\frac`; `0.50` is `0.5`."""
    text = answer.strip()
    for pattern, replacement in _REPLACEMENTS:
        text = re.sub(pattern, replacement, text)
    text = text.rstrip(".")
    if re.fullmatch(r"-?[\d,]+(\.\d+)?", text):
        text = text.replace(",", "")
        value = float(text)
        text = str(int(value)) if value.is_integer() else repr(value)
    frac = re.fullmatch(r"(-?)\\frac\{?(\d+)\}?\{?(\d+)\}?", text)
    if frac:
        text = f"{frac.group(1)}{frac.group(2)}/{frac.group(3)}"
    return text


def exact_match(rows: Sequence[Row]) -> Stat | None:
    """Accuracy over the rows whose reference is a short final answer; None when none is."""
    hits = []
    for row in rows:
        reference = row.get("reference")
        if reference is None or not is_short_answer(reference):
            continue
        predicted = extract_final_answer(row.get("response") or "")
        hits.append(
            float(
                predicted is not None and normalize_answer(predicted) == normalize_answer(reference)
            )
        )
    return Stat.of(hits) if hits else None
