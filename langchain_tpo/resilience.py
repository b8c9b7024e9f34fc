"""Retries and time limits for single model and reward requests.

Every policy and reward request of a TPO run goes through `call` (sync) or `acall` (async):

- a request that takes longer than its time limit fails with `TimeoutError`. The async path
  cancels it (a vLLM engine then aborts the request); the sync path stops waiting for it (the
  worker thread is a daemon and finishes on its own);
- a failed request is tried again after a wait that doubles each time (with jitter), up to
  `retries` more times, unless the error is permanent: a request that cannot fit the model,
  a 4xx answer other than 408 and 429, a reward model that returned something that is not a
  number, or a programming error. Transient errors (timeouts, connection errors, 5xx, rate
  limits) and errors of unknown kind (a flaky model's `RuntimeError`, `ValueError`) are retried.

LangGraph's own control flow (`interrupt()`, `Command`) is never caught.
"""

from __future__ import annotations

import asyncio
import contextvars
import random
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from langgraph.errors import GraphBubbleUp

from langchain_tpo.errors import ContextLengthError, TPOInputError

T = TypeVar("T")

_MAX_BACKOFF_S = 30.0
_PERMANENT: tuple[type[BaseException], ...] = (
    ContextLengthError,
    TPOInputError,
    TypeError,
    AttributeError,
    KeyError,
    NotImplementedError,
    GraphBubbleUp,
)


@dataclass(frozen=True)
class RequestPolicy:
    """How one request is timed and retried."""

    timeout_s: float | None = None
    """Seconds one attempt may take; None: no limit."""
    retries: int = 0
    """Further attempts after a failed one."""
    backoff_s: float = 1.0
    """Wait before the first retry; doubled for each further one (at most 30 s)."""
    deadline: float | None = None
    """Wall-clock time (`time.time()`) after which no attempt starts and none may run on."""

    def attempt_timeout(self) -> float | None:
        """The time limit of the next attempt: the request's own, cut at the deadline."""
        limits = [t for t in (self.timeout_s, self._remaining()) if t is not None]
        return max(0.0, min(limits)) if limits else None

    def _remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.time()

    def wait_before(self, attempt: int) -> float | None:
        """Seconds to wait before retry number `attempt` (1-based); None: give up."""
        if attempt > self.retries:
            return None
        wait = min(self.backoff_s * 2 ** (attempt - 1), _MAX_BACKOFF_S)
        wait *= random.uniform(0.8, 1.2)
        remaining = self._remaining()
        if remaining is not None and remaining <= wait:
            return None
        return wait


def is_permanent(error: BaseException) -> bool:
    """Whether retrying the request that raised `error` cannot help."""
    if isinstance(error, _PERMANENT):
        return True
    from langchain_tpo.reward_models.base import RewardModelError
    from langchain_tpo.reward_models.remote import RewardServerError

    if isinstance(error, RewardModelError) and not isinstance(error, RewardServerError):
        return True  # the reward model answered, with something that is not a reward
    status = _status_code(error)
    return status is not None and 400 <= status < 500 and status not in (408, 429)


def _status_code(error: BaseException) -> int | None:
    for holder in (error, getattr(error, "response", None)):
        status = getattr(holder, "status_code", None)
        if isinstance(status, int):
            return status
    return None


def describe(error: BaseException) -> str:
    """`TypeName: message`, on one line."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _timeout_error(seconds: float | None, what: str) -> TimeoutError:
    limit = f"{seconds:.0f} s" if seconds is not None else "its time limit"
    return TimeoutError(f"{what} took longer than {limit}")


def call(
    fn: Callable[[], T],
    policy: RequestPolicy,
    what: str,
    *,
    on_retry: Callable[[BaseException], None] | None = None,
) -> T:
    """Run `fn()` within the policy's time limit, retrying failures it allows.

    Args:
        fn: The request.
        policy: Time limit, retries, backoff and deadline.
        what: The request, for error messages ("the critique request").
        on_retry: Called with the error before each retry.

    Returns:
        What `fn` returned.

    Raises:
        The last attempt's error (a `TimeoutError` when it ran out of time).
    """
    attempt = 0
    while True:
        try:
            return _within(fn, policy.attempt_timeout(), what)
        except Exception as error:
            attempt += 1
            time.sleep(_wait_before_retry(error, attempt, policy, on_retry))


async def acall(
    fn: Callable[[], Awaitable[T]],
    policy: RequestPolicy,
    what: str,
    *,
    on_retry: Callable[[BaseException], None] | None = None,
) -> T:
    """Async twin of `call`: the attempt is cancelled when it runs out of time."""
    attempt = 0
    while True:
        limit = policy.attempt_timeout()
        try:
            if limit is None:
                return await fn()
            try:
                return await asyncio.wait_for(fn(), timeout=limit)
            except TimeoutError as e:
                raise _timeout_error(limit, what) from e
        except Exception as error:
            attempt += 1
            await asyncio.sleep(_wait_before_retry(error, attempt, policy, on_retry))


def _wait_before_retry(
    error: Exception,
    attempt: int,
    policy: RequestPolicy,
    on_retry: Callable[[BaseException], None] | None,
) -> float:
    """Seconds to wait after failed attempt number `attempt`, the retry reported to
    `on_retry`; raises `error` when it is permanent or the policy allows no more tries."""
    wait = None if is_permanent(error) else policy.wait_before(attempt)
    if wait is None:
        raise error
    if on_retry is not None:
        on_retry(error)
    return wait


def _within(fn: Callable[[], T], limit: float | None, what: str) -> T:
    """Run `fn` in a daemon thread and stop waiting for it after `limit` seconds."""
    if limit is None:
        return fn()
    outcome: list[Any] = []
    context = contextvars.copy_context()  # callbacks and the runnable config travel along

    def work() -> None:
        try:
            outcome.append((True, context.run(fn)))
        except BaseException as e:  # handed to the caller, which raises it
            outcome.append((False, e))

    worker = threading.Thread(target=work, name="langchain-tpo-request", daemon=True)
    worker.start()
    worker.join(limit)
    if not outcome:
        raise _timeout_error(limit, what)
    ok, value = outcome[0]
    if not ok:
        raise value
    return value
