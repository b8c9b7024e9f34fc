"""Run one mode (tpo, revision, bon, base) over many prompts, concurrently and resumably."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel

from langchain_tpo.chain import TPOChain
from langchain_tpo.config import TPOConfig
from langchain_tpo.evaluation.datasets import PromptRow
from langchain_tpo.evaluation.results import ResultsFile
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


def run_settings(mode: str, config: TPOConfig, *, policy: str, reward: str) -> dict[str, Any]:
    """The fields that describe a run, stored in every row (a resumed run must match them)."""
    return {
        "mode": mode,
        "num_samples": config.num_samples,
        "max_iterations": config.max_iterations,
        "max_tokens": config.max_tokens,
        "policy": policy,
        "reward": reward,
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
"""progress(done, total, row, result or None on failure), called as each prompt finishes."""


def result_row(
    row: PromptRow, result: TPOResult, run: dict[str, Any], seconds: float
) -> dict[str, Any]:
    """The JSON line of one finished prompt."""
    by_iteration: dict[int, list[float]] = {}
    for candidate in result.candidates:
        by_iteration.setdefault(candidate.iteration, []).append(candidate.score)
    return {
        "id": row.id,
        "prompt": row.prompt,
        **({"reference": row.reference} if row.reference is not None else {}),
        **run,
        "response": result.response,
        "score": result.score,
        "best_scores": result.best_scores,
        "scores_by_iteration": [by_iteration[i] for i in sorted(by_iteration)],
        "stop_reason": result.stop_reason,
        "model_calls": result.model_calls,
        "marker_misses": result.marker_misses,
        "prompt_echoes": result.prompt_echoes,
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
    rows: Sequence[PromptRow],
    out: ResultsFile,
    *,
    config: TPOConfig,
    run: dict[str, Any],
    seed: int = 0,
    concurrency: int = 32,
    progress: Progress | None = None,
) -> EvalSummary:
    """Answer every prompt of `rows` not yet in `out`, writing one row per finished prompt.

    Up to `concurrency` prompts run at once, so a batching engine (ChatVLLM, a vLLM server)
    decodes them together. Each prompt's seed is derived from `seed` and its id, so a resumed
    run gives the same answers as an uninterrupted one.

    Args:
        policy: The chat model.
        reward: The reward model.
        rows: The prompts.
        out: An open results file; rows whose id it holds are skipped.
        config: Settings of every prompt (see `mode_config`).
        run: Fields describing the run, copied into every row (mode, policy, reward, ...).
        seed: Base seed.
        concurrency: Prompts in flight at once.
        progress: Called as each prompt finishes.

    Returns:
        Counts of finished, skipped and failed prompts.
    """
    summary = EvalSummary()
    todo = [r for r in rows if r.id not in out.done]
    summary.skipped = len(rows) - len(todo)
    chain = TPOChain(policy=policy, reward=reward, config=config)
    gate = asyncio.Semaphore(max(1, concurrency))
    start = time.perf_counter()
    done = 0

    async def one(row: PromptRow) -> None:
        nonlocal done
        async with gate:
            began = time.perf_counter()
            result: TPOResult | None = None
            try:
                result = await chain.ainvoke(
                    row.prompt, config={"configurable": {"seed": derive_seed(seed, row.id)}}
                )
            except Exception as e:
                summary.failed[row.id] = f"{type(e).__name__}: {e}"
            if result is not None:
                out.append(result_row(row, result, run, time.perf_counter() - began))
                summary.finished += 1
            done += 1
            if progress is not None:
                progress(done, len(todo), row, result)

    await asyncio.gather(*(one(r) for r in todo))
    summary.seconds = time.perf_counter() - start
    return summary
