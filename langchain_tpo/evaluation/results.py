"""The results file of `tpo eval`: one of our record files (kind "results"), one row a prompt.

The header's settings are everything that changes an answer (see `runner.run_settings`); each
row also stores `prompt_sha256`, so resuming with a different dataset whose ids overlap is
refused instead of skipping prompts that were never answered. See `record_file` for the
durability and ownership rules.

Results files written before the header existed (format 0) can still be read by `tpo report`;
`tpo eval` never appends to them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from langchain_tpo.evaluation.fingerprints import text_sha256
from langchain_tpo.evaluation.record_file import (
    BadRecordError,
    Header,
    NotOurFileError,
    RecordFile,
    iter_records,
    read_header,
)

KIND = "results"


class PromptMismatchError(ValueError):
    """A row id already in the file was answered for another prompt."""


class ResultsFile(RecordFile):
    """The results file of one run: append-only, resumable, refused when not ours.

    Example:
        ```python
        with ResultsFile("results.jsonl", settings) as out:
            for row in rows:
                if not out.has(row.id, row.prompt):
                    out.append({"id": row.id, ...})
        ```
    """

    def __init__(
        self,
        path: str | Path,
        settings: Mapping[str, Any],
        *,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """See `RecordFile`; rows are keyed by `id` and remember their `prompt_sha256`."""
        super().__init__(path, KIND, settings, key="id", remember="prompt_sha256", extra=extra)

    def has(self, row_id: str, prompt: str) -> bool:
        """Whether the prompt with this id is already answered in the file.

        Raises:
            PromptMismatchError: The id is there, answered for a different prompt.
        """
        if row_id not in self.done:
            return False
        if self.done[row_id] != text_sha256(prompt):
            msg = (
                f"{self.path} already holds a row {row_id!r} for a different prompt: the "
                "dataset is not the one this file was written for (its ids overlap). Nothing "
                "was run; write to another file."
            )
            raise PromptMismatchError(msg)
        return True


def results_header(path: str | Path) -> Header | None:
    """The header of a results file; None for a file written before headers (format 0).

    Raises:
        FileNotFoundError, NotOurFileError: As `record_file.read_header`.
    """
    try:
        return read_header(path, KIND)
    except NotOurFileError:
        if _is_headerless_results(Path(path)):
            return None
        raise


def iter_results(path: str | Path) -> Iterator[dict[str, Any]]:
    """The rows of a results file, validated (a torn last line is skipped, never repaired).

    Raises:
        FileNotFoundError: No such file.
        NotOurFileError: Not a results file of this tool.
        BadRecordError: A line is not a row (the message names the file and line).
    """
    path = Path(path)
    if results_header(path) is not None:
        yield from iter_records(path, KIND)
        return
    yield from _headerless_rows(path)


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """All complete rows of a results file (see `iter_results`)."""
    return list(iter_results(path))


def _is_headerless_results(path: Path) -> bool:
    """A results file of format 0: its first line is a complete row with an id and a mode."""
    with path.open("rb") as f:
        first = f.readline()
    try:
        row = json.loads(first)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    return first.endswith(b"\n") and isinstance(row, dict) and "id" in row and "mode" in row


def _headerless_rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as f:
        for number, line in enumerate(f, start=1):
            if not line.endswith(b"\n"):
                return
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise BadRecordError(path, number, "is not valid JSON") from None
            if not isinstance(row, dict) or row.get("id") in (None, ""):
                raise BadRecordError(path, number, "is not a results row with an 'id'")
            yield row
