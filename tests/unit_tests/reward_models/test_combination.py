"""Combination: the rule that turns reward parts into one reward."""

import math

import pytest

from langchain_tpo.reward_models import Combination


def test_a_weighted_sum() -> None:
    rule = Combination(weights={"a": 2.0, "b": -0.5})
    assert rule({"a": 1.0, "b": 4.0, "unused": 99.0}) == 0.0
    assert rule.parts == ["a", "b"]
    assert Combination.of({"a": 2.0, "b": -0.5}) == rule


def test_a_gate_blends_the_two_sums_by_its_sigmoid() -> None:
    rule = Combination(weights={"help": 1.0}, gate="risk", gate_bias=-1.0,
                       gated_weights={"safe": 1.0})  # fmt: skip
    parts = {"help": 4.0, "safe": -2.0, "risk": 1.0}  # sigmoid(0) = 0.5
    assert rule(parts) == pytest.approx(0.5 * 4.0 + 0.5 * -2.0)
    assert rule({**parts, "risk": 800.0}) == pytest.approx(-2.0)  # no overflow either way
    assert rule({**parts, "risk": -800.0}) == pytest.approx(4.0)
    assert rule.parts == ["help", "risk", "safe"]
    p = 1 / (1 + math.exp(-2.0))
    assert rule({**parts, "risk": 3.0}) == pytest.approx((1 - p) * 4.0 + p * -2.0)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({}, "at least one weighted part"),
        ({"weights": {"a": 1.0}, "gated_weights": {"b": 1.0}}, "only with a gate"),
        ({"weights": {"a": 1.0}, "gate": "g"}, "needs gated_weights"),
        ({"weights": {"a": float("nan")}}, "'a' must be a finite number"),
        ({"weights": {"a": 1.0}, "surprise": 1}, "Extra inputs are not permitted"),
    ],
)
def test_a_rule_that_cannot_work_is_refused(kwargs: dict, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        Combination(**kwargs)
