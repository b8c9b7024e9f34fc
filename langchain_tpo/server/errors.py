"""Errors as OpenAI sends them: `{"error": {"message", "type", "param", "code"}}`.

Every refusal of the server (400, 401, 404, 405, 413, 422, 429, 500, 502, 503, 504) is an
`APIError` rendered with `error_response`, so OpenAI clients raise their own typed errors
(`openai.BadRequestError`, `openai.RateLimitError`, ...) with the message. No traceback ever
leaves the server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import JSONResponse

_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    502: "server_error",
    503: "server_error",
    504: "server_error",
}


class APIError(Exception):
    """A request the server answers with an error status and an OpenAI-style body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.type = type or _TYPES.get(status, "server_error" if status >= 500 else "error")
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """The JSON body OpenAI's clients read."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def error_response(error: APIError) -> JSONResponse:
    """The HTTP response of an `APIError`."""
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def bad_request(message: str, param: str | None = None, code: str | None = None) -> APIError:
    """A 400: the body asks for something malformed, out of range or unsupported."""
    return APIError(400, message, param=param, code=code)
