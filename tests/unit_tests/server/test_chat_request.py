"""Reading chat-completion bodies: what is honoured, what is refused, and how it is said."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from langchain_tpo import TPOConfig
from langchain_tpo.server.chat_request import parse_chat_request
from langchain_tpo.server.errors import APIError
from langchain_tpo.server.settings import ServerSettings

SETTINGS = ServerSettings(model_ids=("tpo", "smollm2"), max_samples=8, max_iterations=3)
DEFAULTS = TPOConfig()
USER = [{"role": "user", "content": "How do tides work?"}]


def parse(**body: Any) -> Any:
    return parse_chat_request({"model": "tpo", "messages": USER, **body}, SETTINGS, DEFAULTS)


def refused(body: Any, settings: ServerSettings = SETTINGS) -> APIError:
    with pytest.raises(APIError) as raised:
        parse_chat_request(body, settings, DEFAULTS)
    error = raised.value
    assert error.message and error.status in (400, 404, 413, 422)
    return error


def test_standard_fields_become_tpo_settings() -> None:
    request = parse(
        temperature=0.2,
        top_p=0.9,
        max_completion_tokens=64,
        seed=3,
        n=2,
        stop="END",
        user="u-1",
        tpo={"num_samples": 4, "max_iterations": 1, "mode": "revision", "drafts": ["a draft"]},
    )
    assert request.overrides == {
        "num_samples": 4,
        "max_iterations": 1,
        "mode": "revision",
        "temperature": 0.2,
        "top_p": 0.9,
        "seed": 3,
        "max_tokens": 64,
    }
    assert (request.n, request.stop, request.user, request.drafts) == (
        2,
        ["END"],
        "u-1",
        ["a draft"],
    )
    assert not request.stream and not request.return_full_result


def test_null_fields_and_no_op_values_are_accepted() -> None:
    request = parse(
        temperature=None,
        frequency_penalty=0,
        presence_penalty=0.0,
        logprobs=False,
        response_format={"type": "text"},
        stream=False,
        tools=None,
        tool_choice="none",
    )
    assert request.overrides == {} and request.tools is None


def test_conversation_roles_and_tool_turns() -> None:
    request = parse(
        messages=[
            {"role": "developer", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather"},
                    {"type": "text", "text": "in Oslo?"},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city": "Oslo"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        ],
        tools=[
            {"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}
        ],
    )
    system, human, call, result = request.messages
    assert isinstance(system, SystemMessage) and system.text == "Be brief."
    assert isinstance(human, HumanMessage) and human.text == "Weather\nin Oslo?"
    assert isinstance(call, AIMessage) and call.tool_calls[0]["args"] == {"city": "Oslo"}
    assert isinstance(result, ToolMessage) and result.tool_call_id == "c1"
    assert request.tools and request.tools[0]["function"]["name"] == "weather"


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ([], 400, None),
        ({"messages": USER}, 400, "model"),
        ({"model": "gpt-4o", "messages": USER}, 404, "model"),
        ({"model": "tpo"}, 400, "messages"),
        ({"model": "tpo", "messages": []}, 400, "messages"),
        (
            {"model": "tpo", "messages": [{"role": "wizard", "content": "x"}]},
            400,
            "messages[0].role",
        ),
        (
            {"model": "tpo", "messages": [{"role": "function", "content": "x"}]},
            400,
            "messages[0].role",
        ),
        (
            {
                "model": "tpo",
                "messages": [
                    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}
                ],
            },
            400,
            "messages[0].content[0]",
        ),
        (
            {"model": "tpo", "messages": [{"role": "user", "content": 3}]},
            400,
            "messages[0].content",
        ),
        (
            {"model": "tpo", "messages": [{"role": "user", "content": "x", "audio": {}}]},
            400,
            "messages[0].audio",
        ),
        (
            {"model": "tpo", "messages": [{"role": "tool", "content": "x"}]},
            400,
            "messages[0].tool_call_id",
        ),
        ({"model": "tpo", "messages": USER, "logprobs": True}, 400, "logprobs"),
        (
            {"model": "tpo", "messages": USER, "response_format": {"type": "json_object"}},
            400,
            "response_format",
        ),
        ({"model": "tpo", "messages": USER, "functions": []}, 400, "functions"),
        ({"model": "tpo", "messages": USER, "frequency_penalty": 0.5}, 400, "frequency_penalty"),
        ({"model": "tpo", "messages": USER, "best_of": 3}, 400, "best_of"),
        ({"model": "tpo", "messages": USER, "n": 0}, 400, "n"),
        ({"model": "tpo", "messages": USER, "n": 9}, 400, "n"),
        ({"model": "tpo", "messages": USER, "n": True}, 400, "n"),
        ({"model": "tpo", "messages": USER, "temperature": "hot"}, 400, "temperature"),
        ({"model": "tpo", "messages": USER, "temperature": 3.0}, 400, "tpo.temperature"),
        ({"model": "tpo", "messages": USER, "max_tokens": 1.5}, 400, "max_tokens"),
        ({"model": "tpo", "messages": USER, "max_tokens": 10_000}, 400, "max_tokens"),
        (
            {"model": "tpo", "messages": USER, "max_tokens": 5, "max_completion_tokens": 6},
            400,
            "max_completion_tokens",
        ),
        ({"model": "tpo", "messages": USER, "stop": ["a", ""]}, 400, "stop"),
        ({"model": "tpo", "messages": USER, "stream": "yes"}, 400, "stream"),
        (
            {"model": "tpo", "messages": USER, "stream_options": {"include_usage": True}},
            400,
            "stream_options",
        ),
        ({"model": "tpo", "messages": USER, "tpo": [1]}, 400, "tpo"),
        ({"model": "tpo", "messages": USER, "tpo": {"samples": 3}}, 400, "tpo.samples"),
        ({"model": "tpo", "messages": USER, "tpo": {"num_samples": 9}}, 400, "tpo.num_samples"),
        (
            {"model": "tpo", "messages": USER, "tpo": {"max_iterations": 4}},
            400,
            "tpo.max_iterations",
        ),
        ({"model": "tpo", "messages": USER, "tpo": {"timeout_s": 9999}}, 400, "tpo.timeout_s"),
        ({"model": "tpo", "messages": USER, "tpo": {"mode": "magic"}}, 400, "tpo.mode"),
        ({"model": "tpo", "messages": USER, "tpo": {"num_samples": 1}}, 400, "tpo"),
        ({"model": "tpo", "messages": USER, "tpo": {"drafts": "one"}}, 400, "tpo.drafts"),
        ({"model": "tpo", "messages": USER, "tpo": {"drafts": ["d"] * 9}}, 400, "tpo.drafts"),
        ({"model": "tpo", "messages": USER, "seed": 1, "tpo": {"seed": 2}}, 400, "tpo.seed"),
        ({"model": "tpo", "messages": USER, "tool_choice": "auto"}, 400, "tool_choice"),
        ({"model": "tpo", "messages": USER, "tools": [{"type": "retrieval"}]}, 400, "tools[0]"),
        (
            {
                "model": "tpo",
                "messages": USER,
                "tools": [{"type": "function", "function": {"name": "a"}}],
                "tool_choice": {"type": "function", "function": {"name": "b"}},
            },
            400,
            "tool_choice",
        ),
        ({"model": "tpo", "messages": USER * 300}, 413, "messages"),
        (
            {"model": "tpo", "messages": [{"role": "user", "content": "x" * 200_001}]},
            413,
            "messages",
        ),
        (
            {"model": "tpo", "messages": [{"role": "system", "content": "Only a system turn."}]},
            422,
            "messages",
        ),
        (
            {"model": "tpo", "messages": [*USER, {"role": "assistant", "content": "An answer."}]},
            422,
            "messages",
        ),
    ],
)
def test_refusals_name_the_field(body: Any, status: int, param: str | None) -> None:
    error = refused(body)
    assert (error.status, error.param) == (status, param), error.message
    body_json = error.body()
    assert set(body_json["error"]) == {"message", "type", "param", "code"}


def test_the_caps_name_the_flag_to_raise() -> None:
    error = refused({"model": "tpo", "messages": USER, "tpo": {"num_samples": 9}})
    assert "8" in error.message and "--max-samples" in error.message


def test_a_bad_setting_says_what_is_allowed() -> None:
    error = refused({"model": "tpo", "messages": USER, "tpo": {"num_samples": 1}})
    assert "mode 'tpo'" in error.message and "revision" in error.message


def test_streaming_with_usage() -> None:
    request = parse(stream=True, stream_options={"include_usage": True})
    assert request.stream and request.include_usage
