"""Read a request's JSON body, never more than the server's byte limit."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from langchain_tpo.server.errors import APIError, bad_request


def _too_large(limit: int) -> APIError:
    return APIError(
        413,
        f"The request body is larger than this server's limit of {limit} bytes "
        "(tpo serve --max-body-bytes).",
        code="request_too_large",
        headers={"Connection": "close"},
    )


async def read_json(request: Request, limit: int) -> Any:
    """The decoded JSON body.

    A declared `Content-Length` above `limit` is refused before anything is read; a body
    sent in chunks is read up to `limit` bytes and refused beyond.

    Raises:
        APIError: 413 for a body above `limit`, 400 for one that is empty or not JSON.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise bad_request("The Content-Length header is not a number.") from None
        if size > limit:
            raise _too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _too_large(limit)
    if not body.strip():
        raise bad_request("The request has no body; send a JSON chat-completion request.")
    try:
        value = json.loads(bytes(body))
    except (ValueError, RecursionError) as e:
        detail = str(e)[:200] if isinstance(e, ValueError) else "nested too deeply"
        raise bad_request(f"The body is not valid JSON ({detail}).", None, "invalid_json") from None
    try:  # a lone surrogate ("\ud800") is valid JSON, but not text a model can be sent
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise bad_request(
            "The body holds an unpaired UTF-16 surrogate escape (such as \\ud800), which is "
            "not text; send valid Unicode.",
            None,
            "invalid_json",
        ) from None
    return value
