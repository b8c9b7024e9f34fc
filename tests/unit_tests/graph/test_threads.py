"""A thread is a conversation: each new input is a clean TPO run; earlier turns are context."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from langgraph.checkpoint.memory import InMemorySaver

from langchain_tpo import TPOChain, TPOConfig, create_tpo_graph
from langchain_tpo.reward_models import FunctionReward
from langchain_tpo.testing import ScriptedChatModel, stage_of

CONFIG = TPOConfig(num_samples=2, max_iterations=1, retry_backoff_s=0.0)


def echo_query(messages: list[BaseMessage], index: int) -> str:
    """Every answer names the query it answers, so a stale answer is easy to see."""
    return f"{stage_of(messages)} {index} about {messages[-1].text[:40]}"


def length() -> FunctionReward:
    return FunctionReward(lambda q, r: float(len(r)))


def test_second_query_on_a_thread_gets_its_own_answer() -> None:
    policy = ScriptedChatModel(responder=echo_query)
    chain = TPOChain(policy=policy, reward=length(), config=CONFIG, checkpointer=InMemorySaver())
    thread = {"configurable": {"thread_id": "t1"}}
    first = chain.invoke("How do I water basil?", thread)
    second = chain.invoke("Which wine goes with fish?", thread)

    assert second.query == "Which wine goes with fish?"
    assert second.stop_reason == "max_iterations"
    assert len(second.candidates) == 4  # a clean cache: 2 samples + 2 rewrites of this run
    assert len(second.history) == 1
    assert all(c.text not in {d.text for d in first.candidates} for c in second.candidates)
    assert "fish" in second.response
    assert second.model_calls == first.model_calls  # counters restart too


def test_earlier_turns_are_the_context_of_the_next_run() -> None:
    policy = ScriptedChatModel(responder=echo_query)
    chain = TPOChain(policy=policy, reward=length(), config=CONFIG, checkpointer=InMemorySaver())
    thread = {"configurable": {"thread_id": "t2"}}
    first = chain.invoke("My cat is called Miso.", thread)
    policy_requests = len(policy.requests)
    chain.invoke("What should I feed her?", thread)

    sample_request = policy.requests[policy_requests]
    texts = [m.text for m in sample_request.messages]
    assert texts == ["My cat is called Miso.", first.response, "What should I feed her?"]
    critique = next(r for r in policy.requests[policy_requests:] if r.stage == "critique")
    assert "Miso" in critique.messages[-1].text
    turns = chain.graph.get_state(thread).values["turns"]
    assert [m.type for m in turns] == ["human", "ai", "human", "ai"]


def test_threads_do_not_mix() -> None:
    policy = ScriptedChatModel(responder=echo_query)
    chain = TPOChain(policy=policy, reward=length(), config=CONFIG, checkpointer=InMemorySaver())
    chain.invoke("about owls", {"configurable": {"thread_id": "a"}})
    before = len(policy.requests)
    chain.invoke("about bees", {"configurable": {"thread_id": "b"}})
    first = policy.requests[before]
    assert [m.text for m in first.messages] == ["about bees"]


def test_raw_graph_second_input_starts_clean_through_the_checkpointer() -> None:
    graph = create_tpo_graph(
        ScriptedChatModel(responder=echo_query), length(), CONFIG, InMemorySaver()
    )
    thread = {"configurable": {"thread_id": "g"}}
    graph.invoke({"query": "first"}, thread)
    out = graph.invoke({"query": "second"}, thread)
    assert out["query"] == "second"
    assert "second" in out["answer"]
    assert len(out["candidates"]) == 4
    assert out["stop_reason"] == "max_iterations"


def test_a_crashed_run_resumes_where_it_stopped() -> None:
    """The reward dies in the middle of the run; `invoke(None)` picks up from the failed step."""
    calls = {"n": 0, "fail": True}

    def flaky(query: str, response: str) -> float:
        calls["n"] += 1
        if calls["fail"] and response.startswith("rewrite"):
            raise KeyboardInterrupt  # a crash, not an error the run could handle
        return float(len(response))

    policy = ScriptedChatModel(responder=echo_query)
    chain = TPOChain(
        policy=policy, reward=FunctionReward(flaky), config=CONFIG, checkpointer=InMemorySaver()
    )
    thread = {"configurable": {"thread_id": "crash"}}
    with pytest.raises(KeyboardInterrupt):
        chain.invoke("q", thread)
    requests_before = len(policy.requests)
    calls["fail"] = False
    result = chain.invoke(None, thread)
    assert result.stop_reason == "max_iterations"
    assert len(result.candidates) == 4
    assert len(policy.requests) == requests_before  # nothing sampled again: only scoring resumed


def test_context_given_with_a_new_input_comes_after_the_thread_turns() -> None:
    policy = ScriptedChatModel(responder=echo_query)
    graph = create_tpo_graph(policy, length(), CONFIG, InMemorySaver())
    thread: Any = {"configurable": {"thread_id": "ctx"}}
    graph.invoke({"query": "first"}, thread)
    before = len(policy.requests)
    graph.invoke({"query": "second", "context": [("system", "Be brief.")]}, thread)
    texts = [m.text for m in policy.requests[before].messages]
    assert texts[0] == "first" and texts[2:] == ["Be brief.", "second"]
    # The explicit context was consumed: a third input without context does not repeat it.
    before = len(policy.requests)
    graph.invoke({"query": "third"}, thread)
    texts = [m.text for m in policy.requests[before].messages]
    assert texts.count("Be brief.") == 1
