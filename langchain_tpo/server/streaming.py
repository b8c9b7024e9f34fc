"""`stream: true`: the run as Server-Sent Events of `chat.completion.chunk`s.

In order: a first chunk with the assistant role; while TPO runs, one `reasoning_content` delta
per progress event (the field chat front-ends show as the model's thinking), with a keep-alive
comment (`: keep-alive`) whenever nothing was sent for `keep_alive_s`, so proxies do not cut a
long run; then the answer as `content` deltas (or a tool call), one chunk per choice with its
`finish_reason` (the last also carries the `tpo` object), a usage chunk (no choices) when
`stream_options.include_usage` asked for one, and `data: [DONE]`. An error after the stream
started is sent as a `data: {"error": {...}}` event, which OpenAI clients raise. When the client
goes away, the generator is closed and the run is cancelled.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any

from langchain_tpo.server.chat_request import ChatRequest
from langchain_tpo.server.errors import APIError
from langchain_tpo.server.progress import progress_line
from langchain_tpo.server.responses import answers, tpo_summary, usage
from langchain_tpo.server.runs import RunJob

KEEP_ALIVE = ": keep-alive\n\n"
DONE = "data: [DONE]\n\n"
_PIECE_CHARS = 48
"""Characters per content delta (cut at word ends): the answer arrives in readable pieces."""


class _Chunks:
    """Builds the SSE events of one stream (same id, time and model in each)."""

    def __init__(self, request_id: str, request: ChatRequest) -> None:
        self.request_id = request_id
        self.model = request.model
        self.include_usage = request.include_usage
        self.created = int(time.time())

    def event(self, choices: list[dict[str, Any]], **extra: Any) -> str:
        body: dict[str, Any] = {
            "id": self.request_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }
        if self.include_usage:
            body["usage"] = None  # as OpenAI: null on every chunk but the usage chunk
        body.update(extra)
        return f"data: {json.dumps(body)}\n\n"

    def delta(self, index: int, finish_reason: str | None = None, **delta: Any) -> str:
        choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return self.event([choice])


async def sse_events(job: RunJob, request: ChatRequest, keep_alive_s: float) -> AsyncIterator[str]:
    """The SSE text of a streamed run; closing the generator early cancels the run."""
    chunks = _Chunks(job.request_id, request)
    settings = job.settings
    try:
        yield chunks.delta(0, role="assistant", content="")
        async for event in _progress(job, keep_alive_s):
            if event is None:
                yield KEEP_ALIVE
                continue
            line = progress_line(event, settings.num_samples, settings.max_iterations)
            if line is not None:
                yield chunks.delta(0, reasoning_content=line)
        try:
            reply = await job.task
        except APIError as e:
            yield f"data: {json.dumps(e.body())}\n\n"
            yield DONE
            return
        chosen = answers(reply, request)
        for i, answer in enumerate(chosen):
            if i > 0:
                yield chunks.delta(i, role="assistant", content="")
            if answer.tool_calls:
                calls = [{"index": k, **call} for k, call in enumerate(answer.tool_calls)]
                yield chunks.delta(i, tool_calls=calls)
            for piece in pieces(answer.text):
                yield chunks.delta(i, content=piece)
        summary = tpo_summary(reply, chosen, full=request.return_full_result)
        for i, answer in enumerate(chosen):
            last = i == len(chosen) - 1
            extra = {"tpo": summary} if last else {}
            choice = {
                "index": i,
                "delta": {},
                "logprobs": None,
                "finish_reason": answer.finish_reason,
            }
            yield chunks.event([choice], **extra)
        if request.include_usage:
            yield chunks.event([], usage=usage(reply))
        yield DONE
    finally:
        if not job.task.done():
            job.cancel()  # the client left (or the stream failed): stop the run


async def _progress(job: RunJob, keep_alive_s: float) -> AsyncIterator[dict[str, Any] | None]:
    """The run's progress events until it ends; None after each `keep_alive_s` of silence."""
    while not (job.task.done() and job.events.empty()):
        getter = asyncio.ensure_future(job.events.get())
        done, _ = await asyncio.wait(
            {getter, job.task}, timeout=keep_alive_s, return_when=asyncio.FIRST_COMPLETED
        )
        if not getter.done():
            getter.cancel()
        if getter.done() and not getter.cancelled():
            yield getter.result()
        elif not done:
            yield None


def pieces(text: str) -> list[str]:
    """`text` in pieces of about `_PIECE_CHARS` characters, cut after whitespace; joined, they
    are `text` exactly."""
    out: list[str] = []
    current = ""
    for word in re.findall(r"\S+\s*|\s+", text):
        if current and len(current) + len(word) > _PIECE_CHARS:
            out.append(current)
            current = ""
        current += word
    if current:
        out.append(current)
    return out
