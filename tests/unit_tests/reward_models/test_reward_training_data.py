"""The default reward model's training data: split by id, no held-out text in training."""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

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


def training_side(rows: list[data.Row]) -> list[data.Pair]:
    train = data.training_rows(rows, 1000, seed=0)
    return data.hh_pairs(train) + data.non_answer_pairs(
        train, negatives.TRAINING_FAMILIES, per_row=3, seed=0
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


def test_held_out_family_and_fixed_sentence_never_in_training() -> None:
    pairs = training_side(make_rows())
    assert negatives.HELD_OUT_FAMILY not in negatives.TRAINING_FAMILIES
    assert negatives.HELD_OUT_FAMILY not in {p.kind for p in pairs}
    plan_phrases = [step for pair in negatives._PLAN_STEPS for step in pair if "{" not in step]
    plan_openers = [s.split("{")[0].strip() for s in negatives._PLAN_SHAPES]
    for pair in pairs:
        assert negatives.FIXED_REVIEW_SENTENCE not in pair.rejected
        for phrase in plan_phrases + [o for o in plan_openers if len(o) > 12]:
            assert phrase not in pair.rejected, (phrase, pair.rejected)


def test_every_family_is_varied_and_seeded() -> None:
    query, answer = "How do I keep my tomatoes from splitting?", "Water them evenly. Mulch helps."
    for family in (*negatives.GENERATORS,):
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


def write_policy_outputs(path: Path, ids: list[str]) -> None:
    records = [
        {
            "id": row_id,
            "answers": ["Keep it dry and warm, and check on it daily.", "ok"],
            "critique": "Answer A is better than answer B because it is clear.",
            "suggestion": "Keep the same tone and add one detail.",
            "rewrites": [f"Here's a rewritten version of the answer for {row_id}.", "Fine."],
        }
        for row_id in ids
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def test_policy_outputs_are_sorted_by_the_published_rule(tmp_path: Path) -> None:
    path = tmp_path / "outputs.jsonl"
    write_policy_outputs(path, ["hh_harmless_test_0001"])
    outputs = data.read_policy_outputs(path)["hh_harmless_test_0001"]
    assert outputs.answers == ("Keep it dry and warm, and check on it daily.",)  # "ok" is too short
    assert outputs.scaffolded_rewrites == (
        "Here's a rewritten version of the answer for hh_harmless_test_0001.",
    )
    assert outputs.scaffolded_notes == ("Answer A is better than answer B because it is clear.",)
    # the policy check compares the policy's own answer with its own scaffolded rewrites only
    row = make_rows(2)[1]
    check = data.policy_check_pairs([row], {row["id"]: outputs})
    assert [(p.chosen, p.rejected) for p in check] == [
        (outputs.answers[0], outputs.scaffolded_rewrites[0])
    ]


def data_and_policy_files(tmp_path: Path) -> tuple[list[dict], Path, Path]:
    """The test rows as a data file, and policy outputs for every one of them."""
    rows = make_rows()
    data_file = tmp_path / "hh.jsonl"
    data_file.write_text("".join(json.dumps(r) + "\n" for r in rows))
    outputs = tmp_path / "outputs.jsonl"
    write_policy_outputs(outputs, [r["id"] for r in rows])
    return rows, data_file, outputs


def test_training_pairs_ignore_policy_outputs_of_held_out_rows(tmp_path: Path) -> None:
    from scripts.train_default_reward import training_pairs

    rows, data_file, outputs = data_and_policy_files(tmp_path)
    args = argparse.Namespace(
        data=data_file,
        train_rows=20,
        hh_rows=20,
        extra_family=[],
        seed=0,
        policy_outputs=outputs,
        eval_rows=12,
    )
    pairs, summary = training_pairs(args)
    train_ids = {r["id"] for r in data.training_rows(rows, 20, 0)}
    assert {p.row_id for p in pairs} == train_ids
    policy_pairs = [p for p in pairs if p.kind == negatives.POLICY]
    assert policy_pairs
    assert {p.row_id for p in policy_pairs} <= train_ids
    assert summary["policy_rows"] == 20
    assert set(summary["pairs_by_kind"]) == {"hh", *negatives.TRAINING_FAMILIES}


def test_evaluation_uses_held_out_rows_only(tmp_path: Path) -> None:
    from scripts.train_default_reward import evaluation_checks

    _, data_file, outputs = data_and_policy_files(tmp_path)
    args = argparse.Namespace(
        data=data_file,
        train_rows=20,
        seed=0,
        policy_outputs=outputs,
        eval_rows=463,
        held_out_family=negatives.HELD_OUT_FAMILY,
        extra_family=[],
    )
    checks = evaluation_checks(args)
    names = [c.name for c in checks]
    assert names[0].startswith("HH-RLHF held-out pairs")
    assert any(n.startswith("held-out family (plan)") for n in names)
    assert any(n.startswith("policy check") for n in names)
    assert any(n.startswith("fixed review sentence") for n in names)
    for check in checks:
        assert all(int(p.row_id.rsplit("_", 1)[1]) % 5 == 0 for p in check.pairs), check.name


def test_a_rotated_held_out_family_is_trained_on_never_and_the_old_one_is(
    tmp_path: Path,
) -> None:
    from scripts.train_default_reward import evaluation_checks, training_pairs

    _, data_file, outputs = data_and_policy_files(tmp_path)
    args = argparse.Namespace(
        data=data_file,
        train_rows=20,
        hh_rows=30,
        seed=0,
        policy_outputs=outputs,
        eval_rows=463,
        held_out_family=negatives.STALL,
        extra_family=[negatives.PLAN],
    )
    pairs, summary = training_pairs(args)
    kinds = summary["pairs_by_kind"]
    assert kinds["hh"] == 30  # the HH rows are a superset of the non-answer rows
    assert kinds[negatives.PLAN] == 20 and negatives.STALL not in kinds
    base = argparse.Namespace(**{**vars(args), "hh_rows": 20, "extra_family": []})
    assert training_pairs(base)[0] == [p for p in pairs if p.kind == "hh"][:20] + [
        p for p in pairs if p.kind not in ("hh", negatives.PLAN)
    ]  # adding a family leaves every earlier pair as it was
    names = [c.name for c in evaluation_checks(args)]
    assert "held-out family (stall): answer > non-answer" in names
    assert "training family plan on held-out rows" in names
    # Every other family no run trains on is reported as well, on all held-out rows.
    assert "never-trained family (platitude): answer > non-answer" in names
    assert not any(n.startswith("never-trained family (plan)") for n in names)
