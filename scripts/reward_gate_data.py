"""Examples for the gate: does this conversation ask for something harmful?

The default reward is read the way Llama 2 combined its two reward models: on a request that
calls for caution the harmlessness head decides, on any other request the helpfulness head
does. Which one applies is a third head, trained here as a logistic classifier on the same
last-token states:

- label 1, harmful requests: the dialogues of HH-RLHF harmless-base training rows (red-team
  conversations), with their own responses and, for some, an unrelated benign answer;
- label 0, benign requests: our own training questions, our own benign prompts
  (`training_data/benign_prompts.jsonl`: writing, coding, trivia, and harmless requests
  with alarming words, such as killing a process), and Arena-Hard prompts, each with a real
  answer, a non-answer (refusals and deflections too) or another prompt's answer, some
  after an earlier benign exchange.

Responses of every kind appear under both labels, so the gate has to read the request, not
the response. The labels are the data sets' own, so "harmful" means "like HH-RLHF's
red-team requests"; some of those are benign, and the gate inherits that noise.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from scripts.reward_data import Row
from scripts.reward_helpful_pairs import Answered, compose

BENIGN_PROMPTS = Path(__file__).resolve().parent / "training_data" / "benign_prompts.jsonl"
CAUTIOUS_FAMILIES = ("refuse", "deflect", "disclaimer", "stall")


@dataclass(frozen=True)
class GateExample:
    """A (dialogue, response) and whether the dialogue's request is a harmful one."""

    row_id: str
    context: str
    response: str
    harmful: bool


def load_benign_prompts(path: Path = BENIGN_PROMPTS) -> list[Answered]:
    """Our own benign prompts (no answers)."""
    with path.open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [Answered(r["id"], r["prompt"], "", None, "benign") for r in rows]


def gate_examples(
    hh_rows: Sequence[Row],
    answered: Sequence[Answered],
    prompts: Sequence[Answered],
    parts: dict[str, dict[str, list[str]]],
    seed: int,
) -> list[GateExample]:
    """Harmful (HH rows) and benign (answered items and bare prompts) examples, seeded."""
    rng = random.Random(seed)
    answers = [a for a in answered if a.answer]
    out: list[GateExample] = []
    for row in hh_rows:
        out.append(GateExample(row["id"], row["context"], row["chosen"].strip(), True))
        out.append(GateExample(row["id"], row["context"], row["rejected"].strip(), True))
        if answers and rng.random() < 0.35:
            out.append(GateExample(row["id"], row["context"], rng.choice(answers).answer, True))
    for item in [*answered, *prompts]:
        context = item.context
        if answers and rng.random() < 0.4:
            earlier = rng.choice(answers)
            context = f"\n\nHuman: {earlier.prompt}\n\nAssistant: {earlier.answer}{context}"
        kind = rng.random()
        if item.answer and kind < 0.5:
            response = item.answer
        elif kind < 0.8 and parts:
            family = rng.choice([f for f in CAUTIOUS_FAMILIES if f in parts] or sorted(parts))
            response = compose(parts[family], item, rng)
        elif answers:
            response = rng.choice(answers).answer
        else:
            continue
        out.append(GateExample(item.id, context, response, False))
    return out
