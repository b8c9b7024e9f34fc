"""Helpfulness preference pairs: a real answer over a non-answer, or over another prompt's answer.

Sources of prompts with real answers (`Answered`):

- `scripts/training_data/helpful_questions.jsonl`: our own everyday questions with short,
  direct answers (MIT, written for this project; none of them is in the evaluation set);
- Arena-Hard v0.1 prompts with GPT-4's answers (lmarena/arena-hard-auto, Apache-2.0), read by
  `scripts/reward_sources.py` from a clone or snapshot.

Negatives for each prompt, all built here and seeded:

- non-answer families in the trainer's own phrasings (`training_data/non_answer_parts.json`):
  stalling, platitudes, off-topic emotional support, deflection to a professional, restating
  the question, AI disclaimers, refusals of a benign request. Each text is an opening, one or
  two middles and a closing drawn from the family's parts, so the phrasings vary. The
  evaluation phrasings (`benchmarks/data/everyday/non_answers.json`) are never used here, and
  the families `clarify` and `plan` are never built at all;
- TPO's own failure modes from `reward_negatives`: rewrite scaffolding, review notes,
  suggestion lists, echoes of the prompt or of TPO's prompts;
- relevance: the answer to another prompt of the same source.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from scripts import reward_negatives as negatives
from scripts.reward_data import Pair

TRAINING_DATA = Path(__file__).resolve().parent / "training_data"
QUESTIONS = TRAINING_DATA / "helpful_questions.jsonl"
PARTS = TRAINING_DATA / "non_answer_parts.json"
RELEVANCE = "relevance"
META_FAMILIES: tuple[str, ...] = (
    negatives.SCAFFOLD,
    negatives.REVIEW,
    negatives.SUGGESTIONS,
    negatives.ECHO,
)
NEVER_BUILT: tuple[str, ...] = ("clarify", "plan")
"""Families the evaluation holds out entirely: no training pair is ever of these kinds."""


@dataclass(frozen=True)
class Answered:
    """A prompt with a real answer. `topic` is a noun phrase for templates, when known."""

    id: str
    prompt: str
    answer: str
    topic: str | None
    source: str

    @property
    def context(self) -> str:
        """The prompt as a one-turn dialogue in HH-RLHF's raw form (what `Pair` carries)."""
        return f"\n\nHuman: {self.prompt}\n\nAssistant:"


def load_questions(path: Path = QUESTIONS) -> list[Answered]:
    """Our own training questions and answers."""
    out = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                out.append(
                    Answered(row["id"], row["question"], row["answer"], row["topic"], "helpful")
                )
    return out


def load_parts(path: Path = PARTS) -> dict[str, dict[str, list[str]]]:
    """Non-answer families: for each, its `open`, `middle` and `close` parts.

    Raises:
        ValueError: A family lacks a part list, or is one the evaluation holds out.
    """
    parts = json.loads(path.read_text(encoding="utf-8"))
    for family, spec in parts.items():
        if family in NEVER_BUILT:
            msg = f"{path}: family {family!r} is held out of training entirely"
            raise ValueError(msg)
        if not all(spec.get(key) for key in ("open", "middle", "close")):
            msg = f"{path}: family {family!r} needs non-empty open, middle and close lists"
            raise ValueError(msg)
    return parts


def compose(spec: dict[str, list[str]], item: Answered, rng: random.Random) -> str:
    """One non-answer: an opening, one or two middles and a closing, filled for `item`."""
    middles = rng.sample(spec["middle"], min(len(spec["middle"]), rng.choice((1, 1, 2))))
    pieces = [rng.choice(spec["open"]), *middles, rng.choice(spec["close"])]
    text = " ".join(p for p in pieces if p)
    topic = item.topic or "this"
    return (
        text.replace("{topic_cap}", topic[:1].upper() + topic[1:])
        .replace("{topic}", topic)
        .replace("{question}", item.prompt.strip())
    )


def helpful_pairs(
    items: Sequence[Answered],
    parts: dict[str, dict[str, list[str]]],
    seed: int,
    per_family: int = 1,
    relevance: int = 2,
    meta: int = 1,
) -> list[Pair]:
    """Pairs for every item: `per_family` of each non-answer family, `relevance` answers to
    other items, and `meta` texts from TPO's failure modes (families drawn at random)."""
    rng = random.Random(seed)
    pairs: list[Pair] = []
    for index, item in enumerate(items):
        for family in sorted(parts):
            texts = {compose(parts[family], item, rng) for _ in range(per_family)}
            pairs += [Pair(item.id, item.context, item.answer, t, family) for t in sorted(texts)]
        if len(items) > 1:
            others = [
                j
                for j in rng.sample(range(len(items)), min(relevance + 1, len(items)))
                if j != index
            ][:relevance]
            pairs += [
                Pair(item.id, item.context, item.answer, items[j].answer, RELEVANCE) for j in others
            ]
        for family in rng.sample(META_FAMILIES, min(meta, len(META_FAMILIES))):
            text = negatives.generate(family, item.prompt, item.answer, rng)
            pairs.append(Pair(item.id, item.context, item.answer, text, family))
    return pairs
