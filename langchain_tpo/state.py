"""Graph state of one TPO run, and the pydantic result models users receive.

The graph state holds plain dicts (checkpoint-friendly); `TPOResult.from_state` turns the final
state into typed models.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, NotRequired, Required

from langchain_core.messages import AnyMessage
from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict


def add_usage(left: dict[str, int] | None, right: dict[str, int] | None) -> dict[str, int]:
    """Reducer of token usage: add the counts key by key."""
    total = dict(left or {})
    for key, value in (right or {}).items():
        total[key] = total.get(key, 0) + value
    return total


class CandidateDict(TypedDict):
    """One scored response in the cache."""

    text: str
    score: float
    iteration: int
    feedback: str | None


class StepDict(TypedDict, total=False):
    """The iteration in progress: what the critique, suggest and rewrite nodes produced."""

    iteration: int
    chosen: CandidateDict
    rejected: CandidateDict | None
    critique: str
    suggestion: str


class IterationDict(StepDict, total=False):
    """A finished iteration, as recorded in `history`."""

    candidates: list[CandidateDict]
    marker_misses: int
    prompt_echoes: int
    empty_outputs: int


class TPOInput(TypedDict, total=False):
    """What a TPO graph is invoked with."""

    query: Required[str]
    """The user's request (the last human turn)."""
    context: list[AnyMessage]
    """Earlier turns of the conversation; every prompt carries them."""
    drafts: list[str]
    """Responses to seed the cache with (scored as iteration -1 next to the first samples)."""


class TPOState(TPOInput, total=False):
    """The shared state the nodes read and update."""

    settings: dict[str, Any]
    """The run's effective TPOConfig (after per-call overrides), as a dict."""
    round: int
    """Iteration the texts in `pending` belong to (-1 for the initial samples)."""
    pending: list[str]
    """Texts produced by `sample` or `rewrite`, waiting for `score`."""
    candidates: Annotated[list[CandidateDict], operator.add]
    """The cache: every scored response of this query, all iterations."""
    step: StepDict
    history: Annotated[list[IterationDict], operator.add]
    best_scores: Annotated[list[float], operator.add]
    """Best reward in the cache after the initial round and after each iteration."""
    model_calls: Annotated[int, operator.add]
    marker_misses: Annotated[int, operator.add]
    prompt_echoes: Annotated[int, operator.add]
    empty_outputs: Annotated[int, operator.add]
    failures: Annotated[int, operator.add]
    usage: Annotated[dict[str, int], add_usage]
    """Token usage of every policy request (input, output, total), where the model reports it."""
    warnings: Annotated[list[str], operator.add]
    stop_reason: NotRequired[str]


class Candidate(BaseModel):
    """A response in the cache with its reward."""

    model_config = ConfigDict(frozen=True)

    text: str
    score: float
    iteration: int
    """TPO iteration that produced it; -1 for the initial samples (and seeded drafts)."""
    feedback: str | None = None
    """The reward model's remarks on the response, when it gives any."""


class IterationRecord(BaseModel):
    """What one TPO iteration did."""

    model_config = ConfigDict(frozen=True)

    iteration: int
    chosen: Candidate
    """Best response in the cache when the iteration started."""
    rejected: Candidate | None
    """Worst response in the cache (None in revision mode, or while the cache holds one text)."""
    critique: str
    """The textual loss."""
    suggestion: str
    """The textual gradient."""
    candidates: list[Candidate]
    """The rewrites this iteration produced (usable ones), with their rewards."""
    marker_misses: int = 0
    """Rewrites that lacked the response markers and were used whole."""
    prompt_echoes: int = 0
    """Rewrites that went on to repeat the rewrite prompt's lines; cut before the first."""
    empty_outputs: int = 0
    """Rewrites that came back empty and could not be used."""


class TPOResult(BaseModel):
    """The outcome of a TPO run.

    `response` is the best-scored candidate of the whole cache. When streaming, partial results
    arrive as the run goes (`done=False`); adding two results keeps the later one.
    """

    query: str
    response: str
    """The best-scored response ("" only when no usable response was produced)."""
    score: float | None
    """Its reward (None only when no usable response was produced)."""
    candidates: list[Candidate] = Field(default_factory=list)
    history: list[IterationRecord] = Field(default_factory=list)
    best_scores: list[float] = Field(default_factory=list)
    """Best reward so far: after the initial samples, then after each iteration."""
    model_calls: int = 0
    """Policy requests made (a request for N samples through `n` counts once)."""
    marker_misses: int = 0
    """Rewrites without the response markers, used whole."""
    prompt_echoes: int = 0
    """Rewrites cut before lines that repeated the rewrite prompt (see `parsing`)."""
    empty_outputs: int = 0
    """Samples and rewrites with no usable text (empty, or nothing left before an echo)."""
    failures: int = 0
    """Policy requests that failed and were skipped (the run went on with the others)."""
    usage: dict[str, int] = Field(default_factory=dict)
    """Token usage of all policy requests summed (`input_tokens`, `output_tokens`,
    `total_tokens`), where the policy reports it; empty when it does not."""
    stop_reason: str | None = None
    """Why the loop ended: max_iterations, target_score, patience, bon, no_usable_response."""
    warnings: list[str] = Field(default_factory=list)
    done: bool = True

    def __add__(self, other: Any) -> TPOResult:
        """Stream chunks are snapshots: the later one replaces the earlier."""
        if isinstance(other, TPOResult):
            return other
        return NotImplemented

    @property
    def iterations(self) -> int:
        """Number of completed TPO iterations."""
        return len(self.history)

    @classmethod
    def from_state(cls, state: TPOState | dict[str, Any], *, done: bool = True) -> TPOResult:
        """Build a result from a (final or intermediate) graph state."""
        candidates = [Candidate(**c) for c in state.get("candidates", [])]
        best = best_candidate(state.get("candidates", []))
        history = [_record(h) for h in state.get("history", [])]
        return cls(
            query=state.get("query", ""),
            response=best["text"] if best else "",
            score=best["score"] if best else None,
            candidates=candidates,
            history=history,
            best_scores=list(state.get("best_scores", [])),
            model_calls=state.get("model_calls", 0),
            marker_misses=state.get("marker_misses", 0),
            prompt_echoes=state.get("prompt_echoes", 0),
            empty_outputs=state.get("empty_outputs", 0),
            failures=state.get("failures", 0),
            usage=dict(state.get("usage") or {}),
            stop_reason=state.get("stop_reason"),
            warnings=list(state.get("warnings", [])),
            done=done,
        )


def best_candidate(candidates: list[CandidateDict]) -> CandidateDict | None:
    """Highest reward; the earliest wins a tie."""
    if not candidates:
        return None
    return max(candidates, key=lambda c: c["score"])


def worst_candidate(candidates: list[CandidateDict]) -> CandidateDict | None:
    """Lowest reward; the earliest wins a tie."""
    if not candidates:
        return None
    return min(candidates, key=lambda c: c["score"])


def _record(h: IterationDict) -> IterationRecord:
    rejected = h.get("rejected")
    return IterationRecord(
        iteration=h["iteration"],
        chosen=Candidate(**h["chosen"]),
        rejected=Candidate(**rejected) if rejected else None,
        critique=h.get("critique", ""),
        suggestion=h.get("suggestion", ""),
        candidates=[Candidate(**c) for c in h.get("candidates", [])],
        marker_misses=h.get("marker_misses", 0),
        prompt_echoes=h.get("prompt_echoes", 0),
        empty_outputs=h.get("empty_outputs", 0),
    )
