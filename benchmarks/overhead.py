"""Orchestration overhead of the TPO graph, up to 1,024 concurrent queries, with an instant fake
policy and reward.

Everything TPO adds around the model calls (LangGraph supersteps, state merges, prompt
rendering, response parsing, reward bookkeeping) is what this measures. The policy answers
instantly, so the wall time is overhead plus the fake model's own cost, which is measured
separately (the same model calls made directly, without the graph) and subtracted. Memory is
measured in a separate run under `tracemalloc` (which slows Python down, so it is not timed):
the peak of Python allocations while all K queries are in flight, divided by K (the scripted
model keeps no log of requests there, since that log is not part of TPO). Flat memory per
query means K queries in flight cost K times one query, nothing more.

Run:  python benchmarks/overhead.py [--samples 5] [--iterations 2] [--repeats 3]
          [--queries 1 64 256 1024] [--write]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

from langchain_core.messages import HumanMessage

from langchain_tpo import TPOChain, TPOConfig
from langchain_tpo.graph import supersteps_needed
from langchain_tpo.reward_models import FunctionReward
from langchain_tpo.testing import ScriptedChatModel, ScriptedChatModelWithN

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import machine, write_section


def _chain(policy: ScriptedChatModel, n: int, d: int) -> TPOChain:
    reward = FunctionReward(lambda q, r: float(len(r)))
    return TPOChain(policy=policy, reward=reward, config=TPOConfig(num_samples=n, max_iterations=d))


def _bare_model_seconds(policy: ScriptedChatModel, calls: int, concurrent: bool) -> float:
    """Time of the same number of model requests without TPO around them."""
    messages = [HumanMessage("q")]

    async def run() -> None:
        await asyncio.gather(*(policy.ainvoke(messages) for _ in range(calls)))

    start = time.perf_counter()
    if concurrent:
        asyncio.run(run())
    else:
        for _ in range(calls):
            policy.invoke(messages)
    return time.perf_counter() - start


def _run(chain: TPOChain, queries: int) -> None:
    if queries == 1:
        chain.invoke("q")
    else:
        asyncio.run(chain.abatch([f"q{i}" for i in range(queries)]))


def measure(
    queries: int, n: int, d: int, repeats: int, native: bool
) -> tuple[float, float, float, int]:
    """Median wall seconds, bare-model seconds, overhead ms per node call, node calls."""
    walls, bares = [], []
    for _ in range(repeats):
        policy = ScriptedChatModelWithN() if native else ScriptedChatModel()
        chain = _chain(policy, n, d)
        if gc.isenabled():
            gc.collect()
        start = time.perf_counter()
        _run(chain, queries)
        walls.append(time.perf_counter() - start)
        calls = len(policy.requests)
        bares.append(_bare_model_seconds(type(policy)(), calls, concurrent=queries > 1))
    wall, bare = statistics.median(walls), statistics.median(bares)
    node_calls = queries * supersteps_needed(d)
    return wall, bare, 1000 * max(wall - bare, 0.0) / node_calls, node_calls


def peak_kib_per_query(queries: int, n: int, d: int, native: bool) -> float:
    """Peak Python memory allocated while the queries run, per query (KiB)."""
    # The scripted model's log of requests is kept for tests, not part of TPO.
    policy_class = ScriptedChatModelWithN if native else ScriptedChatModel
    policy = policy_class(record_requests=False)
    chain = _chain(policy, n, d)
    _run(chain, 1)  # warm caches (compiled graph, prompt templates) outside the measurement
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    _run(chain, queries)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak - base) / 1024 / queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=5, help="N (default 5)")
    parser.add_argument("--iterations", type=int, default=2, help="D (default 2)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per row; median kept")
    parser.add_argument("--queries", type=int, nargs="+", default=[1, 64, 256, 1024])
    parser.add_argument(
        "--gc",
        choices=("on", "off", "tuned"),
        default="on",
        help="Python's cyclic garbage collector: on (default), off, or tuned (gc.freeze() "
        "and thresholds 50000/50/100), to see what it costs with many queries in flight",
    )
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = parser.parse_args()
    if args.gc == "off":
        gc.disable()
    elif args.gc == "tuned":
        gc.freeze()
        gc.set_threshold(50_000, 50, 100)
    n, d = args.samples, args.iterations
    load = os.getloadavg()[0]

    print(
        f"TPO orchestration overhead, N={n}, D={d}, instant fake policy and reward, "
        f"garbage collector {args.gc}"
    )
    header = (
        "| queries in flight | policy | node calls | wall s | model s | overhead ms per node "
        "call | vs the 2 ms aim | peak memory per query (KiB) |"
    )
    lines = [header, "|---|---|---|---|---|---|---|---|"]
    print(header)
    for queries in args.queries:
        for native in (False, True):
            wall, bare, per_node, nodes = measure(queries, n, d, args.repeats, native)
            memory = peak_kib_per_query(queries, n, d, native)
            label = "n per request" if native else "fan-out (N requests)"
            lines.append(
                f"| {queries:,} | {label} | {nodes:,} | {wall:.3f} | {bare:.3f} | "
                f"{per_node:.2f} | {per_node / 2:.2f}x | {memory:.0f} |"
            )
            print(lines[-1], flush=True)
    table = "\n".join(lines)
    if args.write and args.gc == "on":
        command = "python benchmarks/overhead.py " + " ".join(sys.argv[1:])
        write_section(
            "## Orchestration overhead",
            "## Orchestration overhead\n\n"
            f"`{command.strip()}`: the TPO graph with an instant scripted policy and a function "
            f"reward, N={n}, D={d} ({supersteps_needed(d)} node calls per query), K queries in "
            "flight at once (`TPOChain.abatch`; K=1 is one `invoke`). The fake model's own "
            "cost, measured by making the same requests without the graph, is subtracted; "
            f"medians of {args.repeats} runs. Memory: peak Python allocations (`tracemalloc`, "
            "a separate untimed run) while the K queries are in flight, divided by K. "
            f"{machine(load)}.\n\n{table}\n\n",
        )


if __name__ == "__main__":
    main()
