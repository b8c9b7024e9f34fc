"""The `tpo` command on the real embedded default models (transformers backend, offline)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration_tests.default_models import require_default_models
from tests.integration_tests.tpo_process import tpo

pytestmark = [pytest.mark.integration, pytest.mark.requires("transformers")]

pytest.importorskip("transformers")
require_default_models()

TINY = ["-n", "2", "-d", "1", "--max-tokens", "12", "--backend", "transformers"]


def test_run_prints_answer_and_score_table() -> None:
    done = tpo("run", "How can I fall asleep faster?", *TINY)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Answer (reward ")
    assert "iteration 1" in done.stdout
    assert "Loaded the policy model" in done.stderr
    assert "iteration 1 of 1: rewriting" in done.stderr


def test_run_json(tmp_path: Path) -> None:
    done = tpo("run", "Name a fruit.", *TINY, "--json", "--quiet")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert len(result["candidates"]) == 4
    assert isinstance(result["score"], float)


def test_eval_then_report(tmp_path: Path) -> None:
    data = tmp_path / "prompts.jsonl"
    data.write_text(
        "".join(
            json.dumps({"id": f"q{i}", "prompt": p}) + "\n"
            for i, p in enumerate(["Say hi.", "Name a color."])
        )
    )
    out = tmp_path / "tpo.jsonl"
    done = tpo("eval", "--data", str(data), "--mode", "tpo", "--out", str(out), *TINY)
    assert done.returncode == 0, done.stderr
    assert len(out.read_text().splitlines()) == 3  # the header, then one row per prompt
    base = tmp_path / "base.jsonl"
    assert (
        tpo("eval", "--data", str(data), "--mode", "base", "--out", str(base), *TINY).returncode
        == 0
    )
    report = tpo("report", str(out), str(base), "--out-dir", str(tmp_path))
    assert report.returncode == 0, report.stderr
    assert "win rate" in report.stdout.lower()
    assert (tmp_path / "training_curve.png").is_file()
    assert (tmp_path / "stability.png").is_file()
    assert (tmp_path / "win_rate_vs_compute.png").is_file()


def test_bad_policy_path_is_a_clear_error(tmp_path: Path) -> None:
    done = tpo("run", "hi", *TINY, "--policy", str(tmp_path / "no-such-model"))
    assert done.returncode == 1
    assert "could not load the policy" in done.stderr
    assert "Traceback" not in done.stderr
