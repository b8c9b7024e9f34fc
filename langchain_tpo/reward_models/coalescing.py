"""Score calls from concurrent runs, coalesced into shared batches, and the counts of both.

Many TPO runs in one process (a server, `tpo eval`, `abatch`) each score a handful of
candidates at a time. A reward model run in-process or behind a server does better with one
call of many pairs than with many calls of a few, so async score calls that arrive within a
short window are merged into one call of the model (`RewardModel._ascore`), and each caller
gets its own slice of the scores back.

Rules the coalescer keeps:

- **Bounded wait.** A call waits at most `window_s` for company while the model has room;
  a batch leaves at once when it reaches `max_pairs`.
- **Bounded batches.** A batch holds at most `max_pairs` pairs; a single call larger than
  that is sent alone, never split (its pairs are scored together, as without coalescing).
- **No starvation.** Calls leave in arrival order: the oldest waiting call is always in the
  next batch.
- **At most `max_in_flight` batches at once** (None: no limit). A model that runs one batch
  at a time (transformers) gets 1: calls that arrive while it works join the next batch.
- **Errors reach exactly their batch.** A failing model call raises in every caller of that
  batch, and in no other.
- **Cancellation is per caller.** A caller that is cancelled (a timeout, a client that went
  away) leaves its batch; the others still get their scores. A batch whose callers have all
  gone is cancelled (an async engine aborts its requests).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

_P = TypeVar("_P")
_R = TypeVar("_R")


@dataclass(frozen=True)
class ScoreCounts:
    """What reached a reward model: score calls made by callers, and the batches they became.

    Every non-empty `score`/`evaluate` call (sync or async) is one score call; every call of
    the model itself is one batch. Without coalescing each call is its own batch.
    """

    score_calls: int = 0
    """Non-empty score calls received (sync and async)."""
    batches: int = 0
    """Calls of the model itself (`_score` / `_ascore`)."""
    pairs: int = 0
    """Pairs sent to the model, over all batches."""
    failed_batches: int = 0
    """Batches whose model call raised (every caller in them got the error)."""
    cancelled_calls: int = 0
    """Score calls whose caller was cancelled before its scores came back."""
    batch_sizes: Mapping[int, int] = field(default_factory=dict)
    """Pairs in a batch -> how many batches had that many."""
    calls_per_batch: Mapping[int, int] = field(default_factory=dict)
    """Score calls merged into a batch -> how many batches had that many."""

    @property
    def mean_batch_size(self) -> float:
        """Mean pairs per batch (0 before the first batch)."""
        return self.pairs / self.batches if self.batches else 0.0

    @property
    def largest_batch(self) -> int:
        """The most pairs any batch held (0 before the first batch)."""
        return max(self.batch_sizes, default=0)

    def __sub__(self, earlier: ScoreCounts) -> ScoreCounts:
        """The counts since `earlier` (a snapshot of the same model)."""
        return ScoreCounts(
            score_calls=self.score_calls - earlier.score_calls,
            batches=self.batches - earlier.batches,
            pairs=self.pairs - earlier.pairs,
            failed_batches=self.failed_batches - earlier.failed_batches,
            cancelled_calls=self.cancelled_calls - earlier.cancelled_calls,
            batch_sizes=_minus(self.batch_sizes, earlier.batch_sizes),
            calls_per_batch=_minus(self.calls_per_batch, earlier.calls_per_batch),
        )


def _minus(later: Mapping[int, int], earlier: Mapping[int, int]) -> dict[int, int]:
    diff = Counter(later)
    diff.subtract(earlier)
    return {key: count for key, count in sorted(diff.items()) if count}


class ScoreCounter:
    """Thread-safe running counts of score calls and batches; `snapshot()` reads them."""

    def __init__(self) -> None:
        """Start at zero."""
        self._lock = threading.Lock()
        self._calls = 0
        self._batches = 0
        self._pairs = 0
        self._failed = 0
        self._cancelled = 0
        self._sizes: Counter[int] = Counter()
        self._merged: Counter[int] = Counter()

    def call(self) -> None:
        """Count one score call."""
        with self._lock:
            self._calls += 1

    def cancelled(self) -> None:
        """Count one caller that was cancelled while it waited."""
        with self._lock:
            self._cancelled += 1

    def batch(self, pairs: int, calls: int, *, failed: bool = False) -> None:
        """Count one call of the model with `pairs` pairs from `calls` score calls."""
        with self._lock:
            self._batches += 1
            self._pairs += pairs
            self._failed += failed
            self._sizes[pairs] += 1
            self._merged[calls] += 1

    def snapshot(self) -> ScoreCounts:
        """The counts as they are now."""
        with self._lock:
            return ScoreCounts(
                score_calls=self._calls,
                batches=self._batches,
                pairs=self._pairs,
                failed_batches=self._failed,
                cancelled_calls=self._cancelled,
                batch_sizes=dict(sorted(self._sizes.items())),
                calls_per_batch=dict(sorted(self._merged.items())),
            )


class _Call(Generic[_P, _R]):
    __slots__ = ("arrived", "future", "items")

    def __init__(self, items: list[_P], future: asyncio.Future[list[_R]]) -> None:
        self.items = items
        self.future = future
        self.arrived = time.monotonic()


class Coalescer(Generic[_P, _R]):
    """Merges concurrent calls on one event loop into calls of `run` over all their items.

    `run(items)` must return one result per item, in order. Create one per event loop: the
    futures and timers belong to the loop that was running when it was made.
    """

    def __init__(
        self,
        run: Callable[[list[_P]], Awaitable[Sequence[_R]]],
        *,
        window_s: float,
        max_items: int,
        max_in_flight: int | None,
        counter: ScoreCounter,
    ) -> None:
        """Coalesce calls of `run`.

        Args:
            run: The batched call (the model's own async scoring, checked).
            window_s: Longest a call waits for others before its batch leaves.
            max_items: Most items per batch (a larger single call is sent alone).
            max_in_flight: Most batches running at once; None for no limit.
            counter: Where batches and cancellations are counted.
        """
        if window_s < 0 or max_items < 1 or (max_in_flight is not None and max_in_flight < 1):
            msg = (
                f"Invalid coalescing settings: window {window_s}s (>= 0), batch {max_items} "
                f"(>= 1), in flight {max_in_flight} (>= 1 or None)."
            )
            raise ValueError(msg)
        self._run = run
        self._window_s = window_s
        self._max_items = max_items
        self._max_in_flight = max_in_flight
        self._counter = counter
        self._loop = asyncio.get_running_loop()
        self._queue: deque[_Call[_P, _R]] = deque()
        self._queued_items = 0
        self._in_flight: set[asyncio.Task[None]] = set()
        self._timer: asyncio.TimerHandle | None = None

    @property
    def waiting(self) -> int:
        """Calls queued for a batch that has not left yet."""
        return len(self._queue)

    @property
    def in_flight(self) -> int:
        """Batches running now."""
        return len(self._in_flight)

    async def submit(self, items: Sequence[_P]) -> list[_R]:
        """The results of `items`, computed in a batch with whatever else arrives meanwhile."""
        call: _Call[_P, _R] = _Call(list(items), self._loop.create_future())
        self._queue.append(call)
        self._queued_items += len(call.items)
        self._schedule()
        try:
            return await call.future
        except asyncio.CancelledError:
            self._counter.cancelled()
            if call in self._queue:
                self._queue.remove(call)
                self._queued_items -= len(call.items)
                self._schedule()
            raise

    def _has_room(self) -> bool:
        return self._max_in_flight is None or len(self._in_flight) < self._max_in_flight

    def _schedule(self) -> None:
        """Send what is due, or set a timer for when the oldest call's window closes."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._queue and self._has_room():
            due = self._queue[0].arrived + self._window_s
            if self._queued_items < self._max_items and time.monotonic() < due:
                self._timer = self._loop.call_at(
                    self._loop.time() + max(0.0, due - time.monotonic()), self._schedule
                )
                return
            self._send()

    def _send(self) -> None:
        batch: list[_Call[_P, _R]] = []
        size = 0
        while self._queue:
            call = self._queue[0]
            if batch and size + len(call.items) > self._max_items:
                break
            self._queue.popleft()
            self._queued_items -= len(call.items)
            batch.append(call)
            size += len(call.items)
        task = self._loop.create_task(self._batch(batch))
        self._in_flight.add(task)
        abandon = functools.partial(_abandon, task, batch)
        for call in batch:
            call.future.add_done_callback(abandon)

    async def _batch(self, batch: list[_Call[_P, _R]]) -> None:
        items = [item for call in batch for item in call.items]
        failed = False
        try:
            results = list(await self._run(items))
            if len(results) != len(items):  # `run` checks this; a guard against misuse
                msg = f"Batched call returned {len(results)} results for {len(items)} items."
                raise RuntimeError(msg)
        except asyncio.CancelledError:
            for call in batch:
                call.future.cancel()
            raise
        except Exception as error:
            failed = True
            for call in batch:
                if not call.future.done():
                    call.future.set_exception(error)
        else:
            start = 0
            for call in batch:
                if not call.future.done():
                    call.future.set_result(results[start : start + len(call.items)])
                start += len(call.items)
        finally:
            self._counter.batch(len(items), len(batch), failed=failed)
            task = asyncio.current_task()
            if task is not None:
                self._in_flight.discard(task)
            if not self._loop.is_closed():
                self._schedule()


def _abandon(task: asyncio.Task[Any], batch: Sequence[_Call[Any, Any]], _: object) -> None:
    """Cancel a batch nobody waits for any more (every caller was cancelled)."""
    if not task.done() and all(call.future.cancelled() for call in batch):
        with contextlib.suppress(RuntimeError):  # the loop is closing
            task.cancel()
