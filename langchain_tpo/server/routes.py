"""The endpoints: chat completions, models, liveness, readiness and metrics."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive

from langchain_tpo.chat_adapter import TPOChatModel
from langchain_tpo.server.admission import Admission, AdmissionFull
from langchain_tpo.server.body import read_json
from langchain_tpo.server.chat_request import parse_chat_request
from langchain_tpo.server.errors import APIError
from langchain_tpo.server.metrics import CONTENT_TYPE, ServerMetrics
from langchain_tpo.server.responses import completion_body
from langchain_tpo.server.runs import RunJob, RunReply
from langchain_tpo.server.settings import ServerSettings
from langchain_tpo.server.shutdown import Lifecycle
from langchain_tpo.server.streaming import sse_events

_STARTED = int(time.time())


@dataclass
class ServerState:
    """What every request of one app shares: the loaded models and the server's bookkeeping."""

    model: TPOChatModel
    settings: ServerSettings
    admission: Admission
    metrics: ServerMetrics
    metrics_handler: BaseCallbackHandler
    lifecycle: Lifecycle


def state_of(request: Request) -> ServerState:
    state: ServerState = request.app.state.tpo
    return state


async def chat_completions(request: Request) -> Response:
    """`POST /v1/chat/completions`: one TPO run per request, streamed or not."""
    state = state_of(request)
    settings = state.settings
    deadline = time.monotonic() + settings.request_timeout_s
    if state.lifecycle.draining:
        raise _draining(state)
    body = await read_json(request, settings.max_body_bytes)
    chat = parse_chat_request(body, settings, state.model.chain.config)
    try:
        ticket = state.admission.enter()
    except AdmissionFull as e:
        raise APIError(
            429,
            f"The server is busy: {state.admission.running} runs in flight and "
            f"{state.admission.queued} waiting. Retry after {e.retry_after_s} s.",
            code="server_busy",
            headers={"Retry-After": str(e.retry_after_s)},
        ) from None
    job = RunJob(
        state.model,
        chat,
        admission=state.admission,
        ticket=ticket,
        metrics=state.metrics,
        metrics_handler=state.metrics_handler,
        deadline=deadline,
        secrets=settings.secrets,
    )
    if chat.stream:
        return StreamingResponse(
            sse_events(job, chat, settings.keep_alive_s),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    reply = await _reply_unless_gone(job, request.receive)
    if reply is None:
        return Response(status_code=499)  # nobody is listening any more
    return JSONResponse(completion_body(job.request_id, chat, reply))


async def _reply_unless_gone(job: RunJob, receive: Receive) -> RunReply | None:
    """The run's reply; None (and the run cancelled) if the client disconnects first."""
    gone = asyncio.ensure_future(_disconnected(receive))
    try:
        await asyncio.wait({job.task, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not gone.done():
            gone.cancel()
    if job.task.done():
        return job.task.result()
    job.cancel()
    with contextlib.suppress(BaseException):
        await job.task
    return None


async def _disconnected(receive: Receive) -> None:
    """Return when the client disconnects (the body was read already)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


def _draining(state: ServerState) -> APIError:
    return APIError(
        503,
        "The server is shutting down and takes no new requests; retry on another replica.",
        code="shutting_down",
        headers={
            "Retry-After": str(max(1, state.admission.retry_after_s())),
            "Connection": "close",
        },
    )


async def list_models(request: Request) -> Response:
    """`GET /v1/models`: the names the server answers to."""
    ids = state_of(request).settings.model_ids
    return JSONResponse({"object": "list", "data": [_model_card(i) for i in ids]})


async def get_model(request: Request) -> Response:
    """`GET /v1/models/{model}`."""
    model_id = request.path_params["model_id"]
    if model_id not in state_of(request).settings.model_ids:
        raise APIError(
            404, f"The model {model_id!r} does not exist on this server.", code="model_not_found"
        )
    return JSONResponse(_model_card(model_id))


def _model_card(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": _STARTED, "owned_by": "langchain-tpo"}


async def health(request: Request) -> Response:
    """`GET /health`: the process is up (liveness); 200 while draining too."""
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> Response:
    """`GET /ready`: models loaded and taking requests (readiness); 503 while draining."""
    state = state_of(request)
    lifecycle = state.lifecycle
    taking = lifecycle.ready and not lifecycle.draining
    body = {
        "status": "ready" if taking else ("draining" if lifecycle.draining else "loading"),
        "models_loaded": lifecycle.ready,
        "draining": lifecycle.draining,
        "runs_in_flight": state.admission.running,
        "queued": state.admission.queued,
    }
    return JSONResponse(body, status_code=200 if taking else 503)


async def metrics(request: Request) -> Response:
    """`GET /metrics`: Prometheus text exposition."""
    return Response(state_of(request).metrics.render(), media_type=CONTENT_TYPE)
