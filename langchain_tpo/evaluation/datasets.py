"""Read prompt sets: the shipped benchmark JSONL format, plain JSONL, or CSV, as a stream.

`iter_prompts` reads a file one line at a time and yields each usable row or the problem met
on a bad one, so a run over a 100k-prompt file holds one line at a time (plus the ids seen, to
catch duplicates). Bad rows never stop a run: each is reported with its line number and
skipped, and only that line (a byte that is not UTF-8 spoils its own line, not the file).
Duplicate ids keep the first row. `load_prompts` collects the stream into a list for callers
that want one.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_REFERENCE_FIELDS = ("reference", "answer")
_SUFFIXES = {".jsonl", ".json", ".ndjson", ".csv"}


@dataclass(frozen=True)
class PromptRow:
    """One prompt to answer."""

    id: str
    prompt: str
    reference: str | None = None
    """A reference answer when the dataset has one (exact match, or a judge's reference)."""
    line: int = 0
    """Line of the file the row came from (1-based; the header is line 1 of a CSV)."""
    label: str | None = None
    """The dataset's label of the prompt, where it has one (XSTest: "safe" or "unsafe")."""
    category: str | None = None


@dataclass(frozen=True)
class DatasetProblem:
    """A row that was skipped or changed, and why."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class LoadedPrompts:
    """The usable rows of a file and the problems met reading it."""

    rows: list[PromptRow] = field(default_factory=list)
    problems: list[DatasetProblem] = field(default_factory=list)


def check_dataset_path(path: str | Path) -> Path:
    """The path, if it names an existing file of a supported format.

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: The extension is not .jsonl/.json/.ndjson/.csv, or the file is empty.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"Dataset file not found: {path}"
        raise FileNotFoundError(msg)
    suffix = path.suffix.lower()
    if suffix not in _SUFFIXES:
        msg = f"Unsupported dataset format {suffix!r} for {path}: use .jsonl or .csv."
        raise ValueError(msg)
    with path.open("rb") as f:
        if not any(line.strip() for line in f):
            msg = f"Dataset file {path} is empty: it holds no rows."
            raise ValueError(msg)
    return path


def iter_prompts(
    path: str | Path, *, prompt_field: str = "prompt", id_field: str = "id"
) -> Generator[PromptRow | DatasetProblem]:
    """Stream the rows of a `.jsonl` / `.json` (one object per line) or `.csv` file.

    Args:
        path: The file.
        prompt_field: Column or key holding the prompt.
        id_field: Column or key holding a unique id; rows without one get `line-<n>`.

    Yields:
        Each usable row, and a `DatasetProblem` for each skipped one (bad JSON or encoding,
        missing, empty or non-text prompt, duplicate id), in file order.

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: The extension is not supported, the file is empty, or (once the file has
            been read) no row has `prompt_field`.
    """
    path = check_dataset_path(path)
    records = _csv_records(path) if path.suffix.lower() == ".csv" else _jsonl_records(path)
    seen: set[str] = set()
    any_prompt_field = False
    for line, record in records:
        if isinstance(record, DatasetProblem):
            yield record
            continue
        if prompt_field not in record:
            yield DatasetProblem(line, f"no {prompt_field!r} field; skipped")
            continue
        any_prompt_field = True
        prompt = record[prompt_field]
        if not isinstance(prompt, str):
            kind = "null" if prompt is None else type(prompt).__name__
            yield DatasetProblem(line, f"prompt is not a string (it is a {kind}); skipped")
            continue
        if not prompt.strip():
            yield DatasetProblem(line, "empty prompt; skipped")
            continue
        raw_id = record.get(id_field)
        row_id = str(raw_id) if raw_id not in (None, "") else f"line-{line}"
        if row_id in seen:
            yield DatasetProblem(line, f"duplicate id {row_id!r}; the first row is kept")
            continue
        seen.add(row_id)
        yield PromptRow(
            row_id,
            prompt,
            _text(record, *_REFERENCE_FIELDS),
            line,
            label=_text(record, "label"),
            category=_text(record, "category"),
        )
    if not any_prompt_field:
        msg = (
            f"No row of {path} has a {prompt_field!r} field. Name the prompt column with "
            "--prompt-field."
        )
        raise ValueError(msg)


def load_prompts(
    path: str | Path,
    *,
    prompt_field: str = "prompt",
    id_field: str = "id",
    limit: int | None = None,
) -> LoadedPrompts:
    """All usable rows of a file (at most `limit`, in file order) and the problems met.

    See `iter_prompts` for the formats and errors.
    """
    loaded = LoadedPrompts()
    stream = iter_prompts(path, prompt_field=prompt_field, id_field=id_field)
    for item in stream:
        if isinstance(item, DatasetProblem):
            loaded.problems.append(item)
            continue
        loaded.rows.append(item)
        if limit is not None and len(loaded.rows) >= limit:
            stream.close()
            break
    return loaded


def _text(record: dict[str, Any], *keys: str) -> str | None:
    return next((str(record[k]) for k in keys if record.get(k) not in (None, "")), None)


def _jsonl_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | DatasetProblem]]:
    with path.open("rb") as f:
        for line, raw in enumerate(f, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                yield line, DatasetProblem(line, f"{_not_utf8(raw, e.start)}; skipped")
                continue
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as e:
                yield line, DatasetProblem(line, f"not valid JSON ({e.msg}); skipped")
                continue
            if not isinstance(record, dict):
                kind = type(record).__name__
                yield line, DatasetProblem(line, f"a JSON {kind}, not an object; skipped")
                continue
            yield line, record


def _not_utf8(raw: bytes, position: int) -> str:
    return f"not UTF-8 text (byte 0x{raw[position]:02x} at column {position + 1})"


def _csv_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | DatasetProblem]]:
    # surrogateescape keeps a bad byte as a marker in its own cell, so only its row is skipped.
    with path.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape", newline="")
        reader = csv.DictReader(text)
        for record in reader:
            line = reader.line_num
            if None in record:  # more cells than header columns
                yield line, DatasetProblem(line, "more cells than the header has columns; skipped")
                continue
            cells = [v for v in record.values() if isinstance(v, str)]
            bad = next((v for v in cells if _has_bad_byte(v)), None)
            if bad is not None:
                raw_cell = bad.encode("utf-8", errors="surrogateescape")
                position = next(i for i, ch in enumerate(bad) if _has_bad_byte(ch))
                column = len(bad[:position].encode("utf-8", errors="surrogateescape"))
                problem = f"{_not_utf8(raw_cell, column)} in a cell; skipped"
                yield line, DatasetProblem(line, problem)
                continue
            yield line, {k: v for k, v in record.items() if k is not None}


def _has_bad_byte(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)
