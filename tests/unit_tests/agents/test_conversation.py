"""Agent conversations as TPO input: tool turns rendered as text, the question last."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from langchain_tpo.agents import render_tool_turns, tpo_input


def call(name: str, args: dict, id_: str, text: str = "") -> AIMessage:
    return AIMessage(text, tool_calls=[{"name": name, "args": args, "id": id_}])


def test_plain_conversations_are_unchanged() -> None:
    messages = [SystemMessage("s"), HumanMessage("a"), AIMessage("b"), HumanMessage("q")]
    value = tpo_input(messages)
    assert value == {"query": "q", "context": messages[:3]}
    assert render_tool_turns(messages) == messages


def test_the_research_for_the_question_becomes_one_assistant_turn() -> None:
    messages = [
        SystemMessage("Be brief."),
        HumanMessage("When is it open, and what do late returns cost?"),
        call("facts", {"topic": "hours"}, "1", text="Let me look."),
        ToolMessage("9:00-18:00", tool_call_id="1"),
        call("facts", {"topic": "late"}, "2"),
        ToolMessage("lookup failed", tool_call_id="2", status="error", name="facts"),
    ]
    value = tpo_input(messages, drafts=["Open 9-18."])
    assert value["query"] == "When is it open, and what do late returns cost?"
    assert value["drafts"] == ["Open 9-18."]
    system, question, research = value["context"]
    assert (system, question) == (messages[0], messages[1])
    assert isinstance(research, AIMessage) and not research.tool_calls
    assert research.text.splitlines() == [
        "Let me look.",
        "I used the tool facts (topic: hours) and got: 9:00-18:00",
        "I used the tool facts (topic: late) which failed: lookup failed",
    ]


def test_earlier_tool_turns_and_their_answer_merge_into_one_turn() -> None:
    messages = [
        HumanMessage("first"),
        call("lookup", {"x": 1}, "1"),
        ToolMessage("one", tool_call_id="1"),
        AIMessage("The answer is one."),
        HumanMessage("second"),
    ]
    value = tpo_input(messages)
    assert [m.type for m in value["context"]] == ["human", "ai"]
    assert value["context"][1].text == (
        "I used the tool lookup (x: 1) and got: one\nThe answer is one."
    )
    assert value["query"] == "second"


def test_a_conversation_that_ends_with_an_answer_is_refused() -> None:
    with pytest.raises(ValueError, match="pass it as a draft"):
        tpo_input([HumanMessage("q"), AIMessage("a")])
    with pytest.raises(ValueError, match="no human message"):
        tpo_input([SystemMessage("s"), AIMessage("a")])


def test_a_call_still_waiting_for_its_result_and_a_stray_result() -> None:
    turns = render_tool_turns(
        [
            HumanMessage("q"),
            AIMessage("", tool_calls=[{"name": "clock", "args": {}, "id": "1"}]),
            ToolMessage("noon", tool_call_id="unknown"),
        ]
    )
    assert turns[1].text == "I am using the tool clock.\nI used a tool and got: noon"
