"""VLLMRewardModel on vLLM's async engine: requests join the engine's batch, no lock."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest

from tests.unit_tests.reward_models.tiny_models import score_calls, tiny_tokenizer

pytest.importorskip("vllm")
pytest.importorskip("transformers")


class FakePoolingEngine:
    """Like vLLM's `AsyncLLM` with `runner="pooling"`: one async `encode` stream per request.

    Each request waits until `batch` requests are in the engine at once (as a continuous batch
    would take them together), then answers with a score derived from its token ids.
    """

    def __init__(self, batch: int) -> None:
        self.model_config = SimpleNamespace(
            model="fake/reward", max_model_len=256, hf_config=SimpleNamespace(num_labels=1)
        )
        self.batch = batch
        self.active = 0
        self.most_active = 0
        self.aborted = 0
        self.params: list[Any] = []
        self._lock = threading.Lock()
        self._full: asyncio.Event | None = None

    async def generate(self, *args: Any) -> AsyncIterator[Any]:  # marks an async engine
        raise NotImplementedError
        yield

    async def encode(self, prompt: Any, params: Any, request_id: str) -> AsyncIterator[Any]:
        if self._full is None:
            self._full = asyncio.Event()
        self.params.append(params)
        self.active += 1
        self.most_active = max(self.most_active, self.active)
        if self.active >= self.batch:
            self._full.set()
        try:
            await self._full.wait()
        except asyncio.CancelledError:
            self.aborted += 1
            raise
        finally:
            self.active -= 1
        ids = prompt["prompt_token_ids"]
        yield SimpleNamespace(outputs=SimpleNamespace(data=[float(sum(ids)) / len(ids)]))


def _expected(call: list[tuple[str, str]], reward: Any) -> list[float]:
    return [sum(e.input_ids) / len(e.input_ids) for e in reward._formatter.encode_all(call)]


def _reward(engine: Any, **fields: Any) -> Any:
    from langchain_tpo.reward_models import VLLMRewardModel

    return VLLMRewardModel(llm=engine, tokenizer=tiny_tokenizer(), **fields)


def test_sync_calls_from_threads_share_the_engine_batch() -> None:
    calls = score_calls(4, 3)
    engine = FakePoolingEngine(batch=12)  # answers only once all 12 pairs are in at once
    reward = _reward(engine)
    results: list[Any] = [None] * 4

    def run(i: int) -> None:
        results[i] = reward.score(calls[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert results == [_expected(call, reward) for call in calls]
    assert engine.most_active == 12  # no lock: every call's requests were in the engine together
    assert all(p.task == "classify" and p.use_activation is False for p in engine.params)


async def test_async_calls_are_coalesced_and_scored_in_the_engine() -> None:
    calls = score_calls(6, 2)
    engine = FakePoolingEngine(batch=12)
    reward = _reward(engine)
    assert reward.batch_window_ms == 5.0 and reward.max_batches_in_flight is None
    got = await asyncio.wait_for(asyncio.gather(*(reward.ascore(c) for c in calls)), 30)
    assert got == [_expected(call, reward) for call in calls]
    assert reward.score_counts().batches == 1


async def test_a_cancelled_call_aborts_its_engine_requests() -> None:
    engine = FakePoolingEngine(batch=100)  # never full: requests wait in the engine
    reward = _reward(engine, batch_window_ms=None)
    task = asyncio.ensure_future(reward.ascore(score_calls(1, 3)[0]))
    for _ in range(200):
        if engine.active == 3:
            break
        await asyncio.sleep(0.01)
    assert engine.active == 3
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(200):
        if engine.aborted == 3:
            break
        await asyncio.sleep(0.01)
    assert engine.aborted == 3
