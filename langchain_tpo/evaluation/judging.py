"""What every `tpo judge` task shares: the answers to judge, one strict request, many at once.

- `read_answers` reads the rows of a `tpo eval` results file.
- `ask_judge` sends one request and reads the reply with a strict parser; a reply the parser
  rejects is answered with a short request for the expected line alone, up to `max_retries`
  times. A judge that never complies gives a reply with no value (recorded, not raised).
  `ChatJudge` holds a judge model and its retry and timeout settings; `first_line_answer`
  is the strict reading every parser shares; `prompts_fingerprint` names the prompt texts a
  task's verdicts were made with.
- `judge_items` judges many items with at most `concurrency` in flight, appending each row to
  a `VerdictsFile` as it finishes; items already in the file are skipped, items whose judge
  call raised are reported and left for the next run.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from langchain_tpo.evaluation.verdicts import KIND, VerdictsFile

T = TypeVar("T")


# -- answers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """One row of a results file, as the judge needs it."""

    id: str
    prompt: str
    response: str
    reference: str | None = None


def read_answers(path: str | Path) -> tuple[list[Answer], list[str]]:
    """The answers of a `tpo eval` results file, in file order, and the rows skipped.

    A header line (`{"langchain_tpo": ..., "settings": ...}`) is passed over; a line cut short
    by a killed run is ignored. Rows without a string `id`/`prompt`/`response` are skipped
    and named; of two rows with one id the first is kept.

    Raises:
        FileNotFoundError: No such file.
        ValueError: A line is not JSON, or the file is a verdicts file.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"Results file not found: {path}"
        raise FileNotFoundError(msg)
    data = path.read_bytes()
    text = data[: data.rfind(b"\n") + 1].decode("utf-8", errors="replace")
    answers: list[Answer] = []
    problems: list[str] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as e:
            msg = f"{path} line {number} is not valid JSON ({e}); is it a `tpo eval` results file?"
            raise ValueError(msg) from e
        if isinstance(row, dict) and "langchain_tpo" in row:
            if row["langchain_tpo"] == KIND:
                msg = f"{path} is a verdicts file of `tpo judge`, not the results of `tpo eval`."
                raise ValueError(msg)
            continue  # the header of a results file
        problem = _answer_problem(row)
        if problem:
            problems.append(f"line {number}: {problem}; skipped")
            continue
        row_id = str(row["id"])
        if row_id in seen:
            problems.append(f"line {number}: a second row for id {row_id!r}; the first is kept")
            continue
        seen.add(row_id)
        reference = row.get("reference")
        answers.append(
            Answer(
                row_id,
                row["prompt"],
                row["response"],
                reference if isinstance(reference, str) and reference.strip() else None,
            )
        )
    return answers, problems


def _answer_problem(row: Any) -> str | None:
    if not isinstance(row, dict):
        return "not a JSON object"
    for key in ("id", "prompt", "response"):
        if row.get(key) is None:
            return f"no {key!r}"
    if not isinstance(row["prompt"], str) or not isinstance(row["response"], str):
        return "the prompt and the response must be strings"
    return None


# -- one strict request -----------------------------------------------------------------------


@dataclass(frozen=True)
class JudgeReply(Generic[T]):
    """What the judge answered to one request."""

    value: T | None
    """The parsed value (a verdict, a label), or None when no reply could be read."""
    reasoning: str
    """The judge's reasons: the reply after the parsed line, or its first reply when it had
    to be asked again."""
    outputs: list[str]
    """Every raw reply, the first one first."""


async def ask_judge(
    judge: BaseChatModel,
    messages: Sequence[BaseMessage],
    parse: Callable[[str], tuple[T, str] | None],
    retry_prompt: str,
    *,
    max_retries: int = 2,
    call_timeout: float | None = None,
) -> JudgeReply[T]:
    """Ask once; while the reply cannot be parsed, ask for the expected line alone.

    Args:
        judge: The judge model.
        messages: The request.
        parse: Returns `(value, reasoning)` from a reply, or None.
        retry_prompt: The follow-up sent after an unreadable reply.
        max_retries: Follow-ups at most.
        call_timeout: Seconds each call may take (None: no limit); a call that takes longer raises
            `TimeoutError`, so the item is left for the next run.

    A request longer than the judge's context is answered with no value (and the server's
    message as the reasoning) instead of raising: asking again can never succeed, so the item
    is recorded as not judged rather than retried on every run.
    """
    try:
        outputs = [await _call(judge, list(messages), call_timeout)]
    except Exception as e:
        if not exceeds_context(e):
            raise
        return JudgeReply(None, f"{NOT_JUDGED_TOO_LONG}: {e}", [])
    parsed = parse(outputs[0])
    while parsed is None and len(outputs) <= max_retries:
        follow_up = [*messages, AIMessage(outputs[-1]), HumanMessage(retry_prompt)]
        outputs.append(await _call(judge, follow_up, call_timeout))
        parsed = parse(outputs[-1])
    if parsed is None:
        return JudgeReply(None, outputs[0].strip(), outputs)
    value, reasoning = parsed
    return JudgeReply(value, reasoning if len(outputs) == 1 else outputs[0].strip(), outputs)


NOT_JUDGED_TOO_LONG = "not judged: the request is longer than the judge's context"

_CONTEXT_MESSAGES = re.compile(
    r"maximum context length|max_model_len|maximum model length|context length exceeded|"
    r"context_length_exceeded|longer than the model's context|too many tokens",
    re.IGNORECASE,
)


def exceeds_context(error: BaseException) -> bool:
    """Whether `error` is a server's refusal of a request longer than the model's context.

    OpenAI-compatible servers (vLLM's among them) answer such a request with HTTP 400 and a
    message naming the limit; other 400s (a bad parameter) are not this and still raise.
    """
    return bool(_CONTEXT_MESSAGES.search(str(error)))


class ChatJudge:
    """A chat model used as a judge, with how often to re-ask it and how long to wait."""

    def __init__(
        self, judge: BaseChatModel, *, max_retries: int = 2, timeout: float | None = None
    ) -> None:
        """Use `judge`; re-ask up to `max_retries` times; `timeout` seconds per call."""
        self.judge = judge
        self.max_retries = max_retries
        self.timeout = timeout

    async def ask(
        self,
        messages: Sequence[BaseMessage],
        parse: Callable[[str], tuple[T, str] | None],
        retry_prompt: str,
    ) -> JudgeReply[T]:
        """`ask_judge` with this judge's settings."""
        return await ask_judge(
            self.judge,
            messages,
            parse,
            retry_prompt,
            max_retries=self.max_retries,
            call_timeout=self.timeout,
        )


# Markdown a judge may wrap its answer line in.
_EMPHASIS = str.maketrans("", "", "*_`[]")


def first_line_answer(
    text: str, line: re.Pattern[str], bare: re.Pattern[str], group: str
) -> tuple[str, str] | None:
    """The answer a judge gave on the first line of its reply, and the rest of the reply.

    The first non-empty line, without markdown emphasis and heading marks, must match `line`
    in full; else the whole reply must match `bare` (a re-asked judge often answers with the
    word alone). An answer anywhere else is ignored, so text the judge quotes cannot cast it.

    Returns:
        `(the text of group `group`, the rest of the reply)`, or None when neither matches.
    """
    first, _, rest = text.strip().partition("\n")
    match = line.fullmatch(first.translate(_EMPHASIS).strip().lstrip("#").strip())
    if match is None:
        match, rest = bare.fullmatch(text.translate(_EMPHASIS).strip()), ""
        if match is None:
            return None
    return match.group(group), rest.strip()


def prompts_fingerprint(task: str, *prompts: str) -> str:
    """A short hash of a task's prompt texts, recorded with its verdicts (resume checks it)."""
    return f"{task}-" + hashlib.sha256("".join(prompts).encode("utf-8")).hexdigest()[:12]


async def _call(judge: BaseChatModel, messages: list[BaseMessage], seconds: float | None) -> str:
    if _has_no_async(judge):
        reply = await asyncio.wait_for(asyncio.to_thread(judge.invoke, messages), seconds)
    else:
        reply = await asyncio.wait_for(judge.ainvoke(messages), seconds)
    return reply.text


def _has_no_async(judge: BaseChatModel) -> bool:
    """ChatHuggingFace over a local pipeline raises on `ainvoke`: call it in a thread."""
    if type(judge).__name__ != "ChatHuggingFace":
        return False
    from langchain_tpo.chat_models.huggingface import is_pipeline_chat_model

    return is_pipeline_chat_model(judge)


# -- many items -------------------------------------------------------------------------------


class Item(Protocol):
    """Anything with a prompt id."""

    @property
    def id(self) -> str: ...


ItemT = TypeVar("ItemT", bound=Item)


@dataclass
class JudgeRunSummary:
    """What a call to `judge_items` did."""

    finished: int = 0
    skipped: int = 0
    """Items already in the verdicts file."""
    failed: dict[str, str] = field(default_factory=dict)
    """Item id -> error, for items whose judging raised (no row; retried on the next run)."""
    seconds: float = 0.0


async def judge_items(
    items: Iterable[ItemT],
    judge_one: Callable[[ItemT], Awaitable[dict[str, Any]]],
    out: VerdictsFile,
    *,
    concurrency: int = 8,
    progress: Callable[[ItemT, dict[str, Any] | None], None] | None = None,
) -> JudgeRunSummary:
    """Judge every item not yet in `out`, at most `concurrency` at a time.

    Items are drawn one by one as workers free up, so memory does not grow with their number.

    Args:
        items: What to judge.
        judge_one: Judges one item and returns its verdict row.
        out: An open verdicts file.
        concurrency: Items in flight at once.
        progress: Called after each judged item with its row (None when judging raised).
    """
    summary = JudgeRunSummary()
    pending = iter(items)
    start = time.perf_counter()

    async def worker() -> None:
        for item in pending:  # one shared iterator: each item goes to exactly one worker
            if item.id in out.done:
                summary.skipped += 1
                continue
            row: dict[str, Any] | None = None
            try:
                row = await judge_one(item)
            except Exception as e:
                summary.failed[item.id] = f"{type(e).__name__}: {e}"
            if row is not None:
                out.append(row)
                summary.finished += 1
            if progress is not None:
                progress(item, row)

    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    summary.seconds = time.perf_counter() - start
    return summary
