"""Turn results files into a Markdown report (and, through `plots`, two PNG figures)."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_tpo.evaluation.metrics import (
    Stat,
    best_so_far_curve,
    exact_match,
    round_means,
    sample_spread,
    win_rate,
)
from langchain_tpo.evaluation.results import read_results


@dataclass
class Run:
    """The rows of one results file."""

    label: str
    rows: list[dict[str, Any]]

    @property
    def mode(self) -> str:
        return str(self.rows[0].get("mode", "?")) if self.rows else "?"

    def setting(self, key: str) -> Any:
        return self.rows[0].get(key) if self.rows else None

    @property
    def is_reference_line(self) -> bool:
        """Base and BoN runs have no iterations: a flat line in the training-curve plot."""
        return self.mode in {"base", "bon"}


def load_runs(paths: list[str | Path]) -> list[Run]:
    """One Run per file, labelled by file name (made unique when names repeat)."""
    if not paths:
        msg = "Give at least one results file (written by `tpo eval --out FILE`)."
        raise ValueError(msg)
    runs: list[Run] = []
    stems = [Path(p).stem for p in paths]
    for path, stem in zip(paths, stems, strict=True):
        label = stem if stems.count(stem) == 1 else str(path)
        rows = read_results(path)
        if not rows:
            msg = f"{path} holds no results yet; run `tpo eval` first."
            raise ValueError(msg)
        runs.append(Run(label, rows))
    return runs


def _fmt(stat: Stat | None) -> str:
    if stat is None or stat.n == 0 or math.isnan(stat.mean):
        return "-"
    return f"{stat.mean:+.3f} ± {stat.std:.3f}"


def _fmt_spread(stat: Stat | None) -> str:
    if stat is None or stat.n == 0 or math.isnan(stat.mean):
        return "-"
    return f"{stat.mean:.3f} ± {stat.std:.3f}"


def markdown_report(runs: list[Run]) -> str:
    """The whole report as Markdown."""
    lines = ["# TPO evaluation report", ""]
    lines += ["## Runs", ""]
    lines += [
        "| run | mode | prompts | N | D | max tokens | final reward (mean ± std) | exact match |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    for run in runs:
        final = Stat.of([r["score"] for r in run.rows if r.get("score") is not None])
        em = exact_match(run.rows)
        em_text = f"{em.mean:.3f} ({em.n} with answers)" if em else "-"
        lines.append(
            f"| {run.label} | {run.mode} | {len(run.rows)} | {run.setting('num_samples')} | "
            f"{run.setting('max_iterations') if not run.is_reference_line else 0} | "
            f"{run.setting('max_tokens') or '-'} | {_fmt(final)} | {em_text} |"
        )

    curves = {run.label: best_so_far_curve(run.rows) for run in runs}
    width = max(len(c) for c in curves.values())
    lines += ["", "## Best reward so far by iteration (mean ± std over prompts)", ""]
    header = ["run", "initial samples"] + [f"iteration {k}" for k in range(1, width)]
    lines += ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for run in runs:
        cells = [_fmt(s) for s in curves[run.label]] + [""] * (width - len(curves[run.label]))
        lines.append(f"| {run.label} | " + " | ".join(cells) + " |")

    lines += ["", "## Rewards of each round's samples: mean, and spread within a prompt", ""]
    lines += ["| run | round | mean reward | spread (std across samples) |", "|---|---|---|---|"]
    for run in runs:
        for k, (mean, spread) in enumerate(
            zip(round_means(run.rows), sample_spread(run.rows), strict=True)
        ):
            name = "initial samples" if k == 0 else f"iteration {k} rewrites"
            lines.append(f"| {run.label} | {name} | {_fmt(mean)} | {_fmt_spread(spread)} |")

    if len(runs) > 1:
        lines += ["", "## Win rate by reward on the same prompts (ties count half)", ""]
        lines += ["| run A | run B | prompts | A wins | ties | B wins | win rate of A |"]
        lines += ["|---|---|---:|---:|---:|---:|---:|"]
        for a, b in itertools.combinations(runs, 2):
            w = win_rate(a.rows, b.rows)
            rate = f"{w.rate:.3f}" if w.n else "-"
            lines.append(
                f"| {a.label} | {b.label} | {w.n} | {w.wins} | {w.ties} | {w.losses} | {rate} |"
            )
    return "\n".join(lines) + "\n"
