"""The server's small parts: the key check, progress lines, streamed pieces, reply shapes."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage
from openai.types.chat import ChatCompletion
from pydantic import SecretStr

from langchain_tpo.server.auth import BearerKey
from langchain_tpo.server.chat_request import ChatRequest
from langchain_tpo.server.progress import progress_line
from langchain_tpo.server.responses import answers, completion_body
from langchain_tpo.server.runs import RunReply
from langchain_tpo.server.settings import ServerSettings
from langchain_tpo.server.streaming import pieces


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "missing_api_key"),
        ("", "missing_api_key"),
        ("Bearer ", "missing_api_key"),
        ("Basic c2VjcmV0", "missing_api_key"),
        ("Bearer secret-key-x", "invalid_api_key"),
        ("Bearer secret-ke", "invalid_api_key"),
        ("Bearer secret-key-1", None),
        ("bearer secret-key-1", None),
    ],
)
def test_bearer_key(header: str | None, code: str | None) -> None:
    refusal = BearerKey(SecretStr("secret-key-1")).check(header)
    assert (refusal.code if refusal else None) == code
    if refusal is not None:
        assert refusal.status == 401 and "secret" not in refusal.message


def test_an_empty_key_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="empty"):
        BearerKey(SecretStr(""))


def test_progress_lines() -> None:
    assert progress_line({"event": "tpo.stage", "stage": "sample", "iteration": -1}, 3, 2) == (
        "Samples: sampling 3 answers...\n"
    )
    assert progress_line({"event": "tpo.stage", "stage": "rewrite", "iteration": 1}, 3, 2) == (
        "Iteration 2 of 2: rewriting the best answer 3 ways...\n"
    )
    line = progress_line(
        {"event": "tpo.progress", "iteration": 0, "scores": [1.0, 2.0], "best_score": 2.5}, 3, 2
    )
    assert line == "Iteration 1 of 2: scored 2 rewrites; best reward so far +2.500.\n"
    assert progress_line({"event": "something else"}, 3, 2) is None


@pytest.mark.parametrize("text", ["", "one", "a b  c\n\nd " * 40, "x" * 200, "  leading"])
def test_pieces_join_back_exactly(text: str) -> None:
    parts = pieces(text)
    assert "".join(parts) == text
    assert all(p for p in parts)


def _reply(**metadata: object) -> RunReply:
    candidates = [
        {"text": "best answer", "score": 3.0, "iteration": 0, "feedback": None},
        {"text": "second", "score": 2.0, "iteration": -1, "feedback": None},
        {"text": "best answer", "score": 3.0, "iteration": 1, "feedback": None},
        {"text": "third", "score": 1.0, "iteration": -1, "feedback": None},
    ]
    message = AIMessage(
        "best answer",
        response_metadata={
            "tpo_score": 3.0,
            "tpo_best_scores": [2.0, 3.0],
            "tpo_iterations": 1,
            "tpo_stop_reason": "max_iterations",
            "tpo_model_calls": 4,
            "tpo_result": {"candidates": candidates},
            **metadata,
        },
        usage_metadata={"input_tokens": 30, "output_tokens": 12, "total_tokens": 42},
    )
    return RunReply(message, timed_out=False)


def test_n_best_distinct_and_the_completion_validates() -> None:
    request = ChatRequest(model="tpo", messages=[], n=3)
    body = completion_body("chatcmpl-1", request, _reply())
    completion = ChatCompletion.model_validate(body)
    assert [c.message.content for c in completion.choices] == ["best answer", "second", "third"]
    assert body["tpo"]["scores"] == [3.0, 2.0, 1.0]
    assert completion.usage is not None and completion.usage.total_tokens == 42


def test_a_tool_call_passes_through_as_tool_calls() -> None:
    message = AIMessage("", tool_calls=[{"name": "weather", "args": {"city": "Oslo"}, "id": "c1"}])
    request = ChatRequest(model="tpo", messages=[])
    body = completion_body("chatcmpl-2", request, RunReply(message, timed_out=False))
    completion = ChatCompletion.model_validate(body)
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    assert choice.message.tool_calls and choice.message.tool_calls[0].function.arguments == (
        '{"city": "Oslo"}'
    )
    assert body["tpo"]["stop_reason"] == "tool_calls"


def test_a_timed_out_run_finishes_with_length() -> None:
    reply = RunReply(_reply(tpo_stop_reason="timeout").message, timed_out=True)
    chosen = answers(reply, ChatRequest(model="tpo", messages=[]))
    assert chosen[0].finish_reason == "length"


def test_settings_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="max_concurrency"):
        ServerSettings(max_concurrency=0)
    with pytest.raises(ValueError, match="request_timeout_s"):
        ServerSettings(request_timeout_s=float("nan"))
    with pytest.raises(ValueError, match="model_ids"):
        ServerSettings(model_ids=())
