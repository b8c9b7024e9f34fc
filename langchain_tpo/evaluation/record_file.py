"""Append-only JSONL files that this tool owns: a header line says so, and nothing else is touched.

Results of `tpo eval` (kind "results") and verdicts of `tpo judge` (kind "verdicts") are such
files. The first line is a header record

    {"langchain_tpo": "<kind>", "format": 1, "settings": {...}, ...}

and every further line is one record (a JSON object with a key field, "id" by default),
appended, flushed and fsynced before it counts as written. The rules:

- A file is *ours* only when its first line is a complete header of the expected kind. Any
  other non-empty file (a dataset passed as `--out` by mistake, a pretty-printed JSON, a file
  of another kind) is refused before a single byte is changed. A missing or empty file gets a
  header. A file holding only the start of a header is refused too, except where a subclass
  says older versions wrote its header in place (`restarts_torn_header`): then it is started
  again.
- A last line cut short by a kill is repaired (dropped, or completed when it parses as a
  whole record) only in a file proven ours, and only under the lock.
- The header's `settings` must equal the settings of the run that opens the file; the error
  names every setting that differs, so a resume never mixes runs.
- One writer at a time (an exclusive `flock`); readers never modify a file and ignore a torn
  last line.
- Records are validated on reading: a line that is not JSON, not an object, or lacks the key is
  an error naming the file and the line.

Public API (small on purpose; `tpo eval` and `tpo judge` both build on it):

- `RecordFile(path, kind, settings, key="id", remember=None, extra=None)`: open with `with` (or
  `open()` / `close()`); `done` maps the key of every record already written to the value of
  its `remember` field (None without one), so a caller can resume by key and check that a
  record is about the same thing; `append(record)` writes one record durably; `header`,
  `created` and `repaired` say what was found.
- `read_header(path)` -> `Header` (kind, format, settings, extra): raises `NotOurFileError`.
- `iter_records(path, kind, key="id")`: the records of a file of that kind, validated.
- Errors: `NotOurFileError`, `SettingsMismatchError` (with `.differences`), `BadRecordError`
  (with `.path` and `.line`); all are `ValueError`s whose message says what to do.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

MARK = "langchain_tpo"
"""The header key that identifies a file written by this tool; its value is the file's kind."""
FORMAT = 1
"""Version of the layout; a file of a newer format is refused, not misread."""

_HEADER_KEYS = (MARK, "format", "settings")


class NotOurFileError(ValueError):
    """The file exists and is not a file of the expected kind written by this tool."""


class BadRecordError(ValueError):
    """A line of one of our files is not a valid record."""

    def __init__(self, path: Path, line: int, problem: str) -> None:
        self.path = path
        self.line = line
        super().__init__(f"{path} line {line}: {problem}.")


class SettingsMismatchError(ValueError):
    """The file was written with other settings than the run that opens it."""

    def __init__(self, path: Path, differences: dict[str, tuple[Any, Any]]) -> None:
        self.path = path
        self.differences = differences
        """setting -> (value in the file, value now)."""
        details = "; ".join(f"{k}: file has {a!r}, now {b!r}" for k, (a, b) in differences.items())
        super().__init__(
            f"{path} was written with other settings ({details}). Resume with the same "
            "settings, or write to another file."
        )


@dataclass(frozen=True)
class Header:
    """The first line of one of our files."""

    kind: str
    format: int
    settings: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)
    """Other header fields: informational, never compared (a shard, a dataset name...)."""

    def record(self) -> dict[str, Any]:
        return {MARK: self.kind, "format": self.format, "settings": self.settings, **self.extra}


def _parse_header(path: Path, first_line: bytes, kind: str | None) -> Header:
    """The header in `first_line` (a complete line), or NotOurFileError saying what it is."""
    try:
        record = json.loads(first_line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        record = None
    if not isinstance(record, dict) or not isinstance(record.get(MARK), str):
        msg = (
            f"{path} is not a file written by langchain-tpo (its first line is not a "
            f"langchain_tpo header){_so_not_a_kind_file(kind)}; it was left untouched. "
            "Give a new file name, or one this tool wrote."
        )
        raise NotOurFileError(msg)
    found = record[MARK]
    if kind is not None and found != kind:
        msg = f"{path} is a {found} file, not a {kind} file; it was left untouched."
        raise NotOurFileError(msg)
    version = record.get("format")
    if not isinstance(version, int) or version > FORMAT:
        msg = (
            f"{path} has format {version!r}; this version of langchain-tpo reads format "
            f"{FORMAT} or older. Upgrade langchain-tpo to read it."
        )
        raise NotOurFileError(msg)
    settings = record.get("settings")
    if not isinstance(settings, dict):
        msg = f"{path} has a header without settings; it was left untouched."
        raise NotOurFileError(msg)
    extra = {k: v for k, v in record.items() if k not in _HEADER_KEYS}
    return Header(found, version, settings, extra)


def _so_not_a_kind_file(kind: str | None) -> str:
    """ ", so not a <kind> file" for messages about a file that is not ours."""
    return f", so not a {kind} file" if kind else ""


def _torn_header_start(kind: str) -> bytes:
    """How every header of this kind begins (`{"langchain_tpo": "<kind>"`)."""
    return json.dumps({MARK: kind}, ensure_ascii=False).encode("utf-8")[:-1]


def read_header(path: str | Path, kind: str | None = None) -> Header:
    """The header of one of our files (of `kind`, when given).

    Raises:
        FileNotFoundError: No such file.
        NotOurFileError: The file is empty, has no complete header line, or is of another kind.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"File not found: {path}"
        raise FileNotFoundError(msg)
    with path.open("rb") as f:
        first = f.readline()
    if not first:
        msg = f"{path} is empty: it holds no {kind or 'records'} yet."
        raise NotOurFileError(msg)
    if not first.endswith(b"\n"):
        msg = (
            f"{path} holds no complete header line; it is not a file written by langchain-tpo"
            f"{_so_not_a_kind_file(kind)} (or its writing was stopped before the first line)."
        )
        raise NotOurFileError(msg)
    return _parse_header(path, first, kind)


def _record(path: Path, number: int, line: bytes, key: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except UnicodeDecodeError:
        raise BadRecordError(path, number, "is not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise BadRecordError(path, number, f"is not valid JSON ({e.msg})") from None
    if not isinstance(record, dict):
        raise BadRecordError(
            path, number, f"is a JSON {type(record).__name__}, not an object (one record a line)"
        )
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        problem = f"has no {key!r}" if value in (None, "") else f"has a {key!r} that is not text"
        raise BadRecordError(path, number, problem)
    return record


def _lines(f: IO[bytes]) -> Iterator[tuple[int, bytes, bool]]:
    """(1-based number, bytes, complete) of every line after the header."""
    for number, line in enumerate(f, start=2):
        yield number, line, line.endswith(b"\n")


def iter_records(path: str | Path, kind: str, *, key: str = "id") -> Iterator[dict[str, Any]]:
    """The records of one of our files, in order; a torn last line is skipped, not repaired.

    Raises:
        FileNotFoundError, NotOurFileError: See `read_header`.
        BadRecordError: A complete line is not a valid record (the message names the line).
    """
    path = Path(path)
    read_header(path, kind)
    with path.open("rb") as f:
        f.readline()
        for number, line, complete in _lines(f):
            if not line.strip():
                continue
            if not complete:
                return
            yield _record(path, number, line, key)


class RecordFile:
    """One of our append-only JSONL files, open for resuming and appending.

    Example:
        ```python
        with RecordFile("out.jsonl", "results", {"mode": "tpo", "seed": 0}) as out:
            for item in work:
                if item.id not in out.done:
                    out.append({"id": item.id, ...})
        ```
    """

    restarts_torn_header = False
    """Start again a file that holds only the start of a header of this kind. New files get
    their header atomically, so only a kind whose older versions wrote it in place (where a
    kill could cut it short) sets this."""

    def __init__(
        self,
        path: str | Path,
        kind: str,
        settings: Mapping[str, Any],
        *,
        key: str = "id",
        remember: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Describe the file; nothing is read or written before `open()`.

        Args:
            path: The file.
            kind: What the file holds ("results", "verdicts"); a file of another kind is refused.
            settings: Everything that changes a record's content; a file written with other
                settings is refused. Must be JSON-serialisable.
            key: The field that identifies a record (resume skips keys already written).
            remember: A field whose value is kept per key in `done` (e.g. a hash of the input,
                so a caller can check that a written record is about the same input).
            extra: Informational header fields for a new file (not compared on resume).
        """
        self.path = Path(path)
        self.kind = kind
        self.settings = json.loads(json.dumps(dict(settings)))  # the values as read back later
        self.key = key
        self.remember = remember
        self._extra = dict(extra or {})
        self.header: Header | None = None
        self.done: dict[str, Any] = {}
        """key -> value of the `remember` field (None without one) of every record written."""
        self.created = False
        """True when `open()` wrote the header (new or empty file)."""
        self.repaired = False
        """True when a last line cut short by an earlier stop was repaired on opening."""
        self._file: IO[bytes] | None = None

    def __enter__(self) -> Self:
        if self._file is None:  # `open()` may have been called already, to handle its errors
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
        """Create or validate the file, lock it, repair a torn last line, read the keys.

        Raises:
            NotOurFileError: The file exists and is not ours (nothing was changed).
            SettingsMismatchError: It was written with other settings (nothing was changed).
            BadRecordError: A line is not a valid record (nothing was changed).
            RuntimeError: Another process has it open for writing.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        header = Header(self.kind, FORMAT, self.settings, self._extra)
        created = self._create_with_header(header)
        f = self.path.open("a+b")  # "a": opening never truncates or moves existing bytes
        try:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                msg = (
                    f"{self.path} is being written by another run (another process holds its "
                    "lock); wait for it or use another file."
                )
                raise RuntimeError(msg) from None
            f.seek(0)
            if not created and self._only_a_torn_header(f):  # nothing to lose
                f.truncate(0)
                self._write(f, header.record())
                created = True
            f.seek(0)
            self.header = _parse_header(self.path, self._first_line(f), self.kind)
            self._check_settings(self.header)
            self._load(f)
        except BaseException:
            f.close()
            raise
        self._file = f
        self.created = created

    def _create_with_header(self, header: Header) -> bool:
        """Create a missing file holding only its header, atomically: a kill leaves either no
        file or a complete header. False when the file already exists."""
        if self.path.exists():
            return False
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            with tmp.open("wb") as f:
                self._write(f, header.record())
            try:
                os.link(tmp, self.path)  # fails if another process created it meanwhile
            except FileExistsError:
                return False
            _fsync_dir(self.path.parent)
            return True
        finally:
            tmp.unlink(missing_ok=True)

    def _only_a_torn_header(self, f: IO[bytes]) -> bool:
        """The file is empty, or (with `restarts_torn_header`) holds only the start of a header
        of our kind, with no newline."""
        first = f.readline()
        if not first:
            return True
        return (
            self.restarts_torn_header
            and not first.endswith(b"\n")
            and first.startswith(_torn_header_start(self.kind))
        )

    def _first_line(self, f: IO[bytes]) -> bytes:
        first = f.readline()
        if not first.endswith(b"\n"):
            msg = (
                f"{self.path} holds no complete first line; it is not a file written by "
                f"langchain-tpo{_so_not_a_kind_file(self.kind)}, and it was left untouched. "
                "Give a new file name."
            )
            raise NotOurFileError(msg)
        return first

    def _check_settings(self, header: Header) -> None:
        differences = {
            k: (header.settings.get(k), self.settings.get(k))
            for k in sorted(set(header.settings) | set(self.settings))
            if header.settings.get(k) != self.settings.get(k)
        }
        if differences:
            raise SettingsMismatchError(self.path, differences)

    def _load(self, f: IO[bytes]) -> None:
        """Read the keys; repair a torn last line (only now that the file is proven ours)."""
        done: dict[str, Any] = {}
        torn: tuple[int, int, bytes] | None = None  # (offset, line number, bytes)
        offset = f.tell()
        for number, line, complete in _lines(f):
            if not complete:
                torn = (offset, number, line)
                break
            offset += len(line)
            if not line.strip():
                continue
            record = _record(self.path, number, line, self.key)
            done[str(record[self.key])] = record.get(self.remember) if self.remember else None
        if torn is not None:
            start, number, line = torn
            try:
                record = _record(self.path, number, line, self.key)
            except BadRecordError:
                f.truncate(start)  # the kill cut the record short: drop it
            else:  # only the newline was lost: keep the record
                self._raw_write(f, b"\n")
                done[str(record[self.key])] = record.get(self.remember) if self.remember else None
            _fsync(f)
            self.repaired = True
        self.done = done

    def append(self, record: Mapping[str, Any]) -> None:
        """Write one record durably (flushed and fsynced) and remember its key."""
        if self._file is None:
            msg = "RecordFile.append before open()"
            raise RuntimeError(msg)
        value = record.get(self.key)
        if value in (None, ""):
            msg = f"a record needs a {self.key!r} field"
            raise ValueError(msg)
        self._write(self._file, dict(record))
        self.done[str(value)] = record.get(self.remember) if self.remember else None

    @staticmethod
    def _write(f: IO[bytes], record: dict[str, Any]) -> None:
        RecordFile._raw_write(f, (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
        _fsync(f)

    @staticmethod
    def _raw_write(f: IO[bytes], data: bytes) -> None:
        f.seek(0, os.SEEK_END)
        f.write(data)

    def close(self) -> None:
        """Release the lock."""
        if self._file is not None:
            self._file.close()
            self._file = None


def _fsync(f: IO[bytes]) -> None:
    f.flush()
    os.fsync(f.fileno())


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
