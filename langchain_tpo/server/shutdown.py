"""Graceful shutdown: SIGTERM stops new work (503), lets runs in flight finish, then exits 0.

uvicorn alone would close its listening socket at once, so clients would see refused
connections rather than an answer, and it re-raises the signal after shutting down, so the
process would not exit 0. `DrainingServer` instead marks the server as draining on the first
SIGTERM or SIGINT (new requests get 503 with `Retry-After`, `/ready` turns 503 so a load
balancer stops sending traffic), waits until no request is admitted or queued (or
`drain_limit_s` passed), then lets uvicorn finish sending the last responses and stop. A
second signal stops at once.
"""

from __future__ import annotations

import logging
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

import uvicorn

from langchain_tpo.server.admission import Admission

logger = logging.getLogger("langchain_tpo.server")


@dataclass
class Lifecycle:
    """Whether the server takes new requests."""

    ready: bool = True
    """Models loaded and serving (the readiness signal)."""
    draining: bool = False
    drain_started: float | None = None
    on_drain: list[Callable[[], None]] = field(default_factory=list)
    """Called once when draining starts (the `tpo serve` command prints a line)."""

    def start_draining(self) -> None:
        """Refuse new requests from now on."""
        if self.draining:
            return
        self.draining = True
        self.drain_started = time.monotonic()
        for callback in self.on_drain:
            callback()


class DrainingServer(uvicorn.Server):
    """A uvicorn server that drains on SIGTERM before it stops, and then exits normally."""

    def __init__(
        self,
        config: uvicorn.Config,
        lifecycle: Lifecycle,
        admission: Admission,
        drain_limit_s: float,
    ) -> None:
        super().__init__(config)
        self.lifecycle = lifecycle
        self.admission = admission
        self.drain_limit_s = drain_limit_s
        self.on_started: list[Callable[[], None]] = []
        """Called once the socket accepts connections."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            for callback in self.on_started:
                callback()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """First signal: drain. Second: stop now (without re-raising the signal later)."""
        if self.lifecycle.draining:
            self.should_exit = True
            self.force_exit = True
            return
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        logger.info("%s: draining, %d request(s) in flight", name, self.admission.in_flight)
        self.lifecycle.start_draining()

    async def on_tick(self, counter: int) -> bool:
        if self.lifecycle.draining and self._drained():
            return True
        return await super().on_tick(counter)

    def _drained(self) -> bool:
        if self.admission.in_flight == 0:
            return True
        started = self.lifecycle.drain_started or time.monotonic()
        if time.monotonic() - started > self.drain_limit_s:
            logger.warning(
                "drain limit of %.0f s passed with %d request(s) still in flight; stopping",
                self.drain_limit_s,
                self.admission.in_flight,
            )
            return True
        return False
