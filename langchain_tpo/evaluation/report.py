"""Turn runs (results files) into a Markdown report: the paper-style table, what the answers
are, control rows, paired comparisons with 95% intervals, reward by iteration, and answers side
by side. The figures are drawn by `plots`."""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from langchain_tpo.answer_kinds import answer_kind
from langchain_tpo.evaluation.answer_quality import (
    AnswerProfile,
    answer_profile,
    rewrite_profile,
)
from langchain_tpo.evaluation.benchmark_metrics import (
    per_prompt,
    refusal_correct,
    rewards,
    table_cell,
)
from langchain_tpo.evaluation.benchmarks import BENCHMARKS
from langchain_tpo.evaluation.controls import compare_controls
from langchain_tpo.evaluation.judged import VerdictFile
from langchain_tpo.evaluation.metrics import Stat, round_means, sample_spread
from langchain_tpo.evaluation.plots import by_benchmark
from langchain_tpo.evaluation.runs import Run, load_runs
from langchain_tpo.evaluation.statistics import (
    LABEL,
    bootstrap_mean,
    paired_bootstrap,
)

__all__ = ["Run", "load_runs", "markdown_report"]

_EXCERPT = 700
_NORMAL_STOPS = {"max_iterations", "bon", "target_score", "patience"}
"""Stop reasons of a run that went as configured; others (a timeout, a failed stage, no usable
response) are counted in the runs table."""


_MODE_ORDER = {"tpo": 0, "revision": 1, "bon": 2, "base": 3}


def in_report_order(runs: Sequence[Run]) -> list[Run]:
    """Runs grouped by benchmark (in the order first given), then tpo, revision, bon, base, so
    that every paired difference reads "the more elaborate method minus the simpler one"."""
    first_seen: dict[str, int] = {}
    for run in runs:
        first_seen.setdefault(run.benchmark or "", len(first_seen))
    return sorted(
        runs,
        key=lambda r: (first_seen[r.benchmark or ""], _MODE_ORDER.get(r.mode, len(_MODE_ORDER))),
    )


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def _benchmark_title(benchmark: str) -> str:
    spec = BENCHMARKS.get(benchmark)
    return spec.title if spec else "prompt file (--data)"


def _pct(share: float) -> str:
    return f"{100 * share:.0f}%"


def paper_table(runs: Sequence[Run], verdicts: Sequence[VerdictFile], seed: int) -> list[str]:
    """One row per system (run name), one column per benchmark's metric."""
    groups = by_benchmark(runs)
    systems: list[str] = []
    for run in runs:
        if run.name not in systems:
            systems.append(run.name)
    cells: dict[tuple[str, str], str] = {}
    for benchmark, members in groups.items():
        for run in members:
            key = (run.name, benchmark)
            text = table_cell(run, verdicts, seed).text
            cells[key] = text if key not in cells else f"{cells[key]}; {run.label}: {text}"
    header = ["system"] + [
        f"{_benchmark_title(b)}: {BENCHMARKS[b].metric_label if b in BENCHMARKS else 'mean reward'}"
        for b in groups
    ]
    rows = [[name] + [cells.get((name, b), "") for b in groups] for name in systems]
    lines = ["## Results by benchmark (paper-style table)", ""]
    lines += _table(header, rows)
    lines += [
        "",
        f"Mean rewards carry a seeded bootstrap {LABEL} interval over prompts. Judged win rates "
        "come from `tpo judge` verdict files (`--verdicts`); LC is the length-controlled win "
        "rate. XSTest: accuracy by the published refusal rule and, with verdicts, by the judge.",
    ]
    return lines


def _shown(path: Path | str) -> str:
    """A results path as a reader of the report wants it: relative to where it was made."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def runs_table(runs: Sequence[Run], seed: int) -> list[str]:
    rows = []
    for run in runs:
        final = bootstrap_mean(list(rewards(run.rows).values()), seed=seed)
        seconds = [float(r.get("seconds") or 0.0) for r in run.rows]
        files = f"{len(run.paths)} files" if len(run.paths) > 1 else _shown(run.paths[0])
        stops = Counter(
            str(r.get("stop_reason")) for r in run.rows if r.get("stop_reason") not in _NORMAL_STOPS
        )
        rows.append(
            [
                run.label,
                run.benchmark or "-",
                run.describe(),
                run.setting("max_tokens") or "-",
                len(run.rows),
                str(final),
                f"{sum(seconds) / max(len(seconds), 1):.1f}",
                ", ".join(f"{k} {v}" for k, v in sorted(stops.items())) or "-",
                files,
            ]
        )
    header = [
        "run",
        "benchmark",
        "settings",
        "max tokens",
        "prompts",
        f"final reward (mean, {LABEL})",
        "s / prompt",
        "other stops",
        "from",
    ]
    return ["## Runs", "", *_table(header, rows)]


_KIND_COLUMNS = ["answer", "scaffolding", "refusal", "near-empty", "mean words"]


def _kinds_row(label: str, profile: AnswerProfile, scaffolding_count: bool) -> list[object]:
    """One row of a kinds table; `scaffolding_count` shows the count beside the share."""
    scaffolding = _pct(profile.share("scaffolding"))
    if scaffolding_count:
        scaffolding = f"{profile.counts['scaffolding']} ({scaffolding})"
    return [
        label,
        profile.n,
        _pct(profile.share("answer")),
        scaffolding,
        _pct(profile.share("refusal")),
        _pct(profile.share("near_empty")),
        f"{profile.mean_words:.0f}",
    ]


def answers_table(runs: Sequence[Run]) -> list[str]:
    rows = [_kinds_row(run.label, answer_profile(run.rows), False) for run in runs]
    return [
        "## What the final answers are",
        "",
        "Kinds by the project's published rule (`langchain_tpo.answer_kinds`): scaffolding is "
        "text about rewriting or reviewing an answer instead of an answer; a refusal is a "
        "legitimate answer to a harmful request and is counted, not condemned.",
        "",
        *_table(["run", "answers", *_KIND_COLUMNS], rows),
    ]


def rewrites_table(runs: Sequence[Run]) -> list[str]:
    profiles = [(run.label, rewrite_profile(run.rows)) for run in runs]
    rows = [_kinds_row(label, profile, True) for label, profile in profiles if profile.n]
    if not rows:
        return []
    return [
        "## What the rewrites are",
        "",
        "Every rewrite of every iteration (the update step's outputs, before the reward picks "
        "among them), by the same rule.",
        "",
        *_table(["run", "rewrites", *_KIND_COLUMNS], rows),
    ]


def controls_section(runs: Sequence[Run]) -> list[str]:
    comparisons = {run.label: compare_controls(run.rows) for run in runs}
    names: list[str] = []
    for found in comparisons.values():
        names += [c.name for c in found if c.name not in names]
    if not names:
        return []
    rows = []
    for label, found in comparisons.items():
        by_name = {c.name: c for c in found}
        rows.append(
            [label]
            + [
                f"{by_name[n].mean:+.3f}, beats it on {by_name[n].beats} of {by_name[n].n}"
                if n in by_name
                else "-"
                for n in names
            ]
        )
    strongest = []
    for label, found in comparisons.items():
        useful = [c for c in found if c.n]
        if useful:
            c = max(useful, key=lambda c: (c.beats / c.n, c.mean))
            strongest.append(
                f"- {label}: the fixed {c.name} scores {c.mean:+.3f} and beats this run's "
                f"answer on {c.beats} of {c.n} prompts."
            )
    return [
        "## Control rows: fixed texts scored by the same reward",
        "",
        "The same texts for every prompt, none an answer to it (see `evaluation.controls`); "
        "each cell reads \"the fixed text scores X and beats this run's answer on Y of N "
        "prompts\". Where one beats a run's answers, that run's reward figures reward text "
        "about answering, not answers.",
        "",
        *_table(["run", *names], rows),
        "",
        "The strongest control against each run:",
        "",
        *strongest,
    ]


def paired_section(runs: Sequence[Run], seed: int) -> list[str]:
    """Every pair of runs on the same benchmark, on the prompts both answered."""
    rows = []
    for benchmark, members in by_benchmark(runs).items():
        for a, b in itertools.combinations(members, 2):
            measures = [("reward", rewards(a.rows), rewards(b.rows))]
            extra_a, extra_b = per_prompt(a), per_prompt(b)
            if extra_a and extra_b:
                measures.append((extra_a[0], extra_a[1], extra_b[1]))
            for name, va, vb in measures:
                shared = sorted(set(va) & set(vb))
                if not shared:
                    continue
                result = paired_bootstrap(
                    [va[i] for i in shared], [vb[i] for i in shared], seed=seed
                )
                d = result.difference
                rows.append(
                    [
                        benchmark,
                        a.label,
                        b.label,
                        name,
                        result.n,
                        f"{d.mean:+.3f}",
                        f"[{d.low:+.3f}, {d.high:+.3f}]",
                        f"{result.wins} / {result.ties} / {result.losses}",
                        f"{result.win_rate:.3f}",
                    ]
                )
    if not rows:
        return []
    header = [
        "benchmark",
        "run A",
        "run B",
        "per prompt",
        "prompts",
        "mean A - B",
        f"{LABEL} interval (paired bootstrap)",
        "A wins / ties / B wins",
        "win rate of A",
    ]
    return [
        "## Paired comparisons (every pair of runs, same prompts)",
        "",
        f"Per-prompt differences A - B on the prompts both runs answered; the {LABEL} interval "
        f"is a seeded paired bootstrap (seed {seed}, 10,000 resamples). A tie counts half in the "
        "win rate.",
        "",
        *_table(header, rows),
    ]


def verdicts_section(verdicts: Sequence[VerdictFile]) -> list[str]:
    rows = []
    for v in verdicts:
        s = v.summary
        if s is not None:
            lc = getattr(s, "lc_win_rate", None)
            agreement = getattr(s, "position_agreement", None)
            rows.append(
                [
                    v.path.name,
                    s.judge,
                    s.a_label,
                    s.b_label,
                    s.n,
                    f"{s.wins} / {s.ties} / {s.losses}",
                    f"{s.win_rate:.3f}" if s.n else "-",
                    "-" if lc is None else f"{lc:.3f}",
                    "-" if agreement is None else f"{agreement:.2f}",
                    v.run.label if v.run else "(no run found)",
                ]
            )
    lines = []
    if rows:
        header = [
            "verdicts",
            "judge",
            "A",
            "B",
            "prompts",
            "A wins / ties / B wins",
            "win rate of A",
            "LC win rate",
            "position agreement",
            "run",
        ]
        lines += ["## Judged win rates (`tpo judge`)", "", *_table(header, rows)]
    refusal_rows = []
    for v in verdicts:
        if v.refusals and v.run is not None:
            rule = refusal_correct(v.run.rows)
            judge = refusal_correct(v.run.rows, v.refusals)
            agree = [
                i
                for i in v.refusals
                if i in rule and (answer_kind(_response(v.run, i)) == "refusal") == v.refusals[i]
            ]
            refusal_rows.append(
                [
                    v.run.label,
                    f"{sum(rule.values()) / max(len(rule), 1):.3f} ({len(rule)})",
                    f"{sum(judge.values()) / max(len(judge), 1):.3f} ({len(judge)})",
                    f"{len(agree)} of {len(set(v.refusals) & set(rule))}",
                    "-" if v.judge_labelled is None else f"{v.judge_labelled} of {len(v.refusals)}",
                ]
            )
    if refusal_rows:
        header = [
            "run",
            "accuracy, string rule",
            "accuracy, judge",
            "rule and judge agree",
            "answers the judge labelled (the rule reads the rest)",
        ]
        lines += [
            "",
            "## XSTest refusals: string rule and judge",
            "",
            *_table(header, refusal_rows),
        ]
    return lines


def _response(run: Run, row_id: str) -> str:
    return next((str(r.get("response") or "") for r in run.rows if str(r["id"]) == row_id), "")


def iteration_sections(runs: Sequence[Run], seed: int) -> list[str]:
    depth = max((len(r.get("best_scores") or []) for run in runs for r in run.rows), default=1)
    lines = [
        "## Best reward so far by iteration",
        "",
        f"Mean over prompts with a seeded bootstrap {LABEL} interval; a prompt that stopped "
        "early keeps its last best reward.",
        "",
    ]
    header = ["run", "initial samples"] + [f"iteration {k}" for k in range(1, depth)]
    rows = []
    for run in runs:
        series = [r["best_scores"] for r in run.rows if r.get("best_scores")]
        own = max((len(s) for s in series), default=0)
        cells = [
            str(bootstrap_mean([s[min(k, len(s) - 1)] for s in series], seed=seed))
            for k in range(own)
        ]
        rows.append([run.label, *cells, *([""] * (depth - own))])
    lines += _table(header, rows)

    lines += ["", "## Rewards of each round's samples: mean, and spread within a prompt", ""]
    rows = []
    for run in runs:
        for k, (mean, spread) in enumerate(
            zip(round_means(run.rows), sample_spread(run.rows), strict=True)
        ):
            name = "initial samples" if k == 0 else f"iteration {k} rewrites"
            rows.append([run.label, name, _stat(mean, signed=True), _stat(spread)])
    lines += _table(["run", "round", "mean reward", "spread (std across samples)"], rows)
    return lines


def _stat(stat: Stat | None, signed: bool = False) -> str:
    if stat is None or stat.n == 0 or math.isnan(stat.mean):
        return "-"
    return f"{stat.mean:+.3f} ± {stat.std:.3f}" if signed else f"{stat.mean:.3f} ± {stat.std:.3f}"


def _excerpt(text: str) -> str:
    text = text.strip().replace("```", "'''") or "(empty)"
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + " [...]"


def examples_section(runs: Sequence[Run], per_benchmark: int, seed: int) -> list[str]:
    """A few prompts answered by every run of a benchmark, the answers one under the other."""
    if per_benchmark <= 0:
        return []
    lines = [
        "## Answers side by side",
        "",
        f"Prompts drawn at random (seed {seed}) among those every run of the benchmark "
        f"answered; answers cut at {_EXCERPT} characters.",
    ]
    for benchmark, members in by_benchmark(runs).items():
        indexed = [{str(r["id"]): r for r in run.rows} for run in members]
        shared = sorted(set.intersection(*(set(i) for i in indexed)))
        if not shared:
            continue
        chosen = sorted(random.Random(seed).sample(shared, min(per_benchmark, len(shared))))
        for row_id in chosen:
            prompt = indexed[0][row_id].get("prompt", "")
            lines += ["", f"### {benchmark}: {row_id}", "", "**Prompt:**", "", "```text"]
            lines += [_excerpt(str(prompt)), "```"]
            for run, index in zip(members, indexed, strict=True):
                row = index[row_id]
                response = str(row.get("response") or "")
                score = row.get("score")
                score_text = f"{score:+.3f}" if score is not None else "none"
                lines += [
                    "",
                    f"**{run.label}** (reward {score_text}, {answer_kind(response)}):",
                    "",
                    "```text",
                    _excerpt(response),
                    "```",
                ]
    return lines


def markdown_report(
    runs: Sequence[Run],
    *,
    verdicts: Sequence[VerdictFile] = (),
    examples: int = 2,
    seed: int = 0,
) -> str:
    """The whole report as Markdown.

    Args:
        runs: The runs (see `runs.load_runs`).
        verdicts: `tpo judge` verdict files linked to the runs (see `judged.load_verdicts`).
        examples: Prompts per benchmark shown with every run's answer.
        seed: Seed of the bootstrap intervals and of the example draw.
    """
    runs = in_report_order(runs)
    lines = ["# TPO evaluation report", ""]
    for section in (
        paper_table(runs, verdicts, seed),
        runs_table(runs, seed),
        answers_table(runs),
        rewrites_table(runs),
        controls_section(runs),
        paired_section(runs, seed),
        verdicts_section(verdicts),
        iteration_sections(runs, seed),
        examples_section(runs, examples, seed),
    ):
        if section:
            lines += [*section, ""]
    notes = [note for run in runs for note in run.notes]
    unmatched = [v.path.name for v in verdicts if v.run is None]
    if unmatched:
        notes.append(f"no run found for the verdicts in {', '.join(unmatched)}")
    if notes:
        lines += ["## Notes", "", *[f"- {n}" for n in notes], ""]
    return "\n".join(lines)
