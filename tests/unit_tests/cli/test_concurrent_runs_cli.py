"""`tpo eval` and `tpo serve` admit as many runs at once as the policy serves well."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any

import pytest

from langchain_tpo.cli import eval_command, main, models
from tests.unit_tests.test_concurrent_runs import OneBatchAtATime


@pytest.fixture
def concurrency_used(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    used: list[int] = []
    real = eval_command.evaluate

    async def spy(*args: Any, concurrency: int, **kwargs: Any) -> Any:
        used.append(concurrency)
        return await real(*args, concurrency=concurrency, **kwargs)

    monkeypatch.setattr(eval_command, "evaluate", spy)
    return used


def _prompts(tmp_path: Path) -> Path:
    data = tmp_path / "prompts.jsonl"
    data.write_text('{"id": "p0", "prompt": "Hi?"}\n{"id": "p1", "prompt": "Why?"}\n')
    return data


def test_eval_admits_as_many_runs_as_the_policy_serves_well(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    concurrency_used: list[int],
) -> None:
    monkeypatch.setattr(models, "load_policy", lambda args: OneBatchAtATime())
    argv = ["eval", "--data", str(_prompts(tmp_path)), "--mode", "base"]
    assert main([*argv, "--out", str(tmp_path / "a.jsonl")]) == 0
    assert concurrency_used == [2]
    assert "2 prompt(s) in flight: OneBatchAtATime decodes" in capsys.readouterr().err
    assert main([*argv, "--out", str(tmp_path / "b.jsonl"), "--concurrency", "5"]) == 0
    assert concurrency_used == [2, 5]  # the flag wins


def test_eval_on_a_policy_that_says_nothing_keeps_32(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], concurrency_used: list[int]
) -> None:
    argv = ["eval", "--data", str(_prompts(tmp_path)), "--mode", "base"]
    assert main([*argv, "--out", str(tmp_path / "a.jsonl")]) == 0
    assert concurrency_used == [32]
    assert "in flight" not in capsys.readouterr().err


def test_serve_admits_as_many_runs_as_the_policy_serves_well(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("starlette")
    import langchain_tpo.server as server

    chosen: list[int] = []

    def no_server(app: Any, **kwargs: Any) -> Any:
        chosen.append(app.state.tpo.admission.max_concurrency)
        return argparse.Namespace(on_started=[], run=lambda sockets: None)

    class Socket(contextlib.nullcontext):
        def getsockname(self) -> tuple[str, int]:
            return ("127.0.0.1", 8100)

    monkeypatch.setattr(server, "server_for", no_server)
    monkeypatch.setattr(server, "bind", lambda host, port: Socket())
    monkeypatch.setattr(models, "load_policy", lambda args: OneBatchAtATime())
    assert main(["serve", "--port", "0"]) == 0
    assert main(["serve", "--port", "0", "--max-concurrency", "6"]) == 0
    assert chosen == [2, 6]
    assert "2 run(s) at once: OneBatchAtATime decodes" in capsys.readouterr().err
