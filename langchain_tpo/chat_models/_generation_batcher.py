"""Concurrent `ChatTransformers` requests merged into batched `generate` calls.

transformers has no continuous batching: one `generate` call decodes a fixed set of rows to
the end. Run one request at a time, N TPO runs wait for each other and all finish together at
the end; this batcher instead gathers the requests that arrive while the model is busy (or
within a short window while it is idle), groups them by generation settings, and decodes each
group as one left-padded batch, one row per sample.

Seeds: transformers samples every row of a batch from one global generator, so a request's
samples would depend on what it was batched with. Here decoding is greedy over logits to which
`SeededSampler` adds Gumbel noise drawn from each row's own generator (seeded from the
request's seed and the sample's index): the argmax of `logits / T + Gumbel` is an exact draw
from `softmax(logits / T)` (after top-k / top-p), and a row's draws do not depend on the other
rows. What can still differ between a request decoded alone and in a batch are the logits
themselves, in their last float bits (matrix kernels round differently for different batch
shapes), which changes a token only where two candidates tie within that rounding.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class GenerationJob:
    """One request: its prompt ids, its settings, and where its replies go."""

    prompt_ids: list[int]
    rows: int
    """Rows to decode: the number of samples (1 for greedy decoding)."""
    key: Hashable
    """Requests with equal keys can share a batch (same generation settings)."""
    settings: Any
    """What the batch runner needs to decode this group (a GenerationConfig and friends)."""
    seed: int | None
    order: int = 0
    """Admission number of the request's run (`run_order`): lower is served first."""
    future: concurrent.futures.Future[list[list[int]]] = field(
        default_factory=concurrent.futures.Future
    )
    arrived: float = field(default_factory=time.monotonic)


PROMOTE_AFTER_S = 60.0
"""Seconds after which a waiting request goes ahead of younger ones whatever its run (a
request's default time limit in TPO is 300 s, retried)."""

RunBatch = Callable[[Sequence[GenerationJob]], list[list[list[int]]]]
"""Decodes a group of jobs; returns, per job, the generated token ids of each of its rows."""


@dataclass(frozen=True)
class GenerationCounts:
    """Requests received and batched `generate` calls made, for benchmarks and metrics."""

    requests: int = 0
    batches: int = 0
    rows: int = 0
    largest_batch_rows: int = 0


class GenerationBatcher:
    """A worker thread that decodes queued jobs in batches; callers wait on their future.

    Jobs of earlier runs go first: a batch is the waiting job of the earliest run (the lowest
    `order`, then the earliest arrival) plus the next jobs in that order with the same
    settings, up to `max_rows` rows (a larger job goes alone). A run's requests come one after
    another, so the earliest runs finish first and their results arrive one by one, while
    later runs fill the rest of each batch. A job that has waited `promote_after_s` goes
    ahead of every younger job, in arrival order, so no request waits behind a stream of
    earlier runs until a caller's time limit cuts it off. A job whose future was cancelled
    before its batch started is dropped.
    """

    def __init__(
        self,
        run_batch: RunBatch,
        *,
        window_s: float,
        max_rows: int,
        promote_after_s: float = PROMOTE_AFTER_S,
    ) -> None:
        """Batch jobs for `run_batch`; the thread starts with the first job."""
        self._run_batch = run_batch
        self.window_s = window_s
        self.max_rows = max_rows
        self.promote_after_s = promote_after_s
        self._cond = threading.Condition()
        self._queue: deque[GenerationJob] = deque()
        self._thread: threading.Thread | None = None
        self._requests = self._batches = self._rows = self._largest = 0

    def counts(self) -> GenerationCounts:
        """What the batcher did so far."""
        with self._cond:
            return GenerationCounts(self._requests, self._batches, self._rows, self._largest)

    def submit(self, job: GenerationJob) -> concurrent.futures.Future[list[list[int]]]:
        """Queue a job; its future gets the generated ids of each of its rows."""
        with self._cond:
            self._requests += 1
            self._queue.append(job)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._work, name="langchain-tpo-generate", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()
        return job.future

    def _ranked(self) -> list[GenerationJob]:
        promoted = time.monotonic() - self.promote_after_s

        def rank(job: GenerationJob) -> tuple[int, float, float]:
            if job.arrived <= promoted:  # waited long enough: first come, first served
                return (0, job.arrived, 0.0)
            return (1, job.order, job.arrived)

        return sorted(self._queue, key=rank)

    def _take(self) -> list[GenerationJob]:
        """The next batch (called with the lock held, the queue not empty)."""
        ranked = self._ranked()
        first = ranked[0]
        batch, rows = [first], first.rows
        for job in ranked[1:]:
            if job.key == first.key and rows + job.rows <= self.max_rows:
                batch.append(job)
                rows += job.rows
        for job in batch:
            self._queue.remove(job)
        return batch

    def _wait_for_company(self) -> None:
        """Hold the first job until its window closes or a batch of its settings is full."""
        while self._queue:
            first = min(self._queue, key=lambda job: job.arrived)
            rows = sum(j.rows for j in self._queue if j.key == first.key)
            left = first.arrived + self.window_s - time.monotonic()
            if rows >= self.max_rows or left <= 0:
                return
            self._cond.wait(left)

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    if not self._cond.wait(timeout=60.0) and not self._queue:
                        self._thread = None  # idle: a new job starts a new thread
                        return
                self._wait_for_company()
                batch = [job for job in self._take() if job.future.set_running_or_notify_cancel()]
                if not batch:
                    continue
                self._batches += 1
                rows = sum(job.rows for job in batch)
                self._rows += rows
                self._largest = max(self._largest, rows)
            try:
                outputs = self._run_batch(batch)
            except BaseException as error:  # every caller of this batch gets it
                for job in batch:
                    with contextlib.suppress(concurrent.futures.InvalidStateError):
                        job.future.set_exception(error)
                if not isinstance(error, Exception):
                    raise
                continue
            for job, output in zip(batch, outputs, strict=True):
                with contextlib.suppress(concurrent.futures.InvalidStateError):
                    job.future.set_result(output)


def row_seeds(seed: int | None, rows: int) -> list[int]:
    """One seed per row: from the request's seed and the row's index, else fresh entropy."""
    import secrets

    if seed is None:
        return [secrets.randbits(63) for _ in range(rows)]
    return [(int(seed) * 1_000_003 + k * 7_919 + 1) % (2**63 - 1) for k in range(rows)]


class SeededSampler:
    """A logits processor that turns greedy decoding into sampling with one generator per row.

    Applies temperature, top-k and top-p, then adds Gumbel noise from each row's own
    `torch.Generator`; greedy decoding then picks an exact sample of the filtered softmax.
    """

    def __init__(
        self, seeds: Sequence[int], temperature: float, top_p: float | None, top_k: int | None
    ) -> None:
        """One generator per row, seeded with `seeds`."""
        import torch

        self.generators = [torch.Generator().manual_seed(int(s)) for s in seeds]
        self.temperature = float(temperature)
        self.top_p = top_p
        self.top_k = top_k

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        """Noisy log-probabilities whose argmax is this step's sample of each row."""
        import torch

        logits = scores.float() / self.temperature
        if self.top_k is not None and 0 < self.top_k < logits.shape[-1]:
            kth = torch.topk(logits, self.top_k, dim=-1).values[..., -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if self.top_p is not None and self.top_p < 1.0:
            ordered, order = torch.sort(logits, descending=True, dim=-1)
            mass = ordered.softmax(dim=-1).cumsum(dim=-1)
            # Drop tokens once the mass before them reaches top_p (the top token always stays).
            drop_sorted = (mass - ordered.softmax(dim=-1)) >= self.top_p
            drop = drop_sorted.scatter(-1, order, drop_sorted)
            logits = logits.masked_fill(drop, float("-inf"))
        noise = torch.stack(
            [
                torch.rand(logits.shape[-1], generator=g, dtype=torch.float32)
                for g in self.generators
            ]
        ).to(logits.device)
        exponential = -torch.log(noise.clamp_min(1e-20))
        gumbel = -torch.log(exponential.clamp_min(1e-20))
        return logits.log_softmax(dim=-1) + gumbel
