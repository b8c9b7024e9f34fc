"""Plain HTTP against `tpo serve`, as the harshest client would send it."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator

import httpx
import pytest

from langchain_tpo import TPOChain, TPOConfig
from langchain_tpo.cli.models import server_chat_model
from langchain_tpo.server import ServerSettings, ServerThread, create_app
from tests.reliability.stub_server import StubServer
from tests.server_tests.conftest import KEY, length_reward, serving

AUTH = {"Authorization": f"Bearer {KEY}"}
OK = {"model": "tpo", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with serving(api_key=KEY, max_body_bytes=100_000) as running:
        yield running


def post(server: ServerThread, content: bytes, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/chat/completions", content=content, headers={**AUTH, **headers}
    )


def assert_openai_error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    assert "Traceback" not in response.text
    return error


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "no body"),
        (b"{", "not valid JSON"),
        (b"[" * 50_000 + b"]" * 50_000, "nested too deeply"),
        (b'{"model": "tpo", "seed": ' + b"9" * 5000 + b"}", "not valid JSON"),
        (b'{"model":"tpo","messages":[{"role":"user","content":"\xff\xfe"}]}', "not valid JSON"),
        (b'{"model":"tpo","messages":[{"role":"user","content":"a \\ud800 b"}]}', "surrogate"),
        (b'{"model":"tpo","messages":[{"role":"user","content":"x"}],"temperature":NaN}', "finite"),
        (b'{"model":"tpo","messages":[{"role":"user","content":"x"}],"top_p":1e999}', "finite"),
    ],
)
def test_hostile_bodies_are_400s(server: ServerThread, content: bytes, words: str) -> None:
    error = assert_openai_error(post(server, content), 400)
    assert words in error["message"]


def test_a_body_above_the_limit_is_refused_unread(server: ServerThread) -> None:
    assert_openai_error(post(server, b"x" * 100_001), 413)
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
            + f"Authorization: Bearer {KEY}\r\n".encode()
            + b"Content-Length: 50000000\r\n\r\n"
            + b"{" * 1000
        )
        head = sock.recv(65536).decode()
    assert head.startswith("HTTP/1.1 413") and "connection: close" in head.lower()


def test_a_chunked_body_above_the_limit_is_cut_off(server: ServerThread) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(50):
            yield b" " * 10_000

    response = httpx.post(f"{server.url}/v1/chat/completions", content=chunks(), headers=AUTH)
    assert_openai_error(response, 413)


def test_several_requests_on_one_connection(server: ServerThread) -> None:
    with httpx.Client(headers=AUTH) as client:
        first = client.post(f"{server.url}/v1/chat/completions", json=OK)
        refused = client.post(f"{server.url}/v1/chat/completions", json={"model": "tpo"})
        second = client.post(f"{server.url}/v1/chat/completions", json=OK)
        models = client.get(f"{server.url}/v1/models")
    assert [r.status_code for r in (first, refused, second, models)] == [200, 400, 200, 200]
    assert first.json()["id"] != second.json()["id"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v1/chat/completions", 405),
        ("PUT", "/v1/chat/completions", 405),
        ("GET", "/v1/completions", 404),
        ("POST", "/v2/anything", 404),
        ("GET", "/v1/models/gpt-4o", 404),
    ],
)
def test_unknown_routes_and_methods(
    server: ServerThread, method: str, path: str, status: int
) -> None:
    response = httpx.request(method, f"{server.url}{path}", headers=AUTH)
    assert_openai_error(response, status)


def test_health_ready_and_metrics_need_no_key(server: ServerThread) -> None:
    assert httpx.get(f"{server.url}/health").json() == {"status": "ok"}
    ready = httpx.get(f"{server.url}/ready")
    assert ready.status_code == 200 and ready.json()["models_loaded"] is True
    metrics = httpx.get(f"{server.url}/metrics")
    assert metrics.status_code == 200 and "tpo_runs_in_flight" in metrics.text


def test_the_key_is_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with serving(api_key=KEY) as running:
        httpx.post(f"{running.url}/v1/chat/completions", json=OK, headers=AUTH)
        httpx.post(
            f"{running.url}/v1/chat/completions", json=OK, headers={"Authorization": "Bearer nope"}
        )
        httpx.post(f"{running.url}/v1/chat/completions", json={"x": KEY}, headers=AUTH)
    assert KEY not in caplog.text


def test_policy_server_failures_are_5xx_without_secrets() -> None:
    secret = "sk-policy-PLANTED-11aa22"
    stub = StubServer().start()
    try:
        policy = server_chat_model(f"{stub.url}/v1", api_key=None, timeout=10)
        chain = TPOChain(
            policy=policy,
            reward=length_reward(),
            config=TPOConfig(num_samples=2, max_iterations=1, max_retries=0),
        )
        settings = ServerSettings(secrets=(secret,), request_timeout_s=20)
        with ServerThread(create_app(chain, settings)) as running:
            url = f"{running.url}/v1/chat/completions"
            stub.chat_fault = "garbage"
            garbage = httpx.post(url, json=OK, timeout=60)
            stub.chat_fault = "500"
            failed = httpx.post(url, json=OK, timeout=60)
    finally:
        stub.stop()
    assert assert_openai_error(garbage, 502)["code"] == "invalid_upstream_response"
    assert assert_openai_error(failed, 502)["code"] == "policy_failed"
    assert secret not in garbage.text + failed.text


def test_a_stream_error_after_the_start_is_an_error_event() -> None:
    from tests.server_tests.conftest import CancellablePolicy, echo

    policy = CancellablePolicy(responder=echo, delay=60)
    with (
        serving(policy=policy, api_key=KEY, request_timeout_s=1.0) as running,
        httpx.stream(
            "POST",
            f"{running.url}/v1/chat/completions",
            json={**OK, "stream": True},
            headers=AUTH,
            timeout=60,
        ) as response,
    ):
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    error = json.loads(lines[-2].removeprefix("data: "))["error"]
    assert error["code"] == "timeout" and set(error) == {"message", "type", "param", "code"}


def test_a_quiet_stream_sends_keep_alive_comments() -> None:
    from tests.server_tests.conftest import CancellablePolicy, echo

    policy = CancellablePolicy(responder=echo, delay=0.5)
    with (
        serving(policy=policy, api_key=KEY, keep_alive_s=0.1) as running,
        httpx.stream(
            "POST",
            f"{running.url}/v1/chat/completions",
            json={**OK, "stream": True},
            headers=AUTH,
            timeout=60,
        ) as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert ": keep-alive" in lines
    first_answer = next(i for i, line in enumerate(lines) if '"content": "About' in line)
    assert lines.index(": keep-alive") < first_answer  # while TPO was still working
    assert lines[-1] == "data: [DONE]"
