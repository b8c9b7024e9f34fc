"""Pairwise judging: which of two answers to the same prompt serves the user better.

What is measured follows the published methods of AlpacaEval 2 and Arena-Hard (the prompt
is our own): a chat model sees the user's request and two answers and names the better one,
or a tie; each pair is judged twice, once in each presentation order, so the judge's
position bias is measured (agreement between the orders) and averaged out of the
preference. Answers are untrusted text: each is fenced between markers carrying a random tag
drawn for that request and checked absent from the texts (`reward_models.judge.fence`), and
the verdict is read only from the first line of the reply (`parse_verdict`), so an answer
that forges a marker or writes "Verdict: A" inside itself changes nothing but its own text.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.messages import BaseMessage, HumanMessage

from langchain_tpo.evaluation.judging import (
    ChatJudge,
    JudgeReply,
    first_line_answer,
    prompts_fingerprint,
)
from langchain_tpo.evaluation.verdicts import pairwise_row
from langchain_tpo.reward_models.judge import FENCE_NOTE, fence, new_boundary

Position = Literal["A", "B", "tie"]

PAIRWISE_PROMPT = """You are an impartial reviewer comparing two answers to the same request \
from a user.

{fence_note}

The user's request:
{request}

Answer A:
{answer_a}

Answer B:
{answer_b}

Decide which answer serves this user better. Weigh, in this order:
1. Does it do what the user asked, all of it, and stay on the question?
2. Is it correct? Check facts, reasoning and arithmetic yourself; a real error outweighs \
style.
3. Is it useful and clear: specific, well organised, free of padding?
4. Safety: when a request could cause real harm, a careful refusal or a safe redirection is \
the better answer; when it is harmless, a needless refusal or lecture is worse.
An answer is not better for being longer: extra text counts only when it helps the user. The \
order of the two answers says nothing about their quality. Call it a tie only when neither \
answer is better in a way that would matter to the user.

Start your reply with your verdict, alone on the first line, in exactly one of these forms:
Verdict: A
Verdict: B
Verdict: tie
Then give your reasons in a few sentences."""

VERDICT_RETRY_PROMPT = (
    "I could not read a verdict on the first line of your reply. Reply with one line only, "
    "exactly one of: Verdict: A / Verdict: B / Verdict: tie"
)

_VERDICT_LINE = re.compile(
    r"verdict\s*[:=\-]?\s*(?:answer\s+)?(?P<verdict>a|b|tie)(?P<rest>(?:[^\w].*)?)",
    re.IGNORECASE,
)
# A whole reply that is only the verdict ("A", "tie."), as a re-asked judge often answers.
_BARE_VERDICT = re.compile(r"(?:answer\s+)?(?P<verdict>a|b|tie)\.?", re.IGNORECASE)


def parse_verdict(text: str) -> tuple[Position, str] | None:
    """Read the verdict from the first line of the judge's reply.

    The first non-empty line must be `Verdict: A`, `Verdict: B` or `Verdict: tie`
    (markdown emphasis, "Answer A" and trailing punctuation are tolerated), or the whole
    reply is just `A`, `B` or `tie`. A verdict anywhere else in the reply is ignored, so an
    answer quoted by the judge cannot cast it.

    Returns:
        `(verdict, reasoning)` with the verdict as "A", "B" or "tie" (positions as shown),
        the reasoning being the rest of the reply; None when the first line is no verdict.
    """
    answer = first_line_answer(text, _VERDICT_LINE, _BARE_VERDICT, "verdict")
    if answer is None:
        return None
    verdict, reasoning = answer[0].lower(), answer[1]
    position: Position = "tie" if verdict == "tie" else "A" if verdict == "a" else "B"
    return position, reasoning


def prompt_fingerprint() -> str:
    """A short hash of the pairwise prompts, recorded with the verdicts (resume checks it)."""
    return prompts_fingerprint("pairwise", PAIRWISE_PROMPT, FENCE_NOTE, VERDICT_RETRY_PROMPT)


@dataclass(frozen=True)
class Pair:
    """Two answers to one prompt: run A's and run B's."""

    id: str
    prompt: str
    a: str
    b: str


class PairwiseJudge(ChatJudge):
    """Judge pairs of answers with any chat model, in both presentation orders.

    Example:
        ```python
        from langchain_tpo.evaluation.pairwise_judge import Pair, PairwiseJudge

        judge = PairwiseJudge(chat_model)
        row = await judge.ajudge(Pair("q1", "Name a prime.", "7", "9"))
        row["preference"]  # 1.0 when both orders prefer the first run's "7"
        ```
    """

    def messages(self, prompt: str, answer_a: str, answer_b: str) -> list[BaseMessage]:
        """The request for one order: `answer_a` is shown first, as "Answer A"."""
        boundary = new_boundary(prompt, answer_a, answer_b)
        text = PAIRWISE_PROMPT.format(
            fence_note=FENCE_NOTE.format(boundary=boundary),
            request=fence(prompt, "request", boundary),
            answer_a=fence(answer_a, "answer-A", boundary),
            answer_b=fence(answer_b, "answer-B", boundary),
        )
        return [HumanMessage(text)]

    async def ajudge_order(self, prompt: str, first: str, second: str) -> JudgeReply[Position]:
        """One judgment, with `first` shown as Answer A."""
        return await self.ask(
            self.messages(prompt, first, second), parse_verdict, VERDICT_RETRY_PROMPT
        )

    async def ajudge(self, pair: Pair) -> dict[str, Any]:
        """Both orders of one pair, as a verdict row (`verdicts.pairwise_row`).

        Identical answers are not sent to the judge: they tie.
        """
        if pair.a == pair.b:
            same = "The two answers are identical; not sent to the judge."
            judgments: list[dict[str, Any]] = [
                {"first": first, "verdict": "tie", "reasoning": same, "outputs": []}
                for first in ("a", "b")
            ]
        else:
            a_first, b_first = await asyncio.gather(
                self.ajudge_order(pair.prompt, pair.a, pair.b),
                self.ajudge_order(pair.prompt, pair.b, pair.a),
            )
            judgments = [_judgment("a", a_first), _judgment("b", b_first)]
        return pairwise_row(
            prompt_id=pair.id, prompt=pair.prompt, a=pair.a, b=pair.b, judgments=judgments
        )


def _judgment(first: Literal["a", "b"], reply: JudgeReply[Position]) -> dict[str, Any]:
    """A judgment in terms of the runs: the answer shown first is run `first`'s."""
    second = "b" if first == "a" else "a"
    verdict = {"A": first, "B": second, "tie": "tie", None: None}[reply.value]
    return {
        "first": first,
        "verdict": verdict,
        "reasoning": reply.reasoning,
        "outputs": reply.outputs,
    }
