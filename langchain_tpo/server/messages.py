"""OpenAI chat messages (the request's `messages`) as LangChain messages.

Roles `system` and `developer` become system messages, `user` human messages, `assistant` AI
messages (with their `tool_calls`), `tool` tool messages. Content is a string or a list of
text parts; images, audio and files are refused (TPO's policy and reward read text), and so
are the deprecated `function` role and `function_call`, with a message saying what to send.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolCall,
    ToolMessage,
)

from langchain_tpo.server.errors import bad_request

_ROLES = ("system", "developer", "user", "assistant", "tool")
_KNOWN_KEYS = {
    "system": {"role", "content", "name"},
    "developer": {"role", "content", "name"},
    "user": {"role", "content", "name"},
    "assistant": {"role", "content", "name", "tool_calls", "refusal", "reasoning_content"},
    "tool": {"role", "content", "tool_call_id", "name"},
}


def to_messages(raw: Any) -> tuple[list[BaseMessage], int]:
    """The conversation as LangChain messages, and the characters of text it holds.

    Raises:
        APIError: 400 naming the message and field that cannot be read.
    """
    if not isinstance(raw, list) or not raw:
        raise bad_request(
            "`messages` must be a non-empty list of chat messages.", "messages", "invalid_type"
        )
    out: list[BaseMessage] = []
    chars = 0
    for i, item in enumerate(raw):
        message, size = _one(item, f"messages[{i}]")
        out.append(message)
        chars += size
    return out, chars


def _one(item: Any, where: str) -> tuple[BaseMessage, int]:
    if not isinstance(item, dict):
        raise bad_request(f"{where} must be an object with a `role`.", where, "invalid_type")
    role = item.get("role")
    if role == "function":
        raise bad_request(
            f"{where}: the `function` role is deprecated and not supported; send tool results "
            "as `tool` messages with a `tool_call_id`.",
            f"{where}.role",
        )
    if role not in _ROLES:
        raise bad_request(
            f"{where}.role must be one of {', '.join(_ROLES)}; got {role!r}.", f"{where}.role"
        )
    unknown = sorted(set(item) - _KNOWN_KEYS[role])
    if unknown:
        if "function_call" in unknown:
            raise bad_request(
                f"{where}: `function_call` is deprecated and not supported; use `tool_calls`.",
                f"{where}.function_call",
            )
        raise bad_request(
            f"{where} has field(s) this server does not support: {', '.join(unknown)}.",
            f"{where}.{unknown[0]}",
        )
    name = item.get("name")
    if name is not None and not isinstance(name, str):
        raise bad_request(f"{where}.name must be a string.", f"{where}.name")
    text = _text(item.get("content"), f"{where}.content", optional=role == "assistant")
    kwargs: dict[str, Any] = {"name": name} if name else {}
    if role in ("system", "developer"):
        return SystemMessage(text, **kwargs), len(text)
    if role == "user":
        return HumanMessage(text, **kwargs), len(text)
    if role == "tool":
        call_id = item.get("tool_call_id")
        if not isinstance(call_id, str) or not call_id:
            raise bad_request(
                f"{where}: a tool message needs the `tool_call_id` of the call it answers.",
                f"{where}.tool_call_id",
            )
        return ToolMessage(text, tool_call_id=call_id, **kwargs), len(text)
    calls, size = _tool_calls(item.get("tool_calls"), f"{where}.tool_calls")
    if not text and not calls:
        raise bad_request(
            f"{where}: an assistant message needs `content` or `tool_calls`.", f"{where}.content"
        )
    return AIMessage(text, tool_calls=calls, **kwargs), len(text) + size


def _text(content: Any, where: str, *, optional: bool = False) -> str:
    if content is None and optional:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        pieces = []
        for j, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" and isinstance(part.get("text"), str):
                pieces.append(part["text"])
            elif kind in ("image_url", "input_audio", "file", "image", "audio"):
                raise bad_request(
                    f"{where}[{j}] is a {kind} part: this server reads text only (TPO's policy "
                    "and reward score text); send the content as text.",
                    f"{where}[{j}]",
                    "unsupported_content",
                )
            else:
                raise bad_request(
                    f"{where}[{j}] must be a text part, {{'type': 'text', 'text': ...}}.",
                    f"{where}[{j}]",
                )
        return "\n".join(pieces)
    raise bad_request(f"{where} must be a string or a list of text parts.", where, "invalid_type")


def _tool_calls(raw: Any, where: str) -> tuple[list[ToolCall], int]:
    if raw is None:
        return [], 0
    if not isinstance(raw, list):
        raise bad_request(f"{where} must be a list.", where, "invalid_type")
    calls: list[ToolCall] = []
    size = 0
    for k, call in enumerate(raw):
        here = f"{where}[{k}]"
        function = call.get("function") if isinstance(call, dict) else None
        if (
            not isinstance(call, dict)
            or call.get("type", "function") != "function"
            or not isinstance(function, dict)
            or not isinstance(function.get("name"), str)
        ):
            raise bad_request(
                f"{here} must be {{'id': ..., 'type': 'function', 'function': {{'name': ..., "
                "'arguments': '<JSON object>'}}.",
                here,
            )
        arguments = function.get("arguments") or "{}"
        try:
            args = json.loads(arguments) if isinstance(arguments, str) else None
        except (ValueError, RecursionError):
            args = None
        if not isinstance(args, dict):
            raise bad_request(
                f"{here}.function.arguments must be a JSON object in a string.",
                f"{here}.function.arguments",
            )
        call_id = call.get("id")
        calls.append(
            ToolCall(
                name=function["name"],
                args=args,
                id=call_id if isinstance(call_id, str) else None,
                type="tool_call",
            )
        )
        size += len(function["name"]) + len(arguments)
    return calls, size


def text_size(values: Sequence[Any]) -> int:
    """Characters of text in JSON-like values (tools, drafts), as the request sent them."""
    return sum(len(v) if isinstance(v, str) else len(json.dumps(v, default=str)) for v in values)
