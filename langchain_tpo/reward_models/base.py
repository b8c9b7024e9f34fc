"""RewardModel: a Runnable that scores (query, response) pairs with raw rewards."""

from __future__ import annotations

import asyncio
import math
import numbers
import threading
import weakref
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any, NamedTuple, TypeAlias

from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig, RunnableSerializable
from pydantic import ConfigDict, Field, PrivateAttr

from langchain_tpo.reward_models.coalescing import Coalescer, ScoreCounter, ScoreCounts

Query: TypeAlias = str | Sequence[BaseMessage]
"""The query side of a pair: the user's request, or the whole conversation before the response."""

Pair: TypeAlias = tuple[Query, str]


class Reward(NamedTuple):
    """A score, optionally with the reward model's feedback and the parts it is made of."""

    score: float
    feedback: str | None = None
    components: Mapping[str, float] | None = None
    """Raw scores of the parts a combined reward adds up (by name, before weighting), so a
    reader sees why a response won; None for a single reward."""


class RewardModelError(ValueError):
    """A reward model returned something that is not one finite number per pair."""


def query_text(query: Query) -> str:
    """The text of the user's request: the query itself, or the last human message."""
    if isinstance(query, str):
        return query
    for message in reversed(query):
        if message.type == "human":
            return message.text
    return query[-1].text if query else ""


class RewardModel(RunnableSerializable[Sequence[Pair], list[float]], ABC):
    """Base class of reward models: `score(pairs)` returns one raw reward per pair.

    A pair is `(query, response)`; the query is a string, or the list of chat messages that
    came before the response. Scores are raw rewards: for a sequence classifier, the logit
    (no sigmoid). Higher is better.

    Subclasses implement `_score` (and may implement `_ascore` for native async). They may
    return plain floats or `Reward(score, feedback, components)` items; the feedback text
    reaches the critique prompt of TPO, and the components (the raw scores a combined reward
    adds up) are kept with each candidate. `score`/`ascore` check what came back and raise a
    `RewardModelError` naming the reward model when it is not one finite number per pair.

    With `batch_window_ms` set, concurrent async score calls (many TPO runs in one process)
    are coalesced: calls arriving within that many milliseconds, or while the model is busy
    with `max_batches_in_flight` batches, are scored in one call of the model (at most
    `max_batch_pairs` pairs), and each caller gets its own scores, the same as when scored
    alone. Sync calls are never coalesced. `score_counts()` tells how many score calls the
    model received and how many batches they became.

    Example:
        ```python
        from langchain_tpo.reward_models import FunctionReward

        reward = FunctionReward(lambda query, response: float(len(response)))
        reward.score([("Hi", "Hello!"), ("Hi", "Hey")])  # [6.0, 3.0]
        reward.invoke([("Hi", "Hello!")])  # the same, as a Runnable
        ```
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    batch_window_ms: float | None = Field(default=None, ge=0)
    """Milliseconds an async score call waits for concurrent calls to join its batch, while
    the model has room for another batch; None: every call is its own batch (the default here;
    the checkpoint and remote reward models default to 5 ms). 0 still merges the calls that
    queue while `max_batches_in_flight` batches run."""
    max_batch_pairs: int = Field(default=256, ge=1)
    """Most pairs in one coalesced batch; a single call with more pairs is scored alone."""
    max_batches_in_flight: int | None = Field(default=None, ge=1)
    """Most coalesced batches running at once (None: no limit). 1 suits a model that scores
    one batch at a time: calls that arrive meanwhile form the next batch."""

    _batching: _Batching | None = PrivateAttr(default=None)

    @abstractmethod
    def _score(self, pairs: Sequence[Pair]) -> Sequence[float | Reward]:
        """Score a batch of pairs."""

    async def _ascore(self, pairs: Sequence[Pair]) -> Sequence[float | Reward]:
        """Score a batch of pairs without blocking the event loop (a thread by default)."""
        return await asyncio.get_running_loop().run_in_executor(None, self._score, pairs)

    def evaluate(self, pairs: Sequence[Pair], config: RunnableConfig | None = None) -> list[Reward]:
        """Score pairs and keep the feedback text of reward models that give one.

        Each call is one traced run named after the reward model, with the pairs as its input
        and the rewards as its output.
        """
        pairs = list(pairs)
        if not pairs:
            return []
        return self._call_with_config(self._evaluate, pairs, config, run_type="chain")  # type: ignore[arg-type,return-value]

    async def aevaluate(
        self, pairs: Sequence[Pair], config: RunnableConfig | None = None
    ) -> list[Reward]:
        """Async twin of `evaluate`."""
        pairs = list(pairs)
        if not pairs:
            return []
        return await self._acall_with_config(self._aevaluate, pairs, config, run_type="chain")  # type: ignore[arg-type,return-value]

    def _evaluate(self, pairs: list[Pair]) -> list[Reward]:
        counter = self._state().counter
        counter.call()
        try:
            rewards = self._checked(self._score(pairs), len(pairs))
        except Exception:
            counter.batch(len(pairs), 1, failed=True)
            raise
        counter.batch(len(pairs), 1)
        return rewards

    async def _aevaluate(self, pairs: list[Pair]) -> list[Reward]:
        state = self._state()
        state.counter.call()
        if self.batch_window_ms is None:
            try:
                rewards = await self._ascore_checked(pairs)
            except Exception:
                state.counter.batch(len(pairs), 1, failed=True)
                raise
            state.counter.batch(len(pairs), 1)
            return rewards
        return await state.coalescer(self).submit(pairs)

    async def _ascore_checked(self, pairs: list[Pair]) -> list[Reward]:
        return self._checked(await self._ascore(pairs), len(pairs))

    def score_counts(self) -> ScoreCounts:
        """Score calls received and batches scored so far (`ScoreCounts`), for metrics.

        Subtract an earlier snapshot for the counts in between: `after - before`.
        """
        return self._state().counter.snapshot()

    def _state(self) -> _Batching:
        state = self._batching
        # A copy (`model_copy`) shares private attributes: it gets its own counts and batches.
        if state is None or state.owner() is not self:
            with _STATE_LOCK:
                state = self._batching
                if state is None or state.owner() is not self:
                    state = self._batching = _Batching(self)
        return state

    def score(self, pairs: Sequence[Pair], config: RunnableConfig | None = None) -> list[float]:
        """One raw reward per (query, response) pair."""
        return [r.score for r in self.evaluate(pairs, config)]

    async def ascore(
        self, pairs: Sequence[Pair], config: RunnableConfig | None = None
    ) -> list[float]:
        """Async twin of `score`."""
        return [r.score for r in await self.aevaluate(pairs, config)]

    def invoke(
        self, input: Sequence[Pair], config: RunnableConfig | None = None, **kwargs: Any
    ) -> list[float]:
        """Score a batch of pairs as a Runnable (one traced run)."""
        return self.score(input, config)

    async def ainvoke(
        self, input: Sequence[Pair], config: RunnableConfig | None = None, **kwargs: Any
    ) -> list[float]:
        """Async twin of `invoke`."""
        return await self.ascore(input, config)

    def _checked(self, raw: Any, expected: int) -> list[Reward]:
        name = self.get_name()
        if isinstance(raw, (Mapping, str, bytes, AbstractSet)):
            # list() would quietly turn their keys, characters or unordered members into scores.
            kind = "a set" if isinstance(raw, AbstractSet) else f"a {type(raw).__name__}"
            msg = (
                f"Reward model {name!r} returned {kind} for {expected} pair(s): {raw!r:.200}. "
                "It must return a sequence (a list) with one number or Reward per pair, in order."
            )
            raise RewardModelError(msg)
        try:
            items = list(raw)
        except TypeError:
            msg = (
                f"Reward model {name!r} returned {raw!r} for {expected} pair(s); it must return "
                "a list with one number per (query, response) pair."
            )
            raise RewardModelError(msg) from None
        if len(items) != expected:
            msg = (
                f"Reward model {name!r} returned {len(items)} score(s) for {expected} pair(s): "
                f"{_preview(items)}. It must return exactly one number per pair, in order."
            )
            raise RewardModelError(msg)
        checked = []
        for i, item in enumerate(items):
            if isinstance(item, Reward):
                value, feedback, components = item
            else:
                value, feedback, components = item, None, None
            value = _finite(value, f"Reward model {name!r} returned", f"for pair {i}")
            if components is not None:
                components = {
                    str(part): _finite(
                        raw, f"Reward model {name!r} returned", f"as component {part!r} of pair {i}"
                    )
                    for part, raw in components.items()
                }
            checked.append(Reward(value, feedback, components))
        return checked


def _finite(value: Any, said: str, where: str) -> float:
    """`value` as a float, or a RewardModelError saying what was wrong with it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        msg = f"{said} {value!r} ({type(value).__name__}) {where}; a reward must be a real number."
        raise RewardModelError(msg)
    value = float(value)
    if not math.isfinite(value):
        msg = f"{said} {value!r} {where}; a reward must be finite (no NaN or infinity)."
        raise RewardModelError(msg)
    return value


_STATE_LOCK = threading.Lock()


class _Batching:
    """A reward model's counts and its coalescers, one per event loop."""

    def __init__(self, owner: RewardModel) -> None:
        self.owner = weakref.ref(owner)
        self.counter = ScoreCounter()
        self._coalescers: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, Coalescer[Pair, Reward]
        ] = weakref.WeakKeyDictionary()

    def coalescer(self, model: RewardModel) -> Coalescer[Pair, Reward]:
        loop = asyncio.get_running_loop()
        coalescer = self._coalescers.get(loop)
        if coalescer is None:
            coalescer = Coalescer(
                model._ascore_checked,
                window_s=(model.batch_window_ms or 0.0) / 1000,
                max_items=model.max_batch_pairs,
                max_in_flight=model.max_batches_in_flight,
                counter=self.counter,
            )
            self._coalescers[loop] = coalescer
        return coalescer


def _preview(items: list[Any], limit: int = 8) -> str:
    shown = ", ".join(repr(x) for x in items[:limit])
    return f"[{shown}{', ...' if len(items) > limit else ''}]"
