"""The everyday-question check: do real answers outscore non-answers and other questions' answers?

`benchmarks/data/everyday/` holds our own benign questions across cooking, home, tech, health
basics, work and travel, each with a short, direct, correct answer (`questions.jsonl`), and
families of non-answers written for evaluation only (`non_answers.json`): stalling,
platitudes, off-topic emotional support, deflection to a professional, restating the
question, AI disclaimers, refusals, clarifying questions and answer plans. The last two are
never trained on (the file lists them under `never_trained`); the trainer's own non-answer
phrasings live elsewhere (`scripts/training_data/`) and a test checks that they never repeat an
evaluation phrasing. `misread_answers.jsonl` holds, per question, a well-written answer to a
neighbouring question (how often to brush, for how often to replace a toothbrush): what a small
policy writes when it misreads the question. It is never trained on either.

Each question is paired with one non-answer of every family (a template chosen by a fixed
rule, so every run measures the same texts) and with the answer to another question
(relevance). A reward passes a family when the real answer scores strictly higher.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
EVERYDAY = REPO / "benchmarks" / "data" / "everyday"
RELEVANCE = "relevance"
MISREAD = "misread"
RELEVANCE_OFFSET = 37
"""Question i is paired with the answer of question (i + 37) mod n: with 20 questions per
category in file order, always another category."""

Row = dict[str, Any]


@dataclass(frozen=True)
class EverydaySet:
    """The questions and the non-answer families of one everyday set."""

    rows: list[Row]
    families: dict[str, list[str]]
    never_trained: tuple[str, ...]
    misread: dict[str, str]
    """Per question id, an answer to a neighbouring question (none when the file is absent)."""


def load_everyday(directory: Path = EVERYDAY) -> EverydaySet:
    """Read `questions.jsonl` and `non_answers.json` from a directory.

    Raises:
        ValueError: A row misses a field, an id repeats, or a family has no templates.
    """
    rows = []
    with (directory / "questions.jsonl").open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            missing = [k for k in ("id", "question", "topic", "answer") if not row.get(k)]
            if missing:
                msg = f"{directory / 'questions.jsonl'} line {number}: missing {missing}"
                raise ValueError(msg)
            rows.append(row)
    ids = [r["id"] for r in rows]
    if len(set(ids)) != len(ids):
        msg = f"{directory / 'questions.jsonl'}: ids repeat"
        raise ValueError(msg)
    spec = json.loads((directory / "non_answers.json").read_text(encoding="utf-8"))
    families = {name: list(templates) for name, templates in spec["families"].items()}
    empty = [name for name, templates in families.items() if not templates]
    if empty:
        msg = f"{directory / 'non_answers.json'}: families without templates: {empty}"
        raise ValueError(msg)
    misread = _misread_answers(directory / "misread_answers.jsonl", set(ids))
    return EverydaySet(rows, families, tuple(spec.get("never_trained", ())), misread)


def _misread_answers(path: Path, ids: set[str]) -> dict[str, str]:
    """`misread_answers.jsonl` by question id (`id`, `text`); empty when there is no file.

    Raises:
        ValueError: A row without `id` or `text`, an unknown or repeated id.
    """
    if not path.is_file():
        return {}
    answers: dict[str, str] = {}
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            if not row.get("id") or not row.get("text"):
                msg = f"{path} line {number}: needs `id` and `text`"
                raise ValueError(msg)
            if row["id"] not in ids or row["id"] in answers:
                msg = f"{path} line {number}: id {row['id']!r} is unknown or repeated"
                raise ValueError(msg)
            answers[row["id"]] = str(row["text"])
    return answers


def render(template: str, row: Row) -> str:
    """A non-answer template filled for one question."""
    topic = str(row["topic"])
    return (
        template.replace("{topic_cap}", topic[:1].upper() + topic[1:])
        .replace("{topic}", topic)
        .replace("{question}", str(row["question"]))
    )


def non_answer(rows: Sequence[Row], index: int, family: str, templates: Sequence[str]) -> str:
    """The fixed non-answer of `family` for question `index` (a template by a fixed rule)."""
    family_offset = sum(map(ord, family))
    return render(templates[(7 * index + family_offset) % len(templates)], rows[index])


@dataclass(frozen=True)
class EverydayPair:
    """In reply to `question`, `answer` should outscore `other` (a non-answer or off-topic)."""

    row_id: str
    question: str
    answer: str
    other: str
    family: str


def everyday_pairs(data: EverydaySet) -> dict[str, list[EverydayPair]]:
    """Pairs by family: one per question for each non-answer family, relevance, and misread
    (for the questions that have a misread answer)."""
    rows = data.rows
    pairs: dict[str, list[EverydayPair]] = {}
    for family, templates in data.families.items():
        pairs[family] = [
            EverydayPair(
                row["id"],
                row["question"],
                row["answer"],
                non_answer(rows, i, family, templates),
                family,
            )
            for i, row in enumerate(rows)
        ]
    n = len(rows)
    if n > 1:
        offset = RELEVANCE_OFFSET % n or 1
        pairs[RELEVANCE] = [
            EverydayPair(
                row["id"],
                row["question"],
                row["answer"],
                rows[(i + offset) % n]["answer"],
                RELEVANCE,
            )
            for i, row in enumerate(rows)
        ]
    if data.misread:
        pairs[MISREAD] = [
            EverydayPair(
                row["id"], row["question"], row["answer"], data.misread[row["id"]], MISREAD
            )
            for row in rows
            if row["id"] in data.misread
        ]
    return pairs
