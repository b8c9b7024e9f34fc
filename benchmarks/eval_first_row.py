"""`tpo eval` on the embedded defaults (transformers): when rows arrive, by prompts in flight.

Runs `tpo eval` on the same 10 everyday prompts (`benchmarks/data/everyday_10.jsonl`), on the
embedded SmolLM2 policy (transformers backend) and the default reward, N and D at the defaults:
with `tpo eval`'s own choice of prompts in flight (no `--concurrency`: as many runs as the
policy serves well, `langchain_tpo.concurrent_runs`) and with `--concurrency 1` (one prompt at
a time); `--also 32` adds other counts (32: all ten in flight, the policy merging their
requests into batched `generate` calls). It records when each row is written and prints the
time to the first row, to the fifth, and to the last, with their ratios to one at a time.

Both runs use the same `OMP_NUM_THREADS` (default: the machine's core count) and the same
seed. The machine is shared: the 1-minute load average is printed before and after each run,
and a run disturbed by another job should be repeated. With `--write`, replaces the
"`tpo eval`: first row and total" section of benchmarks/RESULTS.md.

Run:  python benchmarks/eval_first_row.py [--threads 2] [--max-tokens 128] [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _results import machine, write_section

SECTION = "## `tpo eval`: first row and total"
DATA = Path(__file__).resolve().parent / "data" / "everyday_10.jsonl"


def _run(concurrency: int | None, args: argparse.Namespace, workdir: Path) -> dict[str, object]:
    out = workdir / f"c{concurrency}.jsonl"
    flags = [] if concurrency is None else ["--concurrency", str(concurrency)]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "HF_HUB_OFFLINE": "1"}
    command = [
        sys.executable, "-m", "langchain_tpo.cli", "eval", "--data", str(DATA), "--mode", "tpo",
        "--out", str(out), *flags, "--backend", "transformers",
        "--max-tokens", str(args.max_tokens), "--seed", "0",
    ]  # fmt: skip
    load_before = os.getloadavg()[0]
    start = time.monotonic()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    arrivals: list[float] = []
    while True:
        rows = _rows(out)
        arrivals += [time.monotonic() - start] * (rows - len(arrivals))
        if process.poll() is not None:
            break
        time.sleep(1.0)
    rows = _rows(out)
    arrivals += [time.monotonic() - start] * (rows - len(arrivals))
    stderr = process.stderr.read().decode() if process.stderr else ""
    if process.returncode != 0 or rows < 10:
        msg = f"tpo eval --concurrency {concurrency} failed ({rows} rows):\n{stderr[-3000:]}"
        raise SystemExit(msg)
    chosen = next((line for line in stderr.splitlines() if "in flight:" in line), "")
    return {
        "concurrency": concurrency if concurrency is not None else f"default ({chosen[10:11]})",
        "arrivals": arrivals,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
    }


def _rows(path: Path) -> int:
    """Finished rows in a results file (its first line is the header)."""
    if not path.exists():
        return 0
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    return max(0, len(lines) - 1)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def main() -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--max-tokens", type=int, default=128, help="tpo eval's default (128)")
    parser.add_argument(
        "--also", type=int, action="append", default=[], help="another --concurrency to time"
    )
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        counts: list[int | None] = [None, 1, *args.also]
        runs = [_run(c, args, Path(tmp)) for c in counts]
    header = (
        "| prompts in flight | first row | fifth row | last row | load before / after |\n"
        "|---|---|---|---|---|"
    )
    rows = []
    alone = runs[1]["arrivals"]
    assert isinstance(alone, list)
    ratios = []
    for run in runs:
        times = run["arrivals"]
        assert isinstance(times, list)
        rows.append(
            f"| {run['concurrency']} | {_minutes(times[0])} | {_minutes(times[4])} | "
            f"{_minutes(times[-1])} | {run['load_before']:.1f} / {run['load_after']:.1f} |"
        )
        if run is not runs[1]:
            ratios.append(
                f"{run['concurrency']} in flight / one at a time: total "
                f"{times[-1] / alone[-1]:.2f}, first row {times[0] / alone[0]:.2f}."
            )
    ratio = " ".join(ratios)
    table = "\n".join([header, *rows])
    print(table)
    print(ratio)
    print(json.dumps({str(r["concurrency"]): r["arrivals"] for r in runs}))
    if args.write:
        write_section(
            SECTION,
            f"{SECTION}\n\n"
            "`tpo eval` of the 10 everyday prompts in `benchmarks/data/everyday_10.jsonl` on the "
            "embedded defaults (SmolLM2-135M policy on transformers, default reward; N=5, D=2, "
            f"{args.max_tokens} new tokens, seed 0), `OMP_NUM_THREADS={args.threads}`: "
            "`tpo eval`'s own choice of prompts in flight (default; the policy merges "
            "concurrent requests into batched `generate` calls, the reward coalesces score "
            "calls) against one prompt at a time. "
            f"{machine()}.\n\n{table}\n\n{ratio}\n\n"
            "Run: `python benchmarks/eval_first_row.py --threads 2 --write`.\n",
        )


if __name__ == "__main__":
    main()
