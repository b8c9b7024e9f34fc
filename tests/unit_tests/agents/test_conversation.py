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
        '[tool call] facts({"topic": "hours"})',
        "[tool result] facts: 9:00-18:00",
        '[tool call] facts({"topic": "late"})',
        "[tool error] facts: lookup failed",
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
    assert value["context"][1].text.endswith("[tool result] lookup: one\nThe answer is one.")
    assert value["query"] == "second"


def test_a_conversation_that_ends_with_an_answer_is_refused() -> None:
    with pytest.raises(ValueError, match="pass it as a draft"):
        tpo_input([HumanMessage("q"), AIMessage("a")])
    with pytest.raises(ValueError, match="no human message"):
        tpo_input([SystemMessage("s"), AIMessage("a")])
