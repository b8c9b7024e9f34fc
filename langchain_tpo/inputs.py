"""Turn what a user passes to TPO into the graph's input, with clear errors for bad input."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import convert_to_messages
from langchain_core.prompt_values import PromptValue

from langchain_tpo.state import TPOInput

_KEYS = {"query", "context", "drafts"}


def coerce_input(value: Any) -> TPOInput:
    """Accept a string, `{"query", ...}`, a list of chat messages or a prompt value.

    For a conversation, the last human message is the query and earlier turns are context.
    """
    if isinstance(value, str):
        return validate_input({"query": value})
    if isinstance(value, PromptValue):
        return _from_messages(value.to_messages())
    if isinstance(value, Mapping):
        unknown = set(value) - _KEYS
        if unknown:
            msg = (
                f"Unknown input key(s) {sorted(unknown)}; TPO takes a dict with 'query' "
                "(required), 'context' (earlier chat messages) and 'drafts' (responses to seed "
                "the cache with)."
            )
            raise ValueError(msg)
        if "query" not in value:
            msg = "The input dict has no 'query'; pass {'query': 'your question'}."
            raise ValueError(msg)
        return validate_input(dict(value))
    if isinstance(value, Sequence):
        return _from_messages(value)
    msg = (
        f"TPO cannot take a {type(value).__name__} as input; pass a string, "
        "{'query': str}, or a list of chat messages."
    )
    raise TypeError(msg)


def _from_messages(items: Sequence[Any]) -> TPOInput:
    try:
        messages = convert_to_messages(items)
    except (ValueError, TypeError, NotImplementedError) as e:
        msg = f"TPO could not read the input as a list of chat messages: {e}"
        raise ValueError(msg) from e
    humans = [i for i, m in enumerate(messages) if m.type == "human"]
    if not humans:
        msg = "The conversation has no human message; TPO answers the last human message."
        raise ValueError(msg)
    last = humans[-1]
    if last != len(messages) - 1:
        msg = (
            "The conversation goes on after its last human message; TPO answers the last human "
            "message. To have TPO improve an existing answer, pass "
            "{'query': ..., 'context': [...], 'drafts': [answer]}."
        )
        raise ValueError(msg)
    return validate_input({"query": messages[last].text, "context": messages[:last]})


def validate_input(value: dict[str, Any]) -> TPOInput:
    """Check a graph input dict: a non-empty query, messages as context, strings as drafts."""
    query = value.get("query")
    if not isinstance(query, str):
        msg = f"The query must be a string; got {type(query).__name__}."
        raise TypeError(msg)
    if not query.strip():
        msg = "The query is empty or only whitespace; give TPO a question or instruction."
        raise ValueError(msg)
    out: TPOInput = {"query": query}
    context = value.get("context") or []
    if context:
        try:
            out["context"] = list(convert_to_messages(context))  # type: ignore[arg-type]
        except (ValueError, TypeError, NotImplementedError) as e:
            msg = f"'context' must be a list of chat messages: {e}"
            raise ValueError(msg) from e
    drafts = value.get("drafts") or []
    if isinstance(drafts, str) or not all(isinstance(d, str) for d in drafts):
        msg = "'drafts' must be a list of strings (responses to seed the cache with)."
        raise TypeError(msg)
    if drafts:
        out["drafts"] = list(drafts)
    return out
