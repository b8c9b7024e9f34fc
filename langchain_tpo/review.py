"""Human in the loop: a person reviews the critique and rewrite steps of a TPO run.

With review points switched on (`create_tpo_graph(..., human_review=("critique", "rewrite"))`),
the graph pauses with LangGraph's `interrupt()`:

- before **critique**, showing the cache and the chosen / rejected pair. Resume with
  `Command(resume={...})` holding any of `chosen` and `rejected` (indices into the shown
  `candidates`; `rejected: None` critiques the chosen answer alone) and `critique` (the
  person's own critique: the model's critique request is then skipped).
  `Command(resume=True)` accepts the proposal as it is (LangGraph treats an empty resume value
  as none at all, so `{}` would not resume).
- before **rewrite**, showing the critique and the suggestions. Resume with any of
  `critique` and `suggestion` (edited text; the rewrite request carries the edit).

A decision that can't be used (an index out of range, an unknown key) does not fail the run:
the graph pauses again, showing the same request with an `error` that says what was wrong.
The graph needs a checkpointer; a SQLite one makes the pause durable across processes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar

from langgraph.types import interrupt

from langchain_tpo.errors import TPOInputError
from langchain_tpo.state import CandidateDict, StepDict

ReviewPoint = Literal["critique", "rewrite"]
REVIEW_POINTS: tuple[ReviewPoint, ...] = ("critique", "rewrite")

T = TypeVar("T")
_CRITIQUE_KEYS = {"chosen", "rejected", "critique"}
_REWRITE_KEYS = {"critique", "suggestion"}


def check_review_points(points: Any) -> frozenset[str]:
    """The review points asked for, checked: any of "critique" and "rewrite"."""
    if isinstance(points, str):
        points = (points,)
    chosen = frozenset(points or ())
    unknown = chosen - set(REVIEW_POINTS)
    if unknown:
        msg = (
            f"Unknown review point(s) {sorted(unknown)}; human_review takes any of "
            f"{list(REVIEW_POINTS)}."
        )
        raise ValueError(msg)
    return chosen


def ask(request: dict[str, Any], apply: Callable[[Any], T]) -> T:
    """Pause for the person's decision and apply it; ask again, with the error, until it fits.

    Each call of `interrupt()` in a node takes the next resume value, so a second pause gets
    the person's second answer.
    """
    while True:
        decision = interrupt(request)
        try:
            return apply(decision)
        except TPOInputError as e:
            request = {**request, "error": str(e)}


def critique_request(query: str, cache: list[CandidateDict], step: StepDict) -> dict[str, Any]:
    """What the person sees before the critique."""
    rejected = step.get("rejected")
    return {
        "review": "critique",
        "iteration": step["iteration"],
        "query": query,
        "candidates": [
            {"index": i, "text": c["text"], "score": c["score"], "iteration": c["iteration"]}
            for i, c in enumerate(cache)
        ],
        "chosen": _index(cache, step["chosen"]),
        "rejected": _index(cache, rejected) if rejected is not None else None,
        "how_to_resume": (
            'Command(resume={"chosen": i, "rejected": j or None, "critique": "..."}); any key '
            "may be left out; Command(resume=True) accepts the proposal."
        ),
    }


def _index(cache: list[CandidateDict], candidate: CandidateDict) -> int | None:
    return next((i for i, c in enumerate(cache) if c == candidate), None)


def apply_critique_review(step: StepDict, cache: list[CandidateDict], decision: Any) -> StepDict:
    """The step after the person's decision before the critique."""
    values = _decision(decision, _CRITIQUE_KEYS, "critique")
    step = dict(step)  # type: ignore[assignment]
    edits = list(step.get("human_edits", []))
    if "chosen" in values:
        step["chosen"] = _candidate(cache, values["chosen"], "chosen")
        edits.append("chosen")
    if "rejected" in values:
        given = values["rejected"]
        step["rejected"] = None if given is None else _candidate(cache, given, "rejected")
        edits.append("rejected")
    if "critique" in values:
        step["critique"] = _text(values["critique"], "critique")
        edits.append("critique")
    step["human_edits"] = edits
    return step


def rewrite_request(query: str, step: StepDict) -> dict[str, Any]:
    """What the person sees before the rewrite."""
    return {
        "review": "rewrite",
        "iteration": step["iteration"],
        "query": query,
        "chosen": step["chosen"]["text"],
        "critique": step.get("critique", ""),
        "suggestion": step.get("suggestion", ""),
        "how_to_resume": (
            'Command(resume={"suggestion": "...", "critique": "..."}); any key may be left '
            "out; Command(resume=True) accepts."
        ),
    }


def apply_rewrite_review(step: StepDict, decision: Any) -> StepDict:
    """The step after the person's decision before the rewrite."""
    values = _decision(decision, _REWRITE_KEYS, "rewrite")
    step = dict(step)  # type: ignore[assignment]
    edits = list(step.get("human_edits", []))
    for key in ("critique", "suggestion"):
        if key in values:
            step[key] = _text(values[key], key)
            edits.append(key)
    step["human_edits"] = edits
    return step


def _decision(decision: Any, allowed: set[str], point: str) -> dict[str, Any]:
    if decision is None or decision is True:
        return {}
    if not isinstance(decision, Mapping):
        msg = (
            f"The {point} review expects a dict with any of {sorted(allowed)}, or True to "
            f"accept; got {decision!r}."
        )
        raise TPOInputError(msg)
    unknown = set(decision) - allowed
    if unknown:
        msg = f"The {point} review takes {sorted(allowed)}; unknown key(s) {sorted(unknown)}."
        raise TPOInputError(msg)
    return dict(decision)


def _candidate(cache: list[CandidateDict], index: Any, key: str) -> CandidateDict:
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(cache):
        msg = (
            f"{key!r} must be the index of one of the {len(cache)} shown candidates "
            f"(0 to {len(cache) - 1}); got {index!r}."
        )
        raise TPOInputError(msg)
    return cache[index]


def _text(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        msg = f"{key!r} must be non-empty text; got {value!r}."
        raise TPOInputError(msg)
    return value.strip()
