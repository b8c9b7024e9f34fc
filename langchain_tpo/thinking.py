"""Thinking is not the answer: split a reasoning policy's reply, and tell it where to think.

A reasoning policy's reply has two parts, in one of three forms:

- a thinking block written into the text, `<think>...</think>answer` (a model served without
  a reasoning parser; the tags are configurable). Templates that open the block themselves
  (DeepSeek-R1 and its distillations) leave only the closing tag in the reply: a reply with a
  closing tag and no opening tag before it is split there, and with an empty opening tag
  (`("", "</think>")`) every reply is taken to start inside its thinking, so one that never
  closes it was cut there;
- `reasoning_content` beside the content (`additional_kwargs`, as ChatDeepSeek, ChatOllama,
  ChatGroq and `ChatOpenAICompatible` put it for vLLM's `reasoning` field);
- reasoning content blocks in the content (LangChain v1 `{"type": "reasoning"}`, Anthropic's
  `{"type": "thinking"}`).

`split_reply` returns the answer and the thinking whichever form the reply used, and says when
there is thinking but no answer after it (the reply ran out of tokens while thinking). Only the
answer is scored, cached, compared, shown to the prompts and returned; the thinking stays in
the candidate's record.

`thinking_kwargs` is the other direction: the keyword arguments that ask one request of a
policy to think or not, in the form its backend understands (`chat_template_kwargs` for
in-process vLLM and transformers chat templates, `extra_body` for OpenAI-compatible servers,
`reasoning_effort` for servers that take one) and vLLM's `thinking_token_budget`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage

from langchain_tpo.config import DEFAULT_THINKING_TAGS

Tags = tuple[str, str]


@dataclass(frozen=True)
class Reply:
    """One reply of the policy, split into its answer and its thinking."""

    answer: str
    """The text after the thinking (the whole text when there was none), untrimmed."""
    thinking: str | None = None
    """What the policy thought before answering; None when it showed no thinking."""

    @property
    def cut_in_thinking(self) -> bool:
        """The reply thought and never answered (typically: out of tokens while thinking)."""
        return self.thinking is not None and not self.answer.strip()


def split_reply(
    reply: BaseMessage | str,
    tags: Tags = DEFAULT_THINKING_TAGS,
    *,
    asked_not_to_think: bool = False,
) -> Reply:
    """Split a reply into its answer and its thinking.

    Args:
        reply: The policy's message (or its text).
        tags: The opening and closing tags of thinking written into the text; an empty
            opening tag means the chat template opens the block before the reply starts.
        asked_not_to_think: The request asked for no thinking, so a template opened no block
            (a reply without the closing tag is all answer).

    Returns:
        The answer (text content only, thinking removed) and the thinking of every form found,
        joined by blank lines. A thinking block that was opened and never closed is all
        thinking: the answer is "" (`Reply.cut_in_thinking`).
    """
    if isinstance(reply, str):
        parts, text = [], reply
    else:
        parts, text = _reasoning_parts(reply), reply.text
    start, end = tags
    body = text.lstrip()
    if not start and not asked_not_to_think and end not in text:
        parts.append(text)  # opened by the template and never closed
        text = ""
    elif start and body.startswith(start):
        inner = body[len(start) :]
        closed = inner.find(end)
        if closed == -1:
            parts.append(inner)
            text = ""
        else:
            parts.append(inner[:closed])
            text = inner[closed + len(end) :]
    elif (closed := text.find(end)) != -1 and (not start or start not in text[:closed]):
        # The chat template opened the block: the reply starts inside it.
        parts.append(text[:closed])
        text = text[closed + len(end) :]
    kept = [p.strip() for p in parts if p and p.strip()]
    opened = bool(parts)
    thinking = "\n\n".join(kept) if kept else ("" if opened and not text.strip() else None)
    return Reply(answer=text, thinking=thinking)


def _reasoning_parts(message: BaseMessage) -> list[str]:
    """Thinking kept beside the text: reasoning content blocks and reasoning fields."""
    parts: list[str] = []
    try:
        blocks: list[Any] = list(message.content_blocks)
    except Exception:  # a provider translator that cannot read this content
        blocks = (
            [b for b in message.content if isinstance(b, dict)]
            if isinstance(message.content, list)
            else []
        )
    for block in blocks:
        kind = block.get("type")
        if kind == "non_standard" and isinstance(block.get("value"), dict):
            block, kind = block["value"], block["value"].get("type")
        if kind == "reasoning" and isinstance(block.get("reasoning"), str):
            parts.append(block["reasoning"])
        elif kind == "thinking" and isinstance(block.get("thinking"), str):
            parts.append(block["thinking"])
    extra = message.additional_kwargs
    for key in ("reasoning_content", "reasoning"):
        value = extra.get(key)
        if isinstance(value, str) and value not in parts:
            parts.append(value)
    return parts


def answer_only(message: BaseMessage, tags: Tags = DEFAULT_THINKING_TAGS) -> BaseMessage:
    """An assistant message without its thinking (other messages are returned as they are).

    Earlier turns of a conversation go back to the model; their thinking must not.
    """
    if not isinstance(message, AIMessage):
        return message
    # A turn given back as context is an answer: only thinking it shows is cut from it.
    reply = split_reply(message, tags, asked_not_to_think=True)
    if reply.thinking is None:
        return message
    extra = {
        key: value
        for key, value in message.additional_kwargs.items()
        if key not in ("reasoning_content", "reasoning")
    }
    return message.model_copy(update={"content": reply.answer.strip(), "additional_kwargs": extra})


def stage_thinking(settings: Mapping[str, Any], stage: str) -> bool | None:
    """Whether a stage's requests ask the policy to think (None: they ask nothing)."""
    stages = settings.get("thinking_stages")
    if stages is None:
        return None
    return stage in stages


def thinking_allowed(settings: Mapping[str, Any], stage: str) -> bool:
    """Whether the policy may think in this stage (so the thinking budget applies)."""
    return stage_thinking(settings, stage) is not False


def _declared(model: Any) -> set[str]:
    return set(getattr(type(model), "model_fields", {}))


def thinking_kwargs(
    model: Any,
    bound: Mapping[str, Any],
    *,
    enabled: bool | None,
    switch: str,
    budget: int | None,
) -> tuple[dict[str, Any], bool]:
    """Keyword arguments that tell one request of `model` whether to think, and its budget.

    Args:
        model: The chat model under any `.bind(...)` layers.
        bound: The keyword arguments those layers bind (a request's own values are merged
            with them, not replaced).
        enabled: Think (True), do not (False), or ask nothing (None).
        switch: `TPOConfig.thinking_switch`.
        budget: Thinking tokens allowed (vLLM's `thinking_token_budget`), when thinking.

    Returns:
        The keyword arguments, and whether the model understood the request (False when
        thinking was to be switched and the model takes none of the ways TPO knows).
    """
    declared = _declared(model)
    kwargs: dict[str, Any] = {}
    understood = True
    body_fields: dict[str, Any] = {}
    if enabled is not None:
        if switch == "reasoning_effort":
            if "reasoning_effort" in declared:
                if not enabled:
                    kwargs["reasoning_effort"] = "none"
            elif "extra_body" in declared:
                if not enabled:
                    body_fields["reasoning_effort"] = "none"
            else:
                understood = False
        elif "chat_template_kwargs" in declared:
            current = {**(getattr(model, "chat_template_kwargs", None) or {})}
            current.update(bound.get("chat_template_kwargs") or {})
            kwargs["chat_template_kwargs"] = {**current, switch: enabled}
        elif "extra_body" in declared:
            body = {**(getattr(model, "extra_body", None) or {}), **(bound.get("extra_body") or {})}
            template = {**(body.get("chat_template_kwargs") or {}), switch: enabled}
            body_fields["chat_template_kwargs"] = template
        else:
            understood = False
    if budget is not None and enabled is not False:
        if "sampling_kwargs" in declared:  # ChatVLLM: any vllm.SamplingParams field
            kwargs["thinking_token_budget"] = budget
        elif "extra_body" in declared:
            body_fields["thinking_token_budget"] = budget
    if body_fields:
        body = {**(getattr(model, "extra_body", None) or {}), **(bound.get("extra_body") or {})}
        kwargs["extra_body"] = {**body, **body_fields}
    return kwargs, understood


def not_understood_warning(model: Any, switch: str) -> str:
    """The run's warning when thinking was to be switched on a model that cannot be told."""
    name = type(model).__name__
    how = "a reasoning_effort field" if switch == "reasoning_effort" else "chat_template_kwargs"
    return (
        f"thinking_stages is set, but the policy {name} takes no {how} (nor extra_body), so "
        "its requests were sent without a thinking setting; its replies are still split into "
        "thinking and answer."
    )


def strip_thinking(messages: Sequence[BaseMessage], tags: Tags) -> list[BaseMessage]:
    """The conversation with the thinking of every assistant turn removed."""
    return [answer_only(m, tags) for m in messages]


__all__ = [
    "Reply",
    "answer_only",
    "split_reply",
    "stage_thinking",
    "strip_thinking",
    "thinking_allowed",
    "thinking_kwargs",
]
