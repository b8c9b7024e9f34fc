"""Prometheus metrics of the server (`GET /metrics`), fed by requests and by TPO's own runs.

Requests by route and status, runs in flight and queue depth come from the server itself.
Time per stage, policy requests and tokens, and reward batch sizes come from a LangChain
callback handler on every run: each graph node, each policy request and each reward batch is
already a traced run (docs/ARCHITECTURE.md, "Traces and events"), so nothing in the loop is
changed to be measured. Each app has its own registry, so several servers (tests) can live
in one process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import LLMResult
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from langchain_tpo.graph import NODES
from langchain_tpo.sampling import result_usage

CONTENT_TYPE = CONTENT_TYPE_LATEST
_STAGE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
_MAX_OPEN_RUNS = 100_000
"""Started node runs remembered at most; a run that never ends is forgotten beyond this."""


class ServerMetrics:
    """The server's metrics, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "tpo_requests", "HTTP requests by route and status.", ["route", "status"], registry=r
        )
        self.request_seconds = Histogram(
            "tpo_request_duration_seconds",
            "Seconds from a chat-completion request to its last byte.",
            ["route"],
            buckets=_STAGE_BUCKETS,
            registry=r,
        )
        self.runs_in_flight = Gauge("tpo_runs_in_flight", "TPO runs running now.", registry=r)
        self.queue_depth = Gauge("tpo_queue_depth", "Requests waiting for a run slot.", registry=r)
        self.runs = Counter(
            "tpo_runs", "Finished TPO runs by stop reason.", ["stop_reason"], registry=r
        )
        self.stage_seconds = Histogram(
            "tpo_stage_duration_seconds",
            "Seconds per TPO graph step (sample, score, critique, suggest, rewrite, ...).",
            ["stage"],
            buckets=_STAGE_BUCKETS,
            registry=r,
        )
        self.policy_requests = Counter(
            "tpo_policy_requests", "Requests sent to the policy model.", registry=r
        )
        self.policy_tokens = Counter(
            "tpo_policy_tokens",
            "Tokens of policy requests, as the policy reports them.",
            ["kind"],
            registry=r,
        )
        self.reward_batch_size = Histogram(
            "tpo_reward_batch_size",
            "Pairs per reward scoring call (its count is the number of score calls).",
            buckets=_BATCH_BUCKETS,
            registry=r,
        )

    def watch(self, running: Callable[[], float], queued: Callable[[], float]) -> None:
        """Read runs in flight and queue depth from the admission control at each scrape."""
        self.runs_in_flight.set_function(running)
        self.queue_depth.set_function(queued)

    def handler(self, reward_name: str) -> BaseCallbackHandler:
        """A callback handler recording every run's stages, policy requests and reward batches
        (`reward_name`: the reward model's run name, `RewardModel.get_name()`)."""
        return _RunMetrics(self, reward_name)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


class _RunMetrics(BaseCallbackHandler):
    run_inline = True

    def __init__(self, metrics: ServerMetrics, reward_name: str) -> None:
        self.metrics = metrics
        self.reward_name = reward_name
        self._started: dict[UUID, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        name = kwargs.get("name")
        if name == self.reward_name:
            pairs = inputs.get("input") if isinstance(inputs, dict) else inputs
            if isinstance(pairs, list):
                self.metrics.reward_batch_size.observe(len(pairs))
        elif name in NODES and (metadata or {}).get("langgraph_node") == name:
            with self._lock:
                if len(self._started) >= _MAX_OPEN_RUNS:
                    self._started.clear()
                self._started[run_id] = (name, time.perf_counter())

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._stage_ended(run_id)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._stage_ended(run_id)

    def _stage_ended(self, run_id: UUID) -> None:
        with self._lock:
            started = self._started.pop(run_id, None)
        if started is not None:
            stage, at = started
            self.metrics.stage_seconds.labels(stage).observe(time.perf_counter() - at)

    def on_llm_end(
        self, response: LLMResult, *, run_id: UUID, parent_run_id: UUID | None = None, **kw: Any
    ) -> None:
        if parent_run_id is None:
            return  # the TPO chat model's own run: its usage is the sum of the policy's
        self.metrics.policy_requests.inc()
        usage = result_usage(response) or {}
        for kind in ("input_tokens", "output_tokens"):
            if usage.get(kind):
                self.metrics.policy_tokens.labels(kind.removesuffix("_tokens")).inc(usage[kind])

    def on_llm_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        if parent_run_id is not None:
            self.metrics.policy_requests.inc()
