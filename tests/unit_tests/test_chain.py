"""TPOChain as a Runnable: inputs, batch, async, streaming, overrides and errors."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda
from langgraph.checkpoint.memory import InMemorySaver

from langchain_tpo import TPOChain, TPOConfig, TPOPrompts, TPOResult, create_tpo_graph
from langchain_tpo.reward_models import FunctionReward, RewardModelError
from langchain_tpo.testing import ScriptedChatModel, ScriptedChatModelWithN, stage_of

SMALL = TPOConfig(num_samples=2, max_iterations=1, retry_backoff_s=0.0)


def make_chain(policy: ScriptedChatModel, reward: Any = None, **config: Any) -> TPOChain:
    reward = reward or FunctionReward(lambda q, r: float(len(r)))
    settings = {"retry_backoff_s": 0.0, **config}
    return TPOChain(policy=policy, reward=reward, config=TPOConfig(**settings) if config else SMALL)


def test_message_list_input_carries_context_everywhere(policy: ScriptedChatModel) -> None:
    messages = [
        SystemMessage("You are terse."),
        HumanMessage("My cat is called Miso."),
        AIMessage("Nice name!"),
        HumanMessage("What should I feed her?"),
    ]
    result = make_chain(policy).invoke(messages)
    assert result.query == "What should I feed her?"
    for request in policy.requests_for("sample"):
        assert [m.text for m in request.messages] == [m.text for m in messages]
    for stage in ("critique", "suggest"):
        for request in policy.requests_for(stage):
            text = request.messages[-1].text
            assert "Miso" in text
            assert "What should I feed her?" in text
    for request in policy.requests_for("rewrite"):
        # The rewrite is the conversation itself, after a system message with the draft.
        assert [m.text for m in request.messages[1:]] == [m.text for m in messages]


def test_reward_sees_the_conversation_when_there_is_context(policy: ScriptedChatModel) -> None:
    seen: list[Any] = []

    def score(query: Any, response: str) -> float:
        seen.append(query)
        return 1.0

    reward = FunctionReward(score, pass_messages=True)
    make_chain(policy, reward).invoke([HumanMessage("earlier"), AIMessage("ok"), HumanMessage("q")])
    assert isinstance(seen[0], list)
    assert [m.text for m in seen[0]] == ["earlier", "ok", "q"]


def test_result_is_a_pydantic_model_that_round_trips(policy: ScriptedChatModel) -> None:
    result = make_chain(policy).invoke("q")
    again = TPOResult.model_validate_json(result.model_dump_json())
    assert again == result
    assert result.iterations == 1
    assert result.done


def test_per_call_overrides_through_configurable(policy: ScriptedChatModel) -> None:
    chain = make_chain(policy)
    result = chain.invoke("q", config={"configurable": {"num_samples": 4, "max_iterations": 3}})
    assert len(result.candidates) == 16
    assert len(result.history) == 3
    assert chain.config.num_samples == 2
    ids = {spec.id for spec in chain.config_specs}
    assert {"num_samples", "max_iterations", "mode"} <= ids


def test_bad_override_is_a_clear_error(policy: ScriptedChatModel) -> None:
    with pytest.raises(ValueError, match="num_samples"):
        make_chain(policy).invoke("q", config={"configurable": {"num_samples": 0}})


def test_deep_runs_raise_the_recursion_limit(policy: ScriptedChatModel) -> None:
    result = make_chain(policy, num_samples=2, max_iterations=12).invoke(
        "q", config={"recursion_limit": 5}
    )
    assert len(result.history) == 12


def test_batch_runs_each_query(policy: ScriptedChatModel) -> None:
    results = make_chain(policy).batch(["first question", "second question", "third question"])
    assert [r.query for r in results] == ["first question", "second question", "third question"]
    assert all(len(r.candidates) == 4 for r in results)


def test_batch_with_a_bad_input(policy: ScriptedChatModel) -> None:
    chain = make_chain(policy)
    with pytest.raises(ValueError, match="empty"):
        chain.batch(["fine", "   "])
    assert policy.requests == []
    results = chain.batch(["fine", "   "], return_exceptions=True)
    assert isinstance(results[0], TPOResult)
    assert isinstance(results[1], ValueError)


async def test_ainvoke_matches_invoke(length_reward: FunctionReward) -> None:
    sync = make_chain(ScriptedChatModel(), length_reward, num_samples=3, max_iterations=2, seed=5)
    asyn = make_chain(ScriptedChatModel(), length_reward, num_samples=3, max_iterations=2, seed=5)
    a = sync.invoke("q")
    b = await asyn.ainvoke("q")
    assert sorted(c.text for c in a.candidates) == sorted(c.text for c in b.candidates)
    assert a.score == b.score


class InFlight(ScriptedChatModel):
    """Counts how many requests are awaiting a reply at the same time."""

    in_flight: int = 0
    peak: int = 0

    async def _agenerate(self, messages, stop=None, run_manager=None, **kwargs):  # type: ignore[no-untyped-def]
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(0.01)
            return self._respond(messages, kwargs)
        finally:
            self.in_flight -= 1


async def test_abatch_runs_queries_concurrently() -> None:
    policy = InFlight()
    results = await make_chain(policy, num_samples=2, max_iterations=1).abatch(
        [f"question {i}" for i in range(16)]
    )
    assert [r.query for r in results] == [f"question {i}" for i in range(16)]
    # All 16 queries wait on their 2 initial samples at once, as an engine would see them.
    assert policy.peak >= 16


async def test_concurrent_ainvoke_share_one_chain() -> None:
    chain = make_chain(ScriptedChatModel(), num_samples=2, max_iterations=1)
    results = await asyncio.gather(*(chain.ainvoke(f"q{i}") for i in range(8)))
    assert [r.query for r in results] == [f"q{i}" for i in range(8)]


def test_stream_yields_a_snapshot_per_round(policy: ScriptedChatModel) -> None:
    chunks = list(make_chain(policy, num_samples=2, max_iterations=2).stream("q"))
    assert len(chunks) == 3
    assert [len(c.candidates) for c in chunks] == [2, 4, 6]
    assert [c.done for c in chunks] == [False, False, True]
    assert chunks[-1].stop_reason == "max_iterations"


async def test_astream_yields_the_same(policy: ScriptedChatModel) -> None:
    chain = make_chain(policy, num_samples=2, max_iterations=2)
    chunks = [c async for c in chain.astream("q")]
    assert [len(c.candidates) for c in chunks] == [2, 4, 6]
    assert chunks[-1].done


def test_progress_events_on_the_custom_stream(policy: ScriptedChatModel) -> None:
    chain = make_chain(policy, num_samples=2, max_iterations=2)
    events = [
        e
        for e in chain.graph.stream({"query": "q"}, stream_mode="custom")
        if e["event"] == "tpo.progress"
    ]
    assert [e["iteration"] for e in events] == [-1, 0, 1]
    assert all(e["max_iterations"] == 2 for e in events)
    bests = [e["best_score"] for e in events]
    assert bests == sorted(bests)
    assert events[-1]["stop_reason"] == "max_iterations"


def test_composes_in_lcel(policy: ScriptedChatModel) -> None:
    chain = RunnableLambda(lambda topic: f"Explain {topic}") | make_chain(policy)
    chain = chain | RunnableLambda(lambda result: result.response)
    out = chain.invoke("tides")
    assert isinstance(out, str) and out
    assert "Explain tides" in policy.requests_for("sample")[0].messages[-1].text


def test_post_processing_with_a_draft(policy: ScriptedChatModel) -> None:
    draft_model = ScriptedChatModel(responder=lambda m, i: "the first draft " * 20)
    refine = RunnableLambda(lambda msg: {"query": "q", "drafts": [msg.text]}) | make_chain(policy)
    result = (draft_model | refine).invoke("q")
    assert result.response == ("the first draft " * 20).strip()


def test_graph_with_checkpointer_keeps_thread_state(policy: ScriptedChatModel) -> None:
    graph = create_tpo_graph(policy, FunctionReward(lambda q, r: 1.0), SMALL, InMemorySaver())
    config = {"configurable": {"thread_id": "t1"}, "recursion_limit": 20}
    graph.invoke({"query": "q"}, config)
    snapshot = graph.get_state(config)
    assert snapshot.values["stop_reason"] == "max_iterations"
    assert len(snapshot.values["candidates"]) == 4


def test_graph_accepts_model_factories() -> None:
    built: list[str] = []

    def policy_factory() -> ScriptedChatModel:
        built.append("policy")
        return ScriptedChatModel()

    graph = create_tpo_graph(policy_factory, lambda: FunctionReward(lambda q, r: 1.0), SMALL)
    assert built == []
    graph.invoke({"query": "q"})
    graph.invoke({"query": "q2"})
    assert built == ["policy"]


def test_custom_prompts_are_used(policy: ScriptedChatModel) -> None:
    suggest = ChatPromptTemplate.from_messages(
        [("human", "CUSTOM {query} | {chosen} | {critique}")]
    )
    chain = TPOChain(
        policy=policy,
        reward=FunctionReward(lambda q, r: 1.0),
        config=SMALL,
        prompts=TPOPrompts(suggest=suggest),
    )
    chain.invoke("q")
    assert any(r.messages[-1].text.startswith("CUSTOM q |") for r in policy.requests)


def test_custom_prompt_missing_a_variable_is_rejected() -> None:
    bad = ChatPromptTemplate.from_messages([("human", "Review {query} please")])
    with pytest.raises(ValueError, match="chosen"):
        TPOPrompts(critique=bad)


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("returned", "words"),
    [
        ([1.0], ["1 score(s) for 2 pair(s)"]),
        ([math.nan, 1.0], ["NaN"]),
        ([math.inf, 1.0], ["inf"]),
        (["high", 1.0], ["high"]),
        ([True, 1.0], ["bool"]),
    ],
)
def test_bad_reward_output_names_the_reward(
    policy: ScriptedChatModel, returned: list[Any], words: list[str]
) -> None:
    from langchain_tpo.reward_models import RewardModel

    class Broken(RewardModel):
        def _score(self, pairs):  # type: ignore[no-untyped-def]
            return returned

    with pytest.raises(RewardModelError) as info:
        make_chain(policy, Broken()).invoke("q")
    message = str(info.value)
    assert "Broken" in message
    for word in words:
        assert word.lower() in message.lower()


def test_function_reward_returning_a_string_is_an_error(policy: ScriptedChatModel) -> None:
    def rate(query: str, response: str) -> Any:
        return "good"

    with pytest.raises(RewardModelError, match="rate"):
        make_chain(policy, FunctionReward(rate)).invoke("q")


def test_reward_must_be_a_reward_model(policy: ScriptedChatModel) -> None:
    with pytest.raises((TypeError, ValueError), match="RewardModel"):
        TPOChain(policy=policy, reward=lambda q, r: 1.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["", "  ", {"query": ""}, {"question": "x"}, [], 7])
def test_bad_inputs_fail_before_any_model_call(policy: ScriptedChatModel, bad: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        make_chain(policy).invoke(bad)
    assert policy.requests == []


def test_failed_samples_are_counted_not_fatal(length_reward: FunctionReward) -> None:
    def responder(messages: list[BaseMessage], index: int) -> str:
        if stage_of(messages) == "sample" and index == 1:
            raise RuntimeError("server hiccup")
        return f"answer {index}"

    result = make_chain(
        ScriptedChatModel(responder=responder),
        length_reward,
        num_samples=3,
        max_iterations=1,
        max_retries=0,
    ).invoke("q")
    assert result.failures == 1
    assert any("server hiccup" in w for w in result.warnings)
    assert len([c for c in result.candidates if c.iteration == -1]) == 2


def test_a_failed_request_is_retried(length_reward: FunctionReward) -> None:
    def responder(messages: list[BaseMessage], index: int) -> str:
        if stage_of(messages) == "sample" and index == 1:
            raise RuntimeError("server hiccup")
        return f"answer {index}"

    result = make_chain(
        ScriptedChatModel(responder=responder), length_reward, num_samples=3, max_iterations=1
    ).invoke("q")
    assert result.failures == 0
    assert result.retries == 1
    assert len([c for c in result.candidates if c.iteration == -1]) == 3


def test_policy_that_always_fails_raises_its_error(length_reward: FunctionReward) -> None:
    def responder(messages: list[BaseMessage], index: int) -> str:
        raise RuntimeError("model is down")

    with pytest.raises(RuntimeError, match="model is down"):
        make_chain(ScriptedChatModel(responder=responder), length_reward).invoke("q")


def test_native_model_returning_fewer_samples_is_topped_up(length_reward: FunctionReward) -> None:
    class Stingy(ScriptedChatModelWithN):
        def _respond(self, messages, kwargs, run_manager=None):  # type: ignore[no-untyped-def]
            return super()._respond(messages, {**kwargs, "n": 1}, run_manager)

    policy = Stingy()
    result = make_chain(policy, length_reward, num_samples=3, max_iterations=0).invoke("q")
    assert len(result.candidates) == 3
