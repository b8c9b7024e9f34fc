"""What a run's users receive: how many final answers are answers at all, and how long they are.

Reward figures alone can hide reward hacking: a loop that learns to return rewrite scaffolding
or review notes can raise the reward while the user gets no answer. The kinds come from the
project's one published rule, `langchain_tpo.answer_kinds`; this module only counts them.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_tpo.answer_kinds import KINDS, AnswerKind, answer_kind


@dataclass(frozen=True)
class AnswerProfile:
    """The kinds and length of a run's final answers."""

    n: int
    counts: Mapping[AnswerKind, int]
    mean_words: float
    mean_characters: float

    def share(self, kind: AnswerKind) -> float:
        return self.counts.get(kind, 0) / self.n if self.n else 0.0


def answer_profile(rows: Sequence[Mapping[str, Any]]) -> AnswerProfile:
    """Count the kinds of the rows' `response`s and their mean length."""
    return _profile([str(row.get("response") or "") for row in rows])


def iter_rewrites(
    rows: Iterable[Mapping[str, Any]],
) -> Iterator[tuple[Mapping[str, Any], str]]:
    """Each rewrite of the rows' runs, with its row, in file order.

    Rewrites are the candidates of iteration 0 and later (initial samples are iteration -1);
    best-of-N and base runs have none.
    """
    for row in rows:
        for candidate in row.get("candidates") or ():
            if int(candidate.get("iteration", -1)) >= 0:
                yield row, str(candidate.get("text") or "")


def rewrite_profile(rows: Sequence[Mapping[str, Any]]) -> AnswerProfile:
    """Count the kinds of every rewrite the rows' runs wrote (all iterations), and their length.

    A loop whose finals are answers can still spend most of its rewrites on scaffolding that
    the reward happens to rank low.
    """
    return _profile([text for _, text in iter_rewrites(rows)])


def _profile(texts: Sequence[str]) -> AnswerProfile:
    counts: dict[AnswerKind, int] = dict.fromkeys(KINDS, 0)
    for text in texts:
        counts[answer_kind(text)] += 1
    words = [len(t.split()) for t in texts]
    characters = [len(t) for t in texts]
    return AnswerProfile(
        len(texts),
        counts,
        statistics.fmean(words) if words else 0.0,
        statistics.fmean(characters) if characters else 0.0,
    )
