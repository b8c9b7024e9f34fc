"""LangChain messages as the role/content dicts that chat templates read."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)


def to_chat_dicts(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    """Convert messages to `{"role", "content"}` dicts for `apply_chat_template`.

    Args:
        messages: The conversation, oldest first.

    Returns:
        One dict per message, with the text content only.

    Raises:
        ValueError: A message type has no chat-template role.
    """
    return [{"role": _role(m), "content": m.text} for m in messages]


def _role(message: BaseMessage) -> str:
    if isinstance(message, SystemMessage):
        return "system"
    if isinstance(message, HumanMessage):
        return "user"
    if isinstance(message, AIMessage):
        return "assistant"
    if isinstance(message, ToolMessage):
        return "tool"
    if isinstance(message, ChatMessage):
        return message.role
    msg = f"Cannot put a {type(message).__name__} into a chat template."
    raise ValueError(msg)
