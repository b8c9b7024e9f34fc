"""The report's two figures: the test-time training curve and inference stability."""

from __future__ import annotations

from pathlib import Path

from langchain_tpo.evaluation.metrics import best_so_far_curve, sample_spread
from langchain_tpo.evaluation.report import Run


def _pyplot():  # type: ignore[no-untyped-def]
    try:
        import matplotlib
    except ImportError as e:
        msg = 'Plots need matplotlib: pip install "langchain-tpo[plot]" (or pass --no-plots).'
        raise ImportError(msg) from e
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _name(run: Run) -> str:
    extra = f", N={run.setting('num_samples')}" if run.is_reference_line else ""
    return f"{run.label}{extra}" if run.label == run.mode else f"{run.label} ({run.mode}{extra})"


def training_curve(runs: list[Run], path: str | Path) -> Path:
    """Best reward so far by iteration, one line per run; base and BoN runs dashed and flat.

    Returns:
        The PNG written.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    longest = max(len(best_so_far_curve(r.rows)) for r in runs)
    xs_all = list(range(max(longest, 2)))
    for run in runs:
        curve = best_so_far_curve(run.rows)
        means = [s.mean for s in curve]
        if run.is_reference_line:
            ax.plot(
                xs_all,
                [means[-1]] * len(xs_all),
                linestyle="--",
                linewidth=1.6,
                label=_name(run),
            )
        else:
            xs = list(range(len(means)))
            stds = [s.std for s in curve]
            (line,) = ax.plot(xs, means, marker="o", linewidth=2, label=_name(run))
            lower = [m - s / max(1, c.n) ** 0.5 for m, s, c in zip(means, stds, curve, strict=True)]
            upper = [m + s / max(1, c.n) ** 0.5 for m, s, c in zip(means, stds, curve, strict=True)]
            ax.fill_between(xs, lower, upper, alpha=0.15, color=line.get_color())
    ax.set_xticks(xs_all, ["samples"] + [f"iter {k}" for k in xs_all[1:]])
    ax.set_xlabel("TPO step")
    ax.set_ylabel("best reward so far (mean over prompts, band ±1 s.e.)")
    ax.set_title("Test-time training curve")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    plt.close(fig)
    return out


def stability(runs: list[Run], path: str | Path) -> Path:
    """Spread of rewards across a prompt's samples, by round: lower means steadier answers.

    Returns:
        The PNG written.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    longest = 1
    for run in runs:
        spread = [s.mean for s in sample_spread(run.rows)]
        if not spread or all(s != s for s in spread):  # NaN: single-sample runs have no spread
            continue
        longest = max(longest, len(spread))
        if run.is_reference_line:
            ax.axhline(
                spread[0],
                linestyle="--",
                linewidth=1.6,
                label=_name(run),
                color=ax._get_lines.get_next_color(),
            )
        else:
            ax.plot(
                range(len(spread)),
                spread,
                marker="o",
                linewidth=2,
                label=_name(run),
            )
    ticks = list(range(max(longest, 2)))
    ax.set_xticks(ticks, ["samples"] + [f"iter {k} rewrites" for k in ticks[1:]])
    ax.set_ylabel("std of rewards across samples (mean over prompts)")
    ax.set_ylim(bottom=0)
    ax.set_title("Inference stability")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    plt.close(fig)
    return out
