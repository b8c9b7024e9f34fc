"""The `tpo` command: `tpo run`, `tpo eval`, `tpo report`, `tpo judge`, `tpo serve`."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from langchain_tpo._redact import redact_text
from langchain_tpo.cli.errors import CLIError, describe_failure

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

_DEBUG_HELP = "on a failure, print the traceback as well as the one-line reason"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    from langchain_tpo.cli import (
        eval_command,
        judge_command,
        report_command,
        run_command,
        serve_command,
    )

    parser = argparse.ArgumentParser(
        prog="tpo",
        description="Test-Time Preference Optimization: align a model's answers at inference "
        "time, weights frozen.",
    )
    parser.add_argument("--debug", action="store_true", help=_DEBUG_HELP)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run_command.add_parser(sub)
    eval_command.add_parser(sub)
    report_command.add_parser(sub)
    judge_command.add_parser(sub)
    serve_command.add_parser(sub)
    for command in sub.choices.values():
        # Also after the command name (`tpo run --debug ...`); SUPPRESS keeps a `tpo --debug`
        # given before it from being reset by the subcommand's default.
        command.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=_DEBUG_HELP
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `tpo` script; returns the exit code.

    Every failure ends as one line on stderr (`tpo COMMAND: error: ...`, credentials hidden)
    and a non-zero exit code: 2 for bad input, 1 for a failure while running, 130 for Ctrl-C.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except CLIError as e:
        _report(args, e, str(e))
        return e.exit_code
    except KeyboardInterrupt:
        print(f"\ntpo {args.command}: interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as e:
        _report(args, e, None)
        return EXIT_FAILED


def _report(args: argparse.Namespace, error: BaseException, message: str | None) -> None:
    """One line (a CLIError's `message` as is); the traceback too with --debug."""
    from langchain_tpo.cli.models import secrets_of

    secrets = secrets_of(args)
    if getattr(args, "debug", False):
        text = "".join(traceback.format_exception(error))
        print(redact_text(text, secrets), file=sys.stderr, end="")
    line = describe_failure(error, secrets) if message is None else redact_text(message, secrets)
    print(f"tpo {args.command}: error: {line}", file=sys.stderr)


__all__ = ["main"]
