"""Read a `POST /v1/chat/completions` body into a `ChatRequest`, within the server's caps.

Standard fields honoured: `model`, `messages`, `temperature`, `top_p`, `max_tokens` /
`max_completion_tokens` (tokens per generated text), `stop` (cuts the chosen answer), `seed`,
`n` (the n best distinct answers), `user`, `stream`, `stream_options.include_usage`, `tools`,
`tool_choice`, `parallel_tool_calls`. TPO's own settings ride in a top-level `tpo` object whose
keys are `TPOConfig`'s fields (plus `drafts` and `return_full_result`), each bounded by the
server. A field that would change the answer but that TPO cannot honour (`response_format`,
`logprobs`, penalties, ...) is a 400 naming it; sent at its no-op value (`logprobs: false`,
`frequency_penalty: 0`, ...) it is accepted, since many clients send defaults explicitly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import BaseMessage
from pydantic import ValidationError

from langchain_tpo.agents.conversation import tpo_input
from langchain_tpo.config import TPOConfig
from langchain_tpo.server.errors import APIError, bad_request
from langchain_tpo.server.messages import text_size, to_messages
from langchain_tpo.server.settings import ServerSettings

STANDARD = (
    "model",
    "messages",
    "stream",
    "stream_options",
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "n",
    "stop",
    "seed",
    "user",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "tpo",
)
EXTRA_TPO_KEYS = ("drafts", "return_full_result")

# Fields TPO does not implement, accepted only at the value that changes nothing.
_NO_OP: dict[str, tuple[Any, ...]] = {
    "frequency_penalty": (0,),
    "presence_penalty": (0,),
    "logprobs": (False,),
    "top_logprobs": (0,),
    "logit_bias": ({},),
    "response_format": ({"type": "text"},),
    "store": (False,),
    "service_tier": ("auto", "default"),
    "modalities": (["text"],),
}
_WHY_NOT = {
    "response_format": "TPO refines free text ranked by a reward model and cannot make it fit "
    "a format; ask for the format in the messages, or parse the answer afterwards",
    "logprobs": "the answer is a candidate TPO chose after scoring, and token log-probabilities "
    "of the candidates are not kept",
    "top_logprobs": "token log-probabilities of the candidates are not kept",
    "functions": "`functions` is deprecated; send `tools`",
    "function_call": "`function_call` is deprecated; send `tool_choice`",
    "frequency_penalty": "TPO's policy requests do not take penalties",
    "presence_penalty": "TPO's policy requests do not take penalties",
    "logit_bias": "TPO's policy requests do not take a logit bias",
}
_CONFLICTING = ("temperature", "top_p", "max_tokens", "seed")


@dataclass(frozen=True)
class ChatRequest:
    """A chat-completion request, checked and bounded."""

    model: str
    messages: list[BaseMessage]
    overrides: dict[str, Any] = field(default_factory=dict)
    """TPOConfig fields this request sets (its `tpo` object and the standard fields)."""
    stream: bool = False
    include_usage: bool = False
    n: int = 1
    stop: list[str] | None = None
    drafts: list[str] = field(default_factory=list)
    return_full_result: bool = False
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    user: str | None = None


def parse_chat_request(body: Any, settings: ServerSettings, defaults: TPOConfig) -> ChatRequest:
    """Check a decoded JSON body and turn it into a `ChatRequest`.

    Args:
        body: The decoded JSON body.
        settings: The server's caps.
        defaults: The server's TPO settings, which the request's overrides must fit with.

    Raises:
        APIError: 400 (malformed, unsupported or out of range), 404 (a model the server does
            not serve), 413 (too many messages or characters) or 422 (a conversation TPO
            cannot answer), each naming the field.
    """
    if not isinstance(body, dict):
        raise bad_request("The body must be a JSON object.", None, "invalid_type")
    given = {k: v for k, v in body.items() if v is not None}
    _refuse_unsupported(given)
    model = _model(given, settings)
    messages, chars = to_messages(given.get("messages"))
    stream = _boolean(given, "stream", False)
    include_usage = _stream_options(given, stream)
    tpo = _tpo_object(given.get("tpo"))
    overrides = _overrides(given, tpo)
    drafts = _drafts(tpo.get("drafts"), settings.max_samples)
    tools, tool_choice, parallel = _tools(given)
    chars += text_size([*drafts, *(tools or [])])
    _check_size(len(messages), chars, settings)
    _check_caps(overrides, settings)
    try:
        defaults.with_overrides(overrides)
    except ValidationError as e:
        raise _invalid_settings(e) from None
    request = ChatRequest(
        model=model,
        messages=messages,
        overrides=overrides,
        stream=stream,
        include_usage=include_usage,
        n=_n(given, settings),
        stop=_stop(given.get("stop")),
        drafts=drafts,
        return_full_result=_boolean(tpo, "return_full_result", False, "tpo."),
        tools=tools,
        tool_choice=tool_choice,
        parallel_tool_calls=parallel,
        user=_string(given, "user"),
    )
    _check_answerable(messages)
    return request


def _refuse_unsupported(given: dict[str, Any]) -> None:
    for key, value in given.items():
        if key in STANDARD:
            continue
        if key in _NO_OP and value in _NO_OP[key]:
            continue
        why = _WHY_NOT.get(key)
        if why is not None:
            raise bad_request(f"`{key}` is not supported by this TPO server: {why}.", key)
        raise bad_request(
            f"`{key}` is not supported by this TPO server. Supported fields: "
            f"{', '.join(STANDARD)} (TPO settings go in the `tpo` object).",
            key,
            "unsupported_parameter",
        )


def _model(given: dict[str, Any], settings: ServerSettings) -> str:
    model = given.get("model")
    if not isinstance(model, str) or not model:
        raise bad_request(
            f"`model` is required: one of {', '.join(settings.model_ids)}.", "model", "missing"
        )
    if model not in settings.model_ids:
        raise APIError(
            404,
            f"The model {model!r} does not exist on this server; it serves "
            f"{', '.join(settings.model_ids)}.",
            param="model",
            code="model_not_found",
        )
    return model


def _boolean(given: Mapping[str, Any], key: str, default: bool, prefix: str = "") -> bool:
    value = given.get(key, default)
    if not isinstance(value, bool):
        raise bad_request(f"`{prefix}{key}` must be true or false.", prefix + key, "invalid_type")
    return value


def _string(given: Mapping[str, Any], key: str) -> str | None:
    value = given.get(key)
    if value is not None and not isinstance(value, str):
        raise bad_request(f"`{key}` must be a string.", key, "invalid_type")
    return value


def _integer(given: Mapping[str, Any], key: str, param: str) -> int | None:
    value = given.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"`{param}` must be an integer.", param, "invalid_type")
    return value


def _number(given: Mapping[str, Any], key: str, param: str) -> float | None:
    value = given.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise bad_request(f"`{param}` must be a finite number.", param, "invalid_type")
    return float(value)


def _stream_options(given: dict[str, Any], stream: bool) -> bool:
    options = given.get("stream_options")
    if options is None:
        return False
    if not stream:
        raise bad_request("`stream_options` is only allowed with `stream: true`.", "stream_options")
    if not isinstance(options, dict):
        raise bad_request("`stream_options` must be an object.", "stream_options", "invalid_type")
    unknown = sorted(k for k, v in options.items() if k != "include_usage" and v)
    if unknown:
        raise bad_request(
            f"`stream_options.{unknown[0]}` is not supported; only `include_usage` is.",
            f"stream_options.{unknown[0]}",
        )
    return _boolean(options, "include_usage", False, "stream_options.")


def _tpo_object(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise bad_request(
            "`tpo` must be an object of TPO settings, e.g. "
            '{"num_samples": 3, "max_iterations": 2}.',
            "tpo",
            "invalid_type",
        )
    allowed = (*TPOConfig.model_fields, *EXTRA_TPO_KEYS)
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        raise bad_request(
            f"`tpo.{unknown[0]}` is not a TPO setting; the `tpo` object takes "
            f"{', '.join(allowed)}.",
            f"tpo.{unknown[0]}",
            "unsupported_parameter",
        )
    return {k: v for k, v in raw.items() if v is not None}


def _overrides(given: dict[str, Any], tpo: dict[str, Any]) -> dict[str, Any]:
    standard: dict[str, Any] = {
        "temperature": _number(given, "temperature", "temperature"),
        "top_p": _number(given, "top_p", "top_p"),
        "seed": _integer(given, "seed", "seed"),
        "max_tokens": _max_tokens(given),
    }
    overrides = {k: v for k, v in tpo.items() if k in TPOConfig.model_fields}
    for key in _CONFLICTING:
        value = standard[key]
        if value is None:
            continue
        if key in overrides and overrides[key] != value:
            raise bad_request(
                f"`{key}` ({value!r}) and `tpo.{key}` ({overrides[key]!r}) disagree; give one.",
                f"tpo.{key}",
            )
        overrides[key] = value
    return overrides


def _max_tokens(given: dict[str, Any]) -> int | None:
    old = _integer(given, "max_tokens", "max_tokens")
    new = _integer(given, "max_completion_tokens", "max_completion_tokens")
    if old is not None and new is not None and old != new:
        raise bad_request(
            f"`max_tokens` ({old}) and `max_completion_tokens` ({new}) disagree; give one.",
            "max_completion_tokens",
        )
    return new if new is not None else old


def _n(given: dict[str, Any], settings: ServerSettings) -> int:
    n = _integer(given, "n", "n")
    if n is None:
        return 1
    if not 1 <= n <= settings.max_samples:
        raise bad_request(
            f"`n` must be between 1 and {settings.max_samples} on this server "
            f"(the n best distinct answers TPO found); got {n}.",
            "n",
        )
    return n


def _stop(raw: Any) -> list[str] | None:
    words = [raw] if isinstance(raw, str) else raw
    if words is None:
        return None
    if not isinstance(words, list) or not all(isinstance(w, str) and w for w in words):
        raise bad_request("`stop` must be a string or a list of non-empty strings.", "stop")
    if len(words) > 16:
        raise bad_request(f"`stop` takes at most 16 sequences; got {len(words)}.", "stop")
    return list(words) or None


def _drafts(raw: Any, most: int) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(d, str) for d in raw):
        raise bad_request(
            "`tpo.drafts` must be a list of strings (answers to seed TPO's cache with).",
            "tpo.drafts",
        )
    if len(raw) > most:
        raise bad_request(
            f"`tpo.drafts` holds {len(raw)} drafts; this server scores at most {most} "
            "(tpo serve --max-samples).",
            "tpo.drafts",
            "above_server_limit",
        )
    return list(raw)


def _tools(
    given: dict[str, Any],
) -> tuple[list[dict[str, Any]] | None, str | dict[str, Any] | None, bool | None]:
    raw = given.get("tools")
    choice = given.get("tool_choice")
    parallel = given.get("parallel_tool_calls")
    if parallel is not None and not isinstance(parallel, bool):
        raise bad_request("`parallel_tool_calls` must be true or false.", "parallel_tool_calls")
    if raw is None:
        if choice not in (None, "none"):
            raise bad_request("`tool_choice` needs `tools`.", "tool_choice")
        return None, None, None
    if not isinstance(raw, list):
        raise bad_request("`tools` must be a list of function tools.", "tools", "invalid_type")
    names = []
    for i, tool in enumerate(raw):
        function = tool.get("function") if isinstance(tool, dict) else None
        if (
            not isinstance(tool, dict)
            or tool.get("type") != "function"
            or not isinstance(function, dict)
            or not isinstance(function.get("name"), str)
            or not function["name"]
            or not isinstance(function.get("parameters", {}), dict)
        ):
            raise bad_request(
                f"tools[{i}] must be {{'type': 'function', 'function': {{'name': ..., "
                "'description': ..., 'parameters': {JSON schema}}}}.",
                f"tools[{i}]",
            )
        names.append(function["name"])
    if choice is not None and choice not in ("none", "auto", "required"):
        function = choice.get("function") if isinstance(choice, dict) else None
        if not isinstance(function, dict) or function.get("name") not in names:
            raise bad_request(
                "`tool_choice` must be none, auto, required or {'type': 'function', "
                "'function': {'name': <one of the tools>}}.",
                "tool_choice",
            )
    if choice == "none" or not raw:
        return None, None, None  # TPO answers without tools
    return list(raw), choice, parallel


def _check_size(messages: int, chars: int, settings: ServerSettings) -> None:
    if messages > settings.max_messages:
        raise APIError(
            413,
            f"The conversation has {messages} messages; this server takes at most "
            f"{settings.max_messages} (tpo serve --max-messages).",
            param="messages",
            code="too_many_messages",
        )
    if chars > settings.max_chars:
        raise APIError(
            413,
            f"The request holds {chars} characters of text; this server takes at most "
            f"{settings.max_chars} (tpo serve --max-chars).",
            param="messages",
            code="too_much_text",
        )


_CAPS = (
    ("num_samples", "max_samples", "--max-samples"),
    ("max_iterations", "max_iterations", "--max-iterations"),
    ("max_tokens", "max_tokens", "--max-tokens-cap"),
    ("max_retries", "max_retries", "--retries"),
    ("timeout_s", "request_timeout_s", "--request-timeout"),
    ("request_timeout_s", "request_timeout_s", "--request-timeout"),
)


def _check_caps(overrides: dict[str, Any], settings: ServerSettings) -> None:
    for key, cap_name, flag in _CAPS:
        value = overrides.get(key)
        cap = getattr(settings, cap_name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > cap:
            param = "max_tokens" if key == "max_tokens" else f"tpo.{key}"
            raise bad_request(
                f"`{param}` is {value}, above this server's limit of {cap:g} (tpo serve {flag}).",
                param,
                "above_server_limit",
            )


def _invalid_settings(error: ValidationError) -> APIError:
    problems = error.errors()
    location = [str(part) for part in problems[0]["loc"]] if problems else []
    param = f"tpo.{location[0]}" if location else "tpo"
    text = "; ".join(p["msg"].removeprefix("Value error, ") for p in problems)
    return bad_request(f"Invalid TPO settings: {text}", param, "invalid_value")


def _check_answerable(messages: list[BaseMessage]) -> None:
    try:
        tpo_input(messages)
    except (ValueError, TypeError) as e:
        raise APIError(422, str(e), param="messages", code="unanswerable_conversation") from None
