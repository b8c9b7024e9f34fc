"""`langgraph dev` serves the TPO graph with no extra flags; an SDK client drives a thread.

The real in-memory API server (`langgraph dev`, from langgraph-cli[inmem]) runs on 127.0.0.1
with the embedded default models on transformers. It raises on any blocking call made inside
the event loop (blockbuster), so this also checks that the async graph never blocks.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration_tests.default_models import require_default_models
from tests.integration_tests.vllm_server import free_port

pytestmark = [pytest.mark.integration, pytest.mark.requires("langgraph_api")]

ROOT = Path(__file__).resolve().parents[2]
TINY = {"num_samples": 2, "max_iterations": 1, "max_tokens": 8}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pytest.importorskip("langgraph_api")
    pytest.importorskip("langgraph_sdk")
    require_default_models()
    cli = shutil.which("langgraph", path=str(Path(sys.executable).parent))
    if cli is None:
        pytest.skip("the langgraph CLI is not installed (langgraph-cli[inmem])")
    port = free_port()
    log = tmp_path_factory.mktemp("langgraph-dev") / "server.log"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "LANGSMITH_TRACING": "false",
        "TPO_BACKEND": "transformers",
    }
    command = [cli, "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"langgraph dev exited:\n{log.read_text(errors='replace')[-5000:]}")
            try:
                with urllib.request.urlopen(f"{url}/ok", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail(f"langgraph dev did not answer in 180 s; log: {log}")
        yield url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        text = log.read_text(errors="replace")
        assert "BlockingError" not in text, text[-5000:]


def test_two_queries_on_one_thread_through_the_api(server: str) -> None:
    from langgraph_sdk import get_sync_client

    client = get_sync_client(url=server)
    (assistant,) = [a for a in client.assistants.search() if a["graph_id"] == "tpo"]
    schemas = client.assistants.get_schemas(assistant["assistant_id"])
    assert "num_samples" in schemas["context_schema"]["properties"]
    assert "settings" not in schemas["output_schema"]["properties"]

    thread = client.threads.create()["thread_id"]
    answers = []
    for query in ("Name a fruit.", "Name a colour."):
        events: list[str] = []
        progress = []
        for part in client.runs.stream(
            thread,
            "tpo",
            input={"query": query, "context": [["system", "Answer in a few words."]]},
            context=TINY,
            stream_mode=["custom", "values"],
        ):
            events.append(part.event)
            assert part.event != "error", part.data
            if part.event == "custom" and part.data.get("event") == "tpo.progress":
                progress.append(part.data)
        assert "values" in events
        assert [p["iteration"] for p in progress] == [-1, 0]  # per-run N and D reached the run
        state = client.threads.get_state(thread)["values"]
        assert state["query"] == query
        assert state["stop_reason"] == "max_iterations"
        assert len(state["candidates"]) == 4
        assert state["answer"]
        answers.append(state["answer"])
    turns = client.threads.get_state(thread)["values"]["turns"]
    assert [t["content"] for t in turns if t["type"] == "human"] == [
        "Name a fruit.",
        "Name a colour.",
    ]
    assert [t["content"] for t in turns if t["type"] == "ai"] == answers
