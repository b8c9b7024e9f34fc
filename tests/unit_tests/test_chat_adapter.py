"""TPOChatModel: the chat-model contract (settings, streaming, usage, metadata) and tools."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool
from pydantic import BaseModel, ValidationError

from langchain_tpo import TPOChain, TPOChatModel, TPOConfig, TPOResult
from langchain_tpo.reward_models import FunctionReward
from langchain_tpo.testing import ScriptedChatModel, ScriptedToolCallingModel


def length_reward() -> FunctionReward:
    return FunctionReward(lambda q, r: float(len(r)))


def make_model(policy: ScriptedChatModel, **fields: Any) -> TPOChatModel:
    chain = TPOChain(
        policy=policy,
        reward=length_reward(),
        config=TPOConfig(num_samples=2, max_iterations=1, seed=7),
    )
    return TPOChatModel(chain=chain, **fields)


@tool
def library_hours(day: str) -> str:
    """Opening hours of the city library on a day."""
    return "The library opens 9:00-18:00 on weekdays."


# -- the basics --------------------------------------------------------------------------------


def test_reply_is_the_best_answer_with_metadata() -> None:
    policy = ScriptedChatModel()
    reply = make_model(policy).invoke([HumanMessage("hi"), AIMessage("hello"), HumanMessage("q")])
    assert isinstance(reply, AIMessage)
    metadata = reply.response_metadata
    assert metadata["tpo_score"] == float(len(reply.text))
    assert len(metadata["tpo_best_scores"]) == 2
    assert "hello" in policy.requests_for("critique")[0].messages[-1].text


async def test_stands_in_a_prompt_pipe() -> None:
    prompt = ChatPromptTemplate.from_messages([("human", "Tell me about {topic}")])
    reply = await (prompt | make_model(ScriptedChatModel())).ainvoke({"topic": "owls"})
    assert reply.text
    assert reply.response_metadata["tpo_stop_reason"] == "max_iterations"


def test_stop_sequences_cut_the_chosen_answer() -> None:
    reply = make_model(ScriptedChatModel()).invoke("q")
    full = reply.text
    word = full[len(full) // 2 :][:3]
    cut = make_model(ScriptedChatModel()).invoke("q", stop=[word])
    assert cut.text == full[: full.find(word)]
    assert cut.response_metadata["tpo_score"] == reply.response_metadata["tpo_score"]
    fielded = make_model(ScriptedChatModel(), stop=[word]).invoke("q")
    assert fielded.text == cut.text


def test_callbacks_reach_the_graph_nested_under_the_model_run() -> None:
    class Runs(BaseCallbackHandler):
        def __init__(self) -> None:
            self.model_run: UUID | None = None
            self.chains: list[tuple[str, UUID | None]] = []

        def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
            if self.model_run is None:  # the first is TPOChatModel; the policy's calls follow
                self.model_run = kwargs["run_id"]

        def on_chain_start(self, serialized: Any, inputs: Any, **kwargs: Any) -> None:
            self.chains.append((kwargs.get("name") or "", kwargs.get("parent_run_id")))

    runs = Runs()
    make_model(ScriptedChatModel()).invoke("q", config={"callbacks": [runs]})
    names = {name for name, _ in runs.chains}
    assert {"sample", "score", "critique", "suggest", "rewrite"} <= names
    assert runs.chains[0] == ("tpo", runs.model_run)


# -- settings per call ----------------------------------------------------------------------


def test_configurable_settings_reach_the_run_as_in_tpo_chain() -> None:
    config: Any = {"configurable": {"num_samples": 4, "max_iterations": 2}}
    chain_policy, model_policy = ScriptedChatModel(), ScriptedChatModel()
    TPOChain(policy=chain_policy, reward=length_reward()).invoke("q", config=config)
    reply = make_model(model_policy).invoke("q", config=config)
    assert len(model_policy.requests) == len(chain_policy.requests) == 16
    assert len(reply.response_metadata["tpo_best_scores"]) == 3


def test_configurable_reaches_batch_and_stream() -> None:
    config: Any = {"configurable": {"max_iterations": 0}}
    policy = ScriptedChatModel()
    model = make_model(policy)
    model.batch(["a", "b"], config=config)
    list(model.stream("c", config=config))
    assert {r.stage for r in policy.requests} == {"sample"}


def test_bound_and_call_kwargs_are_honoured() -> None:
    policy = ScriptedChatModel()
    make_model(policy).bind(temperature=0.0).invoke("q", max_tokens=7, num_samples=3)
    samples = policy.requests_for("sample")
    assert len(samples) == 3
    assert all(r.kwargs["temperature"] == 0.0 for r in policy.requests)
    assert all(r.kwargs["max_tokens"] == 7 for r in policy.requests)


def test_configurable_beats_keyword_arguments() -> None:
    policy = ScriptedChatModel()
    make_model(policy).invoke("q", config={"configurable": {"temperature": 0.3}}, temperature=0.9)
    assert {r.kwargs["temperature"] for r in policy.requests} == {0.3}


def test_standard_fields_become_tpo_settings() -> None:
    policy = ScriptedChatModel()
    model = make_model(policy, temperature=0.2, max_tokens=11, timeout=30, max_retries=0)
    model.invoke("q")
    assert {(r.kwargs["temperature"], r.kwargs["max_tokens"]) for r in policy.requests} == {
        (0.2, 11)
    }
    assert model._identifying_params["timeout_s"] == 30
    assert model._identifying_params["max_retries"] == 0


def test_unknown_or_invalid_fields_are_rejected() -> None:
    with pytest.raises(ValidationError, match="temprature"):
        make_model(ScriptedChatModel(), temprature=0.2)
    with pytest.raises(ValidationError, match="temperature must be between"):
        make_model(ScriptedChatModel(), temperature=5.0)
    with pytest.raises(ValueError, match="num_samples must be between"):
        make_model(ScriptedChatModel()).invoke("q", num_samples=0)


def test_other_keyword_arguments_go_to_the_policy() -> None:
    policy = ScriptedChatModel()
    reply = make_model(policy).invoke("q", model="other-model")
    assert all(r.kwargs.get("model") == "other-model" for r in policy.requests)
    assert reply.response_metadata["model_name"] == "other-model"


def test_drafts_seed_the_cache() -> None:
    draft = "a draft much longer than any scripted sample could ever be, so it wins"
    reply = make_model(ScriptedChatModel()).invoke("q", drafts=[draft])
    assert reply.text == draft


# -- what a reply carries --------------------------------------------------------------------


def test_usage_is_the_sum_over_every_policy_request() -> None:
    policy = ScriptedChatModel()
    reply = make_model(policy).invoke("q")
    usage = reply.usage_metadata
    assert usage is not None
    prompt_words = sum(sum(len(m.text.split()) for m in r.messages) for r in policy.requests)
    assert usage["input_tokens"] == prompt_words
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] > prompt_words


def test_metadata_is_compact_unless_the_full_result_is_asked_for() -> None:
    reply = make_model(ScriptedChatModel()).invoke("q")
    metadata = reply.response_metadata
    assert set(metadata) == {
        "model_name",
        "tpo_score",
        "tpo_best_scores",
        "tpo_iterations",
        "tpo_stop_reason",
        "tpo_model_calls",
    }
    assert metadata["tpo_iterations"] == 1
    full = make_model(ScriptedChatModel(), return_full_result=True).invoke("q")
    result = TPOResult.model_validate(full.response_metadata["tpo_result"])
    assert result.response == full.text
    assert len(result.candidates) == 4 and result.history


def test_standard_tracing_params() -> None:
    model = make_model(ScriptedChatModel(), temperature=0.4, stop=["x"])
    params = model._get_ls_params()
    assert params["ls_provider"] == "tpo"
    assert params["ls_model_name"] == "ScriptedChatModel"
    assert params["ls_model_type"] == "chat"
    assert params["ls_temperature"] == 0.4
    assert params["ls_stop"] == ["x"]
    assert model._get_ls_params(max_tokens=5)["ls_max_tokens"] == 5


# -- streaming ------------------------------------------------------------------------------


def test_stream_yields_message_chunks_ending_with_the_answer() -> None:
    reply = make_model(ScriptedChatModel()).invoke("q")
    chunks = list(make_model(ScriptedChatModel()).stream("q"))
    assert chunks and all(isinstance(c, AIMessageChunk) for c in chunks)
    assert chunks[-1].chunk_position == "last"
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    assert full.text == reply.text
    assert full.usage_metadata == reply.usage_metadata
    assert full.response_metadata["tpo_score"] == reply.response_metadata["tpo_score"]


async def test_astream_events_show_progress_then_the_answer() -> None:
    model = make_model(ScriptedChatModel())
    events = [e async for e in model.astream_events("q", version="v2")]
    kinds = [e["event"] for e in events]
    custom = [e for e in events if e["event"] == "on_custom_event"]
    assert {e["name"] for e in custom} == {"tpo.stage", "tpo.progress", "tpo.end"}
    progress = [e["data"] for e in custom if e["name"] == "tpo.progress"]
    assert [p["iteration"] for p in progress] == [-1, 0]
    streamed = [e for e in events if e["event"] == "on_chat_model_stream"]
    assert streamed[-1]["data"]["chunk"].chunk_position == "last"
    assert kinds.index("on_custom_event") < kinds.index("on_chat_model_stream")


def test_progress_reaches_the_custom_stream_of_an_enclosing_graph() -> None:
    from langgraph.graph import START, MessagesState, StateGraph

    model = make_model(ScriptedChatModel())
    builder = StateGraph(MessagesState)
    builder.add_node("answer", lambda state: {"messages": [model.invoke(state["messages"])]})
    builder.add_edge(START, "answer")
    items = list(builder.compile().stream({"messages": [("human", "q")]}, stream_mode="custom"))
    assert [i["iteration"] for i in items if i["event"] == "tpo.progress"] == [-1, 0]


# -- tools ----------------------------------------------------------------------------------


def test_a_tool_call_is_returned_as_the_policy_wrote_it() -> None:
    policy = ScriptedToolCallingModel()
    reply = make_model(policy).bind_tools([library_hours]).invoke("When is it open on Monday?")
    assert reply.tool_calls[0]["name"] == "library_hours"
    assert "tpo_score" not in reply.response_metadata
    assert len(policy.requests) == 1  # no TPO run
    assert policy.requests[0].kwargs["tools"][0]["function"]["name"] == "library_hours"


def test_a_final_answer_is_refined_with_the_tool_results_as_context() -> None:
    policy = ScriptedToolCallingModel()
    model = make_model(policy, return_full_result=True).bind_tools([library_hours])
    conversation = [
        HumanMessage("When is it open on Monday?"),
        AIMessage("", tool_calls=[{"name": "library_hours", "args": {"day": "Mon"}, "id": "c1"}]),
        ToolMessage("The library opens 9:00-18:00 on weekdays.", tool_call_id="c1"),
    ]
    reply = model.invoke(conversation)
    draft_request, *tpo_requests = policy.requests
    assert draft_request.kwargs["tools"] and draft_request.messages == conversation
    # TPO's own requests: no tools, and no tool messages or empty assistant turns.
    assert tpo_requests and not any(r.kwargs.get("tools") for r in tpo_requests)
    for request in tpo_requests:
        assert not any(isinstance(m, ToolMessage) for m in request.messages)
        assert all(m.text.strip() for m in request.messages)
    sample = policy.requests_for("sample")[1].messages
    assert sample[1].text == (
        "I used the tool library_hours (day: Mon) and got: The library opens 9:00-18:00 on "
        "weekdays."
    )
    critique = policy.requests_for("critique")[0].messages[-1].text
    assert "The library opens 9:00-18:00 on weekdays." in critique
    # The policy's own answer was seeded into the cache as a draft.
    result = TPOResult.model_validate(reply.response_metadata["tpo_result"])
    draft_text = "sample 0:"  # the scripted policy's first reply
    assert result.candidates[0].text == draft_text and result.candidates[0].iteration == -1
    assert reply.response_metadata["tpo_model_calls"] == result.model_calls + 1
    assert reply.text == result.response


async def test_tools_work_async_and_streamed() -> None:
    policy = ScriptedToolCallingModel()
    model = make_model(policy).bind_tools([library_hours])
    call = await model.ainvoke("When is it open on Monday?")
    assert call.tool_calls[0]["args"] == {"day": "When is it open on Monday?"}
    chunks = [c async for c in model.astream("When is it open on Monday?")]
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    assert full.tool_calls == [{**call.tool_calls[0], "id": full.tool_calls[0]["id"]}]
    answer = await model.ainvoke(
        [
            HumanMessage("When?"),
            AIMessage("", tool_calls=[{"name": "library_hours", "args": {"day": "x"}, "id": "1"}]),
            ToolMessage("9-18", tool_call_id="1"),
        ]
    )
    assert "tpo_score" in answer.response_metadata


def test_tool_choice_and_options_reach_the_policy() -> None:
    policy = ScriptedToolCallingModel()
    model = make_model(policy).bind_tools([library_hours], tool_choice="any", strict=True)
    model.invoke(
        [
            HumanMessage("When?"),
            AIMessage("", tool_calls=[{"name": "library_hours", "args": {"day": "x"}, "id": "1"}]),
            ToolMessage("9-18", tool_call_id="1"),
        ]
    )
    (request,) = policy.requests  # a forced tool call: no TPO run
    assert request.kwargs["tool_choice"] == "any" and request.kwargs["strict"] is True


def test_a_policy_without_tool_calling_is_a_clear_error() -> None:
    with pytest.raises(NotImplementedError, match=r"cannot call tools.*TPOMiddleware"):
        make_model(ScriptedChatModel()).bind_tools([library_hours])


def test_create_agent_calls_the_tool_then_answers_with_tpo() -> None:
    from langchain.agents import create_agent

    policy = ScriptedToolCallingModel()
    agent = create_agent(make_model(policy), tools=[library_hours])
    messages = agent.invoke({"messages": [("human", "When is it open on Monday?")]})["messages"]
    assert [m.type for m in messages] == ["human", "ai", "tool", "ai"]
    assert messages[2].text == "The library opens 9:00-18:00 on weekdays."
    answer = messages[-1]
    assert answer.response_metadata["tpo_stop_reason"] == "max_iterations"
    assert answer.text and not answer.tool_calls
    assert policy.requests_for("critique")


async def test_create_react_agent_calls_the_tool_then_answers_with_tpo() -> None:
    import warnings

    with warnings.catch_warnings():
        # create_react_agent is deprecated in favour of create_agent.
        warnings.simplefilter("ignore")
        from langgraph.prebuilt import create_react_agent

        agent = create_react_agent(make_model(ScriptedToolCallingModel()), tools=[library_hours])
    state = await agent.ainvoke({"messages": [("human", "When is it open on Monday?")]})
    messages = state["messages"]
    assert [m.type for m in messages] == ["human", "ai", "tool", "ai"]
    assert "tpo_score" in messages[-1].response_metadata


def test_an_agents_structured_response_passes_through_untouched() -> None:
    from langchain.agents import create_agent

    class Opening(BaseModel):
        hours: str

    policy = ScriptedToolCallingModel()
    agent = create_agent(make_model(policy), response_format=Opening)
    state = agent.invoke({"messages": [("human", "When is it open?")]})
    assert state["structured_response"] == Opening(hours="When is it open?")
    assert [r.stage for r in policy.requests] == ["sample"]  # the forced call; no TPO run


def test_events_the_graph_dispatches_itself_are_not_forwarded_twice() -> None:
    """The graph dispatches its progress as callback events; the adapter adds no copies."""

    class Events(BaseCallbackHandler):
        def __init__(self) -> None:
            self.seen: list[str] = []

        def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
            self.seen.append(name)

    direct, adapted = Events(), Events()
    make_model(ScriptedChatModel()).chain.invoke("q", config={"callbacks": [direct]})
    make_model(ScriptedChatModel()).invoke("q", config={"callbacks": [adapted]})
    assert direct.seen.count("tpo.end") == 1
    assert sorted(adapted.seen) == sorted(direct.seen)
