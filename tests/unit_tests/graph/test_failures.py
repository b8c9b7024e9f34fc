"""Partial failure, time limits and permanent errors: the run keeps the work it has done."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from typing import Any

import pytest
from langchain_core.messages import BaseMessage

from langchain_tpo import TPOChain, TPOConfig
from langchain_tpo.errors import ContextLengthError
from langchain_tpo.reward_models import FunctionReward
from langchain_tpo.testing import ScriptedChatModel, ScriptedChatModelWithN, default_responder

FAST = {"retry_backoff_s": 0.0}


def length() -> FunctionReward:
    return FunctionReward(lambda q, r: float(len(r)))


def chain(policy: Any, reward: Any = None, **config: Any) -> TPOChain:
    settings = {"num_samples": 3, "max_iterations": 2, **FAST, **config}
    return TPOChain(policy=policy, reward=reward or length(), config=TPOConfig(**settings))


def flaky(policy_class: type[ScriptedChatModel], error: type[Exception]) -> ScriptedChatModel:
    """A scripted model whose every third request fails with `error`."""
    calls = itertools.count()
    lock = threading.Lock()

    class Flaky(policy_class):  # type: ignore[valid-type,misc]
        def _respond(self, messages, kwargs, run_manager=None):  # type: ignore[no-untyped-def]
            with lock:
                number = next(calls)
            if number % 3 == 2:
                raise error("flaky backend")
            return super()._respond(messages, kwargs, run_manager)

    return Flaky()


@pytest.mark.parametrize("error", [RuntimeError, ValueError, TimeoutError])
@pytest.mark.parametrize("policy_class", [ScriptedChatModel, ScriptedChatModelWithN])
def test_a_policy_failing_one_call_in_three_finishes_every_run(
    error: type[Exception], policy_class: type[ScriptedChatModel]
) -> None:
    tpo = chain(flaky(policy_class, error))
    results = [tpo.invoke(f"question {i}") for i in range(10)]
    assert [r.stop_reason for r in results] == ["max_iterations"] * 10
    assert all(len(r.history) == 2 and r.response for r in results)
    assert sum(r.retries for r in results) > 0


def test_a_stage_that_keeps_failing_ends_the_run_with_the_best_answer() -> None:
    def responder(messages: list[BaseMessage], index: int) -> str:
        if "Answer B (not preferred)" in messages[-1].text:
            raise ConnectionError("server went away")
        return default_responder(messages, index)

    result = chain(ScriptedChatModel(responder=responder)).invoke("q")
    assert result.stop_reason == "stage_failed"
    assert "critique" in result.error and "ConnectionError" in result.error
    initial = [c for c in result.candidates if c.iteration == -1]
    assert result.response == max(initial, key=lambda c: c.score).text
    assert result.best_scores and result.history == []


def test_a_reward_that_dies_mid_run_keeps_the_scored_answers() -> None:
    def score(query: str, response: str) -> float:
        if response.startswith("rewrite"):
            raise ConnectionError("reward server down")
        return float(len(response))

    result = chain(ScriptedChatModel(), FunctionReward(score)).invoke("q")
    assert result.stop_reason == "stage_failed"
    assert "score" in result.error
    assert result.response and result.score is not None
    assert all(c.iteration == -1 for c in result.candidates)


def test_a_reward_that_fails_from_the_start_raises() -> None:
    def score(query: str, response: str) -> float:
        raise ConnectionError("reward server down")

    with pytest.raises(ConnectionError, match="reward server down"):
        chain(ScriptedChatModel(), FunctionReward(score)).invoke("q")


def test_a_hung_request_times_out_and_the_run_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    gate = threading.Event()

    def responder(messages: list[BaseMessage], index: int) -> str:
        if "A review of this answer" in messages[-1].text:
            gate.wait(30)  # the suggest request hangs
        return default_responder(messages, index)

    start = time.perf_counter()
    result = chain(
        ScriptedChatModel(responder=responder), request_timeout_s=0.3, max_retries=1
    ).invoke("q")
    gate.set()
    assert time.perf_counter() - start < 5
    assert result.stop_reason == "stage_failed"
    assert "TimeoutError" in result.error and "suggest" in result.error
    assert result.response


async def test_async_requests_are_cancelled_at_their_time_limit() -> None:
    policy = ScriptedChatModelWithN()
    slow = ScriptedChatModelWithN(delay=30)
    result_task = chain(slow, request_timeout_s=0.2, max_retries=0).ainvoke("q")
    with pytest.raises(TimeoutError, match="took longer than"):
        await asyncio.wait_for(result_task, 5)
    assert policy.requests == []


def test_the_run_deadline_returns_the_best_answer_so_far() -> None:
    policy = ScriptedChatModelWithN(delay=0.2)
    start = time.perf_counter()
    result = chain(policy, max_iterations=50, timeout_s=1.0).invoke("q")
    assert time.perf_counter() - start < 10  # 50 iterations would take 30 s and more
    assert result.stop_reason == "timeout"
    assert result.response and len(result.history) < 50
    assert any("time limit" in w for w in result.warnings)


def test_a_prompt_too_long_for_the_model_fails_at_once() -> None:
    def responder(messages: list[BaseMessage], index: int) -> str:
        raise ContextLengthError("The prompt is 11111 tokens long, but the model takes 8192.")

    policy = ScriptedChatModelWithN(responder=responder)
    with pytest.raises(ContextLengthError, match="11111 tokens"):
        chain(policy, retry_backoff_s=5.0).invoke("x" * 50_000)
    assert len(policy.requests) == 1  # not retried


def test_a_4xx_answer_is_not_retried() -> None:
    class BadRequest(Exception):
        status_code = 400

    def responder(messages: list[BaseMessage], index: int) -> str:
        raise BadRequest("maximum context length exceeded")

    policy = ScriptedChatModelWithN(responder=responder)
    with pytest.raises(BadRequest):
        chain(policy, retry_backoff_s=5.0).invoke("q")
    assert len(policy.requests) == 1


def test_equal_scores_of_distinct_answers_still_make_a_pair() -> None:
    result = chain(ScriptedChatModel(), FunctionReward(lambda q, r: 1.0)).invoke("q")
    assert all(record.rejected is not None for record in result.history)
    assert all(record.rejected.text != record.chosen.text for record in result.history)
    assert not any("single distinct response" in w for w in result.warnings)
