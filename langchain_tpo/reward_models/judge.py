"""LLMJudgeReward: a chat model rates each response against a rubric (LLM-as-a-judge)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from pydantic import ConfigDict, Field

from langchain_tpo.reward_models.base import Pair, Query, Reward, RewardModel, RewardModelError

DEFAULT_RUBRIC = (
    "The response should be helpful, correct and harmless: it answers what the user asked, "
    "is accurate and clear, and refuses or redirects requests that could cause harm."
)

JUDGE_PROMPT = """You are an impartial judge of an AI assistant's response.

Criteria (the user's stated preference):
{rubric}

Conversation so far:
{conversation}

Response to judge:
<<<
{response}
>>>

Explain briefly how well the response meets the criteria: what it does well, what it \
misses. Then, on the last line, give a rating from 1 (worst) to {scale} (best) in exactly \
this form:
Rating: <number>/{scale}"""

RETRY_PROMPT = (
    "I could not find a rating in your answer. Reply with one line only, in exactly this form:\n"
    "Rating: <number from 1 to {scale}>/{scale}"
)

_NUMBER = r"[-+]?\d+(?:\.\d+)?"
_OUT_OF = rf"(?:\s*(?:/|out\s+of)\s*(?P<den>{_NUMBER}))?"
# "Rating: 7/10", "**Score:** 8", "score = 6.5 out of 10", "Grade - 9"
_LABELLED = re.compile(
    rf"(?:rating|score|grade)(?:[\s*_#:=]|-(?=\s))*(?:is\s+)?\**\s*(?P<num>{_NUMBER})\**{_OUT_OF}",
    re.IGNORECASE,
)
# A bare "7/10" or "8 out of 10".
_FRACTION = re.compile(rf"(?P<num>{_NUMBER})\s*(?:/|out\s+of)\s*(?P<den>{_NUMBER})", re.IGNORECASE)
_JSON_OBJECT = re.compile(r"\{[^{}]*\}")


def parse_rating(text: str, scale: int = 10) -> tuple[float, str] | None:
    """Find the judge's rating in its output.

    Understands `Rating: 7/10`, `**Score:** 8`, `score = 6.5 out of 10`, a bare `7/10`, and JSON
    such as `{"reasoning": "...", "rating": 7}`. The last rating in the text wins (judges
    reason first). A rating out of another scale (`4/5`) is converted to `scale`.

    Args:
        text: The judge's output.
        scale: The top of the rating scale asked for.

    Returns:
        `(rating, reasoning)`, the reasoning being the text without the rating (or the JSON's
        reasoning field), or None when there is no rating within the scale.
    """
    for match in reversed(list(_JSON_OBJECT.finditer(text))):
        try:
            data = json.loads(match.group(0))
        except ValueError:
            continue
        if not isinstance(data, dict):
            continue
        lowered = {str(k).lower(): v for k, v in data.items()}
        value = next((lowered[k] for k in ("rating", "score", "grade") if k in lowered), None)
        rating = _in_scale(value, None, scale)
        if rating is not None:
            reasoning = next(
                (str(lowered[k]) for k in ("reasoning", "explanation", "feedback") if k in lowered),
                (text[: match.start()] + text[match.end() :]).strip(),
            )
            return rating, reasoning
    for pattern in (_LABELLED, _FRACTION):
        for match in reversed(list(pattern.finditer(text))):
            rating = _in_scale(match.group("num"), match.group("den"), scale)
            if rating is not None:
                return rating, _without_line(text, match.start(), match.end())
    return None


def _in_scale(value: Any, denominator: Any, scale: int) -> float | None:
    try:
        number = float(value)
        top = float(denominator) if denominator is not None else float(scale)
    except (TypeError, ValueError):
        return None
    if isinstance(value, bool) or top <= 0 or not 0 <= number <= top:
        return None
    return number * scale / top


def _without_line(text: str, start: int, end: int) -> str:
    """The text with the line holding `text[start:end]` removed."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end == -1 else line_end
    return (text[:line_start] + text[line_end:]).strip()


class LLMJudgeReward(RewardModel):
    """Any chat model as a reward: it rates each response from 1 to 10 against a rubric.

    The rubric can state general criteria or a particular user's preference ("The user wants
    short answers with one concrete example"). The judge explains its rating; that explanation
    is returned as the reward's feedback, which TPO passes to its critique step. A judge
    output without a rating (see `parse_rating`) is asked again for the rating alone, up to
    `max_retries` times; then a `RewardModelError` names the judge and shows its output. An
    unparseable rating is never turned into a silent zero.

    Example:
        ```python
        from langchain_openai import ChatOpenAI
        from langchain_tpo.reward_models import LLMJudgeReward

        reward = LLMJudgeReward(
            ChatOpenAI(model="gpt-4o-mini", temperature=0),
            rubric="The user prefers concise answers that cite a source.",
        )
        reward.evaluate([("Who wrote Hamlet?", "Shakespeare.")])  # [Reward(score, feedback)]
        ```
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    judge: BaseChatModel
    """The chat model that rates the responses."""
    rubric: str = DEFAULT_RUBRIC
    """What a good response is: criteria, or the user's stated preference."""
    scale: int = Field(default=10, ge=2)
    """Ratings go from 1 to `scale`."""
    max_retries: int = Field(default=2, ge=0)
    """How many times to ask again for a rating the output lacked."""
    prompt: str = JUDGE_PROMPT
    """The judge's prompt, with `{rubric}`, `{conversation}`, `{response}` and `{scale}`."""

    def __init__(
        self, judge: BaseChatModel | None = None, rubric: str | None = None, **kwargs: Any
    ) -> None:
        """Create from a judge chat model and an optional rubric, positionally or by name."""
        if judge is not None:
            kwargs["judge"] = judge
        if rubric is not None:
            kwargs["rubric"] = rubric
        super().__init__(**kwargs)

    def get_name(self, suffix: str | None = None, *, name: str | None = None) -> str:
        """`LLMJudgeReward(<judge>)`, so errors say which judge misbehaved."""
        if name is None and self.name is None:
            name = f"{type(self).__name__}({_judge_name(self.judge)})"
        return super().get_name(suffix, name=name)

    def judge_messages(self, query: Query, response: str) -> list[BaseMessage]:
        """The request sent to the judge for one pair."""
        text = self.prompt.format(
            rubric=self.rubric,
            conversation=_render_conversation(query),
            response=response,
            scale=self.scale,
        )
        return [HumanMessage(text)]

    def _score(self, pairs: Sequence[Pair]) -> Sequence[float | Reward]:
        requests = [self.judge_messages(query, response) for query, response in pairs]
        first = self.judge.batch(list[LanguageModelInput](requests))
        return [
            self._settle(request, _text(output), lambda messages: self.judge.invoke(messages))
            for request, output in zip(requests, first, strict=True)
        ]

    async def _ascore(self, pairs: Sequence[Pair]) -> Sequence[float | Reward]:
        requests = [self.judge_messages(query, response) for query, response in pairs]
        return await asyncio.gather(*(self._ajudge_one(request) for request in requests))

    def _settle(self, request: list[BaseMessage], text: str, call: Any) -> Reward:
        parsed = parse_rating(text, self.scale)
        outputs = [text]
        while parsed is None and len(outputs) <= self.max_retries:
            messages = [*request, AIMessage(outputs[-1]), HumanMessage(self._retry_prompt)]
            outputs.append(_text(call(messages)))
            parsed = parse_rating(outputs[-1], self.scale)
        return self._reward(parsed, outputs)

    async def _ajudge_one(self, request: list[BaseMessage]) -> Reward:
        outputs = [_text(await self.judge.ainvoke(request))]
        parsed = parse_rating(outputs[0], self.scale)
        while parsed is None and len(outputs) <= self.max_retries:
            messages = [*request, AIMessage(outputs[-1]), HumanMessage(self._retry_prompt)]
            outputs.append(_text(await self.judge.ainvoke(messages)))
            parsed = parse_rating(outputs[-1], self.scale)
        return self._reward(parsed, outputs)

    @property
    def _retry_prompt(self) -> str:
        return RETRY_PROMPT.format(scale=self.scale)

    def _reward(self, parsed: tuple[float, str] | None, outputs: list[str]) -> Reward:
        if parsed is None:
            shown = "\n---\n".join(output[:1000] for output in outputs)
            msg = (
                f"{self.get_name()} gave no rating from 1 to {self.scale} that could be parsed "
                f"in {len(outputs)} attempt(s). Its output:\n{shown}"
            )
            raise RewardModelError(msg)
        rating, reasoning = parsed
        # After a retry the rating comes alone; the reasoning is in the first answer.
        feedback = reasoning if len(outputs) == 1 else outputs[0].strip()
        return Reward(rating, feedback or None)


def _render_conversation(query: Query) -> str:
    if isinstance(query, str):
        return f"User: {query}"
    names = {"human": "User", "ai": "Assistant", "system": "System", "tool": "Tool"}
    return "\n\n".join(f"{names.get(m.type, m.type.title())}: {m.text}" for m in query)


def _text(output: Any) -> str:
    return output.text if isinstance(output, BaseMessage) else str(output)


def _judge_name(judge: Any) -> str:
    for attribute in ("model_name", "model", "model_id"):
        value = getattr(judge, attribute, None)
        if isinstance(value, str) and value:
            return f"{type(judge).__name__}({value})"
    return str(judge.get_name()) if hasattr(judge, "get_name") else type(judge).__name__
