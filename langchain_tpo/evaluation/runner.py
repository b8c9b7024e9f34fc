"""Run one mode (tpo, revision, bon, base) over many prompts, concurrently and resumably."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel

from langchain_tpo.chain import TPOChain
from langchain_tpo.config import TPOConfig
from langchain_tpo.evaluation.controls import CONTROL_TEXTS, controls_fingerprint, score_controls
from langchain_tpo.evaluation.datasets import PromptRow
from langchain_tpo.evaluation.fingerprints import prompts_fingerprint, text_sha256
from langchain_tpo.evaluation.results import ResultsFile
from langchain_tpo.prompts import TPOPrompts
from langchain_tpo.reward_models.base import RewardModel
from langchain_tpo.sampling import derive_seed
from langchain_tpo.state import TPOResult

EvalMode = Literal["tpo", "revision", "bon", "base"]
EVAL_MODES: tuple[str, ...] = ("tpo", "revision", "bon", "base")


def mode_config(
    mode: str,
    *,
    num_samples: int = 5,
    max_iterations: int = 2,
    **sampling: Any,
) -> TPOConfig:
    """The TPOConfig of an evaluation mode.

    `base` is one sample scored by the reward; `bon` is `num_samples` samples, best kept (pass
    `num_samples * (max_iterations + 1)` to match TPO's sample budget); `tpo` and `revision`
    run the loop.
    """
    if mode not in EVAL_MODES:
        msg = f"Unknown mode {mode!r}; choose one of {', '.join(EVAL_MODES)}."
        raise ValueError(msg)
    if mode == "base":
        return TPOConfig(num_samples=1, max_iterations=0, mode="bon", **sampling)
    if mode == "bon":
        return TPOConfig(num_samples=num_samples, max_iterations=0, mode="bon", **sampling)
    settings = {"num_samples": num_samples, "max_iterations": max_iterations, "mode": mode}
    return TPOConfig.model_validate({**settings, **sampling})


def run_settings(
    mode: str,
    config: TPOConfig,
    *,
    policy: str,
    reward: str,
    seed: int = 0,
    benchmark: str | None = None,
    prompts: TPOPrompts | None = None,
    controls: Mapping[str, str] | None = CONTROL_TEXTS,
) -> dict[str, Any]:
    """Every setting that changes an answer: the header of the results file, copied into each
    row. A resumed run must match all of them (the error names the ones that differ).

    `prompts_sha256` fingerprints the loop's prompt templates (`TPOPrompts()` unless `prompts`
    is given); base and BoN never render them, so it is None for those modes.
    `controls_sha256` fingerprints the control texts scored with every prompt (see
    `controls`; None when none are).
    """
    return {
        "mode": mode,
        "num_samples": config.num_samples,
        "max_iterations": config.max_iterations,
        "max_tokens": config.max_tokens,
        "temperature": config.temperature,
        "top_p": config.top_p,
        "seed": seed,
        "policy": policy,
        "reward": reward,
        "prompts_sha256": prompts_fingerprint(prompts) if mode in {"tpo", "revision"} else None,
        "benchmark": benchmark,
        "controls_sha256": controls_fingerprint(controls) if controls else None,
    }


@dataclass
class EvalSummary:
    """What a call to `evaluate` did."""

    finished: int = 0
    skipped: int = 0
    """Prompts already in the results file (resumed)."""
    failed: dict[str, str] = field(default_factory=dict)
    """Prompt id -> error, for prompts that raised (no row written; retried on the next run)."""
    seconds: float = 0.0


Progress = Callable[[int, int, PromptRow, TPOResult | None], None]
"""progress(done, total, row, result or None on failure), called as each prompt finishes;
`total` is the `expected` count given to `evaluate` (0 when unknown)."""


def result_row(
    row: PromptRow,
    result: TPOResult,
    run: dict[str, Any],
    seconds: float,
    controls: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The JSON line of one finished prompt (`controls`: reward of each control text)."""
    by_iteration: dict[int, list[float]] = {}
    for candidate in result.candidates:
        by_iteration.setdefault(candidate.iteration, []).append(candidate.score)
    optional = {
        "reference": row.reference,
        "label": row.label,
        "category": row.category,
        # Fields newer cores add; read defensively so rows work with either.
        "usage": getattr(result, "usage", None) or None,
        "error": getattr(result, "error", None),
        "controls": controls,
    }
    return {
        "id": row.id,
        "prompt": row.prompt,
        "prompt_sha256": text_sha256(row.prompt),
        **{k: v for k, v in optional.items() if v is not None},
        **run,
        "response": result.response,
        "score": result.score,
        "best_scores": result.best_scores,
        "scores_by_iteration": [by_iteration[i] for i in sorted(by_iteration)],
        "stop_reason": result.stop_reason,
        "model_calls": result.model_calls,
        "marker_misses": result.marker_misses,
        "prompt_echoes": result.prompt_echoes,
        "lead_ins": result.lead_ins,
        "scaffold_cuts": result.scaffold_cuts,
        "empty_outputs": result.empty_outputs,
        "failures": result.failures,
        "warnings": result.warnings,
        "seconds": round(seconds, 3),
        "candidates": [c.model_dump() for c in result.candidates],
        "history": [
            {
                "iteration": h.iteration,
                "chosen": h.chosen.text,
                "rejected": h.rejected.text if h.rejected else None,
                "critique": h.critique,
                "suggestion": h.suggestion,
            }
            for h in result.history
        ],
    }


async def evaluate(
    policy: BaseChatModel,
    reward: RewardModel,
    rows: Iterable[PromptRow],
    out: ResultsFile,
    *,
    config: TPOConfig,
    run: dict[str, Any],
    seed: int | None = None,
    concurrency: int = 32,
    expected: int = 0,
    progress: Progress | None = None,
    controls: Mapping[str, str] | None = CONTROL_TEXTS,
) -> EvalSummary:
    """Answer every prompt of `rows` not yet in `out`, writing one row per finished prompt.

    `rows` is consumed as a stream: at most `concurrency` prompts are in flight, a new one is
    read only when one finishes, and finished rows go to the file, not to memory. So the
    memory of a run does not grow with the number of prompts, and a batching engine (ChatVLLM,
    a vLLM server) still decodes `concurrency` queries at once. Each prompt's seed derives from
    the run's seed and its id, so a resumed run gives the same answers as an uninterrupted one.

    Args:
        policy: The chat model.
        reward: The reward model.
        rows: The prompts (any iterable; read lazily).
        out: An open results file; prompts it holds are skipped (a different prompt under an
            id it holds raises `PromptMismatchError`).
        config: Settings of every prompt (see `mode_config`).
        run: Fields describing the run (see `run_settings`), copied into every row.
        seed: Base seed; by default `run["seed"]` (0 when absent).
        concurrency: Prompts in flight at once.
        expected: How many prompts are to run, if known (passed on to `progress`).
        progress: Called as each prompt finishes.
        controls: Fixed texts scored by `reward` for every prompt and stored in its row (see
            `controls`); None scores none. Must match `run["controls_sha256"]`.

    Returns:
        Counts of finished, skipped and failed prompts.
    """
    if seed is None:
        seed = int(run.get("seed") or 0)
    elif "seed" in run and run["seed"] != seed:
        msg = f"seed={seed} differs from the run's recorded seed {run['seed']}"
        raise ValueError(msg)
    fingerprint = controls_fingerprint(controls) if controls else None
    if run.get("controls_sha256", fingerprint) != fingerprint:
        msg = "the control texts differ from the run's recorded controls_sha256"
        raise ValueError(msg)
    summary = EvalSummary()
    chain = TPOChain(policy=policy, reward=reward, config=config)
    start = time.perf_counter()
    done = 0

    async def one(row: PromptRow) -> None:
        nonlocal done
        began = time.perf_counter()
        result: TPOResult | None = None
        control_scores: dict[str, float] | None = None
        try:
            result = await chain.ainvoke(
                row.prompt, config={"configurable": {"seed": derive_seed(seed, row.id)}}
            )
            if controls:
                control_scores = await score_controls(reward, row.prompt, controls)
        except Exception as e:
            summary.failed[row.id] = f"{type(e).__name__}: {e}"
            result = None
        if result is not None:
            seconds = time.perf_counter() - began
            out.append(result_row(row, result, run, seconds, control_scores))
            summary.finished += 1
        done += 1
        if progress is not None:
            progress(done, expected, row, result)

    in_flight: set[asyncio.Task[None]] = set()

    async def settle(wait: Literal["FIRST_COMPLETED", "ALL_COMPLETED"]) -> None:
        nonlocal in_flight
        finished, in_flight = await asyncio.wait(in_flight, return_when=wait)
        for task in finished:
            task.result()  # a failure to write the row ends the run

    try:
        for row in rows:
            if out.has(row.id, row.prompt):
                summary.skipped += 1
                continue
            while len(in_flight) >= max(1, concurrency):
                await settle("FIRST_COMPLETED")
            in_flight.add(asyncio.create_task(one(row)))
        if in_flight:
            await settle("ALL_COMPLETED")
    finally:
        for task in in_flight:
            task.cancel()
        if in_flight:
            await asyncio.gather(*in_flight, return_exceptions=True)
    summary.seconds = time.perf_counter() - start
    return summary
