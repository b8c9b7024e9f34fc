from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from langchain_tpo.reward_models import LLMJudgeReward, Reward, RewardModelError
from langchain_tpo.reward_models.judge import parse_rating
from langchain_tpo.testing import ScriptedChatModel


@pytest.mark.parametrize(
    ("text", "rating"),
    [
        ("Clear and correct.\nRating: 7/10", 7.0),
        ("Good answer.\n\n**Score:** 8", 8.0),
        ("**Rating**: 9/10", 9.0),
        ("The score = 6.5 out of 10.", 6.5),
        ('{"reasoning": "fine", "rating": 4}', 4.0),
        ('```json\n{"Score": 3, "explanation": "vague"}\n```', 3.0),
        ("I would give it 8/10.", 8.0),
        ("Rating: 4/5", 8.0),  # another scale is converted
        ("Score 2 at first, but on reflection Rating: 6/10", 6.0),  # the last one wins
        ("rating is 5", 5.0),
        ("Grade - 9", 9.0),
    ],
)
def test_parse_rating_formats(text: str, rating: float) -> None:
    parsed = parse_rating(text)
    assert parsed is not None
    assert parsed[0] == pytest.approx(rating)


@pytest.mark.parametrize(
    "text", ["A fine answer.", "Rating: 12/10", "Rating: -3", "I cannot rate this.", ""]
)
def test_parse_rating_rejects_missing_or_out_of_scale(text: str) -> None:
    assert parse_rating(text) is None


def test_parse_rating_keeps_the_reasoning() -> None:
    rating, reasoning = parse_rating("It refuses politely.\nRating: 9/10") or (0, "")
    assert rating == 9.0
    assert reasoning == "It refuses politely."
    _, from_json = parse_rating('{"reasoning": "too long", "score": 3}') or (0, "")
    assert from_json == "too long"


def test_scores_and_feedback() -> None:
    judge = FakeListChatModel(responses=["Helpful.\nRating: 8/10", "Rude.\n**Score:** 2"])
    reward = LLMJudgeReward(judge, rubric="Be kind.")
    results = reward.evaluate([("hi", "hello friend"), ("hi", "go away")])
    assert sorted(results, key=lambda r: -r.score) == [
        Reward(8.0, "Helpful."),
        Reward(2.0, "Rude."),
    ]


def test_prompt_holds_rubric_conversation_and_response() -> None:
    judge = ScriptedChatModel(responder=lambda messages, i: "ok\nRating: 5/10")
    reward = LLMJudgeReward(judge, rubric="The user prefers haiku.")
    conversation = [
        HumanMessage("Tell me about rain"),
        AIMessage("Rain falls."),
        HumanMessage("More"),
    ]
    assert reward.score([(conversation, "Soft rain on the roof")]) == [5.0]
    prompt = judge.requests[0].messages[-1].text
    for part in (
        "The user prefers haiku.",
        "User: Tell me about rain",
        "Assistant: Rain falls.",
        "Soft rain on the roof",
        "Rating: <number>/10",
    ):
        assert part in prompt


def _scripted(outputs: list[str]) -> ScriptedChatModel:
    """Replies in order, whatever the request."""
    return ScriptedChatModel(responder=lambda messages, i: outputs[i])


def test_unparseable_rating_is_retried() -> None:
    judge = _scripted(["The answer is thorough and kind.", "Rating: 7/10"])
    reward = LLMJudgeReward(judge)
    assert reward.evaluate([("q", "r")]) == [Reward(7.0, "The answer is thorough and kind.")]
    retry: list[BaseMessage] = judge.requests[1].messages
    assert retry[1].text == "The answer is thorough and kind."
    assert "Rating: <number from 1 to 10>/10" in retry[2].text


def test_unparseable_after_retries_raises_with_judge_name_and_output() -> None:
    judge = _scripted(["no idea", "still no idea", "really no idea"])
    reward = LLMJudgeReward(judge, max_retries=2)
    with pytest.raises(RewardModelError) as info:
        reward.score([("q", "r")])
    message = str(info.value)
    assert "LLMJudgeReward(ScriptedChatModel)" in message
    assert "really no idea" in message
    assert "3 attempt(s)" in message
    assert len(judge.requests) == 3


async def test_async_scores_concurrently_and_retries() -> None:
    replies = {"good": ["Great.\nRating: 9/10"], "bad": ["hmm", "Rating: 3/10"]}
    seen: dict[str, int] = {}

    def responder(messages: list[BaseMessage], index: int) -> str:
        key = "good" if "good answer" in messages[0].text else "bad"
        seen[key] = seen.get(key, 0) + 1
        return replies[key][seen[key] - 1]

    reward = LLMJudgeReward(ScriptedChatModel(responder=responder))
    results = await reward.aevaluate([("q", "good answer"), ("q", "bad answer")])
    assert results == [Reward(9.0, "Great."), Reward(3.0, "hmm")]


async def test_async_failure_raises() -> None:
    reward = LLMJudgeReward(FakeListChatModel(responses=["nothing"]), max_retries=1)
    with pytest.raises(RewardModelError, match="nothing"):
        await reward.ascore([("q", "r")])


def test_judge_name_uses_model_name() -> None:
    class Named(FakeListChatModel):
        model_name: str = "judge-7b"

    reward: Any = LLMJudgeReward(Named(responses=["Rating: 1/10"]))
    assert reward.get_name() == "LLMJudgeReward(Named(judge-7b))"
