"""Graph state of one TPO run, and the pydantic result models users receive.

Three views of the same state, as LangGraph separates them:

- `TPOInput`: what a run is started with (`query`, optional `context` and `drafts`);
- `TPOOutput`: what a run returns (the answer, its score, the scored cache, a compact history,
  counts and why it stopped);
- `TPOState`: both plus the run's private working fields (settings, pending texts, the
  iteration in progress, the thread's turns).

The graph is a straight loop with one writer per step, so every field holds its latest value
(no reducers): each node writes the whole new value, and the first node of a run writes a
fresh value of every per-run field. A new input on a thread therefore starts a clean run.
`TPOResult.from_state` turns a (final or partial) state into typed models.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, NotRequired, Required

from langchain_core.messages import AnyMessage
from pydantic import BaseModel, ConfigDict, Field, field_serializer
from typing_extensions import TypedDict

if TYPE_CHECKING:
    from langchain_tpo.structured import AnswerSchema

COUNTERS = (
    "model_calls",
    "marker_misses",
    "prompt_echoes",
    "lead_ins",
    "scaffold_cuts",
    "empty_outputs",
    "failures",
    "retries",
    "thinking_cutoffs",
    "invalid_outputs",
)
"""Per-run counts, each an int in the state and in `TPOResult`."""


class CandidateDict(TypedDict):
    """One scored response in the cache."""

    text: str
    score: float
    iteration: int
    feedback: str | None
    components: NotRequired[dict[str, float] | None]
    """Raw scores of a combined reward's parts (absent in checkpoints of older runs)."""
    thinking: NotRequired[str | None]
    """The policy's thinking before this answer (kept, never scored or shown to it again)."""


class PendingDict(TypedDict):
    """A response waiting to be scored: the answer and the thinking that came before it."""

    text: str
    thinking: str | None


class StepDict(TypedDict, total=False):
    """The iteration in progress: what the critique, suggest and rewrite nodes produced."""

    iteration: int
    chosen: CandidateDict
    rejected: CandidateDict | None
    critique: str
    suggestion: str
    human_edits: list[str]
    """What a person changed at a review point: "chosen", "rejected", "critique", "suggestion"."""


class IterationDict(StepDict, total=False):
    """A finished iteration, as recorded in `history` (its rewrites are in the cache)."""

    marker_misses: int
    prompt_echoes: int
    lead_ins: int
    scaffold_cuts: int
    empty_outputs: int
    thinking_cutoffs: int
    invalid_outputs: int


class TPOInput(TypedDict, total=False):
    """What a TPO graph is invoked with."""

    query: Required[str]
    """The user's request (the last human turn)."""
    context: list[AnyMessage]
    """Earlier turns of the conversation (anything `convert_to_messages` reads)."""
    drafts: list[str]
    """Responses to seed the cache with (scored as iteration -1 next to the first samples)."""


class TPOOutput(TypedDict, total=False):
    """What a TPO graph returns."""

    query: Required[str]
    answer: str
    """The best-scored response of the run ("" when there is none)."""
    score: float | None
    """Its reward."""
    best_scores: list[float]
    """Best reward in the cache after the initial round and after each iteration."""
    candidates: list[CandidateDict]
    """The cache: every scored response of this run, all iterations."""
    history: list[IterationDict]
    """Per iteration: chosen, rejected, critique, suggestion and counts."""
    stop_reason: str | None
    error: str | None
    """Why a stage failed, when `stop_reason` is `stage_failed`."""
    warnings: list[str]
    usage: dict[str, int]
    """Token usage of every policy request (input, output, total), where the model reports it."""
    model_calls: int
    marker_misses: int
    prompt_echoes: int
    lead_ins: int
    scaffold_cuts: int
    empty_outputs: int
    failures: int
    retries: int
    thinking_cutoffs: int
    invalid_outputs: int


class TPOState(TPOInput, TPOOutput, total=False):
    """The shared state the nodes read and update."""

    settings: dict[str, Any]
    """The run's effective TPOConfig (defaults, then `configurable`, then the run context)."""
    conversation: list[AnyMessage]
    """Everything before the query in this run: the thread's earlier turns, then `context`."""
    turns: list[AnyMessage]
    """The thread's conversation so far: each finished run adds its query and answer."""
    deadline: float | None
    """Wall-clock time (`time.time()`) at which the run stops (`TPOConfig.timeout_s`)."""
    round: int
    """Iteration the texts in `pending` belong to (-1 for the initial samples)."""
    pending: list[PendingDict]
    """Answers produced by `sample` or `rewrite` (or given as drafts), waiting for `score`."""
    step: StepDict


class Candidate(BaseModel):
    """A response in the cache with its reward."""

    model_config = ConfigDict(frozen=True)

    text: str
    score: float
    iteration: int
    """TPO iteration that produced it; -1 for the initial samples (and seeded drafts)."""
    feedback: str | None = None
    """The reward model's remarks on the response, when it gives any."""
    components: dict[str, float] | None = None
    """A combined reward's parts, each one's raw score before weighting (for example
    `{"helpfulness": 2.1, "harmlessness": -0.4}`): why this response scored as it did."""
    thinking: str | None = None
    """What the policy thought before writing this answer (None: it showed no thinking).
    Never scored, compared or sent back to the model."""


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
    """Rewrites that lacked the response markers (only asked for by marker-style prompts)."""
    prompt_echoes: int = 0
    """Rewrites that went on to repeat the rewrite prompt's lines; cut before the first."""
    lead_ins: int = 0
    """Rewrites that opened with a line announcing the answer ("Here is the improved
    answer:"); the line was cut."""
    scaffold_cuts: int = 0
    """Rewrites that wrapped an answer in paragraphs of talk about it ("The user asked ...");
    those paragraphs were cut."""
    empty_outputs: int = 0
    """Rewrites that came back empty and could not be used."""
    thinking_cutoffs: int = 0
    """Rewrites that thought and never answered (out of tokens while thinking)."""
    invalid_outputs: int = 0
    """Rewrites that did not fit the answer schema."""
    human_edits: list[str] = Field(default_factory=list)
    """What a person changed at a review point (human in the loop)."""


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
    """Rewrites without the response markers of a marker-style rewrite prompt, used whole."""
    prompt_echoes: int = 0
    """Rewrites cut before lines that repeated the rewrite prompt (see `parsing`)."""
    lead_ins: int = 0
    """Rewrites whose announcing first line ("Here is the improved answer:") was cut."""
    scaffold_cuts: int = 0
    """Rewrites from which paragraphs of scaffolding around the answer were cut (see
    `answer_kinds.without_scaffold_paragraphs`)."""
    empty_outputs: int = 0
    """Samples and rewrites with no usable text (empty, or nothing left before an echo)."""
    failures: int = 0
    """Policy requests that failed for good and were skipped (the run went on without them)."""
    retries: int = 0
    """Policy and reward requests that failed once and were tried again."""
    thinking_cutoffs: int = 0
    """Replies that thought and never answered (typically out of tokens while thinking):
    they had no answer, so they were not scored."""
    invalid_outputs: int = 0
    """Samples and rewrites that did not fit the answer schema (not scored)."""
    usage: dict[str, int] = Field(default_factory=dict)
    """Token usage of all policy requests summed (`input_tokens`, `output_tokens`,
    `total_tokens`), where the policy reports it; empty when it does not. Where the policy
    reports the thinking part of its output, `reasoning_tokens` and `answer_tokens` split the
    output tokens of those requests."""
    parsed: Any = None
    """With an answer schema: the answer as a validated object (None when there is none)."""
    stop_reason: str | None = None
    """Why the loop ended: max_iterations, target_score, patience, bon, no_usable_response,
    timeout (the run's deadline passed) or stage_failed (a stage failed after its retries;
    the best answer so far is returned and `error` says why)."""
    error: str | None = None
    """One line on the failure that ended the run early (`stop_reason="stage_failed"`)."""
    warnings: list[str] = Field(default_factory=list)
    pending_review: dict[str, Any] | None = None
    """What a person is asked to review when the run paused at a review point (human in the
    loop); resume with `Command(resume=...)` on the same thread."""
    done: bool = True

    @field_serializer("parsed")
    def _parsed_as_data(self, parsed: Any) -> Any:
        # A pydantic v1 object (a `pydantic.v1` schema) is not something v2 can serialize.
        if hasattr(parsed, "model_dump"):
            return parsed.model_dump(mode="json")
        if hasattr(parsed, "json") and hasattr(parsed, "dict"):
            return json.loads(parsed.json())
        return parsed

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
    def from_state(
        cls,
        state: TPOState | dict[str, Any],
        *,
        done: bool = True,
        answer_schema: AnswerSchema | None = None,
    ) -> TPOResult:
        """Build a result from a (final or intermediate) graph state; with the run's answer
        schema, `parsed` holds the answer as an object."""
        state = dict(state)
        cache = list(state.get("candidates") or [])
        candidates = [Candidate(**c) for c in cache]
        best = best_candidate(cache)
        history = [_record(h, candidates) for h in state.get("history") or []]
        interrupts = state.get("__interrupt__") or ()
        pending = next((getattr(i, "value", None) for i in interrupts), None)
        return cls(
            query=state.get("query", ""),
            response=best["text"] if best else "",
            score=best["score"] if best else None,
            candidates=candidates,
            history=history,
            best_scores=list(state.get("best_scores") or []),
            usage=dict(state.get("usage") or {}),
            stop_reason=state.get("stop_reason"),
            error=state.get("error"),
            warnings=list(state.get("warnings") or []),
            pending_review=pending if isinstance(pending, dict) else None,
            done=done and not interrupts,
            parsed=_parsed(answer_schema, best),
            **{name: int(state.get(name) or 0) for name in COUNTERS},
        )


def _parsed(answer_schema: AnswerSchema | None, best: CandidateDict | None) -> Any:
    """The best answer as an object of the schema; None without one, or when it does not fit
    (a cache from a run with another schema)."""
    if answer_schema is None or best is None:
        return None
    try:
        return answer_schema.parse(best["text"])
    except ValueError:
        return None


def best_candidate(candidates: list[CandidateDict]) -> CandidateDict | None:
    """Highest reward; the earliest wins a tie."""
    if not candidates:
        return None
    return max(candidates, key=lambda c: c["score"])


def worst_candidate(
    candidates: list[CandidateDict], *, unlike: str | None = None
) -> CandidateDict | None:
    """Lowest reward; the earliest wins a tie. With `unlike`, the lowest whose text differs."""
    pool = [c for c in candidates if c["text"] != unlike] if unlike is not None else candidates
    if not pool:
        return None
    return min(pool, key=lambda c: c["score"])


def _record(h: IterationDict, candidates: list[Candidate]) -> IterationRecord:
    rejected = h.get("rejected")
    return IterationRecord(
        iteration=h["iteration"],
        chosen=Candidate(**h["chosen"]),
        rejected=Candidate(**rejected) if rejected else None,
        critique=h.get("critique", ""),
        suggestion=h.get("suggestion", ""),
        candidates=[c for c in candidates if c.iteration == h["iteration"]],
        marker_misses=h.get("marker_misses", 0),
        prompt_echoes=h.get("prompt_echoes", 0),
        lead_ins=h.get("lead_ins", 0),
        scaffold_cuts=h.get("scaffold_cuts", 0),
        empty_outputs=h.get("empty_outputs", 0),
        thinking_cutoffs=h.get("thinking_cutoffs", 0),
        invalid_outputs=h.get("invalid_outputs", 0),
        human_edits=list(h.get("human_edits", [])),
    )
