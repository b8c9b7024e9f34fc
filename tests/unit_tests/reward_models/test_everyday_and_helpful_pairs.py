"""The everyday evaluation set and the helpfulness training pairs: built as documented, and
never sharing a question or a phrasing."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from scripts.reward_everyday import (
    MISREAD,
    RELEVANCE,
    EverydaySet,
    everyday_pairs,
    load_everyday,
    render,
)
from scripts.reward_helpful_pairs import (
    NEVER_BUILT,
    Answered,
    compose,
    helpful_pairs,
    load_parts,
    load_questions,
)


def small_set(tmp_path: Path, rows: list[dict], families: dict) -> Path:
    (tmp_path / "questions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "non_answers.json").write_text(
        json.dumps({"never_trained": ["plan"], "families": families})
    )
    return tmp_path


def row(i: int, category: str) -> dict:
    return {
        "id": f"q{i}",
        "category": category,
        "question": f"Question {i}?",
        "topic": f"topic {i}",
        "answer": f"Answer {i}.",
    }


def test_every_question_gets_one_text_of_every_family_and_another_answer(tmp_path: Path) -> None:
    rows = [row(i, "a" if i < 3 else "b") for i in range(6)]
    families = {"stall": ["Sure, about {topic}!", "{topic_cap}? Great."], "plan": ["I'd list."]}
    data = load_everyday(small_set(tmp_path, rows, families))
    assert data.never_trained == ("plan",)
    pairs = everyday_pairs(data)
    assert set(pairs) == {"stall", "plan", RELEVANCE}
    for found in pairs.values():
        assert [p.row_id for p in found] == [r["id"] for r in rows]
        assert all(p.answer == f"Answer {p.row_id[1:]}." for p in found)
    assert {p.other for p in pairs["stall"]} <= {
        render(t, r) for t in families["stall"] for r in rows
    }
    assert all(p.other != p.answer and p.other.startswith("Answer") for p in pairs[RELEVANCE])
    assert everyday_pairs(data) == pairs  # a fixed rule, not a random draw


@pytest.mark.parametrize(
    ("rows", "families", "words"),
    [
        ([{"id": "q0", "question": "Q?", "topic": "t"}], {"stall": ["x"]}, "missing ['answer']"),
        ([row(0, "a"), row(0, "a")], {"stall": ["x"]}, "ids repeat"),
        ([row(0, "a")], {"stall": []}, "families without templates: ['stall']"),
    ],
)
def test_a_broken_set_is_refused_with_the_reason(
    tmp_path: Path, rows: list, families: dict, words: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        load_everyday(small_set(tmp_path, rows, families))


def test_misread_answers_pair_with_their_own_question_only(tmp_path: Path) -> None:
    rows = [row(i, "a") for i in range(3)]
    directory = small_set(tmp_path, rows, {"stall": ["x"]})
    assert MISREAD not in everyday_pairs(load_everyday(directory))  # no file, no family
    (directory / "misread_answers.jsonl").write_text(
        json.dumps({"id": "q2", "text": "About brushing."}) + "\n"
        + json.dumps({"id": "q0", "text": "About booking."}) + "\n"
    )  # fmt: skip
    pairs = everyday_pairs(load_everyday(directory))[MISREAD]
    assert [(p.row_id, p.question, p.answer, p.other) for p in pairs] == [
        ("q0", "Question 0?", "Answer 0.", "About booking."),
        ("q2", "Question 2?", "Answer 2.", "About brushing."),
    ]


@pytest.mark.parametrize(
    ("lines", "words"),
    [
        ([{"id": "q9", "text": "x"}], "id 'q9' is unknown or repeated"),
        ([{"id": "q0", "text": "x"}, {"id": "q0", "text": "y"}], "id 'q0' is unknown or repeated"),
        ([{"id": "q0"}], "line 1: needs `id` and `text`"),
    ],
)
def test_a_broken_misread_file_is_refused_with_the_reason(
    tmp_path: Path, lines: list, words: str
) -> None:
    directory = small_set(tmp_path, [row(0, "a")], {"stall": ["x"]})
    (directory / "misread_answers.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    with pytest.raises(ValueError, match=re.escape(words)):
        load_everyday(directory)


def test_the_misread_check_is_reported_without_a_bar_and_never_trained(tmp_path: Path) -> None:
    from scripts.reward_checks import everyday_checks

    directory = small_set(tmp_path, [row(0, "a"), row(1, "b")], {"stall": ["x"]})
    (directory / "misread_answers.jsonl").write_text(json.dumps({"id": "q1", "text": "y"}) + "\n")
    checks = {c.name: c for c in everyday_checks(load_everyday(directory))}
    misread = checks["everyday: answer > a neighbouring question's answer (misread)"]
    assert (misread.bar, misread.note, len(misread.pairs)) == (None, "never trained", 1)
    assert checks["everyday: answer > stall"].bar == 0.90


# ------------------------------------------------------------------ the committed data itself
def test_the_everyday_set_is_large_varied_and_its_relevance_pairs_cross_categories() -> None:
    data: EverydaySet = load_everyday()
    categories = [r["category"] for r in data.rows]
    assert len(data.rows) >= 100
    assert set(categories) == {"cooking", "home", "tech", "health", "work", "travel"}
    assert set(data.never_trained) == {"clarify", "plan"} == set(NEVER_BUILT)
    by_id = {r["id"]: r for r in data.rows}
    answers = {r["answer"]: r for r in data.rows}
    for pair in everyday_pairs(data)[RELEVANCE]:
        assert answers[pair.other]["category"] != by_id[pair.row_id]["category"]
    # Every question has its misread answer, about its own topic but not its answer.
    assert set(data.misread) == set(by_id)
    assert all(data.misread[i] != by_id[i]["answer"] for i in by_id)


def sentences(text: str) -> set[str]:
    """Sentences of a template, placeholders removed, for overlap checks."""
    plain = re.sub(r"\{[a-z_]+\}", "", text.lower())
    return {s.strip(" .!?,") for s in re.split(r"[.!?]", plain) if len(s.strip()) > 12}


def test_training_never_uses_an_evaluation_question_phrasing_or_held_out_family() -> None:
    data = load_everyday()
    parts = load_parts()
    assert not set(parts) & set(data.never_trained)
    evaluation = {
        s for templates in data.families.values() for t in templates for s in sentences(t)
    }
    training = {
        s for spec in parts.values() for piece in spec.values() for t in piece for s in sentences(t)
    }
    assert not evaluation & training
    questions = {r["question"].lower() for r in data.rows}
    training_items = load_questions()
    assert not questions & {item.prompt.lower() for item in training_items}
    misread = {s for text in data.misread.values() for s in sentences(text)}
    assert not misread & {s for item in training_items for s in sentences(item.answer)}


def test_helpful_pairs_cover_every_family_and_relevance_with_other_items_answers() -> None:
    items = [
        Answered(f"i{k}", f"Prompt {k}?", f"The answer to {k}.", f"topic {k}", "own")
        for k in range(5)
    ]
    parts = {
        "stall": {"open": ["Hi!"], "middle": ["About {topic}."], "close": [""]},
        "restate": {"open": ["You asked:"], "middle": ["{question}"], "close": ["Ok."]},
    }
    pairs = helpful_pairs(items, parts, seed=0, per_family=1, relevance=2, meta=1)
    kinds = {p.kind for p in pairs}
    assert {"stall", "restate", RELEVANCE} <= kinds
    assert not kinds & set(NEVER_BUILT)
    own_answer = {item.id: item.answer for item in items}
    for pair in pairs:
        assert pair.chosen == own_answer[pair.row_id]
        assert pair.rejected != pair.chosen
        if pair.kind == RELEVANCE:
            assert pair.rejected in own_answer.values()
    assert helpful_pairs(items, parts, seed=0) == helpful_pairs(items, parts, seed=0)
    text = compose(parts["restate"], items[0], random.Random(1))
    assert text == "You asked: Prompt 0? Ok."
    no_topic = Answered("x", "Sort a list?", "Use sorted().", None, "arena-hard")
    assert compose(parts["stall"], no_topic, random.Random(0)) == "Hi! About this."


def test_a_parts_file_with_a_held_out_family_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "parts.json"
    path.write_text(json.dumps({"plan": {"open": ["a"], "middle": ["b"], "close": ["c"]}}))
    with pytest.raises(ValueError, match="held out of training entirely"):
        load_parts(path)
    path.write_text(json.dumps({"stall": {"open": ["a"], "middle": [], "close": ["c"]}}))
    with pytest.raises(ValueError, match="non-empty open, middle and close"):
        load_parts(path)
