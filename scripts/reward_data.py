"""HH-RLHF rows, their fixed split, and the preference pairs built on them.

Everything here is plain Python (no model, no numpy), so the data can be built and checked in
unit tests. The split is fixed by row id: HH-RLHF rows whose id number is divisible by 5 are
held out. Training pairs only ever use training rows (their dialogue and answers); evaluation
pairs only ever use held-out rows. `Pair` is the one preference type every source builds.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts import reward_negatives as negatives

Row = dict[str, Any]

DATA = Path("/work/shared/benchmarks/hh_rlhf.jsonl")


# ------------------------------------------------------------------------------------- rows
def load_rows(path: Path = DATA) -> list[Row]:
    """Read the HH-RLHF JSONL file."""
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def row_number(row: Row) -> int:
    """The number at the end of a row id (`hh_harmless_test_0042` -> 42)."""
    return int(str(row["id"]).rsplit("_", 1)[1])


def is_held_out(row: Row) -> bool:
    """The fixed split: ids divisible by 5 are held out."""
    return row_number(row) % 5 == 0


def training_rows(rows: Sequence[Row], count: int, seed: int) -> list[Row]:
    """A seeded random subset of the rows that may be trained on."""
    train = [r for r in rows if not is_held_out(r)]
    order = random.Random(seed).sample(range(len(train)), len(train))
    return [train[i] for i in order[:count]]


def held_out_rows(rows: Sequence[Row], count: int) -> list[Row]:
    """The first `count` held-out rows, in file order."""
    return [r for r in rows if is_held_out(r)][:count]


def dialogue(context: str) -> list[tuple[str, str]]:
    """Anthropic's raw `\\n\\nHuman: ...\\n\\nAssistant:` dialogue as (role, text) turns.

    The final, empty Assistant turn (the one being answered) is dropped.
    """
    parts = re.split(r"\n\n(Human|Assistant):", context)
    turns = [
        ("human" if role == "Human" else "ai", text.strip())
        for role, text in zip(parts[1::2], parts[2::2], strict=True)
    ]
    if not turns or turns[-1] != ("ai", ""):
        msg = "an HH-RLHF context must end with an empty Assistant turn"
        raise ValueError(msg)
    return turns[:-1]


def messages_of(context: str) -> list[Any]:
    """An HH-RLHF context as LangChain messages, ending with the human turn being answered."""
    from langchain_core.messages import AIMessage, HumanMessage

    return [HumanMessage(t) if role == "human" else AIMessage(t) for role, t in dialogue(context)]


def last_query(context: str) -> str:
    """The human turn an HH-RLHF context's answers reply to."""
    return next(text for role, text in reversed(dialogue(context)) if role == "human")


# ------------------------------------------------------------------------------------ pairs
@dataclass(frozen=True)
class Pair:
    """One preference: in the dialogue of `row_id`, `chosen` should outscore `rejected`.

    `kind` says where the rejected text comes from: `"hh"` (HH-RLHF's own rejected answer)
    or a non-answer family. `context` is the row's raw HH-RLHF dialogue.
    """

    row_id: str
    context: str
    chosen: str
    rejected: str
    kind: str


def hh_pairs(rows: Iterable[Row]) -> list[Pair]:
    """HH-RLHF's own pairs: chosen over rejected."""
    return [
        Pair(r["id"], r["context"], r["chosen"].strip(), r["rejected"].strip(), "hh") for r in rows
    ]


def _positive(row: Row) -> str:
    return str(row["chosen"]).strip()


def non_answer_pairs(
    rows: Sequence[Row], families: Sequence[str], per_row: int, seed: int
) -> list[Pair]:
    """(row's chosen answer) over (a non-answer in the same dialogue), `per_row` per row.

    Each row draws `per_row` distinct families from `families` (seeded); off-topic answers are
    taken from the other rows of `rows` only, so training and held-out texts never mix.
    """
    rng = random.Random(seed)
    templated = list(families)
    donors = [r for r in rows if negatives.usable_off_topic(_positive(r))]
    pairs: list[Pair] = []
    for row in rows:
        query = last_query(row["context"])
        chosen = _positive(row)
        for family in rng.sample(templated, min(per_row, len(templated))):
            if family == negatives.OFF_TOPIC:
                others = [d for d in donors if d["id"] != row["id"]]
                text = _positive(rng.choice(others))
            else:
                text = negatives.generate(family, query, chosen, rng)
            pairs.append(Pair(row["id"], row["context"], chosen, text, family))
    return pairs


def family_pairs(rows: Sequence[Row], family: str, seed: int) -> list[Pair]:
    """One (chosen answer, non-answer of `family`) pair per row: the evaluation sets."""
    return non_answer_pairs(rows, [family], per_row=1, seed=seed)


def fixed_text_pairs(rows: Sequence[Row], text: str, kind: str) -> list[Pair]:
    """The chosen answer over one fixed text, for every row."""
    return [Pair(r["id"], r["context"], _positive(r), text, kind) for r in rows]
