"""The `tpo` command: `tpo run`, `tpo eval`, `tpo report`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from langchain_tpo.cli.errors import CLIError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    from langchain_tpo.cli import eval_command, judge_command, report_command, run_command

    parser = argparse.ArgumentParser(
        prog="tpo",
        description="Test-Time Preference Optimization: align a model's answers at inference "
        "time, weights frozen.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run_command.add_parser(sub)
    eval_command.add_parser(sub)
    report_command.add_parser(sub)
    judge_command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `tpo` script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except CLIError as e:
        print(f"tpo {args.command}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"\ntpo {args.command}: interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED


__all__ = ["main"]
