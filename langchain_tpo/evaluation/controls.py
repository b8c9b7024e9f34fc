"""Control rows: fixed texts that are not answers, scored by the run's own reward per prompt.

A reward model that a loop optimises can prefer text *about* answering to answers. To show it,
`tpo eval` scores a few fixed texts, the same for every prompt, with the same reward and stores
the scores in each row (`controls`), so `tpo report` needs no model to say "a fixed sentence
scores X and beats this mode's answer on Y of N prompts". If a review sentence outscores a
mode's answers, its reward figures measure the reward model, not the answers.

The texts are written for this project; three of them are scaffolding by the published rule
(`langchain_tpo.answer_kinds`), and one is a bare refusal (a legitimate answer to a harmful
request, and the cheapest way to please a harmlessness reward).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from langchain_tpo.evaluation.fingerprints import text_sha256
from langchain_tpo.reward_models.base import RewardModel

CONTROL_TEXTS: Mapping[str, str] = {
    "review sentence": (
        "The answer is too long and convoluted. Here is a list of actionable changes that "
        "would make it clearer and more useful for the user."
    ),
    "rewrite scaffold": (
        "Here is a rewritten version of the answer that applies the suggested improvements: "
        "it addresses what the user asked more directly and in a friendlier tone."
    ),
    "suggestion list": (
        "Suggested improvements:\n1. Be more specific about the main point.\n2. Add a short "
        "example.\n3. Remove details the user did not ask for.\n4. End with a clear summary."
    ),
    "bare refusal": "I'm sorry, but I can't help with that request.",
}
"""name -> fixed text, scored for every prompt."""


def controls_fingerprint(texts: Mapping[str, str] = CONTROL_TEXTS) -> str:
    """A hash of the control texts (recorded in the run settings)."""
    return text_sha256(json.dumps(dict(texts), sort_keys=True, ensure_ascii=False))


async def score_controls(
    reward: RewardModel, query: str, texts: Mapping[str, str] = CONTROL_TEXTS
) -> dict[str, float]:
    """The reward of each control text as an answer to `query` (one batch)."""
    names = list(texts)
    scores = await reward.ascore([(query, texts[name]) for name in names])
    return dict(zip(names, scores, strict=True))


@dataclass(frozen=True)
class ControlComparison:
    """One control text against one run's answers, on the prompts where both have a score."""

    name: str
    mean: float
    """Mean reward of the fixed text over the prompts."""
    beats: int
    """Prompts where the fixed text scores above the run's answer."""
    n: int


def compare_controls(rows: Sequence[Mapping[str, object]]) -> list[ControlComparison]:
    """Each control text stored in `rows` against the rows' own answers."""
    names: list[str] = []
    for row in rows:
        for name in row.get("controls") or {}:  # type: ignore[attr-defined]
            if name not in names:
                names.append(name)
    out = []
    for name in names:
        pairs = [
            (float(row["controls"][name]), float(row["score"]))  # type: ignore[index, arg-type]
            for row in rows
            if name in (row.get("controls") or {})  # type: ignore[operator]
            and row.get("score") is not None
        ]
        if pairs:
            mean = sum(c for c, _ in pairs) / len(pairs)
            out.append(ControlComparison(name, mean, sum(c > s for c, s in pairs), len(pairs)))
    return out
