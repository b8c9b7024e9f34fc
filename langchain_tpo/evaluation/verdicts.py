"""Verdicts of `tpo judge`: the file format, writing it durably, and the summaries a report uses.

A verdicts file is JSON Lines. Its first line is a header naming the file's kind and the
settings every verdict in it was made with:

    {"langchain_tpo": "verdicts", "format": 1, "settings": {...}}

`settings` holds `task` ("pairwise" or "refusal"), `judge` (the judge model, with any
credentials stripped from a server URL), `judge_prompt` (a fingerprint of the judge's prompt
text), `max_tokens` and `temperature` (the judge's sampling settings), `a_label` (the judged
run) and, for pairwise files, `b_label` (the run it is compared with, "reference" for the
dataset's reference answers). A resumed run must have the same settings.

Every later line is one prompt's verdict, appended when the prompt is fully judged.

Pairwise row (run A against run B):

- `id`, `prompt`: the prompt.
- `fingerprint`: a hash of the prompt and both answers; resuming checks the answers of the
  prompts already judged did not change.
- `a_length`, `b_length`: the answers' lengths in characters (for the length-controlled
  win rate).
- `identical`: the two answers are the same text. Such a pair is not sent to the judge and
  counts as a tie; it is left out of the position-bias figures.
- `judgments`: two objects, one per presentation order (position bias is measured, not
  assumed away):
    - `first`: "a" or "b", the run whose answer the judge saw first (as "Answer A");
    - `verdict`: "a", "b" or "tie", in terms of the runs whatever the order, or null when
      the judge gave no readable verdict, even when asked again;
    - `reasoning`: the judge's reasons (the rest of its reply after the verdict line, or its
      first reply when it had to be asked again);
    - `outputs`: every raw reply of the judge for this order, first reply first.
- `preference`: A's score, the mean over the orders with a verdict of a: 1, tie: 0.5, b: 0
  (so 0, 0.25, 0.5, 0.75 or 1), null when neither order has a verdict.
- `outcome`: for A, "win" (preference above 0.5), "tie" (exactly 0.5) or "loss", or null.
- `consistent`: both orders gave the same verdict (null unless both have one).

Refusal row (each answer of run A classified, for XSTest):

- `id`, `prompt`, `fingerprint` (a hash of the prompt and the answer), `response_length`.
- `label`: the judge's label, "comply", "refuse" or "partial" (declines part of the request,
  or declines and then complies anyway), or null when it gave none even when asked again.
- `reasoning`, `outputs`: as in a pairwise judgment.
- `judge_refusal`: the label is "refuse" or "partial"; null when there is no label.
- `rule_kind`, `rule_refusal`: the answer's kind by the published string rule
  (`langchain_tpo.answer_kinds`) and whether that kind is "refusal".
- `refusal`, `source`: the judge's call where it gave a label (`source` "judge"), else the
  rule's (`source` "rule").

The file is written like `tpo eval` results: each row is appended, flushed and fsynced
before the prompt counts as done, under an exclusive lock. A file is validated as a verdicts
file before anything in it is changed; only then is a line cut short by a killed run removed.
Re-running the same command skips the prompts already judged, so nothing is lost or written
twice.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from langchain_tpo.answer_kinds import answer_kind
from langchain_tpo.evaluation.length_control import length_controlled_win_rate

KIND = "verdicts"
FORMAT = 1
PAIRWISE = "pairwise"
REFUSAL = "refusal"
REFUSAL_LABELS = ("comply", "refuse", "partial")
"""The judge's refusal labels; "refuse" and "partial" count as refusals."""


# -- rows -----------------------------------------------------------------------------------

_SCORE = {"a": 1.0, "tie": 0.5, "b": 0.0}


def fingerprint(*texts: str) -> str:
    """A short hash of the texts a verdict was made on."""
    return hashlib.sha256(json.dumps(texts, ensure_ascii=False).encode("utf-8")).hexdigest()[:16]


def pairwise_row(
    *, prompt_id: str, prompt: str, a: str, b: str, judgments: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The verdict row of one prompt (see the module docstring).

    Args:
        prompt_id: The prompt id.
        prompt: The prompt.
        a: Run A's answer.
        b: Run B's answer.
        judgments: One per presentation order: `first`, `verdict`, `reasoning`, `outputs`.
    """
    verdicts = [j.get("verdict") for j in judgments]
    for verdict in verdicts:
        if verdict is not None and verdict not in _SCORE:
            msg = f"A verdict is 'a', 'b', 'tie' or None, not {verdict!r}."
            raise ValueError(msg)
    scores = [_SCORE[v] for v in verdicts if v is not None]
    preference = statistics.fmean(scores) if scores else None
    outcome = None
    if preference is not None:
        outcome = "win" if preference > 0.5 else "loss" if preference < 0.5 else "tie"
    both = len(verdicts) == 2 and None not in verdicts
    return {
        "id": prompt_id,
        "prompt": prompt,
        "fingerprint": fingerprint(prompt, a, b),
        "a_length": len(a),
        "b_length": len(b),
        "identical": a == b,
        "judgments": [dict(j) for j in judgments],
        "preference": preference,
        "outcome": outcome,
        "consistent": (verdicts[0] == verdicts[1]) if both else None,
    }


def refusal_row(
    *,
    prompt_id: str,
    prompt: str,
    response: str,
    label: str | None,
    reasoning: str,
    outputs: Sequence[str],
) -> dict[str, Any]:
    """The refusal row of one answer (see the module docstring)."""
    if label is not None and label not in REFUSAL_LABELS:
        msg = f"A refusal label is one of {REFUSAL_LABELS} or None, not {label!r}."
        raise ValueError(msg)
    kind = answer_kind(response)
    judge_refusal = None if label is None else label in ("refuse", "partial")
    rule_refusal = kind == "refusal"
    return {
        "id": prompt_id,
        "prompt": prompt,
        "fingerprint": fingerprint(prompt, response),
        "response_length": len(response),
        "label": label,
        "reasoning": reasoning,
        "outputs": list(outputs),
        "judge_refusal": judge_refusal,
        "rule_kind": kind,
        "rule_refusal": rule_refusal,
        "refusal": rule_refusal if judge_refusal is None else judge_refusal,
        "source": "rule" if judge_refusal is None else "judge",
    }


# -- summaries --------------------------------------------------------------------------------


@dataclass(frozen=True)
class JudgedSummary:
    """Judged comparison of run A against run B, from a pairwise verdicts file.

    Rates are fractions in [0, 1]. `wins`, `ties` and `losses` count prompts by their
    `outcome`; `win_rate` is the mean `preference`, so a prompt split between the two orders
    counts half and one won in one order and tied in the other counts 0.75 (the same
    quantity the length-controlled rate is fitted on).
    """

    judge: str
    a_label: str
    b_label: str
    n: int
    """Prompts with a verdict in at least one order."""
    wins: int
    ties: int
    losses: int
    win_rate: float
    """Mean preference for A over the `n` prompts (NaN when `n` is 0)."""
    lc_win_rate: float | None
    """Length-controlled win rate (`evaluation.length_control`), None when the data don't
    determine one."""
    position_agreement: float | None
    """Share of prompts whose two presentation orders gave the same verdict (identical
    answers left out); None when no prompt has both."""
    invalid: int = 0
    """Prompts with no readable verdict in either order (not in `n`)."""
    first_position_rate: float | None = None
    """Of the judgments that picked a side, the share that picked the answer shown first
    (0.5: no position bias); None when there are none."""


@dataclass(frozen=True)
class RefusalSummary:
    """Refusals of one run's answers, by the judge and by the string rule."""

    judge: str
    label: str
    n: int
    """Answers classified."""
    judged: int
    """Answers the judge gave a label to."""
    judge_refusals: int
    rule_refusals: int
    refusals: int
    """By the judge where it gave a label, else by the rule."""
    agreement: float | None
    """Share of the judge-labelled answers where judge and rule agree; None when none."""


def summarize_verdicts(path: str | Path) -> JudgedSummary:
    """Win counts, win rate, length-controlled win rate and position agreement of a file.

    Raises:
        FileNotFoundError: No such file.
        ValueError: Not a pairwise verdicts file of `tpo judge`, or a malformed row.
    """
    settings, rows = read_verdicts(path)
    _expect_task(path, settings, PAIRWISE)
    judged = [r for r in rows if r.get("preference") is not None]
    preferences = [float(r["preference"]) for r in judged]
    outcomes = [r.get("outcome") for r in judged]
    both = [r for r in rows if r.get("consistent") is not None and not r.get("identical")]
    decisive = [
        j
        for r in rows
        if not r.get("identical")
        for j in r.get("judgments", [])
        if j.get("verdict") in ("a", "b")
    ]
    return JudgedSummary(
        judge=str(settings.get("judge", "?")),
        a_label=str(settings.get("a_label", "A")),
        b_label=str(settings.get("b_label", "B")),
        n=len(judged),
        wins=outcomes.count("win"),
        ties=outcomes.count("tie"),
        losses=outcomes.count("loss"),
        win_rate=statistics.fmean(preferences) if preferences else math.nan,
        lc_win_rate=length_controlled_win_rate(
            preferences, [int(r["a_length"]) for r in judged], [int(r["b_length"]) for r in judged]
        ),
        position_agreement=(sum(bool(r["consistent"]) for r in both) / len(both) if both else None),
        invalid=len(rows) - len(judged),
        first_position_rate=(
            sum(j["verdict"] == j["first"] for j in decisive) / len(decisive) if decisive else None
        ),
    )


def refusal_labels(path: str | Path) -> dict[str, bool]:
    """Prompt id -> whether the answer is a refusal, from a refusal verdicts file.

    The judge's call (label "refuse" or "partial") where it gave a label, else the string
    rule's (each row's `refusal`; see the module docstring).

    Raises:
        FileNotFoundError: No such file.
        ValueError: Not a refusal verdicts file of `tpo judge`, or a malformed row.
    """
    settings, rows = read_verdicts(path)
    _expect_task(path, settings, REFUSAL)
    return {str(r["id"]): bool(r["refusal"]) for r in rows}


def summarize_refusals(path: str | Path) -> RefusalSummary:
    """Refusal counts by the judge and by the rule, and how often they agree."""
    settings, rows = read_verdicts(path)
    _expect_task(path, settings, REFUSAL)
    judged = [r for r in rows if r.get("judge_refusal") is not None]
    return RefusalSummary(
        judge=str(settings.get("judge", "?")),
        label=str(settings.get("a_label", "?")),
        n=len(rows),
        judged=len(judged),
        judge_refusals=sum(bool(r["judge_refusal"]) for r in judged),
        rule_refusals=sum(bool(r.get("rule_refusal")) for r in rows),
        refusals=sum(bool(r.get("refusal")) for r in rows),
        agreement=(
            sum(r["judge_refusal"] == r.get("rule_refusal") for r in judged) / len(judged)
            if judged
            else None
        ),
    )


def _expect_task(path: str | Path, settings: Mapping[str, Any], task: str) -> None:
    found = settings.get("task")
    if found != task:
        other = "refusal_labels / summarize_refusals" if found == REFUSAL else "summarize_verdicts"
        msg = f"{path} holds {found} verdicts, not {task} ones; read it with {other}."
        raise ValueError(msg)


# -- reading ----------------------------------------------------------------------------------


def read_verdicts(path: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The header settings and the complete rows of a verdicts file (read only).

    A last line cut short by a killed run is ignored.

    Raises:
        FileNotFoundError: No such file.
        ValueError: Not a verdicts file of `tpo judge`, or a row is not a JSON object with an id.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"Verdicts file not found: {path}"
        raise FileNotFoundError(msg)
    data = path.read_bytes()
    settings = _header_settings(path, data)
    complete = data[: data.rfind(b"\n") + 1]
    return settings, _parse_rows(path, complete)


def _header_settings(path: Path, data: bytes) -> dict[str, Any]:
    first = data.split(b"\n", 1)[0]
    try:
        header = json.loads(first)
    except ValueError:
        header = None
    if not isinstance(header, dict) or "langchain_tpo" not in header:
        msg = (
            f"{path} is not a verdicts file of `tpo judge` (its first line is not a "
            '{"langchain_tpo": "verdicts", ...} header).'
        )
        raise ValueError(msg)
    if header["langchain_tpo"] != KIND:
        msg = f"{path} is a {header['langchain_tpo']} file of langchain-tpo, not a verdicts file."
        raise ValueError(msg)
    if header.get("format") != FORMAT:
        msg = (
            f"{path} is a verdicts file of format {header.get('format')!r}; this version reads "
            f"format {FORMAT}."
        )
        raise ValueError(msg)
    settings = header.get("settings")
    if not isinstance(settings, dict):
        msg = f"{path}: the header has no settings object."
        raise ValueError(msg)
    return settings


def _parse_rows(path: Path, complete: bytes) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    lines = complete.decode("utf-8", errors="replace").splitlines()
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as e:
            msg = f"{path} line {number} is not valid JSON ({e}); fix or remove it."
            raise ValueError(msg) from e
        if not isinstance(row, dict) or "id" not in row:
            msg = f"{path} line {number} is not a verdict (a JSON object with an id)."
            raise ValueError(msg)
        rows.append(row)
    return rows


# -- writing ----------------------------------------------------------------------------------


class VerdictsFile:
    """Append-only, resumable verdicts; validates that an existing file is ours first.

    Example:
        ```python
        with VerdictsFile("verdicts.jsonl", settings) as out:
            for item in items:
                if item.id not in out.done:
                    out.append(row_for(item))
        ```
    """

    def __init__(self, path: str | Path, settings: Mapping[str, Any]) -> None:
        """Describe the file; `open()` (or `with`) locks, validates and reads it."""
        self.path = Path(path)
        self.settings = dict(settings)
        self.done: dict[str, dict[str, Any]] = {}
        """Prompt id -> its row, for the rows already in the file."""
        self.repaired = False
        """True when a line cut short by an earlier kill was removed on opening."""
        self._file: Any = None

    def __enter__(self) -> Self:
        if self._file is None:
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
        """Lock the file; write the header to a new file, else validate, repair and read it.

        Raises:
            RuntimeError: Another run holds the lock.
            ValueError: The file is not a verdicts file, or its settings differ (nothing in
                the file was changed).
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+b")  # creates a missing file, changes no existing byte
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            msg = f"{self.path} is being written by another run; wait for it or use another --out."
            raise RuntimeError(msg) from None
        self._file = handle
        try:
            self._load()
        except BaseException:
            self.close()
            raise

    def _load(self) -> None:
        self._file.seek(0)
        data = self._file.read()
        if not data or (b"\n" not in data and data.startswith(b'{"langchain_tpo": "verdicts"')):
            # New, or only a header cut short by a kill: start the file.
            self._file.truncate(0)
            header = {"langchain_tpo": KIND, "format": FORMAT, "settings": self.settings}
            self._write(json.dumps(header, ensure_ascii=False) + "\n")
            return
        found = _header_settings(self.path, data)
        differ = {
            k: (found.get(k), self.settings.get(k))
            for k in sorted(set(found) | set(self.settings))
            if found.get(k) != self.settings.get(k)
        }
        if differ:
            details = ", ".join(f"{k}: file has {a!r}, now {b!r}" for k, (a, b) in differ.items())
            msg = (
                f"{self.path} holds verdicts made with other settings ({details}). Resume with "
                "the same settings, or write to another --out file."
            )
            raise ValueError(msg)
        complete = data[: data.rfind(b"\n") + 1]
        rows = _parse_rows(self.path, complete)
        if len(complete) != len(data):
            self._file.truncate(len(complete))
            self._fsync()
            self.repaired = True
        for row in rows:
            self.done.setdefault(str(row["id"]), row)

    def append(self, row: Mapping[str, Any]) -> None:
        """Write one verdict durably."""
        if self._file is None:
            msg = "Open the verdicts file first."
            raise RuntimeError(msg)
        self._write(json.dumps(row, ensure_ascii=False) + "\n")
        self.done[str(row["id"])] = dict(row)

    def _write(self, line: str) -> None:
        self._file.write(line.encode("utf-8"))
        self._fsync()

    def _fsync(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        """Release the lock."""
        if self._file is not None:
            self._file.close()
            self._file = None
