"""create_app: the Starlette application of `tpo serve`.

Routes (`routes.py`), the bearer-key check (`auth.py`), request counting (`RequestMetrics`
here) and the error handlers that turn every refusal and every unexpected failure into an
OpenAI error body, never a traceback.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from langchain_tpo._redact import redact_text
from langchain_tpo.chain import TPOChain
from langchain_tpo.chat_adapter import TPOChatModel
from langchain_tpo.resilience import describe
from langchain_tpo.server import routes
from langchain_tpo.server.admission import Admission
from langchain_tpo.server.auth import BearerAuthMiddleware, BearerKey
from langchain_tpo.server.errors import APIError, error_response
from langchain_tpo.server.metrics import ServerMetrics
from langchain_tpo.server.settings import ServerSettings
from langchain_tpo.server.shutdown import Lifecycle

logger = logging.getLogger("langchain_tpo.server")

CHAT_ROUTE = "/v1/chat/completions"
ROUTES = (CHAT_ROUTE, "/v1/models", "/health", "/ready", "/metrics")


def create_app(chain: TPOChain, settings: ServerSettings | None = None) -> Starlette:
    """The OpenAI-compatible app serving TPO over `chain`'s policy and reward.

    Args:
        chain: The loaded models and the default TPO settings; every request runs on them.
        settings: Limits, caps, names and the client key.

    Returns:
        A Starlette app; its `state.tpo` holds the shared `ServerState` (admission control,
        metrics, lifecycle), which `DrainingServer` needs to drain it.
    """
    settings = settings or ServerSettings()
    metrics = ServerMetrics()
    admission = Admission(settings.max_concurrency, settings.max_queue)
    metrics.watch(lambda: admission.running, lambda: admission.queued)
    state = routes.ServerState(
        # The metrics handler counts the policy's requests and tokens in their own runs.
        model=TPOChatModel(chain=chain, return_full_result=True, policy_runs_seen_by="all"),
        settings=settings,
        admission=admission,
        metrics=metrics,
        metrics_handler=metrics.handler(chain.reward.get_name()),
        lifecycle=Lifecycle(),
    )
    middleware = [Middleware(RequestMetrics, metrics=metrics)]
    if settings.api_key is not None:
        middleware.append(Middleware(BearerAuthMiddleware, key=BearerKey(settings.api_key)))
    app = Starlette(
        routes=[
            Route(CHAT_ROUTE, routes.chat_completions, methods=["POST"]),
            Route("/v1/models", routes.list_models, methods=["GET"]),
            Route("/v1/models/{model_id:path}", routes.get_model, methods=["GET"]),
            Route("/health", routes.health, methods=["GET"]),
            Route("/ready", routes.ready, methods=["GET"]),
            Route("/metrics", routes.metrics, methods=["GET"]),
        ],
        middleware=middleware,
        exception_handlers={
            APIError: _api_error,
            HTTPException: _http_error,
            Exception: _unexpected_error(settings.secrets),
        },
    )
    app.state.tpo = state
    return app


async def _api_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, APIError)
    return error_response(error)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    if error.status_code == 404:
        message = (
            f"No route {request.method} {request.url.path}; this server serves "
            f"POST {CHAT_ROUTE}, GET /v1/models, /health, /ready and /metrics."
        )
        return error_response(APIError(404, message, code="unknown_url"))
    if error.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}."
        headers = dict(error.headers or {})
        return error_response(APIError(405, message, code="method_not_allowed", headers=headers))
    return error_response(APIError(error.status_code, str(error.detail)))


def _unexpected_error(
    secrets: Sequence[str],
) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def handle(request: Request, error: Exception) -> Response:
        said = redact_text(describe(error), secrets)[:400]
        logger.error("%s %s failed: %s", request.method, request.url.path, said)
        return error_response(APIError(500, f"Internal error: {said}", code="internal_error"))

    return handle


class RequestMetrics:
    """Counts requests by route and status, and times chat completions to their last byte."""

    def __init__(self, app: ASGIApp, metrics: ServerMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        route = path if path in ROUTES else "other"
        if path.startswith("/v1/models/"):
            route = "/v1/models/{id}"
        started = time.perf_counter()
        status = 500

        async def counting_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            self.metrics.requests.labels(route, str(status)).inc()
            if route == CHAT_ROUTE:
                self.metrics.request_seconds.labels(route).observe(time.perf_counter() - started)
