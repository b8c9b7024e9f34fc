import math
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from langchain_tpo.reward_models import FunctionReward, Reward, RewardModelError


def test_scores_pairs_in_order() -> None:
    reward = FunctionReward(lambda q, r: float(len(r)))
    assert reward.score([("hi", "hello"), ("hi", "hey")]) == [5.0, 3.0]
    assert reward.invoke([("hi", "hello")]) == [5.0]
    assert reward.score([]) == []


async def test_async_scores() -> None:
    reward = FunctionReward(lambda q, r: float(len(q)))
    assert await reward.ascore([("four", "x")]) == [4.0]
    assert await reward.ainvoke([("no", "x")]) == [2.0]


def test_conversation_queries_give_the_last_request() -> None:
    seen: list[Any] = []
    reward = FunctionReward(lambda q, r: seen.append(q) or 0.0)
    conversation = [HumanMessage("first"), AIMessage("ok"), HumanMessage("second")]
    reward.score([(conversation, "answer")])
    assert seen == ["second"]


def test_feedback_is_kept() -> None:
    reward = FunctionReward(lambda q, r: Reward(1.5, "too short"))
    assert reward.evaluate([("q", "r")]) == [Reward(1.5, "too short")]
    assert reward.score([("q", "r")]) == [1.5]


def test_ints_and_numpy_like_numbers_are_floats() -> None:
    assert FunctionReward(lambda q, r: 3).score([("q", "r")]) == [3.0]


@pytest.mark.parametrize(
    ("value", "words"),
    [(math.nan, "nan"), (-math.inf, "inf"), (None, "None"), ("0.5", "'0.5'"), (True, "bool")],
)
def test_bad_values_name_the_function_and_value(value: Any, words: str) -> None:
    def my_rater(query: str, response: str) -> Any:
        return value

    with pytest.raises(RewardModelError) as info:
        FunctionReward(my_rater).score([("q", "r")])
    assert "FunctionReward(my_rater)" in str(info.value)
    assert words.lower() in str(info.value).lower()


def test_explicit_name_wins() -> None:
    reward = FunctionReward(lambda q, r: math.nan, name="house-rules")
    with pytest.raises(RewardModelError, match="house-rules"):
        reward.score([("q", "r")])
