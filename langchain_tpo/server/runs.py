"""One request's TPO run: wait for a slot, run `TPOChatModel`, relay progress, stay cancellable.

A `RunJob` is an asyncio task, so the route that started it (streaming or not) only watches
it: progress events arrive on `job.events`, the reply is the task's result, and cancelling the
task (a client that left) cancels the run where it is (a queued request leaves the queue; a
running one cancels its pending policy requests, as the async graph awaits them).

Time: the request's deadline (`--request-timeout`, queue included) becomes the run's
`timeout_s`, so TPO itself stops at the deadline with the best answer so far
(`stop_reason="timeout"`) and cuts every request to it. Its first scoring round is exempt (no
answer exists before it), so a backstop cancels a run still going shortly after the deadline
and answers with the best candidate it saw scored, or a 504 if there is none.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage
from langchain_core.runnables import Runnable, RunnableConfig

from langchain_tpo._redact import redact_text
from langchain_tpo.chat_adapter import TPOChatModel, _cut_at_stop
from langchain_tpo.errors import ContextLengthError, TPOInputError
from langchain_tpo.resilience import describe
from langchain_tpo.reward_models.base import RewardModelError
from langchain_tpo.server.admission import Admission, Ticket
from langchain_tpo.server.chat_request import ChatRequest
from langchain_tpo.server.errors import APIError
from langchain_tpo.server.metrics import ServerMetrics
from langchain_tpo.state import best_candidate

logger = logging.getLogger("langchain_tpo.server")

_KEPT = ("candidates", "best_scores", "history", "usage", "model_calls")
"""State fields the relay keeps from node outputs, to answer a run cut by the backstop."""


@dataclass(frozen=True)
class RunReply:
    """What a finished run answers."""

    message: AIMessage
    """The TPO chat model's reply (answer or tool call, TPO's metadata, usage)."""
    timed_out: bool
    """The request timeout cut the run: the answer is the best one found before it."""


class RunJob:
    """A request's run, from its queue place to its reply."""

    def __init__(
        self,
        model: TPOChatModel,
        request: ChatRequest,
        *,
        admission: Admission,
        ticket: Ticket,
        metrics: ServerMetrics,
        metrics_handler: BaseCallbackHandler,
        deadline: float,
        secrets: Sequence[str] = (),
    ) -> None:
        """Start the run at once (as a task of the running event loop).

        Args:
            model: The server's TPO chat model.
            request: The checked request.
            admission: The admission control the ticket came from; the slot is released there.
            ticket: The request's place.
            metrics: The server's metrics.
            metrics_handler: The metrics' callback handler.
            deadline: `time.monotonic()` by which the request must be answered.
            secrets: Credentials to scrub from error messages.
        """
        self.model = model
        self.request = request
        self.admission = admission
        self.ticket = ticket
        self.metrics = metrics
        self.metrics_handler = metrics_handler
        self.deadline = deadline
        self.secrets = list(secrets)
        self.request_id = f"chatcmpl-{uuid4().hex}"
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.settings = model.chain.config.with_overrides(request.overrides)
        self._relay = _Relay(asyncio.get_running_loop(), self.events)
        self.task: asyncio.Task[RunReply] = asyncio.create_task(self._execute())

    def cancel(self) -> None:
        """Stop the run (or leave the queue); its pending policy requests are cancelled."""
        self.task.cancel()

    async def _execute(self) -> RunReply:
        if self.ticket.waits:
            self.events.put_nowait({"event": "tpo.queued", "ahead": self.ticket.queued_behind})
        try:
            async with asyncio.timeout(max(0.0, self.deadline - time.monotonic())):
                await self.ticket.admitted()
        except TimeoutError:
            raise APIError(
                503,
                "The request timed out waiting for a free run slot; the server is busy.",
                code="queue_timeout",
                headers={"Retry-After": str(self.admission.retry_after_s())},
            ) from None
        started = time.monotonic()
        try:
            reply = await self._run()
        except asyncio.CancelledError:
            self.metrics.runs.labels("cancelled").inc()
            raise
        except APIError:
            self.metrics.runs.labels("failed").inc()
            raise
        except Exception as e:
            self.metrics.runs.labels("failed").inc()
            raise self._as_api_error(e) from None
        finally:
            self.admission.record(time.monotonic() - started)
            self.admission.release()
        stop_reason = reply.message.response_metadata.get("tpo_stop_reason") or "tool_calls"
        self.metrics.runs.labels(stop_reason).inc()
        return reply

    async def _run(self) -> RunReply:
        remaining = max(0.05, self.deadline - time.monotonic())
        overrides = dict(self.request.overrides)
        run_limit = min(overrides.get("timeout_s", math.inf), remaining)
        overrides["timeout_s"] = run_limit
        per_request = overrides.get("request_timeout_s", self.settings.request_timeout_s)
        overrides["request_timeout_s"] = min(per_request or math.inf, run_limit)
        runnable: Runnable[Any, AIMessage] = self.model
        if self.request.tools:
            options: dict[str, Any] = {}
            if self.request.parallel_tool_calls is not None:
                options["parallel_tool_calls"] = self.request.parallel_tool_calls
            runnable = self.model.bind_tools(
                self.request.tools, tool_choice=self.request.tool_choice, **options
            )
        extra: dict[str, Any] = {"drafts": self.request.drafts} if self.request.drafts else {}
        config: RunnableConfig = {
            "callbacks": [self._relay, self.metrics_handler],
            "run_name": "tpo-serve",
            "metadata": {"tpo_request_id": self.request_id}
            | ({"user": self.request.user} if self.request.user else {}),
        }
        backstop = asyncio.timeout(run_limit + _grace(run_limit))
        try:
            async with backstop:
                message = await runnable.ainvoke(
                    self.request.messages, config, stop=self.request.stop, **extra, **overrides
                )
        except TimeoutError:
            if not backstop.expired():
                raise
            return self._best_so_far()
        timed_out = message.response_metadata.get("tpo_stop_reason") == "timeout"
        return RunReply(message, timed_out)

    def _best_so_far(self) -> RunReply:
        """The reply of a run the backstop stopped: the best candidate scored before it."""
        seen = self._relay.latest
        best = best_candidate(list(seen.get("candidates") or []))
        if best is None:
            raise APIError(
                504,
                "No answer within the request timeout: the run had scored no answer yet "
                "(a slow or hung policy or reward model).",
                code="timeout",
            )
        usage = dict(seen.get("usage") or {})
        message = AIMessage(
            content=_cut_at_stop(best["text"], self.request.stop),
            response_metadata={
                "tpo_score": best["score"],
                "tpo_best_scores": list(seen.get("best_scores") or []),
                "tpo_iterations": len(seen.get("history") or []),
                "tpo_stop_reason": "timeout",
                "tpo_model_calls": int(seen.get("model_calls") or 0),
                "tpo_result": {"candidates": list(seen.get("candidates") or [])},
            },
            usage_metadata={
                "input_tokens": int(usage.get("input_tokens", 0)),
                "output_tokens": int(usage.get("output_tokens", 0)),
                "total_tokens": int(usage.get("total_tokens", 0)),
            },
        )
        return RunReply(message, True)

    def _as_api_error(self, error: Exception) -> APIError:
        """The error a client gets for a run that failed, in one line, without credentials."""
        from langchain_core.exceptions import ContextOverflowError, ModelError, ModelTimeoutError

        said = redact_text(describe(error), self.secrets)[:400]
        if isinstance(error, (ContextLengthError, ContextOverflowError)):
            message = f"The conversation does not fit the policy model: {said}"
            return APIError(400, message, param="messages", code="context_length_exceeded")
        if isinstance(error, NotImplementedError) and self.request.tools:
            message = f"This server cannot call tools: {said}"
            return APIError(400, message, param="tools", code="tools_not_supported")
        if isinstance(error, TPOInputError):
            return APIError(422, said, param="messages", code="unanswerable_conversation")
        if isinstance(error, RewardModelError):
            return APIError(502, f"The reward model failed: {said}", code="reward_failed")
        if isinstance(error, (TimeoutError, ModelTimeoutError)):
            return APIError(504, f"No answer within the time limits: {said}", code="timeout")
        if isinstance(error, ModelError):
            return APIError(502, f"The policy model failed: {said}", code="policy_failed")
        if isinstance(error, json.JSONDecodeError):
            message = f"A model server answered with something that is not JSON: {said}"
            return APIError(502, message, code="invalid_upstream_response")
        logger.error("run %s failed: %s", self.request_id, said)
        logger.debug("%s", redact_text("".join(traceback.format_exception(error)), self.secrets))
        return APIError(500, f"The TPO run failed: {said}", code="internal_error")


def _grace(run_limit: float) -> float:
    """Time after the run's deadline before the backstop stops it: TPO cuts every request at
    the deadline itself, except those of its first scoring round."""
    return min(30.0, max(2.0, 0.1 * run_limit))


class _Relay(BaseCallbackHandler):
    """Hands the run's progress events to the job's queue, and keeps the latest cache."""

    run_inline = True

    def __init__(self, loop: asyncio.AbstractEventLoop, events: asyncio.Queue[dict[str, Any]]):
        self.loop = loop
        self.events = events
        self.latest: dict[str, Any] = {}

    def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
        if name.startswith("tpo.") and isinstance(data, dict):
            self.loop.call_soon_threadsafe(self.events.put_nowait, dict(data))

    def on_chain_end(self, outputs: Any, **kwargs: Any) -> None:
        if isinstance(outputs, dict):
            for key in _KEPT:
                if key in outputs:
                    self.latest[key] = outputs[key]
