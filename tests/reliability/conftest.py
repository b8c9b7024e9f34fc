"""Fixtures of the fault-injection suite: a stub model server and the `tpo` command.

These tests open sockets on 127.0.0.1 only (the stub server), so they live outside
`tests/unit_tests`, whose conftest disables sockets.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from langchain_tpo.cli import main
from tests.reliability.stub_server import StubServer

REPO = Path(__file__).resolve().parents[2]
COMMAND_TIMEOUT_S = 300.0
"""A `tpo` command still running after this long counts as hung: the test fails."""


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer().start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Finished:
    """What a `tpo` command did: exit code, output, and how long it took."""

    code: int
    out: str
    err: str
    seconds: float

    @property
    def everything(self) -> str:
        return self.out + self.err


def run_tpo(*argv: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Finished:
    """Run `python -m langchain_tpo.cli ARGV...` in a fresh process, as a user would."""
    environment = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        **(env or {}),
    }
    if "OPENAI_API_KEY" not in (env or {}):  # the caller's own key must not reach the stub
        environment.pop("OPENAI_API_KEY", None)
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "langchain_tpo.cli", *argv],
            capture_output=True,
            text=True,
            env=environment,
            cwd=cwd,
            timeout=COMMAND_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"tpo {' '.join(argv[:2])} still running after {COMMAND_TIMEOUT_S:.0f} s")
    return Finished(done.returncode, done.stdout, done.stderr, time.perf_counter() - start)


@pytest.fixture
def tpo(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Finished]:
    """Run `tpo ARGV...` in this process (no start-up cost); fails the test if it hangs."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("TPO_REWARD_API_KEY", raising=False)

    def run(*argv: str, env: dict[str, str] | None = None) -> Finished:
        codes: list[int] = []
        with monkeypatch.context() as scoped:
            for name, value in (env or {}).items():
                scoped.setenv(name, value)
            start = time.perf_counter()
            worker = threading.Thread(target=lambda: codes.append(main(list(argv))), daemon=True)
            worker.start()
            worker.join(COMMAND_TIMEOUT_S)
        seconds = time.perf_counter() - start
        if not codes:
            pytest.fail(f"tpo {' '.join(argv[:2])} still running after {seconds:.0f} s")
        out, err = capsys.readouterr()
        return Finished(codes[0], out, err, seconds)

    return run


@pytest.fixture(scope="session")
def tokenizer_dir() -> str:
    """A local tokenizer for the stub reward server's model (the embedded default's)."""
    from langchain_tpo.bundled import default_model_dir

    try:
        return str(default_model_dir())
    except (ImportError, FileNotFoundError) as e:
        pytest.skip(f"the embedded default model is not installed: {e}")
