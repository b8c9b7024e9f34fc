"""The error the `tpo` command reports as one line, with an exit code."""

from __future__ import annotations


class CLIError(Exception):
    """A problem with what the user asked for; printed without a traceback."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        """`exit_code` 2 means bad input or usage, 1 a failure while running."""
        super().__init__(message)
        self.exit_code = exit_code
