"""Orchestration overhead of the TPO graph, measured with an instant fake policy and reward.

Everything TPO adds around the model calls (LangGraph supersteps, state merges, prompt
rendering, response parsing, reward bookkeeping) is what this measures. The policy answers
instantly, so the wall time is overhead plus the fake model's own cost, which is measured
separately (the same model calls made directly, without the graph) and subtracted.

Run:  python benchmarks/overhead.py [--samples 5] [--iterations 2] [--repeats 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from langchain_core.messages import HumanMessage

from langchain_tpo import TPOChain, TPOConfig
from langchain_tpo.graph import supersteps_needed
from langchain_tpo.reward_models import FunctionReward
from langchain_tpo.testing import ScriptedChatModel, ScriptedChatModelWithN


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


def measure(
    queries: int, n: int, d: int, repeats: int, native: bool
) -> tuple[float, float, float, int]:
    """Median wall seconds, bare-model seconds, overhead ms per node call, node calls."""
    walls, bares = [], []
    calls = 0
    for _ in range(repeats):
        policy = ScriptedChatModelWithN() if native else ScriptedChatModel()
        chain = _chain(policy, n, d)
        start = time.perf_counter()
        if queries == 1:
            chain.invoke("q")
        else:
            asyncio.run(chain.abatch([f"q{i}" for i in range(queries)]))
        walls.append(time.perf_counter() - start)
        calls = len(policy.requests)
        bares.append(_bare_model_seconds(type(policy)(), calls, concurrent=queries > 1))
    wall, bare = statistics.median(walls), statistics.median(bares)
    node_calls = queries * supersteps_needed(d)
    return wall, bare, 1000 * max(wall - bare, 0.0) / node_calls, node_calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=5, help="N (default 5)")
    parser.add_argument("--iterations", type=int, default=2, help="D (default 2)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per row; median kept")
    args = parser.parse_args()
    n, d = args.samples, args.iterations

    print(f"TPO orchestration overhead, N={n}, D={d}, instant fake policy and reward")
    print(
        f"{'queries':>7}  {'policy':<14} {'node calls':>10}  {'wall s':>8}  {'model s':>8}  "
        f"{'overhead ms/node':>16}  {'vs 10 ms aim':>12}"
    )
    for queries in (1, 64):
        for native in (False, True):
            wall, bare, per_node, nodes = measure(queries, n, d, args.repeats, native)
            label = "n per request" if native else "fan-out"
            print(
                f"{queries:>7}  {label:<14} {nodes:>10}  {wall:>8.3f}  {bare:>8.3f}  "
                f"{per_node:>16.2f}  {per_node / 10:>11.2f}x"
            )


if __name__ == "__main__":
    main()
