"""The report's figures: reward by iteration (paper Fig. 3), inference stability, and win rate
against compute for best-of-N and TPO (paper Fig. 6). One panel per benchmark."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from langchain_tpo.evaluation.compute_curve import compute_curves
from langchain_tpo.evaluation.metrics import sample_spread
from langchain_tpo.evaluation.runs import Run
from langchain_tpo.evaluation.statistics import LABEL, bootstrap_mean


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as e:
        msg = 'Plots need matplotlib: pip install "langchain-tpo[plot]" (or pass --no-plots).'
        raise ImportError(msg) from e
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def by_benchmark(runs: Sequence[Run]) -> dict[str, list[Run]]:
    """Runs grouped by benchmark, in the order first met ("data" for `--data` runs)."""
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(run.benchmark or "data", []).append(run)
    return groups


def _name(run: Run) -> str:
    return run.describe() if run.name == run.mode else f"{run.name} ({run.describe()})"


def _panels(
    runs: Sequence[Run],
    path: str | Path,
    draw: Callable[[Any, list[Run]], bool],
    title: str,
) -> Path:
    """One panel per benchmark, `draw(ax, runs)` filling each; panels with nothing are dropped."""
    plt = _pyplot()
    groups = by_benchmark(runs)
    columns = min(len(groups), 3)
    rows = math.ceil(len(groups) / columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(6.2 * columns, 4.4 * rows), dpi=110, squeeze=False
    )
    for ax, (benchmark, members) in zip(axes.flat, groups.items(), strict=False):
        if draw(ax, members):
            ax.set_title(benchmark if len(groups) > 1 else title)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        else:
            ax.set_title(f"{benchmark}: nothing to draw")
            ax.axis("off")
    for ax in list(axes.flat)[len(groups) :]:
        ax.axis("off")
    if len(groups) > 1:
        fig.suptitle(title)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    plt.close(fig)
    return out


def _best_so_far(run: Run, depth: int) -> list[list[float]]:
    """Per step (samples, iteration 1, ...): each prompt's best reward so far."""
    series = [r["best_scores"] for r in run.rows if r.get("best_scores")]
    return [[s[min(k, len(s) - 1)] for s in series] for k in range(depth)]


def training_curve(runs: Sequence[Run], path: str | Path, seed: int = 0) -> Path:
    """Best reward so far by iteration, mean over prompts with its bootstrap 95% interval;
    base and BoN runs are flat dashed lines with their interval."""

    def draw(ax: Any, members: list[Run]) -> bool:
        depth = max((len(r.get("best_scores") or []) for m in members for r in m.rows), default=0)
        steps = list(range(max(depth, 2)))
        drawn = False
        for run in members:
            own = max((len(r.get("best_scores") or []) for r in run.rows), default=0)
            values = _best_so_far(run, own)
            if not values:
                continue
            intervals = [bootstrap_mean(v, seed=seed) for v in values]
            if run.is_reference_line:
                last = intervals[-1]
                (line,) = ax.plot(
                    steps, [last.mean] * len(steps), "--", linewidth=1.6, label=_name(run)
                )
                ax.fill_between(steps, last.low, last.high, alpha=0.08, color=line.get_color())
            else:
                xs = list(range(len(intervals)))
                (line,) = ax.plot(
                    xs, [i.mean for i in intervals], marker="o", linewidth=2, label=_name(run)
                )
                ax.fill_between(
                    xs,
                    [i.low for i in intervals],
                    [i.high for i in intervals],
                    alpha=0.18,
                    color=line.get_color(),
                )
            drawn = True
        ax.set_xticks(steps, ["samples"] + [f"iter {k}" for k in steps[1:]])
        ax.set_xlabel("TPO step")
        ax.set_ylabel(f"best reward so far (mean, {LABEL} interval)")
        return drawn

    return _panels(runs, path, draw, f"Reward by iteration (bands: bootstrap {LABEL} intervals)")


def stability(runs: Sequence[Run], path: str | Path) -> Path:
    """Spread of rewards across a prompt's samples, by round: lower means steadier answers."""

    def draw(ax: Any, members: list[Run]) -> bool:
        longest, drawn = 1, False
        for run in members:
            spread = [s.mean for s in sample_spread(run.rows)]
            if not spread or all(math.isnan(s) for s in spread):  # single-sample runs
                continue
            longest = max(longest, len(spread))
            if run.is_reference_line:
                ax.axhline(spread[0], linestyle="--", linewidth=1.6, label=_name(run))
            else:
                ax.plot(range(len(spread)), spread, marker="o", linewidth=2, label=_name(run))
            drawn = True
        ticks = list(range(max(longest, 2)))
        ax.set_xticks(ticks, ["samples"] + [f"iter {k} rewrites" for k in ticks[1:]])
        ax.set_ylabel("std of rewards across samples (mean over prompts)")
        ax.set_ylim(bottom=0)
        return drawn

    return _panels(runs, path, draw, "Inference stability")


def win_rate_vs_compute(runs: Sequence[Run], path: str | Path, seed: int = 0) -> Path:
    """Win rate against the base answers by policy samples per prompt (see `compute_curve`)."""

    def draw(ax: Any, members: list[Run]) -> bool:
        curves = compute_curves(members, seed=seed)
        by_label = {run.label: run for run in members}
        for label, points in curves.items():
            run = by_label[label]
            xs = [p.samples for p in points]
            (line,) = ax.plot(
                xs,
                [p.win_rate.mean for p in points],
                marker="o" if run.mode != "bon" else ".",
                linewidth=2,
                label=_name(run),
            )
            ax.fill_between(
                xs,
                [p.win_rate.low for p in points],
                [p.win_rate.high for p in points],
                alpha=0.15,
                color=line.get_color(),
            )
        ax.axhline(0.5, color="grey", linewidth=0.8)
        ax.set_xlabel("policy samples per prompt (BoN: N; TPO/revision: N x (D+1))")
        ax.set_ylabel(f"win rate vs base by reward ({LABEL} interval)")
        ax.set_ylim(0, 1)
        return bool(curves)

    return _panels(runs, path, draw, "Win rate against compute")
