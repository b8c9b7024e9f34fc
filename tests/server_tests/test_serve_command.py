"""`tpo serve --server-url STUB` in a fresh process, driven by the openai client, as a user runs it.

The policy is the stub OpenAI-compatible server (tests/reliability/stub_server.py), the reward
its `/classify` endpoint (`--reward-url`, with the embedded model's tokenizer), so nothing
heavy loads. One server process serves most tests of this module; each test counts only the
stub requests it caused.
"""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
from collections.abc import Iterator

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from tests.reliability.stub_server import StubServer
from tests.server_tests.conftest import KEY, ServeProcess, wait_until

POLICY_KEY = "sk-policy-PLANTED-9e04c2"


@pytest.fixture(scope="module")
def tokenizer_dir() -> str:
    from langchain_tpo.bundled import default_model_dir

    try:
        return str(default_model_dir())
    except (ImportError, FileNotFoundError) as e:
        pytest.skip(f"the embedded default model is not installed: {e}")


@pytest.fixture(scope="module")
def module_stub() -> Iterator[StubServer]:
    server = StubServer().start()
    try:
        yield server
    finally:
        server.stop()


def serve_args(stub: StubServer, tokenizer_dir: str, *extra: str) -> list[str]:
    return [
        "--server-url", f"{stub.url}/v1",
        "--server-api-key", POLICY_KEY,
        "--reward-url", stub.url,
        "--reward", tokenizer_dir,
        "--api-key", KEY,
        "-n", "2", "-d", "1", "--max-tokens", "16",
        "--timeout", "10",
        *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def served(module_stub: StubServer, tokenizer_dir: str) -> Iterator[ServeProcess]:
    process = ServeProcess(*serve_args(module_stub, tokenizer_dir, "--max-concurrency", "32"))
    try:
        yield process
    finally:
        process.process.send_signal(signal.SIGTERM)
        process.wait(60)
        process.stop()


def client(served: ServeProcess, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{served.url}/v1", api_key=key, max_retries=0, timeout=120)


def ask(question: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": question}]


def test_models_are_the_default_name_and_the_policys(served: ServeProcess) -> None:
    assert [m.id for m in client(served).models.list().data] == ["tpo", "stub-model"]


def test_wrong_or_missing_key_is_refused(served: ServeProcess) -> None:
    with pytest.raises(openai.AuthenticationError):
        client(served, "sk-wrong").chat.completions.create(model="tpo", messages=ask("hi"))
    response = httpx.post(f"{served.url}/v1/chat/completions", json={"model": "tpo"})
    assert response.status_code == 401 and set(response.json()["error"]) == {
        "message",
        "type",
        "param",
        "code",
    }


def test_tpo_settings_make_seven_policy_requests_with_n(
    served: ServeProcess, module_stub: StubServer
) -> None:
    before = len(module_stub.chat_requests)
    raw = client(served).chat.completions.with_raw_response.create(
        model="stub-model",
        messages=ask("How do tides work?"),
        extra_body={"tpo": {"num_samples": 3, "max_iterations": 2}},
    )
    completion = ChatCompletion.model_validate(raw.http_response.json())
    requests = module_stub.chat_requests[before:]
    assert len(requests) == 7
    assert [r.body.get("n") for r in requests] == [3, 1, 1, 3, 1, 1, 3]
    assert all(r.headers["authorization"] == f"Bearer {POLICY_KEY}" for r in requests)
    # usage sums every policy request: the stub reports 10 prompt and 5 per choice
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 10 * 7
    assert completion.usage.completion_tokens == sum(5 * r.body.get("n", 1) for r in requests)
    assert completion.usage.total_tokens == 70 + 5 * 13
    tpo = raw.http_response.json()["tpo"]
    assert tpo["iterations"] == 2 and tpo["model_calls"] == 7
    assert "[How do tides work?]" in (completion.choices[0].message.content or "")


def test_a_server_without_n_is_asked_once_per_missing_sample(
    served: ServeProcess, module_stub: StubServer
) -> None:
    before = len(module_stub.chat_requests)
    module_stub.honour_n = False
    try:
        raw = client(served).chat.completions.with_raw_response.create(
            model="tpo",
            messages=ask("Why is the sea salty?"),
            extra_body={"tpo": {"num_samples": 3, "max_iterations": 1, "return_full_result": True}},
        )
    finally:
        module_stub.honour_n = True
    requests = module_stub.chat_requests[before:]
    # sample: one request for 3 (1 came back) + 2 more; critique; suggest; rewrite: 1 + 2
    assert len(requests) == 8
    result = raw.http_response.json()["tpo"]["result"]
    assert len(result["candidates"]) == 6


def test_streaming_through_the_command(served: ServeProcess) -> None:
    stream = client(served).chat.completions.create(
        model="tpo",
        messages=ask("Name a colour."),
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk.model_dump())
    finishes = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finishes == ["stop"]
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "[Name a colour.]" in content


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        (b"{not json", 400),
        (b"[]", 400),
        (json.dumps({"model": "tpo"}).encode(), 400),
        (json.dumps({"model": "tpo", "messages": ask("x"), "logprobs": True}).encode(), 400),
        (json.dumps({"model": "nope", "messages": ask("x")}).encode(), 404),
        (json.dumps({"model": "tpo", "messages": ask("x") * 300}).encode(), 413),
        (
            json.dumps({"model": "tpo", "messages": [{"role": "system", "content": "x"}]}).encode(),
            422,
        ),
    ],
)
def test_bad_bodies_get_openai_shaped_errors(
    served: ServeProcess, payload: bytes, status: int
) -> None:
    response = httpx.post(
        f"{served.url}/v1/chat/completions",
        content=payload,
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
    )
    assert response.status_code == status
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]


async def test_32_concurrent_requests_through_the_command(served: ServeProcess) -> None:
    aclient = openai.AsyncOpenAI(
        base_url=f"{served.url}/v1", api_key=KEY, max_retries=0, timeout=300
    )
    questions = [f"What is {i} plus {i}?" for i in range(32)]
    replies = await asyncio.gather(
        *(aclient.chat.completions.create(model="tpo", messages=ask(q)) for q in questions)
    )
    await aclient.close()
    for question, reply in zip(questions, replies, strict=True):
        text = reply.choices[0].message.content or ""
        assert f"[{question}]" in text
        assert not [q for q in questions if q != question and f"[{q}]" in text]


def test_sigterm_finishes_the_request_in_flight_and_exits_0(tokenizer_dir: str) -> None:
    stub = StubServer(chat_delay=1.0).start()
    process = ServeProcess(*serve_args(stub, tokenizer_dir))
    try:
        answers: list[httpx.Response] = []
        worker = threading.Thread(
            target=lambda: answers.append(
                httpx.post(
                    f"{process.url}/v1/chat/completions",
                    json={"model": "tpo", "messages": ask("Still there?")},
                    headers={"Authorization": f"Bearer {KEY}"},
                    timeout=120,
                )
            )
        )
        worker.start()
        wait_until(lambda: len(stub.chat_requests) >= 1, what="the run to reach the policy")
        process.process.send_signal(signal.SIGTERM)
        wait_until(lambda: "Stopping" in process.stderr, what="the drain to start")
        refused = httpx.post(
            f"{process.url}/v1/chat/completions",
            json={"model": "tpo", "messages": ask("New?")},
            headers={"Authorization": f"Bearer {KEY}"},
        )
        worker.join(120)
        code = process.wait(60)
    finally:
        process.stop()
        stub.stop()
    assert refused.status_code == 503
    assert answers and answers[0].status_code == 200
    assert "[Still there?]" in answers[0].json()["choices"][0]["message"]["content"]
    assert code == 0, process.stderr
    assert "Traceback" not in process.stderr
    for secret in (KEY, POLICY_KEY):
        assert secret not in process.stderr


def test_startup_failure_is_one_line(tokenizer_dir: str) -> None:
    from tests.reliability.conftest import run_tpo

    started = time.monotonic()
    done = run_tpo("serve", "--server-url", "http://127.0.0.1:9/v1", "--port", "0")
    assert done.code == 1 and "Traceback" not in done.err
    assert done.err.strip().splitlines()[-1].startswith("tpo serve: error: no server answers")
    assert time.monotonic() - started < 120
