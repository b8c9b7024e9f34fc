"""The embedded policies side by side: speed on this machine and what their answers look like.

For every embedded model (`langchain_tpo.bundled.EMBEDDED_MODELS`, converted once beforehand)
and backend it measures, with the 1-minute load average beside each figure (other processes
share the cores):

- load: `load_default_policy(backend, model=<name>)` until the model is ready;
- one sample: one chat reply forced to exactly `--max-tokens` tokens (vLLM `ignore_eos`,
  transformers `min_new_tokens`), so models that stop early are not flattered;
- a TPO run: N=5, D=2, up to `--max-tokens` tokens per text, on the first prompt, scored by the
  default reward model (transformers), as a user would run it.

Then, on the first `--prompts` shipped quality prompts (benchmarks/data/hh_rlhf_30.jsonl) and
the `--quality-backend`, one sample (`base`) and a TPO run (`tpo`) per prompt, scored by the
default reward: the kinds of text (`langchain_tpo.answer_kinds`) of the base answers, the TPO
finals and all TPO rewrites, and mean rewards. Answers go to benchmarks/embedded_policies/
(JSONL per model and mode, resumable, plus answers.md to read them side by side); figures to
figures.json there, so a run can be split by model or backend and the table printed at the end.

    VLLM_CPU_NUM_OF_RESERVED_CPU=0 python benchmarks/embedded_policies.py --write
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from _results import machine, write_section

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "hh_rlhf_30.jsonl"
OUT = HERE / "embedded_policies"
SECTION = "## Embedded policies"
KV_CACHE_BYTES = 1 << 30


def _load() -> float:
    return round(os.getloadavg()[0], 1)


def _cpu_seconds() -> float:
    """CPU time used so far by this process and its children (the vLLM engine and worker).

    Less dependent on what else runs on the machine than wall time: with the cores shared,
    wall time grows with the load, CPU time mostly does not.
    """
    import psutil

    me = psutil.Process()
    total = 0.0
    for process in [me, *me.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


class Clock:
    """Wall and CPU seconds of a step, with the load average before it."""

    def __init__(self) -> None:
        self.load = _load()
        self.wall = time.perf_counter()
        self.cpu = _cpu_seconds()

    def stop(self) -> dict[str, float]:
        return {
            "s": round(time.perf_counter() - self.wall, 1),
            "cpu_s": round(_cpu_seconds() - self.cpu, 1),
            "load_avg": self.load,
        }


def _policy(name: str, backend: str, tokens: int) -> Any:
    from langchain_tpo.chat_models import load_default_policy

    if backend == "vllm":
        return load_default_policy(
            "vllm", model=name, kv_cache_memory_bytes=KV_CACHE_BYTES, max_tokens=tokens
        )
    return load_default_policy("transformers", model=name, max_new_tokens=tokens)


async def _one_sample(policy: Any, backend: str, query: str, tokens: int) -> float:
    start = time.perf_counter()
    if backend == "vllm":
        await policy.ainvoke(query, max_tokens=tokens, ignore_eos=True, seed=0)
    else:
        pipe = policy.llm.pipeline
        prompt = pipe.tokenizer.apply_chat_template(
            [{"role": "user", "content": query}], tokenize=False, add_generation_prompt=True
        )
        out = pipe(prompt, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=True)
        assert out, "the pipeline returned nothing"
    return time.perf_counter() - start


async def _tpo_run(policy: Any, reward: Any, query: str, args: argparse.Namespace) -> Any:
    from langchain_tpo import TPOChain, TPOConfig

    config = TPOConfig(
        num_samples=args.samples, max_iterations=args.iterations, max_tokens=args.max_tokens
    )
    chain = TPOChain(policy=policy, reward=reward, config=config)
    return await chain.ainvoke(query, config={"configurable": {"seed": 0}})


async def measure(
    name: str, backend: str, args: argparse.Namespace, reward: Any, *, quality: bool
) -> dict[str, Any]:
    """Load once; time one forced-length sample and one TPO run; then, if asked, the quality run.

    The quality run reuses the loaded policy: starting a vLLM engine on a busy CPU takes minutes.
    """
    from langchain_tpo.evaluation import load_prompts

    query = load_prompts(DATA, limit=1).rows[0].prompt
    figures: dict[str, Any] = {}
    clock = Clock()
    policy = _policy(name, backend, args.max_tokens)
    figures["load"] = clock.stop()
    try:
        await _one_sample(policy, backend, "Say hello.", 8)  # warm-up, not timed
        runs = []
        for _ in range(args.repeats):
            clock = Clock()
            await _one_sample(policy, backend, query, args.max_tokens)
            runs.append(clock.stop())
        figures["sample"] = runs
        clock = Clock()
        result = await _tpo_run(policy, reward, query, args)
        figures["tpo"] = {
            **clock.stop(),
            "model_calls": result.model_calls,
            "output_tokens": result.usage.get("output_tokens"),
        }
        if quality:
            figures["quality"] = await measure_quality(policy, name, backend, args, reward)
    finally:
        close = getattr(policy, "close", None)
        if close is not None:
            close()
    return figures


async def measure_quality(
    policy: Any, name: str, backend: str, args: argparse.Namespace, reward: Any
) -> dict[str, Any]:
    """Base and TPO answers on the quality prompts, kinds of text and mean rewards."""
    from langchain_tpo.answer_kinds import count_kinds
    from langchain_tpo.evaluation import (
        ResultsFile,
        evaluate,
        load_prompts,
        mode_config,
        read_results,
        run_settings,
    )

    rows = load_prompts(DATA, limit=args.prompts).rows
    figures: dict[str, Any] = {"backend": backend, "prompts": len(rows)}
    clock = Clock()
    for mode in ("base", "tpo"):
        config = mode_config(
            mode,
            num_samples=args.samples,
            max_iterations=args.iterations,
            max_tokens=args.max_tokens,
        )
        run = run_settings(
            mode, config, policy=f"{name} ({backend})", reward="default (transformers)"
        )
        with ResultsFile(args.out / f"{name}-{mode}.jsonl") as out:
            summary = await evaluate(policy, reward, rows, out, config=config, run=run, seed=0)
        print(f"  {mode}: {summary.finished} run, {summary.skipped} resumed", flush=True)
    figures["run"] = clock.stop()

    wanted = {row.id for row in rows}
    for mode in ("base", "tpo"):
        done = [r for r in read_results(args.out / f"{name}-{mode}.jsonl") if r["id"] in wanted]
        finals = [r["response"] for r in done]
        figures[f"{mode}_kinds"] = dict(count_kinds(finals))
        figures[f"{mode}_mean_reward"] = round(statistics.fmean(r["score"] for r in done), 3)
        figures[f"{mode}_mean_words"] = round(statistics.fmean(len(t.split()) for t in finals), 1)
        if mode == "tpo":
            # Initial samples are iteration -1; rewrites are iterations 0 .. D-1.
            rewrites = [c["text"] for r in done for c in r["candidates"] if c["iteration"] >= 0]
            figures["rewrite_kinds"] = dict(count_kinds(rewrites))
            figures["rewrites"] = len(rewrites)
            figures["marker_misses"] = sum(r["marker_misses"] for r in done)
    return figures


def _kinds(counts: dict[str, int], total: int) -> str:
    parts = [f"{counts.get(k, 0)} {k.replace('_', '-')}" for k in ("scaffolding", "refusal")]
    parts.append(f"{counts.get('near_empty', 0)} near-empty")
    return f"{counts.get('answer', 0)}/{total} answers ({', '.join(parts)})"


def _timed(step: dict[str, Any]) -> str:
    return f"{step['s']} / {step['cpu_s']} ({step['load_avg']})"


def speed_table(figures: dict) -> str:
    lines = [
        "| model | backend | load | 1 sample, 96 tokens (each run) | TPO run N=5 D=2 "
        "| TPO policy calls, output tokens |",
        "|---|---|---|---|---|---|",
    ]
    for name, entry in figures.items():
        for backend in ("transformers", "vllm"):
            f = entry.get("speed", {}).get(backend)
            if not f:
                continue
            tokens = f["tpo"].get("output_tokens")
            samples = "; ".join(_timed(run) for run in f["sample"])
            lines.append(
                f"| {name} | {backend} | {_timed(f['load'])} | {samples} | {_timed(f['tpo'])} "
                f"| {f['tpo']['model_calls']}, {tokens if tokens is not None else 'n/a'} |"
            )
    return "\n".join(lines)


def quality_table(figures: dict) -> str:
    lines = [
        "| model | prompts | base answers | base mean reward | TPO finals | TPO mean reward "
        "| TPO rewrites | marker misses | mean words base / TPO | run |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, entry in figures.items():
        q = entry.get("quality")
        if not q:
            continue
        n = q["prompts"]
        lines.append(
            f"| {name} | {n} | {_kinds(q['base_kinds'], n)} | {q['base_mean_reward']} "
            f"| {_kinds(q['tpo_kinds'], n)} | {q['tpo_mean_reward']} "
            f"| {_kinds(q['rewrite_kinds'], q['rewrites'])} | {q['marker_misses']} "
            f"| {q['base_mean_words']} / {q['tpo_mean_words']} "
            f"| {q['backend']}: {_timed(q['run'])} |"
        )
    return "\n".join(lines)


def answers_markdown(out: Path, names: list[str], prompts: int) -> str:
    """The base and TPO answers of every model, prompt by prompt, for a human to read."""
    from langchain_tpo.answer_kinds import answer_kind
    from langchain_tpo.evaluation import read_results

    by_model: dict[str, dict[str, dict[str, Any]]] = {}
    for name in names:
        for mode in ("base", "tpo"):
            path = out / f"{name}-{mode}.jsonl"
            for row in read_results(path) if path.exists() else []:
                by_model.setdefault(row["id"], {})[f"{name} {mode}"] = row
    lines = ["# Embedded policies: answers side by side", ""]
    lines.append(
        "Written by `benchmarks/embedded_policies.py`; kind by `langchain_tpo.answer_kinds`."
    )
    for prompt_id, rows in list(by_model.items())[:prompts]:
        first = next(iter(rows.values()))
        lines += ["", f"## {prompt_id}", "", f"> {first['prompt']}", ""]
        for label, row in rows.items():
            text = row["response"].strip().replace("\n", "\n    ")
            kind = answer_kind(row["response"])
            lines += [f"**{label}** ({kind}, reward {row['score']:.2f}):", "", f"    {text}", ""]
    return "\n".join(lines) + "\n"


def section(figures: dict, args: argparse.Namespace, command: str) -> str:
    return (
        f"{SECTION}\n\n"
        "Which embedded policy to ship. Speed: load, one reply forced to exactly 96 tokens, "
        "one TPO run (N=5, D=2, up to 96 tokens per text, "
        "default reward on transformers) on the first quality prompt. Quality: one sample "
        f"(base) and TPO per prompt on the first {args.prompts} shipped quality prompts, seed 0, "
        "default reward; kinds of text by `langchain_tpo.answer_kinds` (TPO rewrites: every "
        "rewrite of both iterations). Answers to read: "
        "[embedded_policies/answers.md](embedded_policies/answers.md).\n\n"
        f"Machine: {machine()}. Each timing reads `wall s / CPU s (1-minute load average "
        "before the step)`; CPU s counts this process and its children (the vLLM engine). "
        "Other sessions shared the two cores during every run: a load average of 2 means the "
        "cores were just busy, and at higher loads wall seconds are inflated roughly in "
        "proportion, so compare models by CPU seconds.\n\n"
        f"{speed_table(figures)}\n\n{quality_table(figures)}\n\n"
        f"Command: `{command}`\n"
    )


async def main_async(args: argparse.Namespace) -> None:
    from langchain_tpo.bundled import default_model_dir
    from langchain_tpo.reward_models import load_default_reward

    args.out.mkdir(exist_ok=True)
    figures_file = args.out / "figures.json"
    figures: dict = json.loads(figures_file.read_text()) if figures_file.exists() else {}
    reward = None if args.report_only else load_default_reward("transformers")
    for name in [] if args.report_only else args.models:
        entry = figures.setdefault(name, {})
        start = time.perf_counter()
        path = default_model_dir(name)  # converts on first use
        entry["dir"] = path.name
        entry["dir_bytes"] = sum(p.stat().st_size for p in path.iterdir() if p.is_file())
        if time.perf_counter() - start > 5:
            entry["conversion_s"] = round(time.perf_counter() - start)
        for backend in args.backends:
            quality = not args.skip_quality and backend == args.quality_backend
            print(f"{name} on {backend} ...", flush=True)
            measured = await measure(name, backend, args, reward, quality=quality)
            if quality:
                entry["quality"] = measured.pop("quality")
            entry.setdefault("speed", {})[backend] = measured
            print(json.dumps(measured), flush=True)
            figures_file.write_text(json.dumps(figures, indent=2) + "\n")

    names = list(figures)
    answers = answers_markdown(args.out, names, args.prompts)
    (args.out / "answers.md").write_text(answers, encoding="utf-8")
    command = "VLLM_CPU_NUM_OF_RESERVED_CPU=0 python benchmarks/embedded_policies.py " + " ".join(
        args.argv
    )
    text = section(figures, args, command.strip())
    print(text)
    if args.write:
        write_section(SECTION, text)


def main() -> None:
    from langchain_tpo.bundled import EMBEDDED_MODELS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(EMBEDDED_MODELS))
    parser.add_argument("--backends", nargs="+", default=["transformers", "vllm"])
    parser.add_argument("--skip-quality", action="store_true", help="time the models only")
    parser.add_argument("--quality-backend", default="vllm", choices=("transformers", "vllm"))
    parser.add_argument("--prompts", type=int, default=10)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=2, help="timed single samples")
    parser.add_argument("--out", type=Path, default=OUT, help="answers and figures.json")
    parser.add_argument("--report-only", action="store_true", help="print the saved figures")
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = parser.parse_args()
    import sys

    args.argv = sys.argv[1:]
    os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
