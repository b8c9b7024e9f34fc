"""`tpo report RESULTS...`: tables and plots from `tpo eval` results files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from langchain_tpo.cli.errors import CLIError
from langchain_tpo.evaluation.report import load_runs, markdown_report


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "report",
        help="tables and plots from results files",
        description="Reward by iteration, win rates between runs, exact-match accuracy where "
        "references are final answers, and two PNG plots (training curve, stability).",
    )
    parser.add_argument("results", nargs="+", help="results files written by `tpo eval`")
    parser.add_argument("--out-dir", default=".", help="where the plots and report.md go (.)")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        runs = load_runs(args.results)
    except (FileNotFoundError, ValueError) as e:
        raise CLIError(str(e)) from None
    report = markdown_report(runs)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not args.no_plots:
        from langchain_tpo.evaluation import plots

        try:
            curve = plots.training_curve(runs, out_dir / "training_curve.png")
            stable = plots.stability(runs, out_dir / "stability.png")
        except ImportError as e:
            raise CLIError(str(e)) from None
        report += (
            f"\n![Test-time training curve]({curve.name})\n\n"
            f"![Inference stability]({stable.name})\n"
        )
        print(f"tpo report: wrote {curve} and {stable}", file=sys.stderr)
    (out_dir / "report.md").write_text(report, encoding="utf-8")
    print(f"tpo report: wrote {out_dir / 'report.md'}", file=sys.stderr)
    print(report)
    return 0
