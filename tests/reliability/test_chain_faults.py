"""`TPOChain` on a ChatOpenAI policy against a faulty server, and on flaky scripted policies.

Every request is bounded by the client's timeout, so a hanging server ends the run instead of
stalling it. The partial-failure cases (a policy failing one call in three, a server dying
mid-run) are the TPO loop's job: they are expected to fail until that lands.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import pytest
from langchain_core.messages import BaseMessage

from langchain_tpo import TPOChain, TPOConfig
from langchain_tpo.cli.models import server_chat_model
from langchain_tpo.reward_models import FunctionReward
from langchain_tpo.state import TPOResult
from langchain_tpo.testing import ScriptedChatModel, default_responder
from tests.reliability.stub_server import StubServer

pytest.importorskip("langchain_openai")

BOUND_S = 60.0
"""Far above a bounded run here (a few 1-second timeouts and retries), far below a hung one
(the stub releases a hanging request only after 120 s)."""

CONFIG = TPOConfig(num_samples=2, max_iterations=1, max_tokens=8, seed=0)


def length_reward() -> FunctionReward:
    return FunctionReward(lambda query, response: float(len(response)))


def chain_on(stub: StubServer, **config: Any) -> TPOChain:
    policy = server_chat_model(f"{stub.url}/v1", model=stub.model, timeout=1.0)
    return TPOChain(policy=policy, reward=length_reward(), config=CONFIG.model_copy(update=config))


def finish(chain: TPOChain, query: str = "How do tides work?") -> tuple[Any, float]:
    """Run the chain in a thread; the result or the exception, and the time it took."""
    outcome: list[Any] = []

    def target() -> None:
        try:
            outcome.append(chain.invoke(query))
        except Exception as e:
            outcome.append(e)

    start = time.perf_counter()
    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(timeout=BOUND_S * 3)
    assert outcome, "the run did not end"
    return outcome[0], time.perf_counter() - start


def test_normal_server_gives_an_answer(stub: StubServer) -> None:
    result, _ = finish(chain_on(stub))
    assert isinstance(result, TPOResult) and result.score is not None
    assert result.stop_reason == "max_iterations"


@pytest.mark.parametrize("fault", ["hang", "500", "close", "garbage"])
def test_failing_server_ends_the_run_in_bounded_time(stub: StubServer, fault: str) -> None:
    stub.chat_fault = fault
    outcome, seconds = finish(chain_on(stub))
    assert seconds < BOUND_S, f"{fault}: took {seconds:.0f} s"
    # Either the error propagates, or (once the loop handles stage failures) the run reports it.
    if isinstance(outcome, TPOResult):
        assert outcome.stop_reason not in (None, "max_iterations")
    else:
        assert isinstance(outcome, Exception)


def test_server_dying_mid_run_keeps_the_best_answer(stub: StubServer) -> None:
    stub.chat_fault, stub.fail_after = "500", 1  # the samples come back, then only errors
    outcome, _ = finish(chain_on(stub))
    assert isinstance(outcome, TPOResult), outcome
    assert outcome.score is not None
    assert outcome.stop_reason == "stage_failed"


@pytest.mark.parametrize("error", [RuntimeError, ValueError, TimeoutError])
def test_policy_failing_one_call_in_three_still_finishes(error: type[Exception]) -> None:
    calls = itertools.count(1)

    def flaky(messages: list[BaseMessage], index: int) -> str:
        if next(calls) % 3 == 0:
            raise error("transient failure")
        return default_responder(messages, index)

    config = TPOConfig(num_samples=3, max_iterations=2, seed=0, max_retries=2, retry_backoff_s=0.01)
    finished = 0
    for _ in range(5):
        chain = TPOChain(
            policy=ScriptedChatModel(responder=flaky), reward=length_reward(), config=config
        )
        result = chain.invoke("q")
        finished += result.stop_reason == "max_iterations"
    assert finished == 5


def test_run_deadline_returns_the_best_answer_so_far() -> None:
    policy = ScriptedChatModel(delay=0.5)  # about 2 s per iteration, 12 s for all six
    config = TPOConfig(num_samples=2, max_iterations=6, seed=0, timeout_s=2.0)
    start = time.perf_counter()
    result = TPOChain(policy=policy, reward=length_reward(), config=config).invoke("q")
    assert time.perf_counter() - start < 8
    assert result.stop_reason == "timeout" and result.score is not None
