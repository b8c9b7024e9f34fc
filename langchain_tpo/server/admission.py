"""Admission control: at most `max_concurrency` runs at once, then a bounded queue, then 429.

The decision to admit, queue or refuse is taken at once, when the request arrives, so a
refused client learns it immediately (429 with `Retry-After`, an estimate from the durations
of recent runs). A queued request waits its turn in arrival order; one whose client leaves
(its task is cancelled) leaves the queue, and a slot handed to it as it left passes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque

_DEFAULT_RUN_S = 10.0
"""Assumed duration of a run before any has finished, for the first Retry-After."""
_MAX_RETRY_AFTER_S = 600


class AdmissionFull(Exception):
    """Every run slot and every queue place is taken."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"the server is full; retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


class Ticket:
    """A request's place: admitted at once, or waiting in the queue."""

    def __init__(self, admission: Admission, waiter: asyncio.Future[None] | None) -> None:
        self._admission = admission
        self._waiter = waiter
        self.queued_behind = len(admission._waiting) - 1 if waiter is not None else 0
        """Requests that were waiting before this one (0 when admitted at once)."""

    @property
    def waits(self) -> bool:
        """Whether the request had to queue."""
        return self._waiter is not None

    async def admitted(self) -> None:
        """Return once the request holds a run slot (at once when it was admitted at once)."""
        waiter = self._waiter
        if waiter is None:
            return
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._admission.release()  # the slot came just as the client left: pass it on
            else:
                self._admission._forget(waiter)
            raise


class Admission:
    """Counts runs in flight and requests waiting, and decides who runs next."""

    def __init__(self, max_concurrency: int, max_queue: int) -> None:
        self.max_concurrency = max_concurrency
        self.max_queue = max_queue
        self.running = 0
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._durations: deque[float] = deque(maxlen=32)

    @property
    def queued(self) -> int:
        """Requests waiting for a slot."""
        return sum(1 for w in self._waiting if not w.done())

    @property
    def in_flight(self) -> int:
        """Requests admitted or waiting: what a drain waits for."""
        return self.running + self.queued

    def enter(self) -> Ticket:
        """A run slot now, else a queue place.

        Raises:
            AdmissionFull: No slot and no queue place is free.
        """
        if self.running < self.max_concurrency and not self.queued:
            self.running += 1
            return Ticket(self, None)
        if self.queued < self.max_queue:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            return Ticket(self, waiter)
        raise AdmissionFull(self.retry_after_s())

    def release(self) -> None:
        """A run ended: its slot goes to the first request still waiting, else it is freed."""
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.running -= 1

    def record(self, seconds: float) -> None:
        """Remember how long a run took, for Retry-After estimates."""
        self._durations.append(seconds)

    def retry_after_s(self) -> int:
        """Seconds until a place is likely free: a run's typical length, times the queue's
        turns ahead."""
        typical = (
            sorted(self._durations)[len(self._durations) // 2]
            if self._durations
            else _DEFAULT_RUN_S
        )
        turns = (self.queued + 1) / max(1, self.max_concurrency)
        return int(min(_MAX_RETRY_AFTER_S, max(1, math.ceil(typical * turns))))

    def _forget(self, waiter: asyncio.Future[None]) -> None:
        with contextlib.suppress(ValueError):  # already handed a slot and gone
            self._waiting.remove(waiter)
