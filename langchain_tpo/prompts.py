"""The prompts of the TPO loop: textual loss, textual gradient and variable update.

Each is a `ChatPromptTemplate` a user can replace through `TPOPrompts`. Variables every
prompt receives:

- `context`: earlier turns of the conversation as a transcript block ("" for a single turn)
- `query`: the user's request being answered
- `chosen`: the best response in the cache

and, per prompt: `rejected` (critique), `chosen_notes` / `rejected_notes` (the reward model's
feedback, "" when it gives none), `critique` (suggest), `suggestion` (rewrite),
`response_start` / `response_end` (the markers the rewrite must wrap its answer in).
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import BaseMessage
from langchain_core.prompts import ChatPromptTemplate
from pydantic import BaseModel, ConfigDict, field_validator

from langchain_tpo.parsing import RESPONSE_END, RESPONSE_START

_SYSTEM = (
    "You are a careful reviewer who helps improve answers written by an AI assistant. "
    "You judge answers by how helpful, honest, harmless and clear they are for the user."
)

CRITIQUE_PROMPT = ChatPromptTemplate.from_messages(
    [
        ("system", _SYSTEM),
        (
            "human",
            "{context}A user asked:\n{query}\n\n"
            "Two answers were written. A reward model preferred answer A over answer B.\n\n"
            "Answer A (preferred):\n{chosen}\n{chosen_notes}\n"
            "Answer B (not preferred):\n{rejected}\n{rejected_notes}\n"
            "Explain why answer A serves the user better than answer B: name the concrete "
            "strengths of A and the weaknesses of B. Do not answer the user's request yourself.",
        ),
    ]
)
"""Textual loss: compare the chosen (best) and the rejected (worst) response."""

REVISION_CRITIQUE_PROMPT = ChatPromptTemplate.from_messages(
    [
        ("system", _SYSTEM),
        (
            "human",
            "{context}A user asked:\n{query}\n\n"
            "Here is an answer to review:\n{chosen}\n{chosen_notes}\n"
            "Assess this answer: what does it do well, and where does it fall short of what "
            "the user needs? Be specific. Do not answer the user's request yourself.",
        ),
    ]
)
"""Textual loss for revision mode: the chosen response alone, never a rejected one."""

SUGGEST_PROMPT = ChatPromptTemplate.from_messages(
    [
        ("system", _SYSTEM),
        (
            "human",
            "{context}A user asked:\n{query}\n\n"
            "Current answer:\n{chosen}\n\n"
            "A review of this answer:\n{critique}\n\n"
            "Based on the review, list specific, actionable changes that would make the current "
            "answer better for the user. Give the list only; do not rewrite the answer.",
        ),
    ]
)
"""Textual gradient: turn the critique into concrete suggestions."""

REWRITE_PROMPT = ChatPromptTemplate.from_messages(
    [
        ("system", "You are a helpful, honest and harmless AI assistant."),
        (
            "human",
            "{context}A user asked:\n{query}\n\n"
            "Here is a draft answer:\n{chosen}\n\n"
            "Suggested improvements:\n{suggestion}\n\n"
            "Write an improved answer to the user that applies these suggestions. Put the "
            "complete improved answer between {response_start} and {response_end}, and write "
            "nothing after {response_end}.",
        ),
    ]
)
"""Variable update: rewrite the chosen response following the suggestions."""

_REQUIRED = {
    "critique": {"query", "chosen", "rejected"},
    "revision_critique": {"query", "chosen"},
    "suggest": {"query", "chosen", "critique"},
    "rewrite": {"query", "chosen", "suggestion"},
}


class TPOPrompts(BaseModel):
    """The four prompts of the loop; replace any of them to change how TPO talks to the model.

    Example:
        ```python
        from langchain_core.prompts import ChatPromptTemplate
        from langchain_tpo import TPOChain, TPOPrompts

        prompts = TPOPrompts(
            suggest=ChatPromptTemplate.from_messages(
                [("human", "Query: {query}\\nAnswer: {chosen}\\nReview: {critique}\\nFixes:")]
            )
        )
        chain = TPOChain(policy=model, reward=reward, prompts=prompts)
        ```
    """

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    critique: ChatPromptTemplate = CRITIQUE_PROMPT
    revision_critique: ChatPromptTemplate = REVISION_CRITIQUE_PROMPT
    suggest: ChatPromptTemplate = SUGGEST_PROMPT
    rewrite: ChatPromptTemplate = REWRITE_PROMPT

    @field_validator("critique", "revision_critique", "suggest", "rewrite")
    @classmethod
    def _has_variables(cls, prompt: ChatPromptTemplate, info: object) -> ChatPromptTemplate:
        name = getattr(info, "field_name", "")
        missing = _REQUIRED[name] - set(prompt.input_variables)
        if missing:
            msg = (
                f"The {name} prompt must use the variables {sorted(_REQUIRED[name])}; "
                f"it lacks {sorted(missing)}. See langchain_tpo.prompts for what each receives."
            )
            raise ValueError(msg)
        return prompt


def render_context(context: Sequence[BaseMessage]) -> str:
    """Earlier turns as a transcript block for the critique/suggest/rewrite prompts."""
    if not context:
        return ""
    names = {"human": "User", "ai": "Assistant", "system": "System"}
    lines = [f"{names.get(m.type, m.type.capitalize())}: {m.text}" for m in context]
    return "Conversation so far:\n" + "\n".join(lines) + "\n\n"


def render_notes(feedback: str | None) -> str:
    """The reward model's feedback on a response, as a line under it ("" when there is none)."""
    return (
        f"(Reward model's remarks: {feedback.strip()})\n" if feedback and feedback.strip() else ""
    )


MARKERS = {"response_start": RESPONSE_START, "response_end": RESPONSE_END}
