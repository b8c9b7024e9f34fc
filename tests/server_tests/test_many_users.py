"""Many users at once: concurrency, the bounded queue, 429, clients that leave, SIGTERM."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import openai
import pytest

from langchain_tpo import TPOConfig
from tests.server_tests.conftest import KEY, CancellablePolicy, echo, serving, wait_until

AUTH = {"Authorization": f"Bearer {KEY}"}


def body(question: str, **extra: object) -> dict:
    return {"model": "tpo", "messages": [{"role": "user", "content": question}], **extra}


async def test_32_concurrent_requests_each_get_their_own_answer() -> None:
    policy = CancellablePolicy(responder=echo, delay=0.05)
    with serving(policy=policy, api_key=KEY, max_concurrency=32) as server:
        client = openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key=KEY, max_retries=0)
        questions = [f"Question number {i} about topic {i * 7}?" for i in range(32)]
        replies = await asyncio.gather(
            *(
                client.chat.completions.create(
                    model="tpo", messages=[{"role": "user", "content": q}]
                )
                for q in questions
            )
        )
        await client.close()
    for question, reply in zip(questions, replies, strict=True):
        text = reply.choices[0].message.content or ""
        assert f"[{question}]" in text
        others = [q for q in questions if q != question and f"[{q}]" in text]
        assert not others, f"{question!r} got an answer naming {others}"
    assert len(policy.requests_for("sample")) == 32
    assert policy.peak > 16  # the runs overlapped (one loaded policy served them all)


def test_full_slots_and_queue_give_429_with_retry_after() -> None:
    policy = CancellablePolicy(responder=echo, delay=0.5)
    with serving(policy=policy, api_key=KEY, max_concurrency=1, max_queue=1) as server:
        results: list[httpx.Response] = []

        def send() -> None:
            results.append(
                httpx.post(
                    f"{server.url}/v1/chat/completions", json=body("q"), headers=AUTH, timeout=60
                )
            )

        first = threading.Thread(target=send)
        first.start()
        wait_until(lambda: policy.started >= 1, what="the first run to start")
        second = threading.Thread(target=send)
        second.start()
        wait_until(lambda: server.app.state.tpo.admission.queued == 1, what="one queued")
        refused = httpx.post(
            f"{server.url}/v1/chat/completions", json=body("q"), headers=AUTH, timeout=60
        )
        first.join()
        second.join()
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["error"]["type"] == "rate_limit_error"
    assert [r.status_code for r in results] == [200, 200]


def test_openai_client_sees_a_rate_limit_error() -> None:
    policy = CancellablePolicy(responder=echo, delay=0.5)
    with serving(policy=policy, api_key=KEY, max_concurrency=1, max_queue=0) as server:
        thread = threading.Thread(
            target=lambda: httpx.post(
                f"{server.url}/v1/chat/completions", json=body("q"), headers=AUTH, timeout=60
            )
        )
        thread.start()
        wait_until(lambda: policy.started >= 1)
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=KEY, max_retries=0)
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model="tpo", messages=[{"role": "user", "content": "x"}])
        thread.join()


@contextmanager
def _connection_with(url: str, payload: bytes) -> Iterator[socket.socket]:
    """A raw connection that sent a request; it is closed, unread, when the block ends."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        head = (
            f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n"
        )
        sock.sendall(head.encode() + payload)
        yield sock


@pytest.mark.parametrize("stream", [False, True])
def test_a_client_that_leaves_cancels_its_run(stream: bool) -> None:
    import json

    policy = CancellablePolicy(responder=echo, delay=30)
    with serving(policy=policy, api_key=KEY) as server:
        admission = server.app.state.tpo.admission
        with _connection_with(server.url, json.dumps(body("q", stream=stream)).encode()):
            wait_until(lambda: policy.started == 1, what="the run to start")
        wait_until(lambda: policy.cancelled == 1, timeout=20, what="the policy request cancelled")
        wait_until(lambda: admission.in_flight == 0, timeout=10, what="the slot released")
        assert policy.started == 1  # nothing ran after the client left
        # the server still serves
        policy.delay = 0
        done = httpx.post(f"{server.url}/v1/chat/completions", json=body("q2"), headers=AUTH)
        assert done.status_code == 200


def test_a_queued_client_that_leaves_gives_up_its_place() -> None:
    import json

    policy = CancellablePolicy(responder=echo, delay=0.5)
    with serving(policy=policy, api_key=KEY, max_concurrency=1, max_queue=4) as server:
        admission = server.app.state.tpo.admission
        first = threading.Thread(
            target=lambda: httpx.post(
                f"{server.url}/v1/chat/completions", json=body("first"), headers=AUTH, timeout=60
            )
        )
        first.start()
        wait_until(lambda: admission.running == 1)
        with _connection_with(server.url, json.dumps(body("leaver")).encode()):
            wait_until(lambda: admission.queued == 1, what="the leaver queued")
        wait_until(lambda: admission.queued == 0, timeout=20, what="the leaver's place freed")
        first.join()
        wait_until(lambda: admission.in_flight == 0)
    assert not any("leaver" in r.messages[-1].text for r in policy.requests)


def test_drain_finishes_the_run_in_flight_and_refuses_new_ones() -> None:
    policy = CancellablePolicy(responder=echo, delay=0.4)
    with serving(policy=policy, api_key=KEY) as server:
        answers: list[httpx.Response] = []
        thread = threading.Thread(
            target=lambda: answers.append(
                httpx.post(
                    f"{server.url}/v1/chat/completions", json=body("late"), headers=AUTH, timeout=60
                )
            )
        )
        thread.start()
        wait_until(lambda: policy.started >= 1)
        server.drain()
        refused = httpx.post(f"{server.url}/v1/chat/completions", json=body("new"), headers=AUTH)
        ready = httpx.get(f"{server.url}/ready")
        live = httpx.get(f"{server.url}/health")
        thread.join()
        wait_until(lambda: server.stopped, timeout=20, what="the server to stop")
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "shutting_down"
    assert "Retry-After" in refused.headers
    assert ready.status_code == 503 and ready.json()["draining"] is True
    assert live.status_code == 200
    assert answers[0].status_code == 200
    assert "[late]" in answers[0].json()["choices"][0]["message"]["content"]
    assert policy.cancelled == 0


def test_runs_share_the_loaded_models_and_the_metrics_count_them() -> None:
    policy = CancellablePolicy()  # distinct texts: every rewrite is scored
    config = TPOConfig(num_samples=2, max_iterations=1)
    with serving(policy=policy, config=config, api_key=KEY) as server:
        for q in ("a?", "b?"):
            httpx.post(f"{server.url}/v1/chat/completions", json=body(q), headers=AUTH)
        httpx.post(f"{server.url}/v1/chat/completions", json={"bad": 1}, headers=AUTH)
        text = httpx.get(f"{server.url}/metrics").text
    assert 'tpo_requests_total{route="/v1/chat/completions",status="200"} 2.0' in text
    assert 'tpo_requests_total{route="/v1/chat/completions",status="400"} 1.0' in text
    assert 'tpo_runs_total{stop_reason="max_iterations"} 2.0' in text
    assert "tpo_runs_in_flight 0.0" in text and "tpo_queue_depth 0.0" in text
    assert "tpo_reward_batch_size_count 4.0" in text  # 2 runs x (samples + rewrites)
    assert "tpo_reward_batch_size_sum 8.0" in text  # 2 pairs per score call
    assert "tpo_policy_requests_total 8.0" in text  # 2 runs x 4 requests
    assert 'tpo_stage_duration_seconds_count{stage="critique"} 2.0' in text
    assert 'tpo_policy_tokens_total{kind="input"}' in text
