"""Bearer-key check on the OpenAI routes (`/v1/...`), in constant time.

The key is compared as SHA-256 digests with `hmac.compare_digest`, so the time taken says
nothing about how much of a guess was right, nor about the key's length. `/health`, `/ready`
and `/metrics` stay open (probes and scrapers carry no key), as with `vllm serve --api-key`.
The key is never logged, and a refusal never echoes what the client sent.
"""

from __future__ import annotations

import hashlib
import hmac

from pydantic import SecretStr
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from langchain_tpo.server.errors import APIError, error_response

GUARDED_PREFIX = "/v1"


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class BearerKey:
    """The key clients must present, kept only as its digest."""

    def __init__(self, key: SecretStr) -> None:
        if not key.get_secret_value():
            msg = "The API key is empty; give a key, or none to serve without one."
            raise ValueError(msg)
        self._digest = _digest(key.get_secret_value())

    def check(self, authorization: str | None) -> APIError | None:
        """None when `authorization` carries the key, else the 401 to send."""
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            return _unauthorized(
                "No API key given: send the server's key as `Authorization: Bearer KEY` "
                "(OpenAI clients: api_key=KEY).",
                "missing_api_key",
            )
        if not hmac.compare_digest(_digest(given.strip()), self._digest):
            return _unauthorized("Incorrect API key provided.", "invalid_api_key")
        return None


def _unauthorized(message: str, code: str) -> APIError:
    return APIError(401, message, code=code, headers={"WWW-Authenticate": "Bearer"})


class BearerAuthMiddleware:
    """ASGI middleware refusing `/v1/...` requests without the key, before any body is read."""

    def __init__(self, app: ASGIApp, key: BearerKey) -> None:
        self.app = app
        self.key = key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") != "OPTIONS":
            path = scope["path"].removeprefix(scope.get("root_path", ""))
            if path == GUARDED_PREFIX or path.startswith(GUARDED_PREFIX + "/"):
                refusal = self.key.check(Headers(scope=scope).get("authorization"))
                if refusal is not None:
                    await error_response(refusal)(scope, receive, send)
                    return
        await self.app(scope, receive, send)
