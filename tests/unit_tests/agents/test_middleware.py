"""TPOMiddleware: a LangChain agent's final answer refined by TPO, on scripted models."""

from __future__ import annotations

from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.tools import tool
from pydantic import BaseModel

from langchain_tpo import TPOConfig, TPOResult
from langchain_tpo.agents import TPOMiddleware
from langchain_tpo.reward_models import FunctionReward
from langchain_tpo.testing import ScriptedChatModel, ScriptedToolCallingModel

QUESTION = "When is the library open on Monday?"


@tool
def library_hours(day: str) -> str:
    """Opening hours of the city library on a day."""
    return "The library opens 9:00-18:00 on weekdays."


def middleware(**kwargs: Any) -> TPOMiddleware:
    reward = FunctionReward(lambda query, response: float(len(response)))
    return TPOMiddleware(reward=reward, config=TPOConfig(num_samples=2, max_iterations=1), **kwargs)


def test_the_final_answer_is_refined_and_replaces_the_reply() -> None:
    model = ScriptedToolCallingModel()
    agent = create_agent(
        model,
        tools=[library_hours],
        system_prompt="Answer in one sentence.",
        middleware=[middleware(return_full_result=True)],
    )
    messages = agent.invoke({"messages": [("human", QUESTION)]})["messages"]
    assert [m.type for m in messages] == ["human", "ai", "tool", "ai"]
    assert messages[1].tool_calls and "tpo_score" not in messages[1].response_metadata
    answer = messages[-1]
    result = TPOResult.model_validate(answer.response_metadata["tpo_result"])
    assert answer.text == result.response
    assert answer.response_metadata["tpo_score"] == result.score
    assert answer.response_metadata["tpo_best_scores"] == result.best_scores
    # The agent's own reply (its second request, the one with the tool result) is the draft.
    draft_request = [r for r in model.requests if r.kwargs.get("tools")][-1]
    assert draft_request.messages[-1].type == "tool"
    assert result.candidates[0].iteration == -1
    assert result.candidates[0].text == "sample 1: detail"  # the scripted reply to it
    # TPO asks without tools and sees the system prompt and the tool result as text.
    tpo_requests = [r for r in model.requests if not r.kwargs.get("tools")]
    assert len(tpo_requests) == 6  # 2 samples, critique, suggest, 2 rewrites
    critique = model.requests_for("critique")[0].messages[-1].text
    assert "System: Answer in one sentence." in critique
    assert "I used the tool library_hours (day: " in critique
    assert "and got: The library opens 9:00-18:00" in critique
    # The answer's usage counts the agent's reply and TPO's requests.
    assert answer.usage_metadata is not None
    assert answer.usage_metadata["total_tokens"] > result.usage["total_tokens"]


async def test_async_agents_and_a_separate_policy() -> None:
    agent_model, tpo_policy = ScriptedToolCallingModel(), ScriptedChatModel()
    agent = create_agent(
        agent_model, tools=[library_hours], middleware=[middleware(policy=tpo_policy)]
    )
    state = await agent.ainvoke({"messages": [("human", QUESTION)]})
    answer = state["messages"][-1]
    assert "tpo_score" in answer.response_metadata
    assert len(agent_model.requests) == 2  # the tool call and the draft
    assert {r.stage for r in tpo_policy.requests} == {"sample", "critique", "suggest", "rewrite"}


def test_per_run_settings_come_from_the_agents_configurable() -> None:
    model = ScriptedToolCallingModel()
    agent = create_agent(model, tools=[library_hours], middleware=[middleware()])
    config: Any = {"configurable": {"num_samples": 3, "max_iterations": 0}}
    state = agent.invoke({"messages": [("human", QUESTION)]}, config=config)
    assert state["messages"][-1].response_metadata["tpo_stop_reason"] == "max_iterations"
    untooled = [r for r in model.requests if not r.kwargs.get("tools")]
    assert [r.stage for r in untooled] == ["sample"] * 3


def test_progress_events_reach_the_agents_custom_stream() -> None:
    agent = create_agent(
        ScriptedToolCallingModel(), tools=[library_hours], middleware=[middleware()]
    )
    items = list(agent.stream({"messages": [("human", QUESTION)]}, stream_mode="custom"))
    assert [i["iteration"] for i in items if i["event"] == "tpo.progress"] == [-1, 0]


def test_an_agent_without_tools_on_a_plain_model() -> None:
    model = ScriptedChatModel()
    agent = create_agent(model, middleware=[middleware()])
    answer = agent.invoke({"messages": [("human", "Name a fruit.")]})["messages"][-1]
    assert answer.response_metadata["tpo_iterations"] == 1
    assert model.requests_for("rewrite")


def test_a_structured_response_is_left_alone() -> None:
    class Opening(BaseModel):
        hours: str

    model = ScriptedToolCallingModel()
    agent = create_agent(model, middleware=[middleware()], response_format=Opening)
    state = agent.invoke({"messages": [("human", QUESTION)]})
    assert state["structured_response"] == Opening(hours=QUESTION)
    assert not model.requests_for("critique")


def test_the_reward_must_be_a_reward_model() -> None:
    with pytest.raises(TypeError, match="FunctionReward"):
        TPOMiddleware(reward=lambda q, r: 1.0)  # type: ignore[arg-type]
