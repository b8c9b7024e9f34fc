"""Read prompt sets: the shipped benchmark JSONL format, plain JSONL, or CSV.

Bad rows never stop a run: each is reported with its line number and skipped. Duplicate ids
keep the first row; empty prompts are skipped.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_REFERENCE_FIELDS = ("reference", "answer")


@dataclass(frozen=True)
class PromptRow:
    """One prompt to answer."""

    id: str
    prompt: str
    reference: str | None = None
    """A reference answer when the dataset has one (used for exact-match accuracy)."""
    line: int = 0
    """Line of the file the row came from (1-based; the header is line 1 of a CSV)."""


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


def load_prompts(
    path: str | Path,
    *,
    prompt_field: str = "prompt",
    id_field: str = "id",
    limit: int | None = None,
) -> LoadedPrompts:
    """Read prompts from a `.jsonl` / `.json` (one object per line) or `.csv` file.

    Args:
        path: The file.
        prompt_field: Column or key holding the prompt.
        id_field: Column or key holding a unique id; rows without one get `line-<n>`.
        limit: Keep at most this many usable rows (in file order).

    Returns:
        The usable rows and the problems (bad JSON, missing or empty prompt, duplicate id).

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: The extension is not .jsonl/.json/.csv, or no row has `prompt_field`.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"Dataset file not found: {path}"
        raise FileNotFoundError(msg)
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".json", ".ndjson"}:
        records = _jsonl_records(path)
    elif suffix == ".csv":
        records = _csv_records(path)
    else:
        msg = f"Unsupported dataset format {suffix!r} for {path}: use .jsonl or .csv."
        raise ValueError(msg)

    loaded = LoadedPrompts()
    seen: set[str] = set()
    any_prompt_field = False
    for line, record in records:
        if isinstance(record, DatasetProblem):
            loaded.problems.append(record)
            continue
        if prompt_field not in record:
            loaded.problems.append(DatasetProblem(line, f"no {prompt_field!r} field; skipped"))
            continue
        any_prompt_field = True
        prompt = record[prompt_field]
        if not isinstance(prompt, str) or not prompt.strip():
            loaded.problems.append(DatasetProblem(line, "empty prompt; skipped"))
            continue
        raw_id = record.get(id_field)
        row_id = str(raw_id) if raw_id not in (None, "") else f"line-{line}"
        if row_id in seen:
            loaded.problems.append(
                DatasetProblem(line, f"duplicate id {row_id!r}; the first row is kept")
            )
            continue
        seen.add(row_id)
        reference = next(
            (str(record[k]) for k in _REFERENCE_FIELDS if record.get(k) not in (None, "")), None
        )
        loaded.rows.append(PromptRow(row_id, prompt, reference, line))
        if limit is not None and len(loaded.rows) >= limit:
            break
    if not loaded.rows and not any_prompt_field:
        msg = (
            f"No row of {path} has a {prompt_field!r} field. Name the prompt column with "
            "--prompt-field."
        )
        raise ValueError(msg)
    return loaded


def _jsonl_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | DatasetProblem]]:
    with path.open(encoding="utf-8") as f:
        for line, text in enumerate(f, start=1):
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as e:
                yield line, DatasetProblem(line, f"not valid JSON ({e.msg}); skipped")
                continue
            if not isinstance(record, dict):
                yield line, DatasetProblem(line, "not a JSON object; skipped")
                continue
            yield line, record


def _csv_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | DatasetProblem]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        for record in reader:
            line = reader.line_num
            if None in record:  # more cells than header columns
                yield line, DatasetProblem(line, "more cells than the header has columns; skipped")
                continue
            yield line, {k: v for k, v in record.items() if k is not None}
