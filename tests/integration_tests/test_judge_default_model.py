"""`tpo judge` with the embedded default policy as the judge (transformers backend, offline).

SmolLM2-135M rarely follows the verdict format: what is tested is the pipeline (requests in
both orders, replies recorded, verdicts or their absence written, resume), not its verdicts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from langchain_tpo.evaluation.verdicts import read_verdicts
from tests.integration_tests.default_models import require_default_models
from tests.integration_tests.tpo_process import tpo

pytestmark = [pytest.mark.integration, pytest.mark.requires("transformers")]

pytest.importorskip("transformers")
require_default_models()

TINY = ["--judge-max-tokens", "8", "--retries", "1", "--judge-backend", "transformers"]


def write(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_judge_two_runs_then_refusals(tmp_path: Path) -> None:
    a = write(
        tmp_path / "tpo.jsonl",
        [
            {"id": "q0", "prompt": "Say hi.", "response": "Hi there! How can I help?"},
            {"id": "q1", "prompt": "Name a color.", "response": "Blue."},
        ],
    )
    b = write(
        tmp_path / "base.jsonl",
        [
            {"id": "q0", "prompt": "Say hi.", "response": "Bye."},
            {"id": "q1", "prompt": "Name a color.", "response": "Green, like grass."},
        ],
    )
    out = tmp_path / "verdicts.jsonl"
    done = tpo("judge", str(a), "--against", str(b), "--out", str(out), *TINY)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    settings, rows = read_verdicts(out)
    assert settings["judge"] == "default (transformers)"
    assert sorted(r["id"] for r in rows) == ["q0", "q1"]
    for row in rows:
        assert [j["first"] for j in row["judgments"]] == ["a", "b"]
        assert all(1 <= len(j["outputs"]) <= 2 for j in row["judgments"])
    assert "tpo vs base, judged by default (transformers): " in done.stdout

    again = tpo("judge", str(a), "--against", str(b), "--out", str(out), *TINY)
    assert again.returncode == 0, again.stderr
    assert "2 already in" in again.stderr
    assert "Loading the judge model" not in again.stderr
    assert len(read_verdicts(out)[1]) == 2

    refusals = tmp_path / "refusals.jsonl"
    done = tpo("judge", str(a), "--refusal", "--out", str(refusals), *TINY)
    assert done.returncode == 0, done.stderr
    _, rows = read_verdicts(refusals)
    assert sorted(r["id"] for r in rows) == ["q0", "q1"]
    assert all(r["source"] in ("judge", "rule") for r in rows)
    assert "string rule: 0 refusals of 2 answers" in done.stdout
