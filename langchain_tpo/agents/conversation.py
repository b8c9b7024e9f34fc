"""Agent conversations (tool calls, tool results) as TPO input a model without tools can read.

TPO's own requests go to the policy without tools, and its prompts show earlier turns as a
transcript. A raw agent conversation does not fit either: an `AIMessage` that only calls a tool
has no text, and a `ToolMessage` has a role many chat templates do not know (or that must follow
a tool call the template cannot show). So every run of assistant and tool messages becomes one
assistant turn of plain prose:

```
User: How late is the library open?
Assistant: I used the tool library_facts (topic: opening hours) and got: The city library
opens 9:00-18:00 on weekdays...
```

and the question is asked again after it, as the query TPO answers. The conversation alternates
user and assistant turns throughout, which every chat template accepts. Prose, not call syntax:
small models continue the pattern of the assistant's earlier turns, and copying
`[tool call] name({...})` lines makes no answer, while copying the facts found makes one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage, convert_to_messages

from langchain_tpo.inputs import validate_input
from langchain_tpo.state import TPOInput
from langchain_tpo.thinking import split_reply

__all__ = ["render_tool_turns", "tpo_input"]


def tpo_input(messages: Sequence[Any], drafts: Sequence[str] = ()) -> TPOInput:
    """The TPO input that answers a conversation, tool calls and results included.

    The last human message is the query. Earlier turns are context, with tool calls and tool
    results rendered as text (`render_tool_turns`); tool turns after the last human message
    (an agent's research for this question) become an assistant turn of the context too.

    Args:
        messages: The conversation, oldest first, as LangChain messages (or anything
            `convert_to_messages` reads).
        drafts: Answers to seed TPO's cache with, such as the policy's own final answer.

    Returns:
        `{"query": ..., "context": [...], "drafts": [...]}` for `TPOChain` or its graph.

    Raises:
        ValueError: No human message; or the conversation ends with an assistant answer
            (pass that answer in `drafts` instead).
    """
    conversation = list(convert_to_messages(list(messages)))
    humans = [i for i, m in enumerate(conversation) if m.type == "human"]
    if not humans:
        msg = "The conversation has no human message; TPO answers the last human message."
        raise ValueError(msg)
    last = humans[-1]
    tail = conversation[last + 1 :]
    if tail and _is_answer(tail[-1]):
        msg = (
            "The conversation ends with an assistant answer; TPO answers the last human "
            "message. To have TPO improve an existing answer, leave it out of the conversation "
            "and pass it as a draft ({'query': ..., 'context': [...], 'drafts': [answer]})."
        )
        raise ValueError(msg)
    context = render_tool_turns(conversation[: last + 1] if tail else conversation[:last])
    if tail:
        context += render_tool_turns(tail)
    value: dict[str, Any] = {"query": conversation[last].text, "context": context}
    if drafts:
        value["drafts"] = list(drafts)
    return validate_input(value)


def render_tool_turns(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    """The same conversation with every run of assistant and tool messages as one text turn.

    Messages without tool calls or results are returned unchanged (the same objects).
    """
    out: list[BaseMessage] = []
    run: list[BaseMessage] = []
    for message in messages:
        if isinstance(message, (AIMessage, ToolMessage)):
            run.append(message)
            continue
        out += _flush(run)
        run = []
        out.append(message)
    out += _flush(run)
    return out


def _is_answer(message: BaseMessage) -> bool:
    return isinstance(message, AIMessage) and not (message.tool_calls or message.invalid_tool_calls)


def _flush(run: list[BaseMessage]) -> list[BaseMessage]:
    if not run:
        return []
    if all(_is_answer(m) for m in run):
        return run  # ordinary assistant turns
    lines: list[str] = []
    calls: dict[str, tuple[int, str]] = {}  # call id -> (its line, "name (arguments)")
    for message in run:
        if isinstance(message, AIMessage):
            said = split_reply(message).answer.strip()  # thinking never goes back
            if said:
                lines.append(said)
            for call in message.tool_calls:
                described = _describe(call["name"], call["args"])
                calls[call.get("id") or ""] = (len(lines), described)
                lines.append(f"I am using the tool {described}.")
            for bad in message.invalid_tool_calls:
                lines.append(
                    f"I tried to use the tool {bad.get('name') or '?'}, but the call was "
                    f"malformed: {bad.get('args')}"
                )
        elif isinstance(message, ToolMessage):
            line, described = calls.pop(message.tool_call_id, (None, message.name or ""))
            tool = f"the tool {described}" if described else "a tool"
            outcome = "which failed" if message.status == "error" else "and got"
            sentence = f"I used {tool} {outcome}: {message.text.strip()}"
            if line is None:
                lines.append(sentence)
            else:
                lines[line] = sentence
    return [AIMessage("\n".join(line for line in lines if line))]


def _describe(name: str, args: Any) -> str:
    """`name (key: value, ...)`, values as plain text where they are strings."""
    if not isinstance(args, dict) or not args:
        return name if not args else f"{name} ({args})"
    parts = [f"{k}: {v if isinstance(v, str) else _json(v)}" for k, v in args.items()]
    return f"{name} ({', '.join(parts)})"


def _json(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)
