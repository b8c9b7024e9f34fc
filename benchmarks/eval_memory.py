"""Peak memory of `tpo eval` against the number of prompts: it should not grow with them.

Each size runs in a fresh process: `tpo eval --mode tpo` (N=5, D=2) over K generated prompts
with a scripted policy (`ScriptedChatModelWithN`, instant, its log of requests cleared as it
goes, since that log belongs to the test model) and a `FunctionReward`, so only the harness is
measured: reading the dataset, the bounded set of prompts in flight, writing
rows. The figure is the process's peak resident memory (`ru_maxrss`), next to its resident
memory once everything is imported, before the run.

Run:  python benchmarks/eval_memory.py [--sizes 1000 10000] [--concurrency 32] [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import machine, write_section

CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    from langchain_tpo.cli import main, models
    from langchain_tpo.reward_models import FunctionReward
    from langchain_tpo.testing import ScriptedChatModelWithN



    # The scripted model logs every request for tests; that log is not the harness's.
    models.load_policy = lambda args: ScriptedChatModelWithN(record_requests=False)
    models.load_reward = lambda args, policy: FunctionReward(lambda q, r: float(len(r)))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    code = main(sys.argv[1:])
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"code": code, "before_kb": before, "peak_kb": peak, "seconds": seconds}))
    """
)


def measure(prompts: int, concurrency: int, workdir: Path) -> dict[str, float]:
    data = workdir / f"prompts_{prompts}.jsonl"
    with data.open("w") as f:
        for i in range(prompts):
            f.write(json.dumps({"id": f"q{i}", "prompt": f"Question number {i}: why?"}) + "\n")
    out = workdir / f"results_{prompts}.jsonl"
    script = workdir / "child.py"
    script.write_text(CHILD)
    argv = [
        sys.executable,
        str(script),
        "eval",
        "--data",
        str(data),
        "--mode",
        "tpo",
        "--out",
        str(out),
        "--concurrency",
        str(concurrency),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["rows"] = sum(1 for _ in out.open()) - 1
    figures["file_mb"] = out.stat().st_size / 2**20
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            started = time.perf_counter()
            f = measure(size, args.concurrency, Path(tmp))
            rows.append(
                f"| {size:,} | {f['rows']:,} | {f['file_mb']:.1f} | {f['before_kb'] / 1024:.0f} | "
                f"{f['peak_kb'] / 1024:.0f} | {(f['peak_kb'] - f['before_kb']) / 1024:.0f} | "
                f"{f['seconds']:.0f} |"
            )
            print(rows[-1], f"({time.perf_counter() - started:.0f} s with start-up)", flush=True)
    table = "\n".join(
        [
            "| prompts | rows written | results file (MB) | RSS before the run (MB) | "
            "peak RSS (MB) | growth during the run (MB) | wall (s) |",
            "|---|---|---|---|---|---|---|",
            *rows,
        ]
    )
    print(table)
    if args.write:
        command = "python benchmarks/eval_memory.py --write"
        if args.sizes != [1000, 10000] or args.concurrency != 32:
            command = "python benchmarks/eval_memory.py " + " ".join(sys.argv[1:])
        write_section(
            "## Memory of `tpo eval` by number of prompts",
            "## Memory of `tpo eval` by number of prompts\n\n"
            f"`{command}`: `tpo eval --mode tpo` (N=5, D=2) over K generated prompts, "
            f"{args.concurrency} in flight, with an instant scripted policy "
            "(`ScriptedChatModelWithN`) and a `FunctionReward`, one fresh process per K; peak "
            "resident memory from `ru_maxrss`. The dataset is streamed and finished rows go "
            "to the file, so memory does not grow with K (what remains per prompt is its id "
            "and prompt hash, kept to resume). "
            f"{machine(load)}.\n\n{table}\n\n",
        )


if __name__ == "__main__":
    main()
