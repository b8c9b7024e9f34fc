"""Concurrent score calls on the embedded default reward: coalesced, with unbatched scores."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

pytestmark = [pytest.mark.integration]


def _calls(pairs: list[Any]) -> list[list[Any]]:
    """Eight score calls of two or three pairs, as eight concurrent TPO runs would make."""
    return [[pairs[i % 6], pairs[(i + 1) % 6], pairs[(i + 3) % 6]][: 2 + i % 2] for i in range(8)]


@pytest.mark.requires("transformers")
async def test_transformers_coalesced_scores_are_the_scores_of_each_call_alone(
    hf_reward: Any, pairs: list[Any]
) -> None:
    calls = _calls(pairs)
    # One pair per forward: sharing a batch can then change nothing, not even rounding.
    one = hf_reward.model_copy(update={"batch_size": 1})
    alone = [one.model_copy(update={"batch_window_ms": None}).score(call) for call in calls]
    got = await asyncio.gather(*(one.ascore(call) for call in calls))
    assert got == alone
    counts = one.score_counts()
    assert counts.score_calls == 8
    assert counts.batches * 4 <= counts.score_calls
    # Forwards of several pairs: the same scores up to float32 rounding.
    batched = await asyncio.gather(*(hf_reward.model_copy().ascore(call) for call in calls))
    for row, reference in zip(batched, alone, strict=True):
        assert row == pytest.approx(reference, abs=1e-4)


@pytest.mark.requires("vllm")
async def test_vllm_concurrent_calls_share_the_engine_and_keep_their_scores(
    vllm_reward: Any, pairs: list[Any]
) -> None:
    calls = _calls(pairs)
    alone = [vllm_reward.score(call) for call in calls]
    before = vllm_reward.score_counts()
    got = await asyncio.gather(*(vllm_reward.ascore(call) for call in calls))
    for row, reference in zip(got, alone, strict=True):
        assert row == pytest.approx(reference, abs=1e-4)
    counts = vllm_reward.score_counts() - before
    assert counts.score_calls == 8
    assert counts.batches * 4 <= counts.score_calls


@pytest.mark.requires("vllm")
def test_vllm_sync_calls_from_threads_are_scored_together(
    vllm_reward: Any, pairs: list[Any]
) -> None:
    calls = _calls(pairs)
    alone = [vllm_reward.score(call) for call in calls]
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        results[i] = vllm_reward.score(calls[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    for row, reference in zip(results, alone, strict=True):
        assert row == pytest.approx(reference, abs=1e-4)
