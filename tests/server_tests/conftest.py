"""Fixtures of the `tpo serve` tests: the server on 127.0.0.1 in a thread, scripted models.

These tests open sockets on 127.0.0.1 only (the server, a stub policy server), so they live
outside `tests/unit_tests`, whose conftest disables sockets. Every server a test starts is
stopped by the test's end.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from pydantic import PrivateAttr, SecretStr

from langchain_tpo import TPOChain, TPOConfig
from langchain_tpo.reward_models import FunctionReward
from langchain_tpo.server import ServerSettings, ServerThread, create_app
from langchain_tpo.testing import ScriptedChatModelWithN, stage_of
from tests.reliability.stub_server import StubServer

REPO = Path(__file__).resolve().parents[2]
KEY = "sk-serve-PLANTED-5d1e07"
START_LIMIT_S = 240.0
"""A `tpo serve` process that has not said where it listens after this long counts as hung."""


def echo(messages: list[BaseMessage], index: int) -> str:
    """Answers that name the question they answer (samples and rewrites end with it)."""
    stage = stage_of(messages)
    if stage in ("critique", "suggest"):
        return f"{stage} {index}: be more specific."
    return f"About [{messages[-1].text}]: " + "more detail " * (index % 4)


class CancellablePolicy(ScriptedChatModelWithN):
    """A scripted policy with `n` that counts the requests it started and those cancelled
    while it worked (`requests` records a request only once it is answered)."""

    _started: int = PrivateAttr(default=0)
    _cancelled: int = PrivateAttr(default=0)
    _active: int = PrivateAttr(default=0)
    _peak: int = PrivateAttr(default=0)

    @property
    def started(self) -> int:
        return self._started

    @property
    def cancelled(self) -> int:
        return self._cancelled

    @property
    def peak(self) -> int:
        """Most requests it was working on at once."""
        return self._peak

    async def _agenerate(self, *args: Any, **kwargs: Any) -> Any:
        self._started += 1
        self._active += 1
        self._peak = max(self._peak, self._active)
        try:
            return await super()._agenerate(*args, **kwargs)
        except asyncio.CancelledError:
            self._cancelled += 1
            raise
        finally:
            self._active -= 1


def length_reward() -> FunctionReward:
    return FunctionReward(lambda query, response: float(len(response)))


@contextmanager
def serving(
    policy: Any = None,
    reward: Any = None,
    config: TPOConfig | None = None,
    **settings: Any,
) -> Iterator[ServerThread]:
    """The app over `policy` (a scripted echo policy) and `reward` (length), in a thread."""
    chain = TPOChain(
        policy=policy if policy is not None else CancellablePolicy(responder=echo),
        reward=reward if reward is not None else length_reward(),
        config=config or TPOConfig(num_samples=2, max_iterations=1, retry_backoff_s=0.05),
    )
    if "api_key" in settings and isinstance(settings["api_key"], str):
        settings["api_key"] = SecretStr(settings["api_key"])
    with ServerThread(create_app(chain, ServerSettings(**settings))) as server:
        yield server


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer().start()
    try:
        yield server
    finally:
        server.stop()


def wait_until(condition: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    """Poll `condition` until it holds; fail the test after `timeout` seconds."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what or condition}")
        time.sleep(0.02)


class ServeProcess:
    """`python -m langchain_tpo.cli serve ...` in a fresh process, as a user starts it."""

    def __init__(self, *argv: str, env: dict[str, str] | None = None) -> None:
        environment = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "OMP_NUM_THREADS": "1",
            **(env or {}),
        }
        environment.pop("OPENAI_API_KEY", None)
        environment.pop("TPO_API_KEY", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "langchain_tpo.cli", "serve", "--port", "0", *argv],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.url = self._wait_for_url()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    def _wait_for_url(self) -> str:
        end = time.monotonic() + START_LIMIT_S
        while time.monotonic() < end:
            for line in self.lines:
                found = re.search(r"Serving TPO on (http://\S+)/v1 ", line)
                if found:
                    return found.group(1)
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.process.kill()
        pytest.fail("tpo serve did not start:\n" + "".join(self.lines))

    @property
    def stderr(self) -> str:
        return "".join(self.lines)

    def wait(self, timeout: float = 60.0) -> int:
        code = self.process.wait(timeout)
        self._reader.join(5)
        return code

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
