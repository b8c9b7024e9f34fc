"""The benchmarks built on the scripted models still run and answer every query."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_overhead_benchmark_prints_its_table() -> None:
    out = _run(
        "benchmarks/overhead.py",
        "--queries",
        "2",
        "--repeats",
        "1",
        "--samples",
        "2",
        "--iterations",
        "1",
    )
    assert "| 2 | fan-out (N requests) |" in out
    assert "| 2 | n per request |" in out


def test_eval_memory_benchmark_prints_its_table() -> None:
    out = _run("benchmarks/eval_memory.py", "--sizes", "20", "--concurrency", "4")
    assert "| 20 | 20 |" in out  # prompts, rows written: every query answered


def test_a_scripted_model_can_answer_without_keeping_its_requests() -> None:
    from langchain_tpo.testing import ScriptedChatModel

    quiet = ScriptedChatModel(record_requests=False)
    kept = ScriptedChatModel()
    assert quiet.invoke("hi").content == kept.invoke("hi").content
    assert quiet.requests == []
    assert len(kept.requests) == 1
