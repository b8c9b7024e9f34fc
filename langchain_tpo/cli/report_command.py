"""`tpo report RESULTS... [--verdicts V...]`: tables and plots from `tpo eval` results files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from langchain_tpo.cli.errors import CLIError
from langchain_tpo.evaluation.judged import load_verdicts
from langchain_tpo.evaluation.report import markdown_report
from langchain_tpo.evaluation.runs import load_runs


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "report",
        help="tables and plots from results files",
        description="The paper-style table (one row per run, one column per benchmark "
        "metric), what the answers are (scaffolding, refusals, near-empty), control rows, "
        "paired comparisons with bootstrap 95%% intervals, reward by iteration, answers side by "
        "side, and three PNG plots. Shards of one run (same settings) are merged.",
    )
    parser.add_argument("results", nargs="+", help="results files written by `tpo eval`")
    parser.add_argument(
        "--verdicts",
        nargs="+",
        default=[],
        metavar="FILE",
        help="verdict files written by `tpo judge` (judged win rates, XSTest refusals)",
    )
    parser.add_argument("--out-dir", default=".", help="where the plots and report.md go (.)")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument(
        "--examples", type=int, default=2, help="prompts per benchmark shown side by side (2)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the bootstrap and of the examples (0)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        runs = load_runs(args.results)
        verdicts = load_verdicts(args.verdicts, runs)
    except (FileNotFoundError, ValueError) as e:
        raise CLIError(str(e)) from None
    report = markdown_report(runs, verdicts=verdicts, examples=args.examples, seed=args.seed)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not args.no_plots:
        from langchain_tpo.evaluation import plots

        try:
            figures = [
                (
                    "Reward by iteration",
                    plots.training_curve(runs, out_dir / "training_curve.png", args.seed),
                ),
                ("Inference stability", plots.stability(runs, out_dir / "stability.png")),
                (
                    "Win rate against compute",
                    plots.win_rate_vs_compute(runs, out_dir / "win_rate_vs_compute.png", args.seed),
                ),
            ]
        except ImportError as e:
            raise CLIError(str(e)) from None
        report += (
            "\n## Figures\n\n"
            + "\n\n".join(f"![{title}]({path.name})" for title, path in figures)
            + "\n"
        )
        print(f"tpo report: wrote {', '.join(str(p) for _, p in figures)}", file=sys.stderr)
    (out_dir / "report.md").write_text(report, encoding="utf-8")
    print(f"tpo report: wrote {out_dir / 'report.md'}", file=sys.stderr)
    print(report)
    return 0
