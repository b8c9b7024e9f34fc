"""What a LangGraph user touches: schemas, traces, events, inputs, blocking calls, constructors."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from langchain_core.tracers.schemas import Run
from langgraph.checkpoint.memory import InMemorySaver

from langchain_tpo import TPOChain, TPOConfig, create_tpo_graph
from langchain_tpo.errors import TPOInputError
from langchain_tpo.reward_models import FunctionReward
from langchain_tpo.testing import ScriptedChatModel, ScriptedChatModelWithN
from tests.traced_runs import Collector, all_runs

CONFIG = TPOConfig(num_samples=3, max_iterations=2, retry_backoff_s=0.0)
INTERNAL = {"settings", "pending", "round", "step", "conversation", "turns", "deadline"}


def length() -> FunctionReward:
    return FunctionReward(lambda q, r: float(len(r)), name="LengthReward")


@pytest.mark.parametrize("policy_class", [ScriptedChatModel, ScriptedChatModelWithN])
def test_trace_has_a_chat_model_run_per_request_and_a_reward_run_per_round(
    policy_class: type[ScriptedChatModel],
) -> None:
    tracer = Collector()
    chain = TPOChain(policy=policy_class(), reward=length(), config=CONFIG)
    result = chain.invoke("How do owls hunt?", {"callbacks": [tracer]})
    (root,) = [r for r in tracer.runs if r.parent_run_id is None]
    runs = all_runs(root)
    llm_runs = [r for r in runs if r.run_type == "llm"]
    assert len(llm_runs) == result.model_calls
    assert {r.extra["metadata"]["tpo_stage"] for r in llm_runs} == {
        "sample",
        "critique",
        "suggest",
        "rewrite",
    }
    for run in llm_runs:
        assert (run.inputs.get("messages") or run.inputs["prompts"]) and run.outputs["generations"]
    reward_runs = [r for r in runs if r.name == "LengthReward"]
    assert len(reward_runs) == CONFIG.max_iterations + 1
    assert all(r.inputs and r.outputs for r in reward_runs)
    # Each node appears once per execution: no run nested in a run of the same name.
    for run in runs:
        assert all(child.name != run.name for child in run.child_runs), run.name
    node_names = [r.name for r in runs if r.parent_run_id == _graph_run(runs).id]
    assert node_names.count("sample") == 1
    assert node_names.count("score") == CONFIG.max_iterations + 1


def _graph_run(runs: list[Run]) -> Run:
    return next(r for r in runs if r.name == "tpo")


async def test_progress_events_reach_astream_events() -> None:
    chain = TPOChain(policy=ScriptedChatModel(), reward=length(), config=CONFIG)
    events = [
        event
        async for event in chain.astream_events("q", version="v2")
        if event["event"] == "on_custom_event"
    ]
    names = [e["name"] for e in events]
    assert names.count("tpo.progress") == CONFIG.max_iterations + 1
    assert "tpo.stage" in names and names[-1] == "tpo.end"
    progress = [e["data"] for e in events if e["name"] == "tpo.progress"]
    assert [p["iteration"] for p in progress] == [-1, 0, 1]
    assert progress[-1]["stop_reason"] == "max_iterations"


def test_studio_schemas_show_settings_and_a_narrow_output() -> None:
    graph = create_tpo_graph(ScriptedChatModel(), length(), CONFIG)
    context = graph.get_context_jsonschema()
    assert context is not None
    props = context["properties"]
    for name in (
        "num_samples",
        "max_iterations",
        "mode",
        "max_tokens",
        "temperature",
        "target_score",
        "patience",
        "seed",
    ):
        assert props[name]["description"], name
    output = graph.get_output_jsonschema()["properties"]
    assert {"answer", "score", "best_scores", "history"} <= set(output)
    assert not INTERNAL & set(output)
    inputs = graph.get_input_jsonschema()["properties"]
    assert set(inputs) == {"query", "context", "drafts"}


def test_run_settings_through_the_run_context() -> None:
    policy = ScriptedChatModel()
    graph = create_tpo_graph(policy, length(), CONFIG)
    out = graph.invoke({"query": "q"}, context={"num_samples": 2, "max_iterations": 1})
    assert len(out["candidates"]) == 4
    assert len(out["history"]) == 1


@pytest.mark.parametrize(
    "context",
    [
        [("human", "earlier question"), ("ai", "earlier answer")],
        [{"role": "user", "content": "earlier question"}, {"role": "assistant", "content": "ok"}],
    ],
)
def test_context_as_tuples_or_dicts_on_the_raw_graph(context: list[Any]) -> None:
    policy = ScriptedChatModel()
    graph = create_tpo_graph(policy, length(), CONFIG)
    out = graph.invoke({"query": "and now?", "context": context})
    assert out["answer"]
    first = policy.requests[0].messages
    assert [m.type for m in first] == ["human", "ai", "human"]
    assert first[0].text == "earlier question"


def test_bad_input_on_the_raw_graph_fails_at_once_and_is_not_retried() -> None:
    policy = ScriptedChatModel()
    graph = create_tpo_graph(policy, length(), CONFIG)
    start = time.perf_counter()
    with pytest.raises(TPOInputError, match="context"):
        graph.invoke({"query": "q", "context": [42]})
    assert time.perf_counter() - start < 0.5  # LangGraph's node retries would take seconds
    assert policy.requests == []


async def test_async_run_makes_no_blocking_call_in_the_event_loop() -> None:
    """The check `langgraph dev` runs: blocking calls inside async nodes raise BlockingError."""
    blockbuster = pytest.importorskip("blockbuster")

    def load_policy() -> ScriptedChatModel:
        os.getcwd()  # model factories do file work (transformers calls os.getcwd)
        time.sleep(0.01)
        return ScriptedChatModelWithN()

    def load_reward() -> FunctionReward:
        os.getcwd()
        return length()

    graph = create_tpo_graph(load_policy, load_reward, CONFIG)
    with blockbuster.blockbuster_ctx():
        out = await graph.ainvoke({"query": "q"})
    assert out["stop_reason"] == "max_iterations"


def test_chain_takes_a_checkpointer_and_rejects_unknown_keywords() -> None:
    chain = TPOChain(
        policy=ScriptedChatModel(), reward=length(), config=CONFIG, checkpointer=InMemorySaver()
    )
    thread = {"configurable": {"thread_id": "x"}}
    chain.invoke("q", thread)
    assert chain.graph.get_state(thread).values["answer"]
    with pytest.raises(ValueError, match="checkpoint"):
        TPOChain(policy=ScriptedChatModel(), reward=length(), checkpoint=InMemorySaver())  # type: ignore[call-arg]


def test_policy_can_be_any_chat_model_runnable() -> None:
    base = ScriptedChatModelWithN()
    for policy in (base.bind(stop=["\n\n"]), base.with_retry(stop_after_attempt=2)):
        result = TPOChain(policy=policy, reward=length(), config=CONFIG).invoke("q")
        assert result.response and result.stop_reason == "max_iterations"
    bound = [r for r in base.requests if r.kwargs.get("stop") == ["\n\n"]]
    assert bound  # bound kwargs reach the model


def test_message_list_context_is_stored_as_messages(policy: Any = None) -> None:
    policy = ScriptedChatModel()
    graph = create_tpo_graph(policy, length(), CONFIG, InMemorySaver())
    thread = {"configurable": {"thread_id": "m"}}
    graph.invoke({"query": "q", "context": [("system", "Be brief.")]}, thread)
    conversation = graph.get_state(thread).values["conversation"]
    assert all(isinstance(m, BaseMessage) for m in conversation)
