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


def _blind_read(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "benchmarks/blind_read.py", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_blind_read_sets_a_readers_labels_against_the_rule(tmp_path: Path) -> None:
    import json

    quality = tmp_path / "quality"
    for prompt_set in ("hh_rlhf_30", "hh_rlhf_30b"):
        (quality / prompt_set).mkdir(parents=True)
        for mode in ("tpo", "revision"):
            candidates = [{"text": "A first sample.", "iteration": -1}] + [
                {"text": f"{mode} rewrite {i} of {prompt_set}.", "iteration": i % 2}
                for i in range(3)
            ]
            header = {"langchain_tpo": "results", "format": 1, "settings": {"mode": mode}}
            row = {"id": "r1", "mode": mode, "prompt": "Hi?", "candidates": candidates}
            rows = [header, row]
            (quality / prompt_set / f"{mode}.jsonl").write_text(
                "\n".join(json.dumps(r) for r in rows) + "\n"
            )
    drawn = _blind_read(
        "draw", "--count", "6", "--seed", "1", "--out", str(tmp_path), "--quality-dir", str(quality)
    )
    assert drawn.returncode == 0, drawn.stderr
    key = json.loads((tmp_path / "key.json").read_text())
    sample = (tmp_path / "sample.md").read_text()
    assert len(key) == 6 and "## Item 6" in sample and "src" not in sample
    assert all("rewrite" in item["text"] for item in key.values())  # never an initial sample
    # A reader who calls every text meta: the tally lists each one the rule does not flag.
    (tmp_path / "labels.json").write_text(json.dumps(dict.fromkeys(key, "META")))
    tallied = _blind_read("tally", "--dir", str(tmp_path))
    assert tallied.returncode == 0, tallied.stderr
    assert "| META |" in tallied.stdout and "| 6 |" in tallied.stdout
    assert "meta texts the rule does not flag:" in tallied.stdout
    # A missing label is an error that names the item.
    (tmp_path / "labels.json").write_text(json.dumps({"1": "META"}))
    missing = _blind_read("tally", "--dir", str(tmp_path))
    assert missing.returncode != 0 and "no label for items 2" in missing.stderr
