"""Policy throughput of TPO on one in-process vLLM engine, against the engine's own limit.

For K concurrent queries (TPO D iterations, N samples, every text exactly `--max-tokens` long
thanks to `ignore_eos`), it measures in one run and on one engine:

- TPO: `TPOChain.abatch` over `ChatVLLM` (vLLM's async engine batches the K queries);
- limit: the same requests TPO made (same prompts, same `n`, same lengths), all sent at once,
  so the engine sees one batch with no dependency between rounds;
- sequential: the K queries run one after another with `TPOChain.ainvoke`.

A `FunctionReward` scores the candidates, so only the policy is measured. Prints a table and,
with `--write`, replaces the "Policy throughput" section of benchmarks/RESULTS.md.

    VLLM_CPU_NUM_OF_RESERVED_CPU=0 python benchmarks/throughput.py --write
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _results import RESULTS, machine, write_section
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import LLMResult

SECTION = "## Policy throughput"
QUERIES = [
    "How do I take care of a wooden table?",
    "What should I pack for a weekend hike?",
    "Explain why the sky is blue to a child.",
    "Give me three tips for a job interview.",
    "How can I sleep better at night?",
    "What is a good way to start learning to cook?",
    "How do I keep houseplants alive?",
    "Suggest a plan for a rainy Sunday.",
]


NOTES = """\
What bounds TPO: a query is 1 + 3D dependent rounds (sample n=N; then per iteration critique n=1,
suggest n=1, rewrite n=N), each waiting for the one before; the limit decodes all of the same
sequences in one pass. With K=1 the engine runs those rounds one after another on batches of 1-5
sequences, where a CPU decoding step costs nearly as much as for a full batch. As K grows, the
rounds of different queries share the engine's continuous batch and the steps fill up. What stays:
critique and suggest carry one sequence per query, each round first prefills a new prompt of a
few hundred tokens (the limit prefills everything up front, and with prefix caching on its
replayed prompts are cache hits, which makes it a strict limit), and each round's tail waits for
its slowest query. Engine: bfloat16, max_model_len 2048, chunked prefill off (the CPU default of
`ChatVLLM.from_model_id`, which keeps per-request seeds safe on vllm-cpu), prefix caching on.
Other processes shared the two cores during the run, so single runs vary by about 10%; TPO and
limit runs alternate so that both see the same load.
"""

_REPLAYED = ("n", "max_tokens", "temperature", "top_p")


class RequestLog(BaseCallbackHandler):
    """Records every policy request (messages, sampling knobs) and the tokens it generated."""

    run_inline = True

    def __init__(self) -> None:
        self.requests: list[tuple[list[BaseMessage], dict[str, Any]]] = []
        self.output_tokens = 0
        self.sequences = 0
        self._lock = threading.Lock()

    def on_chat_model_start(
        self, serialized: dict[str, Any], messages: list[list[BaseMessage]], **kwargs: Any
    ) -> None:
        params = kwargs.get("invocation_params") or {}
        knobs = {k: params[k] for k in _REPLAYED if params.get(k) is not None}
        with self._lock:
            self.requests += [(m, knobs) for m in messages]

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        usage = (response.llm_output or {}).get("token_usage", {})
        with self._lock:
            self.output_tokens += int(usage.get("completion_tokens", 0))
            self.sequences += sum(len(g) for g in response.generations)


@dataclass
class Row:
    k: int
    tpo_s: list[float]
    tokens: int
    sequences: int
    limit_s: list[float]
    sequential_s: float | None

    @property
    def tpo_tps(self) -> float:
        return self.tokens / statistics.median(self.tpo_s)

    @property
    def limit_tps(self) -> float:
        return self.tokens / statistics.median(self.limit_s)

    @property
    def ratios(self) -> list[float]:
        return [lim / tpo for tpo, lim in zip(self.tpo_s, self.limit_s, strict=True)]


def _queries(k: int) -> list[str]:
    return [f"{QUERIES[i % len(QUERIES)]} (case {i})" for i in range(k)]


async def _tpo(chain: Any, k: int) -> tuple[float, RequestLog]:
    log = RequestLog()
    inputs: list[Any] = _queries(k)
    start = time.perf_counter()
    results = await chain.abatch(inputs, config={"callbacks": [log]})
    elapsed = time.perf_counter() - start
    assert all(r.response is not None for r in results)
    return elapsed, log


async def _limit(policy: Any, requests: RequestLog) -> tuple[float, RequestLog]:
    log = RequestLog()
    start = time.perf_counter()
    await asyncio.gather(
        *(policy.agenerate([m], callbacks=[log], **knobs) for m, knobs in requests.requests)
    )
    return time.perf_counter() - start, log


async def _measure(chain: Any, policy: Any, k: int, sequential: bool, repeats: int) -> Row:
    tpo_s: list[float] = []
    limit_s: list[float] = []
    elapsed, recorded = await _tpo(chain, k)
    tpo_s.append(elapsed)
    for repeat in range(2 * repeats - 1):
        # Alternate limit and TPO runs, so load from other processes drifting over time hits both.
        if repeat % 2 == 0:
            elapsed, log = await _limit(policy, recorded)
            limit_s.append(elapsed)
        else:
            elapsed, log = await _tpo(chain, k)
            tpo_s.append(elapsed)
        # Every run generates exactly the same number of sequences and tokens.
        assert (log.output_tokens, log.sequences) == (recorded.output_tokens, recorded.sequences)

    sequential_s = None
    if sequential:
        start = time.perf_counter()
        for query in _queries(k):
            await chain.ainvoke(query)
        sequential_s = time.perf_counter() - start
    return Row(k, tpo_s, recorded.output_tokens, recorded.sequences, limit_s, sequential_s)


def _table(rows: list[Row]) -> str:
    lines = [
        "| K | TPO wall (s) | generated tokens | sequences | TPO tok/s | limit tok/s | "
        "TPO / limit (each repeat) | sequential wall (s) | TPO speed-up over sequential |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        tpo_wall = statistics.median(r.tpo_s)
        seq = f"{r.sequential_s:.1f}" if r.sequential_s is not None else "not run"
        speedup = f"{r.sequential_s / tpo_wall:.2f}x" if r.sequential_s is not None else "-"
        each = ", ".join(f"{x:.2f}" for x in r.ratios)
        lines.append(
            f"| {r.k} | {tpo_wall:.1f} | {r.tokens} | {r.sequences} | {r.tpo_tps:.0f} | "
            f"{r.limit_tps:.0f} | {r.tpo_tps / r.limit_tps:.2f} ({each}) | {seq} | {speedup} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ks", default="1,8,32", help="query counts, comma-separated")
    parser.add_argument("--num-samples", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--sequential-max-k", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2, help="TPO/limit pairs per K")
    parser.add_argument("--model", default=None, help="model dir (default: the bundled SmolLM2)")
    parser.add_argument("--gpu-memory-utilization", type=float, default=0.3)
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from langchain_tpo import TPOChain, TPOConfig
    from langchain_tpo.bundled import default_model_dir
    from langchain_tpo.chat_models import ChatVLLM
    from langchain_tpo.reward_models import FunctionReward

    model = args.model or default_model_dir()
    start = time.perf_counter()
    policy = ChatVLLM.from_model_id(
        model,
        max_model_len=2048,
        gpu_memory_utilization=args.gpu_memory_utilization,
        # Every text exactly max_tokens long: TPO and the limit generate the same tokens.
        sampling_kwargs={"ignore_eos": True},
    )
    print(f"engine ready in {time.perf_counter() - start:.0f} s")
    config = TPOConfig(
        num_samples=args.num_samples, max_iterations=args.iterations, max_tokens=args.max_tokens
    )
    chain = TPOChain(
        policy=policy, reward=FunctionReward(lambda q, r: float(len(r))), config=config
    )

    async def run() -> list[Row]:
        await chain.ainvoke("Warm up.", config={"configurable": {"max_iterations": 1}})
        rows = []
        for k in (int(x) for x in args.ks.split(",")):
            sequential = k <= args.sequential_max_k
            row = await _measure(chain, policy, k, sequential, args.repeats)
            print(_table([row]).splitlines()[-1], flush=True)
            rows.append(row)
        return rows

    try:
        rows = asyncio.run(run())
    finally:
        policy.close()
    table = _table(rows)
    print(table)
    if args.write:
        write_section(SECTION, _section(table, args, str(model), load_before))
        print(f"wrote {RESULTS}")


def _section(table: str, args: argparse.Namespace, model: str, load_before: float) -> str:
    return (
        f"{SECTION}\n\n"
        f"`python benchmarks/throughput.py --write`: TPO with N={args.num_samples}, "
        f"D={args.iterations}, every policy text exactly {args.max_tokens} tokens (`ignore_eos`), "
        f"on one in-process `ChatVLLM` (vLLM async engine, vllm-cpu) with "
        f"{Path(model).name}; the reward is a `FunctionReward`, so only the policy is measured. "
        f"Machine: {machine(load_before)}.\n\n"
        "- **TPO**: the K queries through `TPOChain.abatch` (the engine batches them).\n"
        "- **limit**: the same requests (same prompts, `n` and lengths) all sent at once: "
        "the most this engine can do with that work.\n"
        "- **sequential**: the K queries one after another (`TPOChain.ainvoke`), once.\n\n"
        f"TPO and limit runs alternate, {args.repeats} of each per K; the table gives medians, "
        "and in parentheses the TPO / limit ratio of each TPO run with the limit run after it.\n\n"
        f"{table}\n\n"
        f"{NOTES}"
    )


if __name__ == "__main__":
    main()
