"""Concurrent async score calls coalesced into shared batches: counts, bounds, errors, cancels."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest
from pydantic import PrivateAttr

from langchain_tpo import TPOChain, TPOConfig
from langchain_tpo.reward_models import FunctionReward, Pair, Reward, RewardModel, RewardModelError
from langchain_tpo.reward_models.coalescing import ScoreCounts
from langchain_tpo.testing import ScriptedChatModelWithN, stage_of


def _value(query: Any, response: str) -> float:
    """A score that depends on the pair alone."""
    return float(len(response)) + 0.001 * len(str(query))


class RecordingReward(RewardModel):
    """Scores `_value`; records every batch; can hold a batch until released, or fail."""

    fail_on: str | None = None
    _batches: list[list[Pair]] = PrivateAttr(default_factory=list)
    _gate: asyncio.Event | None = PrivateAttr(default=None)
    _started: asyncio.Event | None = PrivateAttr(default=None)
    _cancelled: int = PrivateAttr(default=0)

    def hold(self) -> tuple[asyncio.Event, asyncio.Event]:
        """Make batches wait for the returned gate; the other event is set when one starts."""
        self._gate, self._started = asyncio.Event(), asyncio.Event()
        return self._gate, self._started

    def _score(self, pairs: Sequence[Pair]) -> Sequence[float | Reward]:
        self._batches.append(list(pairs))
        return [_value(q, r) for q, r in pairs]

    async def _ascore(self, pairs: Sequence[Pair]) -> Sequence[float | Reward]:
        self._batches.append(list(pairs))
        if self._started is not None:
            self._started.set()
        if self._gate is not None:
            try:
                await self._gate.wait()
            except asyncio.CancelledError:
                self._cancelled += 1
                raise
        if self.fail_on is not None and any(r == self.fail_on for _, r in pairs):
            msg = "the model fell over"
            raise RuntimeError(msg)
        return [_value(q, r) for q, r in pairs]


def _calls(count: int, size: int = 2) -> list[list[Pair]]:
    return [
        [(f"question {i}", f"answer {i}-{j} " + "x" * j) for j in range(size)] for i in range(count)
    ]


def _expected(calls: list[list[Pair]]) -> list[list[float]]:
    return [[_value(q, r) for q, r in call] for call in calls]


async def test_calls_within_the_window_share_one_batch_and_get_their_own_scores() -> None:
    reward = RecordingReward(batch_window_ms=50)
    calls = _calls(10)
    scores = await asyncio.gather(*(reward.ascore(call) for call in calls))
    assert scores == _expected(calls)  # each caller its own slice, exactly
    assert len(reward._batches) == 1
    counts = reward.score_counts()
    assert (counts.score_calls, counts.batches, counts.pairs) == (10, 1, 20)
    assert counts.batch_sizes == {20: 1}
    assert counts.calls_per_batch == {10: 1}


async def test_without_a_window_every_call_is_its_own_batch() -> None:
    reward = RecordingReward()
    calls = _calls(5)
    assert await asyncio.gather(*(reward.ascore(call) for call in calls)) == _expected(calls)
    counts = reward.score_counts()
    assert (counts.score_calls, counts.batches) == (5, 5)
    assert counts.batch_sizes == {2: 5}


def test_sync_calls_are_counted_and_never_coalesced() -> None:
    reward = RecordingReward(batch_window_ms=1000)
    for call in _calls(3):
        reward.score(call)
    counts = reward.score_counts()
    assert (counts.score_calls, counts.batches, counts.pairs) == (3, 3, 6)


async def test_batches_hold_at_most_max_pairs_and_leave_in_arrival_order() -> None:
    reward = RecordingReward(batch_window_ms=20, max_batch_pairs=4)
    calls = _calls(7)
    assert await asyncio.gather(*(reward.ascore(call) for call in calls)) == _expected(calls)
    assert [len(batch) for batch in reward._batches] == [4, 4, 4, 2]
    sent = [pair for batch in reward._batches for pair in batch]
    assert sent == [pair for call in calls for pair in call]  # first come, first scored


async def test_a_call_larger_than_the_bound_is_scored_alone_and_whole() -> None:
    reward = RecordingReward(batch_window_ms=20, max_batch_pairs=3)
    small, big = _calls(1, size=1)[0], _calls(1, size=5)[0]
    assert await asyncio.gather(reward.ascore(small), reward.ascore(big)) == _expected([small, big])
    assert [len(batch) for batch in reward._batches] == [1, 5]


async def test_a_full_batch_does_not_wait_for_the_window() -> None:
    reward = RecordingReward(batch_window_ms=600_000, max_batch_pairs=4)
    calls = _calls(2)
    scores = await asyncio.wait_for(asyncio.gather(*(reward.ascore(c) for c in calls)), 10)
    assert scores == _expected(calls)


async def test_calls_arriving_while_the_model_is_busy_form_the_next_batch() -> None:
    reward = RecordingReward(batch_window_ms=0, max_batches_in_flight=1)
    gate, started = reward.hold()
    first = asyncio.ensure_future(reward.ascore(_calls(1)[0]))
    await started.wait()
    later = _calls(6)
    waiting = [asyncio.ensure_future(reward.ascore(call)) for call in later]
    await asyncio.sleep(0.05)
    assert len(reward._batches) == 1  # the others wait: one batch in flight at most
    gate.set()
    assert await first == _expected(_calls(1))[0]
    assert await asyncio.gather(*waiting) == _expected(later)
    assert [len(batch) for batch in reward._batches] == [2, 12]
    assert reward.score_counts().calls_per_batch == {1: 1, 6: 1}


async def test_no_call_starves_under_a_steady_stream() -> None:
    reward = RecordingReward(batch_window_ms=1, max_batch_pairs=4, max_batches_in_flight=1)
    order: list[int] = []

    async def caller(i: int) -> None:
        await asyncio.sleep(0.002 * i)
        await reward.ascore([(f"q{i}", f"r{i}")])
        order.append(i)

    await asyncio.wait_for(asyncio.gather(*(caller(i) for i in range(40))), 30)
    sent = [int(query[1:]) for batch in reward._batches for query, _ in batch]
    assert sent == list(range(40))  # every call scored once, oldest first
    assert sorted(order) == list(range(40))


async def test_an_error_reaches_every_caller_of_its_batch_and_no_other() -> None:
    reward = RecordingReward(batch_window_ms=0, max_batches_in_flight=1, fail_on="bad")
    gate, started = reward.hold()
    first = asyncio.ensure_future(reward.ascore([("q", "fine")]))
    await started.wait()
    doomed = [asyncio.ensure_future(reward.ascore(p)) for p in ([("q", "bad")], [("q", "ok")])]
    await asyncio.sleep(0.02)
    gate.set()
    assert await first == [_value("q", "fine")]
    results = await asyncio.gather(*doomed, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) and "fell over" in str(r) for r in results)
    reward.fail_on = None
    assert await reward.ascore([("q", "bad")]) == [_value("q", "bad")]  # the next batch is fine
    counts = reward.score_counts()
    assert (counts.batches, counts.failed_batches) == (3, 1)


async def test_a_wrong_number_of_scores_fails_the_whole_batch_with_the_reward_named() -> None:
    class Short(RecordingReward):
        async def _ascore(self, pairs: Sequence[Pair]) -> Sequence[float | Reward]:
            return [1.0] * (len(pairs) - 1)

    reward = Short(batch_window_ms=20, name="short-rm")
    results = await asyncio.gather(*(reward.ascore(c) for c in _calls(3)), return_exceptions=True)
    assert all(isinstance(r, RewardModelError) and "short-rm" in str(r) for r in results)


async def test_a_cancelled_caller_leaves_its_batch_and_the_others_get_their_scores() -> None:
    reward = RecordingReward(batch_window_ms=0, max_batches_in_flight=1)
    gate, started = reward.hold()
    calls = _calls(3)
    tasks = [asyncio.ensure_future(reward.ascore(call)) for call in calls]
    await started.wait()
    tasks[1].cancel()
    await asyncio.sleep(0.01)
    gate.set()
    assert await tasks[0] == _expected(calls)[0]
    with pytest.raises(asyncio.CancelledError):
        await tasks[1]
    assert await tasks[2] == _expected(calls)[2]
    assert reward._cancelled == 0  # the batch ran on for the callers still waiting
    assert reward.score_counts().cancelled_calls == 1


async def test_a_caller_cancelled_while_queued_is_never_scored() -> None:
    reward = RecordingReward(batch_window_ms=0, max_batches_in_flight=1)
    gate, started = reward.hold()
    first = asyncio.ensure_future(reward.ascore([("q", "first")]))
    await started.wait()
    gone = asyncio.ensure_future(reward.ascore([("q", "gone")]))
    kept = asyncio.ensure_future(reward.ascore([("q", "kept")]))
    await asyncio.sleep(0.01)
    gone.cancel()
    await asyncio.sleep(0.01)
    gate.set()
    await asyncio.gather(first, kept)
    assert [[r for _, r in batch] for batch in reward._batches] == [["first"], ["kept"]]


async def test_a_batch_nobody_waits_for_is_cancelled() -> None:
    reward = RecordingReward(batch_window_ms=20)
    _, started = reward.hold()
    tasks = [asyncio.ensure_future(reward.ascore(call)) for call in _calls(2)]
    await started.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.sleep(0.01)
    assert reward._cancelled == 1
    # The model is free again for the next caller.
    reward._gate = None
    assert await reward.ascore([("q", "again")]) == [_value("q", "again")]


def test_each_event_loop_gets_its_own_batches() -> None:
    reward = RecordingReward(batch_window_ms=5)
    for _ in range(2):  # the first loop is closed when the second starts

        async def run() -> list[list[float]]:
            return await asyncio.gather(*(reward.ascore(c) for c in _calls(3)))

        assert asyncio.run(run()) == _expected(_calls(3))
    assert reward.score_counts().batches == 2


def test_a_copy_counts_and_batches_for_itself() -> None:
    reward = RecordingReward(batch_window_ms=5)
    reward.score([("q", "r")])
    copy = reward.model_copy()
    assert copy.score_counts() == ScoreCounts()
    copy.score([("q", "r")])
    assert reward.score_counts().score_calls == 1


def test_counts_subtract_to_the_counts_in_between() -> None:
    reward = RecordingReward()
    reward.score(_calls(1, size=3)[0])
    before = reward.score_counts()
    reward.score(_calls(1, size=2)[0])
    between = reward.score_counts() - before
    assert (between.score_calls, between.batches, between.pairs) == (1, 1, 2)
    assert between.batch_sizes == {2: 1}
    assert between.mean_batch_size == 2.0
    assert between.largest_batch == 2


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="batch_window_ms"):
        FunctionReward(_value, batch_window_ms=-1)
    with pytest.raises(ValueError, match="max_batch_pairs"):
        FunctionReward(_value, max_batch_pairs=0)
    with pytest.raises(ValueError, match="max_batches_in_flight"):
        FunctionReward(_value, max_batches_in_flight=0)


def _per_prompt_responder() -> Any:
    """Replies that depend on the prompt and how often it was asked, not on other runs."""
    asked: Counter[str] = Counter()

    def respond(messages: list[Any], index: int) -> str:
        key = "\n".join(m.text for m in messages)
        asked[key] += 1
        return f"{stage_of(messages)} {asked[key]}: " + "detail " * (len(key) * asked[key] % 7)

    return respond


async def test_concurrent_tpo_runs_share_batches_with_the_scores_of_runs_alone() -> None:
    config = TPOConfig(num_samples=3, max_iterations=2, seed=7)
    queries = [f"How do I fix problem number {i}?" for i in range(8)]

    alone = FunctionReward(_value)
    coalesced = FunctionReward(_value, batch_window_ms=20, max_batches_in_flight=1)
    results = {}
    for name, reward in (("alone", alone), ("coalesced", coalesced)):
        policy = ScriptedChatModelWithN(responder=_per_prompt_responder())
        chain = TPOChain(policy=policy, reward=reward, config=config)
        results[name] = await asyncio.gather(*(chain.ainvoke(q) for q in queries))
    for a, b in zip(results["alone"], results["coalesced"], strict=True):
        assert [(c.text, c.score) for c in a.candidates] == [
            (c.text, c.score) for c in b.candidates
        ]
        assert (a.response, a.score) == (b.response, b.score)
    counts = coalesced.score_counts()
    assert counts.score_calls == alone.score_counts().score_calls >= 8 * 2
    assert counts.batches * 4 <= counts.score_calls
