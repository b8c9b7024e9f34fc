"""ChatOpenAICompatible keeps the thinking a server sends beside the answer."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessageChunk

pytest.importorskip("langchain_openai")

from langchain_tpo.chat_models import ChatOpenAICompatible
from langchain_tpo.thinking import split_reply


@pytest.fixture
def model() -> ChatOpenAICompatible:
    return ChatOpenAICompatible(base_url="http://127.0.0.1:9/v1", api_key="x", model="m")  # type: ignore[arg-type]


def completion(*messages: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "c",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {"index": i, "message": {"role": "assistant", **m}, "finish_reason": "stop"}
            for i, m in enumerate(messages)
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
    }


def test_each_choice_keeps_its_own_thinking(model: ChatOpenAICompatible) -> None:
    result = model._create_chat_result(
        completion(
            {"content": "Paris.", "reasoning": "vLLM field"},
            {"content": "Lyon.", "reasoning_content": "older field"},
            {"content": "Nice."},
        )
    )
    replies = [split_reply(g.message) for g in result.generations]
    assert [(r.answer, r.thinking) for r in replies] == [
        ("Paris.", "vLLM field"),
        ("Lyon.", "older field"),
        ("Nice.", None),
    ]
    assert result.generations[0].message.content_blocks[0] == {
        "type": "reasoning",
        "reasoning": "vLLM field",
    }


def test_a_reply_cut_inside_its_thinking_has_no_content(model: ChatOpenAICompatible) -> None:
    result = model._create_chat_result(completion({"content": None, "reasoning": "Let me"}))
    assert split_reply(result.generations[0].message).cut_in_thinking


def test_odd_thinking_fields_are_ignored(model: ChatOpenAICompatible) -> None:
    result = model._create_chat_result(
        completion({"content": "Hi.", "reasoning": None, "reasoning_content": {"x": 1}})
    )
    assert "reasoning_content" not in result.generations[0].message.additional_kwargs


def test_streamed_thinking_deltas_add_up(model: ChatOpenAICompatible) -> None:
    deltas = [{"reasoning": "Let "}, {"reasoning": "me think."}, {"content": "Paris."}]
    chunks = [
        model._convert_chunk_to_generation_chunk(
            {"choices": [{"index": 0, "delta": {"role": "assistant", **d}}]}, AIMessageChunk, {}
        )
        for d in deltas
    ]
    message = chunks[0].message + chunks[1].message + chunks[2].message  # type: ignore[union-attr]
    reply = split_reply(message)
    assert (reply.answer, reply.thinking) == ("Paris.", "Let me think.")
