"""ChatTransformers merges concurrent requests into batched `generate` calls."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from langchain_tpo.errors import ContextLengthError
from tests.unit_tests.chat_models.test_transformers import tiny_chat  # noqa: F401 (fixture)

pytest.importorskip("torch")


def _questions(count: int) -> list[list[HumanMessage]]:
    words = ["hello", "name", "a", "fruit", "colour"]
    return [[HumanMessage(" ".join(words[: 1 + i % 5]) + f" w{i}")] for i in range(count)]


def _texts(result: Any) -> list[str]:
    return [g.text for g in result.generations[0]]


def _fresh(chat: Any, **fields: Any) -> Any:
    """A copy with its own batcher (copies share private attributes otherwise)."""
    copy = chat.model_copy(update=fields)
    copy._batcher = None
    copy._batcher_lock = threading.Lock()
    return copy


async def test_concurrent_requests_share_batches_and_keep_their_seeded_samples(
    tiny_chat: Any,  # noqa: F811
) -> None:
    chat = _fresh(tiny_chat, max_batch_rows=32)
    questions = _questions(8)
    alone = [
        _texts(await chat.agenerate([q], n=3, max_tokens=6, seed=10 + i))
        for i, q in enumerate(questions)
    ]
    before = chat.generation_counts()
    together = await asyncio.gather(
        *(chat.agenerate([q], n=3, max_tokens=6, seed=10 + i) for i, q in enumerate(questions))
    )
    assert [_texts(r) for r in together] == alone
    counts = chat.generation_counts()
    assert counts.requests - before.requests == 8
    assert counts.batches - before.batches <= 2  # not one generate per request
    assert counts.largest_batch_rows >= 12


def test_a_seed_repeats_its_samples_and_another_seed_draws_others(
    tiny_chat: Any,  # noqa: F811
) -> None:
    question = _questions(1)[0]
    first = _texts(tiny_chat.generate([question], n=4, max_tokens=6, seed=1))
    assert first == _texts(tiny_chat.generate([question], n=4, max_tokens=6, seed=1))
    assert len(set(first)) > 1  # each sample has its own generator
    assert first != _texts(tiny_chat.generate([question], n=4, max_tokens=6, seed=2))


async def test_a_batch_holds_at_most_max_batch_rows_rows(tiny_chat: Any) -> None:  # noqa: F811
    chat = _fresh(tiny_chat, batch_window_ms=50)
    assert chat.max_batch_rows == 8
    await asyncio.gather(
        *(chat.agenerate([q], n=3, max_tokens=3, seed=i) for i, q in enumerate(_questions(6)))
    )
    counts = chat.generation_counts()
    assert (counts.requests, counts.batches, counts.largest_batch_rows) == (6, 3, 6)


async def test_requests_with_other_settings_go_in_other_batches(
    tiny_chat: Any,  # noqa: F811
) -> None:
    chat = _fresh(tiny_chat, batch_window_ms=50)
    questions = _questions(4)
    await asyncio.gather(
        *(
            chat.agenerate([q], n=2, max_tokens=4, temperature=0.5 if i % 2 else 1.0, seed=i)
            for i, q in enumerate(questions)
        )
    )
    counts = chat.generation_counts()
    assert (counts.requests, counts.batches) == (4, 2)


async def test_greedy_replies_match_alone_and_in_a_batch(tiny_chat: Any) -> None:  # noqa: F811
    chat = _fresh(tiny_chat)
    questions = _questions(5)
    alone = [_texts(await chat.agenerate([q], temperature=0, max_tokens=6)) for q in questions]
    together = await asyncio.gather(
        *(chat.agenerate([q], temperature=0, max_tokens=6) for q in questions)
    )
    assert [_texts(r) for r in together] == alone


async def test_a_prompt_too_long_fails_its_caller_only(tiny_chat: Any) -> None:  # noqa: F811
    chat = _fresh(tiny_chat)
    too_long = [HumanMessage(" ".join(["hello"] * 40))]
    results = await asyncio.gather(
        chat.agenerate([too_long], max_tokens=3),
        chat.agenerate(_questions(1), max_tokens=3, seed=0),
        return_exceptions=True,
    )
    assert isinstance(results[0], ContextLengthError)
    assert not isinstance(results[1], BaseException)


async def test_a_failing_generate_fails_its_batch_and_the_next_one_runs(
    tiny_chat: Any,  # noqa: F811
) -> None:
    chat = _fresh(tiny_chat, batch_window_ms=50)
    real = chat._run_batch
    calls = {"n": 0}

    def flaky(jobs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            msg = "out of memory"
            raise RuntimeError(msg)
        return real(jobs)

    object.__setattr__(chat, "_run_batch", flaky)
    chat._batcher = None
    results = await asyncio.gather(
        *(chat.agenerate([q], max_tokens=3, seed=1) for q in _questions(3)),
        return_exceptions=True,
    )
    assert all(isinstance(r, RuntimeError) and "out of memory" in str(r) for r in results)
    assert _texts(await chat.agenerate(_questions(1), max_tokens=3, seed=1))


async def test_a_cancelled_request_still_queued_is_never_decoded(
    tiny_chat: Any,  # noqa: F811
) -> None:
    chat = _fresh(tiny_chat, batch_window_ms=0)
    gate = threading.Event()
    decoded: list[int] = []
    real = chat._run_batch

    def held(jobs: Any) -> Any:
        gate.wait(10)
        decoded.extend(len(job.prompt_ids) for job in jobs)
        return real(jobs)

    object.__setattr__(chat, "_run_batch", held)
    chat._batcher = None
    first = asyncio.ensure_future(chat.agenerate([[HumanMessage("hello")]], max_tokens=2))
    await asyncio.sleep(0.2)  # the first batch is running (held)
    gone = asyncio.ensure_future(
        chat.agenerate([[HumanMessage("hello a fruit colour")]], max_tokens=2, temperature=0)
    )
    await asyncio.sleep(0.05)
    gone.cancel()
    gate.set()
    await first
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert chat.generation_counts().batches == 1
    assert len(decoded) == 1


def test_seeded_sampler_draws_from_the_filtered_softmax() -> None:
    torch = pytest.importorskip("torch")
    from langchain_tpo.chat_models._generation_batcher import SeededSampler

    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0, -5.0]])
    draws = 6000
    sampler = SeededSampler([123], temperature=1.0, top_p=None, top_k=None)
    picks = torch.tensor([int(sampler(None, logits).argmax()) for _ in range(draws)])
    frequencies = torch.bincount(picks, minlength=5).float() / draws
    assert torch.allclose(frequencies, logits.softmax(-1)[0], atol=0.02)
    top_k = SeededSampler([5], temperature=1.0, top_p=None, top_k=2)
    assert {int(top_k(None, logits).argmax()) for _ in range(500)} == {0, 1}
    top_p = SeededSampler([5], temperature=1.0, top_p=0.6, top_k=None)
    assert {int(top_p(None, logits).argmax()) for _ in range(500)} == {0}  # 0.64 >= 0.6
    hot = SeededSampler([5], temperature=100.0, top_p=None, top_k=None)
    assert len({int(hot(None, logits).argmax()) for _ in range(500)}) == 5


def test_jobs_of_earlier_runs_are_decoded_first() -> None:
    from langchain_tpo.chat_models._generation_batcher import GenerationBatcher, GenerationJob

    gate = threading.Event()
    served: list[list[int]] = []

    def run_batch(jobs: Any) -> list[list[list[int]]]:
        gate.wait(10)
        served.append([job.order for job in jobs])
        return [[[0]] * job.rows for job in jobs]

    batcher = GenerationBatcher(run_batch, window_s=0.0, max_rows=2)
    first = batcher.submit(GenerationJob([1], 1, "k", None, None, order=9))
    import time

    time.sleep(0.2)  # the first batch is running
    later = [
        batcher.submit(GenerationJob([1], 1, "k", None, None, order=order)) for order in (7, 2, 5)
    ]
    gate.set()
    for future in [first, *later]:
        future.result(timeout=10)
    assert served == [[9], [2, 5], [7]]


def test_a_request_of_a_tpo_run_carries_its_runs_admission_number() -> None:
    from langchain_tpo import TPOChain, TPOConfig
    from langchain_tpo.reward_models import FunctionReward
    from langchain_tpo.run_order import METADATA_KEY
    from langchain_tpo.testing import ScriptedChatModelWithN

    policy = ScriptedChatModelWithN()
    chain = TPOChain(
        policy=policy,
        reward=FunctionReward(lambda q, r: float(len(r))),
        config=TPOConfig(num_samples=2, max_iterations=1),
    )
    chain.invoke("first question")
    first = {r.metadata[METADATA_KEY] for r in policy.requests}
    count = len(policy.requests)
    chain.invoke("second question")
    second = {r.metadata[METADATA_KEY] for r in policy.requests[count:]}
    assert len(first) == 1 and len(second) == 1  # one number per run, on every request
    assert min(second) > max(first)  # the later run has the larger number


def test_a_job_that_waited_long_goes_ahead_of_earlier_runs() -> None:
    import time

    from langchain_tpo.chat_models._generation_batcher import GenerationBatcher, GenerationJob

    gate = threading.Event()
    served: list[list[int]] = []

    def run_batch(jobs: Any) -> list[list[list[int]]]:
        gate.wait(10)
        served.append([job.order for job in jobs])
        return [[[0]] * job.rows for job in jobs]

    batcher = GenerationBatcher(run_batch, window_s=0.0, max_rows=1, promote_after_s=0.3)
    first = batcher.submit(GenerationJob([1], 1, "k", None, None, order=0))
    time.sleep(0.1)
    old = batcher.submit(GenerationJob([1], 1, "k", None, None, order=8))  # a late run, waiting
    time.sleep(0.5)  # it has now waited past promote_after_s
    earlier_run = batcher.submit(GenerationJob([1], 1, "k", None, None, order=1))
    gate.set()
    for future in (first, old, earlier_run):
        future.result(timeout=10)
    assert served == [[0], [8], [1]]
