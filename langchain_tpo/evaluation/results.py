"""The results file of an evaluation run: one JSON line per finished prompt, written durably.

Each row is appended, flushed and fsynced before the next prompt is reported done, so a run
killed at any moment loses at most the rows still in flight. A line cut short by the kill is
removed when the file is opened again, and the ids of complete rows are skipped on resume, so
no row is lost or written twice. An exclusive lock stops two runs from writing the same file.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

RUN_KEYS = ("mode", "num_samples", "max_iterations", "max_tokens", "policy", "reward")
"""Row fields that describe the run; a resumed run must match the rows already written."""


class ResultsFile:
    """Append-only, resumable JSONL results.

    Example:
        ```python
        with ResultsFile("results.jsonl") as out:
            for row in rows:
                if row.id in out.done:
                    continue
                out.append({"id": row.id, ...})
        ```
    """

    def __init__(self, path: str | Path) -> None:
        """Open (creating if needed) and lock `path`; read the ids already finished."""
        self.path = Path(path)
        self.done: set[str] = set()
        self.rows: list[dict[str, Any]] = []
        self.repaired = False
        """True when a line cut short by an earlier kill was removed on opening."""
        self._file: Any = None

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def open(self) -> None:
        """Lock the file, drop a trailing partial line and load the finished rows."""
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a+b")
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            msg = f"{self.path} is being written by another run; wait for it or use another --out."
            raise RuntimeError(msg) from None
        self._file.seek(0)
        data = self._file.read()
        complete = data[: data.rfind(b"\n") + 1]
        if len(complete) != len(data):
            self._file.truncate(len(complete))
            self._fsync()
            self.repaired = True
        for number, line in enumerate(complete.decode("utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                msg = f"{self.path} line {number} is not valid JSON ({e.msg}); fix or remove it."
                raise ValueError(msg) from e
            self.rows.append(row)
            self.done.add(str(row["id"]))

    def check_same_run(self, settings: dict[str, Any]) -> None:
        """Refuse to mix rows of different settings in one file."""
        for row in self.rows[:1]:
            differ = {
                k: (row.get(k), settings.get(k)) for k in RUN_KEYS if row.get(k) != settings.get(k)
            }
            if differ:
                details = ", ".join(
                    f"{k}: file has {a!r}, now {b!r}" for k, (a, b) in differ.items()
                )
                msg = (
                    f"{self.path} holds results of a run with other settings ({details}). "
                    "Resume with the same settings, or write to another --out file."
                )
                raise ValueError(msg)

    def append(self, row: dict[str, Any]) -> None:
        """Write one finished row durably."""
        assert self._file is not None, "open() first"
        line = json.dumps(row, ensure_ascii=False) + "\n"
        self._file.write(line.encode("utf-8"))
        self._fsync()
        self.rows.append(row)
        self.done.add(str(row["id"]))

    def _fsync(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        """Release the lock."""
        if self._file is not None:
            self._file.close()
            self._file = None


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """Read the complete rows of a results file (a cut-short last line is ignored)."""
    return list(_rows(Path(path)))


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    if not path.is_file():
        msg = f"Results file not found: {path}"
        raise FileNotFoundError(msg)
    data = path.read_bytes()
    complete = data[: data.rfind(b"\n") + 1].decode("utf-8")
    for number, line in enumerate(complete.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError as e:
            msg = f"{path} line {number} is not valid JSON ({e.msg})."
            raise ValueError(msg) from e
