"""A finished run as OpenAI's `chat.completion`, with a compact `tpo` object beside it.

The shapes follow `openai.types.chat.ChatCompletion` (the tests validate every reply against
it), so every OpenAI client reads them. `n` asks for the n best distinct answers TPO scored,
best first; fewer come back when fewer distinct answers exist. `finish_reason` is `stop`, or
`length` when the request timeout cut the run (the `tpo` object says `timed_out: true` and
`stop_reason: "timeout"`), or `tool_calls` for a tool call passed through.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

from langchain_core.messages import AIMessage

from langchain_tpo.chat_adapter import _cut_at_stop
from langchain_tpo.server.chat_request import ChatRequest
from langchain_tpo.server.runs import RunReply


@dataclass(frozen=True)
class Answer:
    """One choice of the reply."""

    text: str
    score: float | None
    finish_reason: str
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    """OpenAI-format tool calls (`id`, `type`, `function.name`, `function.arguments`)."""


def answers(reply: RunReply, request: ChatRequest) -> list[Answer]:
    """The reply's choices: a tool call, or the best answer and the next best distinct ones."""
    message = reply.message
    calls = openai_tool_calls(message)
    if calls:
        return [Answer(message.text, None, "tool_calls", calls)]
    finish = "length" if reply.timed_out else "stop"
    first = Answer(message.text, message.response_metadata.get("tpo_score"), finish)
    if request.n == 1:
        return [first]
    result = message.response_metadata.get("tpo_result") or {}
    ranked = sorted(result.get("candidates") or [], key=lambda c: -float(c["score"]))
    chosen, seen = [first], {first.text}
    for candidate in ranked:
        text = _cut_at_stop(candidate["text"], request.stop)
        if len(chosen) >= request.n:
            break
        if text.strip() and text not in seen:
            seen.add(text)
            chosen.append(Answer(text, float(candidate["score"]), finish))
    return chosen


def openai_tool_calls(message: AIMessage) -> list[dict[str, Any]]:
    """The message's tool calls as OpenAI writes them (malformed ones keep their raw text)."""
    calls = [
        {
            "id": call.get("id") or f"call_{uuid4().hex[:24]}",
            "type": "function",
            "function": {"name": call["name"], "arguments": json.dumps(call["args"])},
        }
        for call in message.tool_calls
    ]
    calls += [
        {
            "id": bad.get("id") or f"call_{uuid4().hex[:24]}",
            "type": "function",
            "function": {"name": bad.get("name") or "", "arguments": bad.get("args") or ""},
        }
        for bad in message.invalid_tool_calls
    ]
    return calls


def usage(reply: RunReply) -> dict[str, int]:
    """Tokens of every policy request of the run, in OpenAI's names."""
    used: dict[str, Any] = dict(reply.message.usage_metadata or {})
    prompt = int(used.get("input_tokens", 0))
    completion = int(used.get("output_tokens", 0))
    total = int(used.get("total_tokens", 0)) or prompt + completion
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}


def tpo_summary(reply: RunReply, chosen: list[Answer], *, full: bool = False) -> dict[str, Any]:
    """The compact `tpo` object: reward, best reward by iteration, iterations, why it stopped;
    with `full`, the whole TPO result (every candidate, critique and suggestion)."""
    meta = reply.message.response_metadata
    summary: dict[str, Any] = {
        "score": meta.get("tpo_score"),
        "best_scores": list(meta.get("tpo_best_scores") or []),
        "iterations": int(meta.get("tpo_iterations") or 0),
        "stop_reason": meta.get("tpo_stop_reason") or "tool_calls",
        "model_calls": int(meta.get("tpo_model_calls") or 0),
        "timed_out": reply.timed_out,
    }
    if len(chosen) > 1:
        summary["scores"] = [a.score for a in chosen]
    if full:
        summary["result"] = meta.get("tpo_result")
    return summary


def completion_body(
    request_id: str, request: ChatRequest, reply: RunReply, created: int | None = None
) -> dict[str, Any]:
    """The `chat.completion` object of a finished run."""
    chosen = answers(reply, request)
    choices = []
    for i, answer in enumerate(chosen):
        message: dict[str, Any] = {"role": "assistant", "content": answer.text, "refusal": None}
        if answer.tool_calls:
            message["tool_calls"] = answer.tool_calls
            message["content"] = answer.text or None
        choices.append(
            {
                "index": i,
                "message": message,
                "logprobs": None,
                "finish_reason": answer.finish_reason,
            }
        )
    return {
        "id": request_id,
        "object": "chat.completion",
        "created": created if created is not None else int(time.time()),
        "model": request.model,
        "choices": choices,
        "usage": usage(reply),
        "system_fingerprint": None,
        "tpo": tpo_summary(reply, chosen, full=request.return_full_result),
    }
