"""The serving benchmarks still run end to end (tiny settings; the figures are not checked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args], cwd=REPO / "benchmarks", capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_serve_load_counts_score_calls_and_reward_batches() -> None:
    out = _run("serve_load.py", "--clients", "4", "--reward", "length", "--policy-delay", "0")
    assert "| answered / failed | 4 / 0 |" in out
    assert "| score calls (server metrics) | 8 " in out  # 4 runs x (samples + rewrites)
    assert "| reward batches (`_score` calls) | 8 " in out


def test_serve_engine_sim_measures_against_the_engine_limit() -> None:
    out = _run(
        "serve_engine_sim.py", "--users", "1,4", "--step-ms", "5", "--max-tokens", "4",
        "--samples", "2", "--iterations", "1", "--max-seqs", "8",
    )  # fmt: skip
    rows = [line for line in out.splitlines() if line.startswith(("| 1 |", "| 4 |"))]
    assert len(rows) == 4  # each printed as measured, then in the final table
    for row in rows:
        ratio = float(row.split("|")[4].strip().strip("*"))
        assert 0 < ratio < 1.5


def test_the_simulated_engines_limit_is_what_a_full_batch_replay_reaches() -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from serve_engine_sim import replay_seconds, saturated_rps
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    requests = [(120, 5, 32), (300, 1, 32), (320, 1, 32), (400, 5, 32)] * 1000  # 1000 "runs"
    replayed = 1000 / replay_seconds(requests, 256, 0.05, 20e-6)
    limit = saturated_rps(requests, 1000, 256, 0.05, 20e-6)
    assert 0.98 < replayed / limit <= 1.0  # only the last, partly empty wave differs
    # a handful of requests cannot fill the batch: the replay stays below the limit
    few = requests[:8]
    assert 2 / replay_seconds(few, 256, 0.05, 20e-6) < 0.5 * saturated_rps(few, 2, 256, 0.05, 20e-6)
