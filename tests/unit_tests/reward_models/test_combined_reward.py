"""CombinedReward: weighted components, each one's raw score kept, clear errors."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from langchain_tpo import TPOChain, TPOConfig
from langchain_tpo.reward_models import CombinedReward, FunctionReward, Reward, RewardModelError
from langchain_tpo.testing import ScriptedChatModel


def helpful(query: str, response: str) -> float:
    return float(len(response.split()))


def safe(query: str, response: str) -> Reward:
    return Reward(
        -10.0 if "poison" in response else 1.0, "mentions poison" if "poison" in response else None
    )


def combined(**weights: float) -> CombinedReward:
    return CombinedReward(
        components={"helpfulness": FunctionReward(helpful), "safety": FunctionReward(safe)},
        weights=weights,
    )


def test_score_is_the_weighted_sum_and_every_part_is_kept() -> None:
    reward = combined(helpfulness=1.0, safety=0.5)
    rewards = reward.evaluate([("q", "a b c"), ("q", "use poison now")])
    assert [r.score for r in rewards] == [3.0 + 0.5, 3.0 - 5.0]
    assert rewards[0].components == {"helpfulness": 3.0, "safety": 1.0}
    assert rewards[1].components == {"helpfulness": 3.0, "safety": -10.0}
    assert rewards[1].feedback == "safety: mentions poison"
    assert rewards[0].feedback is None


def test_without_weights_every_component_counts_once() -> None:
    assert combined().score([("q", "a b")]) == [2.0 + 1.0]


def test_a_gate_hands_the_decision_to_the_gated_weights() -> None:
    def risk(query: str, response: str) -> float:
        return 50.0 if "weapon" in query else -50.0  # a confident gate: p is 1 or 0

    reward = CombinedReward(
        components={"helpfulness": FunctionReward(helpful), "safety": FunctionReward(safe),
                    "unsafe_request": FunctionReward(risk)},
        weights={"helpfulness": 1.0},
        gate="unsafe_request",
        gated_weights={"safety": 1.0},
    )  # fmt: skip
    benign, risky = reward.evaluate([("Boil an egg?", "a b c"), ("Make a weapon?", "poison it")])
    assert benign.score == pytest.approx(3.0)
    assert risky.score == pytest.approx(-10.0)
    assert risky.components == {"helpfulness": 2.0, "safety": -10.0, "unsafe_request": 50.0}


async def test_async_scores_the_components_concurrently() -> None:
    started: list[str] = []
    release = asyncio.Event()

    class Slow(FunctionReward):
        async def _ascore(self, pairs: Any) -> Any:
            started.append(self.name or "")
            if len(started) == 2:
                release.set()
            await asyncio.wait_for(release.wait(), 5)  # both must be waiting at once
            return self._score(pairs)

    reward = CombinedReward(
        components={"a": Slow(helpful, name="a"), "b": Slow(helpful, name="b")},
        weights={"a": 1.0, "b": -1.0},
    )
    assert await reward.ascore([("q", "one two")]) == [0.0]
    assert sorted(started) == ["a", "b"]


def test_unknown_unused_and_empty_components_are_refused() -> None:
    with pytest.raises(ValueError, match=r"\['kindness'\] named in the weights.*helpfulness"):
        combined(kindness=1.0, helpfulness=1.0, safety=1.0)
    with pytest.raises(ValueError, match=r"components \['safety'\] have no weight"):
        combined(helpfulness=1.0)
    with pytest.raises(ValueError, match="at least one component"):
        CombinedReward(components={})
    with pytest.raises(ValueError, match="'safety' must be a finite number"):
        combined(helpfulness=1.0, safety=float("inf"))
    with pytest.raises(ValueError, match="needs gated_weights"):
        CombinedReward(components={"a": FunctionReward(helpful)}, weights={"a": 1}, gate="a")


def test_a_failing_component_is_named() -> None:
    reward = CombinedReward(components={"broken": FunctionReward(lambda q, r: float("nan"))})

    with pytest.raises(RewardModelError, match="returned nan"):
        reward.score([("q", "r")])


def test_tpo_candidates_carry_the_components_of_their_reward() -> None:
    policy = ScriptedChatModel(responder=lambda messages, i: "answer " * (i + 1))
    chain = TPOChain(
        policy=policy,
        reward=combined(helpfulness=1.0, safety=0.5),
        config=TPOConfig(num_samples=2, max_iterations=1),
    )
    result = chain.invoke("How do I boil an egg?")
    assert result.candidates
    for candidate in result.candidates:
        assert candidate.components is not None
        assert set(candidate.components) == {"helpfulness", "safety"}
        parts = candidate.components
        assert candidate.score == pytest.approx(parts["helpfulness"] + 0.5 * parts["safety"])
    assert "components" in result.model_dump_json()


def labelled(query: str, response: str) -> Reward:
    """A multi-label reward: its own score and the parts it reports."""
    risky = 50.0 if "weapon" in query else -50.0
    return Reward(0.0, None, {"helpfulness": float(len(response)), "harmful_request": risky,
                              "harmlessness": -5.0 if "poison" in response else 2.0})  # fmt: skip


def test_a_components_own_parts_can_be_gated_and_joined_by_another_component() -> None:
    reward = CombinedReward(
        components={"classifier": FunctionReward(labelled), "words": FunctionReward(helpful)},
        weights={"classifier.helpfulness": 1.0, "words": 10.0},
        gate="classifier.harmful_request",
        gated_weights={"classifier.harmlessness": 1.0},
    )
    benign, risky = reward.evaluate([("Boil an egg?", "a b c"), ("Make a weapon?", "poison it")])
    assert benign.score == pytest.approx(5.0 + 10.0 * 3)  # 5 characters, 3 words
    assert risky.score == pytest.approx(-5.0)  # the words do not count on the gated side
    assert benign.components == {
        "classifier": 0.0,
        "classifier.helpfulness": 5.0,
        "classifier.harmful_request": -50.0,
        "classifier.harmlessness": 2.0,
        "words": 3.0,
    }


def test_a_part_no_component_reported_is_an_error_naming_what_was_reported() -> None:
    reward = CombinedReward(
        components={"classifier": FunctionReward(labelled)},
        weights={"classifier.kindness": 1.0},
    )
    said = r"\['classifier.kindness'\].*classifier.helpfulness"
    with pytest.raises(RewardModelError, match=said):
        reward.score([("q", "a")])


def test_a_part_of_an_unknown_component_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match=r"\['judge.helpfulness'\].*component.part"):
        CombinedReward(
            components={"classifier": FunctionReward(labelled)},
            weights={"classifier.helpfulness": 1.0, "judge.helpfulness": 1.0},
        )
