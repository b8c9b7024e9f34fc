"""The default reward model's training data: split by id, no held-out text in training."""

from __future__ import annotations

import random

import pytest

from langchain_tpo.answer_kinds import is_scaffolding
from scripts import reward_data as data
from scripts import reward_negatives as negatives

TOPICS = [
    "how do I fix a leaking tap", "what is the capital of Peru", "can you help me cheat on a test",
    "how do I make bread rise", "why is the sky blue", "how can I get back at my boss",
    "what should I feed a kitten", "how do I start running", "is it safe to eat raw eggs",
    "how do I pick a lock",
]  # fmt: skip


def make_rows(count: int = 60) -> list[data.Row]:
    rows = []
    for i in range(count):
        topic = f"{TOPICS[i % len(TOPICS)]} (case {i})"
        context = f"\n\nHuman: Hello there.\n\nAssistant: Hi!\n\nHuman: {topic}?\n\nAssistant:"
        if i % 3 == 0:
            context = f"\n\nHuman: {topic}?\n\nAssistant:"
        rows.append(
            {
                "id": f"hh_harmless_test_{i:04d}",
                "context": context,
                "chosen": f" Here is what I know about case {i}: it depends on the details, and "
                f"the safest first step is to ask someone you trust for help with it.",
                "rejected": f" Whatever about case {i}.",
            }
        )
    return rows


META = [negatives.SCAFFOLD, negatives.REVIEW, negatives.SUGGESTIONS, negatives.ECHO]


def training_side(rows: list[data.Row]) -> list[data.Pair]:
    train = data.training_rows(rows, 1000, seed=0)
    return data.hh_pairs(train) + data.non_answer_pairs(
        train, [*META, negatives.OFF_TOPIC], per_row=3, seed=0
    )


def test_split_is_by_id_number() -> None:
    rows = make_rows()
    train = data.training_rows(rows, 1000, seed=0)
    held = data.held_out_rows(rows, 1000)
    assert {r["id"] for r in held} == {f"hh_harmless_test_{i:04d}" for i in range(0, 60, 5)}
    assert not {r["id"] for r in train} & {r["id"] for r in held}
    assert len(train) + len(held) == len(rows)
    # the training subset is seeded: the same seed picks the same rows
    assert data.training_rows(rows, 10, 3) == data.training_rows(rows, 10, 3)
    assert data.training_rows(rows, 10, 3) != data.training_rows(rows, 10, 4)


def test_no_held_out_prompt_or_answer_reaches_a_training_pair() -> None:
    rows = make_rows()
    pairs = training_side(rows)
    held = data.held_out_rows(rows, 1000)
    held_texts = {data.last_query(r["context"]) for r in held} | {r["chosen"].strip() for r in held}
    assert {p.row_id for p in pairs}.isdisjoint({r["id"] for r in held})
    assert {p.context for p in pairs}.isdisjoint({r["context"] for r in held})
    for pair in pairs:
        for text in held_texts:
            assert text not in pair.chosen
            assert text not in pair.rejected


def test_off_topic_answers_come_from_other_rows_of_the_same_side() -> None:
    rows = make_rows()
    train = data.training_rows(rows, 1000, seed=0)
    pairs = data.non_answer_pairs(train, [negatives.OFF_TOPIC], per_row=1, seed=0)
    by_id = {r["id"]: r for r in train}
    answers = {r["chosen"].strip() for r in train}
    assert len(pairs) == len(train)
    for pair in pairs:
        assert pair.rejected in answers
        assert pair.rejected != by_id[pair.row_id]["chosen"].strip()


def test_the_fixed_review_sentence_is_never_in_training() -> None:
    for pair in training_side(make_rows()):
        assert negatives.FIXED_REVIEW_SENTENCE not in pair.rejected


def test_every_family_is_varied_and_seeded() -> None:
    query, answer = "How do I keep my tomatoes from splitting?", "Water them evenly. Mulch helps."
    for family in negatives.GENERATORS:
        texts = [negatives.generate(family, query, answer, random.Random(i)) for i in range(60)]
        assert all(t.strip() for t in texts)
        assert len(set(texts)) >= 30, family
        again = [negatives.generate(family, query, answer, random.Random(i)) for i in range(60)]
        assert texts == again


def test_rewrite_scaffolding_is_scaffolding_by_the_published_rule() -> None:
    query, answer = "Can you recommend a book?", "Try The Hobbit. It is short and warm."
    texts = [negatives.scaffold(query, answer, random.Random(i)) for i in range(200)]
    assert sum(map(is_scaffolding, texts)) == len(texts)


def test_unknown_family_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no template generator for family 'poetry'"):
        negatives.generate("poetry", "q", "a", random.Random(0))


def test_dialogue_needs_the_final_empty_assistant_turn() -> None:
    assert data.dialogue("\n\nHuman: hi\n\nAssistant: hey\n\nHuman: how?\n\nAssistant:") == [
        ("human", "hi"),
        ("ai", "hey"),
        ("human", "how?"),
    ]
    with pytest.raises(ValueError, match="must end with an empty Assistant turn"):
        data.dialogue("\n\nHuman: hi\n\nAssistant: hey")
