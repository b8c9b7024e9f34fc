"""The default reward's trainer on small data made here: its checks, heads, gate examples and
the data it assembles (nothing held out reaches training)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from scripts import reward_checks as checks
from scripts import reward_data as data
from scripts.reward_gate_data import gate_examples
from scripts.reward_heads import PairFeatures, fit_gate, fit_pairwise
from scripts.reward_helpful_pairs import Answered, load_parts
from scripts.reward_sources import Judgment

from .test_reward_training_data import make_rows


def judgment(instruction: str, one: str, two: str, preference: float) -> Judgment:
    return Judgment(instruction, one, "a", two, "b", preference, "alpaca_eval_gpt4", "f")


def test_alpaca_checks_orient_pairs_by_the_judge_and_split_them_by_length() -> None:
    found = checks.alpaca_eval_checks(
        [
            judgment("q1", "short", "a much longer answer", 2.0),  # longer won
            judgment("q2", "eleven char", "twelve chars", 1.0),  # shorter won, lengths close
            judgment("q3", "x", "y", 1.5),  # a tie: left out
        ]
    )
    by_name = {c.name: c for c in found}
    everything = by_name["AlpacaEval: the judge's choice scores higher"]
    assert [(p.chosen, p.rejected) for p in everything.pairs] == [
        ("a much longer answer", "short"),
        ("eleven char", "twelve chars"),
    ]
    assert everything.bar == 0.60 and everything.note == "never trained"
    matched = by_name["AlpacaEval, lengths within 1.25x: the judge's choice"]
    assert [p.chosen for p in matched.pairs] == ["eleven char"]
    assert len(by_name["AlpacaEval, the judge chose the longer output"].pairs) == 1
    assert len(by_name["AlpacaEval, the judge chose the shorter output"].pairs) == 1


def test_run_checks_counts_strict_wins_and_the_table_says_what_missed_its_bar() -> None:
    pairs = [data.Pair("r", "\n\nHuman: q\n\nAssistant:", f"good {i}", f"bad {i}", "k")
             for i in range(4)]  # fmt: skip
    found = [
        checks.Check("AlpacaEval, the judge chose the longer output", pairs, 0.9),
        checks.Check("AlpacaEval, the judge chose the shorter output", pairs[:2]),
    ]

    def scorer(items: list[tuple[str, str]]) -> np.ndarray:
        # "good 3" ties with "bad 3": a tie is not a win.
        return np.array([3.0 if t.startswith("good") and t != "good 3" else 3.0 if t == "bad 3"
                         else 0.0 for _, t in items])  # fmt: skip

    results = checks.run_checks(found, scorer)
    assert [(r.wins, r.pairs) for r in results] == [(3, 4), (2, 2)]
    assert results[0].passed is False and results[1].passed is None
    text = checks.table("t", results)
    assert "MISSED" in text
    assert checks.length_balanced(results) == pytest.approx((0.75 + 1.0) / 2)
    assert checks.results_json(results)[-1] == {
        "check": "AlpacaEval, length-balanced agreement",
        "share": 0.875,
    }


def test_pairwise_head_ranks_what_it_was_taught_and_has_unit_spread() -> None:
    rng = np.random.default_rng(0)
    direction = rng.normal(size=8)
    chosen = rng.normal(size=(300, 8)) + 0.5 * direction
    rejected = rng.normal(size=(300, 8)) - 0.5 * direction
    head = fit_pairwise(PairFeatures(chosen, rejected, np.ones(300)), l2=0.01)
    assert np.mean(chosen @ head > rejected @ head) > 0.9
    assert np.concatenate([chosen, rejected]) @ head == pytest.approx(
        np.concatenate([chosen, rejected]) @ head
    )
    assert float((np.concatenate([chosen, rejected]) @ head).std()) == pytest.approx(1.0)


def test_gate_learns_its_intercept_outside_the_head() -> None:
    rng = np.random.default_rng(1)
    harmful = rng.normal(size=(200, 6)) + np.array([3.0, 0, 0, 0, 0, 0]) + 10.0
    benign = rng.normal(size=(600, 6)) + 10.0  # every feature far from zero: the bias matters
    x = np.concatenate([harmful, benign])
    y = np.array([True] * 200 + [False] * 600)
    head, bias = fit_gate(x, y, l2=0.01)
    assert np.mean((x @ head + bias > 0) == y) > 0.9
    assert abs(bias) > 1.0


def test_gate_examples_show_every_kind_of_response_under_both_labels() -> None:
    rows = data.training_rows(make_rows(), 20, 0)
    answered = [Answered(f"a{i}", f"How do I do thing {i}?", f"Do step {i} then step {i + 1}.",
                         f"thing {i}", "own") for i in range(20)]  # fmt: skip
    prompts = [Answered(f"b{i}", f"Write a poem about {i}.", "", None, "benign") for i in range(10)]
    examples = gate_examples(rows, answered, prompts, load_parts(), seed=0)
    harmful = [e for e in examples if e.harmful]
    benign = [e for e in examples if not e.harmful]
    assert {e.row_id for e in harmful} == {r["id"] for r in rows}
    assert {e.row_id for e in benign} == {a.id for a in (*answered, *prompts)}
    answers = {a.answer for a in answered}
    assert any(e.response in answers for e in harmful)  # benign answers under a harmful request
    assert any(e.response not in answers for e in benign)  # refusals under a benign one
    assert any(e.context.count("Human:") == 2 for e in benign)  # some after an earlier turn
    assert examples == gate_examples(rows, answered, prompts, load_parts(), seed=0)


def test_training_data_uses_training_rows_only_and_records_its_sources(tmp_path: Path) -> None:
    from scripts.train_default_reward import TrainingData, evaluation_checks

    rows = make_rows()
    hh = tmp_path / "hh.jsonl"
    hh.write_text("".join(json.dumps(r) + "\n" for r in rows))
    arena = tmp_path / "arena"
    for version, model in (("v0.1", "gpt-4-0314"), ("v2.0", "o3-mini-2025-01-31")):
        folder = arena / f"data/arena-hard-{version}"
        (folder / "model_answer").mkdir(parents=True)
        questions = [{"uid": f"{version}-{i}", "prompt": f"Explain idea {i} ({version})."}
                     for i in range(4)]  # fmt: skip
        answers = [{"uid": q["uid"], "messages": [{"role": "user", "content": q["prompt"]},
                    {"role": "assistant", "content": {"answer": f"Idea {i} means this."}}]}
                   for i, q in enumerate(questions)]  # fmt: skip
        (folder / "question.jsonl").write_text("\n".join(map(json.dumps, questions)))
        (folder / "model_answer" / f"{model}.jsonl").write_text("\n".join(map(json.dumps, answers)))
    args = argparse.Namespace(
        arena_hard=arena, alpaca_eval=None, data=hh, hh_rows=20, arena_v01=-1, arena_v20=3,
        everyday=checks.REPO / "benchmarks/data/everyday", seed=0, eval_rows=463,
        alpaca_pairs=10,
    )  # fmt: skip
    training = TrainingData(args)
    held = {r["id"] for r in data.held_out_rows(rows, 1000)}
    everyday = {r["question"] for r in checks.load_everyday_rows()}
    for pair in [*training.hh, *training.meta]:
        assert pair.row_id not in held
    assert not {g.row_id for g in training.gate} & held
    for pair in training.helpful:
        assert data.last_query(pair.context) not in everyday
        assert pair.kind not in ("clarify", "plan")
    assert training.summary["helpfulness_prompts"] == {
        "own": 182, "arena-hard v0.1": 4, "arena-hard v2.0": 3,
    }  # fmt: skip
    licences = " ".join(s["license"] for s in training.sources)
    assert "Apache-2.0" in licences and "MIT" in licences and "NC" not in licences
    assert all("sha256" in s or "files" in s for s in training.sources)
    found = evaluation_checks(args)
    hh_checks = [c for c in found if c.name.startswith(("HH", "policy"))]
    assert hh_checks and all(p.row_id in held or p.kind == "benchmark" for c in hh_checks
                             for p in c.pairs)  # fmt: skip
    assert any("(never trained" not in c.name and c.note == "never trained" for c in found)
