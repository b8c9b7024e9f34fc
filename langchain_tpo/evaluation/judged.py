"""Verdict files of `tpo judge`, read through `evaluation.verdicts`, linked to the runs judged.

`tpo judge` (in `langchain_tpo.evaluation.verdicts`) owns the verdict format; the report only
calls its two readers:

- `summarize_verdicts(path) -> JudgedSummary` (judge, a_label, b_label, n, wins, ties, losses,
  win_rate, lc_win_rate or None, position_agreement), for pairwise verdicts;
- `refusal_labels(path) -> dict[str, bool]` (prompt id -> judged refusal), for XSTest.

A verdict file belongs to the run whose name, label or path is its `a_label` (from the summary,
or for refusal files from the header's settings); when several
runs answer to that name (the same mode on several benchmarks), the one sharing the most prompt
ids with the verdict file is taken.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_tpo.evaluation.record_file import iter_records, read_header
from langchain_tpo.evaluation.runs import Run, file_stem


@dataclass
class VerdictFile:
    """One verdict file and what the report takes from it."""

    path: Path
    summary: Any | None = None
    """The `JudgedSummary` of pairwise verdicts (None when the file has none)."""
    refusals: dict[str, bool] = field(default_factory=dict)
    """Prompt id -> judged refusal (empty when the file has none)."""
    judge_labelled: int | None = None
    """How many answers the judge itself labelled, where the reader says (`tpo judge` falls
    back to the string rule for answers the judge gave no readable label)."""
    run: Run | None = None
    """The run judged (its answers are side A), when found."""

    @property
    def against_reference(self) -> bool:
        b = str(getattr(self.summary, "b_label", "") or "").lower()
        return "reference" in b or "baseline" in b


def _verdicts_module() -> Any:
    try:
        return importlib.import_module("langchain_tpo.evaluation.verdicts")
    except ImportError:
        msg = (
            "--verdicts needs `tpo judge`'s reader (langchain_tpo.evaluation.verdicts), which "
            "this installation does not have."
        )
        raise ValueError(msg) from None


def _names(run: Run) -> set[str]:
    names = {run.label, run.name}
    for path in run.paths:
        names |= {str(path), path.name, path.stem, file_stem(path), str(path.resolve())}
    return names


def _ids(path: Path) -> set[str]:
    try:
        return {str(r["id"]) for r in iter_records(path, "verdicts")}
    except (ValueError, OSError, KeyError):
        return set()


def load_verdicts(paths: Sequence[str | Path], runs: Sequence[Run]) -> list[VerdictFile]:
    """Read each verdict file with `tpo judge`'s readers and find the run it judged.

    Raises:
        ValueError: The readers are missing, or a file is neither pairwise nor refusal verdicts.
        FileNotFoundError: A file does not exist.
    """
    if not paths:
        return []
    module = _verdicts_module()
    out = []
    for given in paths:
        path = Path(given)
        if not path.is_file():
            msg = f"Verdict file not found: {path}"
            raise FileNotFoundError(msg)
        found = VerdictFile(path)
        errors = []
        try:
            found.summary = module.summarize_verdicts(path)
        except (ValueError, KeyError, TypeError) as e:
            errors.append(str(e))
        try:
            found.refusals = dict(module.refusal_labels(path))
        except (ValueError, KeyError, TypeError) as e:
            errors.append(str(e))
        summarize_refusals = getattr(module, "summarize_refusals", None)
        if found.refusals and callable(summarize_refusals):
            try:
                found.judge_labelled = int(summarize_refusals(path).judged)
            except (ValueError, KeyError, TypeError, AttributeError):
                found.judge_labelled = None
        if found.summary is None and not found.refusals:
            msg = f"{path} holds neither pairwise nor refusal verdicts ({'; '.join(errors)})."
            raise ValueError(msg)
        found.run = _judged_run(found, runs)
        out.append(found)
    return out


def _a_label(verdicts: VerdictFile) -> str:
    """Side A's label: from the summary, else from the file's header settings."""
    label = getattr(verdicts.summary, "a_label", None)
    if label is None:
        try:
            label = read_header(verdicts.path, "verdicts").settings.get("a_label")
        except (ValueError, OSError):
            label = None
    return str(label or "")


def _judged_run(verdicts: VerdictFile, runs: Sequence[Run]) -> Run | None:
    label = _a_label(verdicts)
    candidates = [run for run in runs if label and label in _names(run)]
    ids = set(verdicts.refusals) or _ids(verdicts.path)
    if not candidates and ids:  # no name to go by: the run whose prompts these are
        candidates = [run for run in runs if ids <= {str(r["id"]) for r in run.rows}]
        if len(candidates) > 1:
            return None
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    overlap = [(len(ids & {str(r["id"]) for r in run.rows}), run) for run in candidates]
    overlap.sort(key=lambda pair: -pair[0])
    if overlap[0][0] > 0 and (len(overlap) == 1 or overlap[0][0] > overlap[1][0]):
        return overlap[0][1]
    return None
