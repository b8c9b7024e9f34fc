"""Win rate against the base model by compute spent: best-of-N against TPO (the paper's Fig. 6).

Compute is counted in policy samples per prompt: k for best-of-k, N x (d + 1) for TPO or
revision stopped after d iterations (the critique and suggestion calls, 2 per iteration, come
on top). One run of each kind gives the whole curve, because prefixes of a run are runs:

- best-of-k for every k <= N is the best of the first k samples of a best-of-N run (samples
  are drawn independently, each with its own seed);
- TPO with D = d is a TPO run's best answer after iteration d (`best_scores[d]`): seeds derive
  from the stage and iteration, so a run with a larger D makes the same first d iterations.

So the recipe is three runs: `base`, `bon` with the largest N to show, and `tpo` with N=5,
D=2 (or more). A prompt is won when the answer's reward is above the base answer's, a tie
counts half; intervals are seeded bootstrap 95% intervals over prompts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from langchain_tpo.evaluation.benchmark_metrics import rewards
from langchain_tpo.evaluation.runs import Run
from langchain_tpo.evaluation.statistics import Interval, bootstrap_mean

TIE = 1e-9


@dataclass(frozen=True)
class ComputePoint:
    """Win rate against the base answers at one compute budget."""

    samples: int
    """Policy samples per prompt."""
    win_rate: Interval


def _baseline(runs: Sequence[Run]) -> dict[str, float] | None:
    """Base-answer rewards by prompt id: a base run, else the first sample of a BoN run."""
    for run in runs:
        if run.mode == "base":
            return rewards(run.rows)
    for run in runs:
        if run.mode == "bon":
            return {
                str(r["id"]): r["scores_by_iteration"][0][0]
                for r in run.rows
                if r.get("scores_by_iteration") and r["scores_by_iteration"][0]
            }
    return None


def _win_rate(scores: dict[str, float], base: dict[str, float], seed: int) -> Interval:
    outcomes = [
        1.0 if s > base[i] + TIE else 0.5 if s >= base[i] - TIE else 0.0
        for i, s in scores.items()
        if i in base
    ]
    return bootstrap_mean(outcomes, seed=seed)


def _prefix_scores(run: Run) -> list[tuple[int, dict[str, float]]]:
    """(samples per prompt, id -> reward of the answer at that budget) along the run."""
    if run.mode == "bon":
        width = max((len((r.get("scores_by_iteration") or [[]])[0]) for r in run.rows), default=0)
        points = []
        for k in range(1, width + 1):
            best = {
                str(r["id"]): max(r["scores_by_iteration"][0][:k])
                for r in run.rows
                if r.get("scores_by_iteration") and r["scores_by_iteration"][0]
            }
            points.append((k, best))
        return points
    if run.mode in {"tpo", "revision"}:
        n = int(run.setting("num_samples") or 1)
        depth = max((len(r.get("best_scores") or []) for r in run.rows), default=0)
        return [
            (
                n * (d + 1),
                {
                    str(r["id"]): r["best_scores"][min(d, len(r["best_scores"]) - 1)]
                    for r in run.rows
                    if r.get("best_scores")
                },
            )
            for d in range(depth)
        ]
    return []


def compute_curves(runs: Sequence[Run], seed: int = 0) -> dict[str, list[ComputePoint]]:
    """Run label -> win rate against base by samples per prompt, for the BoN / TPO / revision
    runs among `runs` (all on one benchmark). Empty when there is no base to compare with."""
    base = _baseline(runs)
    if base is None:
        return {}
    curves = {}
    for run in runs:
        points = [
            ComputePoint(samples, _win_rate(scores, base, seed))
            for samples, scores in _prefix_scores(run)
        ]
        if points:
            curves[run.label] = points
    return curves
