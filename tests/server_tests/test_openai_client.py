"""The official `openai` client against `tpo serve`: sync, async and streaming.

Every reply is validated against the client's own pydantic types (`ChatCompletion`,
`ChatCompletionChunk`), not just parsed leniently, so each field is one OpenAI clients read.
"""

from __future__ import annotations

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from langchain_tpo import TPOConfig
from tests.server_tests.conftest import KEY, CancellablePolicy, echo, serving

QUESTION = "How do tides work?"
USER = [{"role": "user", "content": QUESTION}]


def client(url: str, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=60)


def test_models_are_listed_and_retrieved() -> None:
    with serving(api_key=KEY, model_ids=("tpo", "smollm2")) as server:
        models = client(server.url).models.list()
        assert [m.id for m in models.data] == ["tpo", "smollm2"]
        assert client(server.url).models.retrieve("smollm2").id == "smollm2"
        with pytest.raises(openai.NotFoundError):
            client(server.url).models.retrieve("gpt-4o")


@pytest.mark.parametrize("key", [None, "sk-wrong-key"])
def test_a_missing_or_wrong_key_is_a_401(key: str | None) -> None:
    with serving(api_key=KEY) as server:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        for method, path in (("GET", "/v1/models"), ("POST", "/v1/chat/completions")):
            response = httpx.request(
                method, f"{server.url}{path}", headers=headers, json={"model": "tpo"}
            )
            assert response.status_code == 401
            error = response.json()["error"]
            assert set(error) == {"message", "type", "param", "code"}
            assert error["code"] == ("invalid_api_key" if key else "missing_api_key")
            assert KEY not in response.text
        if key:  # the openai client itself refuses to send no key
            with pytest.raises(openai.AuthenticationError):
                client(server.url, key).chat.completions.create(model="tpo", messages=USER)
        assert client(server.url).models.list().data  # the right key gets in
        assert httpx.get(f"{server.url}/health").status_code == 200  # probes need no key


def test_sync_answer_is_a_chat_completion_for_its_question() -> None:
    with serving(api_key=KEY) as server:
        raw = client(server.url).chat.completions.with_raw_response.create(
            model="tpo", messages=USER
        )
        completion = ChatCompletion.model_validate(raw.http_response.json())  # strict types
        answer = completion.choices[0]
        assert answer.finish_reason == "stop"
        assert answer.message.role == "assistant"
        assert f"[{QUESTION}]" in (answer.message.content or "")
        tpo = raw.http_response.json()["tpo"]
        assert tpo["stop_reason"] == "max_iterations" and tpo["iterations"] == 1
        assert len(tpo["best_scores"]) == 2 and tpo["score"] == tpo["best_scores"][-1]
        assert "result" not in tpo  # the full result only on request
        assert completion.usage is not None and completion.usage.total_tokens > 0


async def test_async_client_and_per_request_settings() -> None:
    policy = CancellablePolicy(responder=echo)
    with serving(policy=policy, api_key=KEY) as server:
        aclient = openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key=KEY, max_retries=0)
        completion = await aclient.chat.completions.create(
            model="tpo",
            messages=USER,
            temperature=0.3,
            max_tokens=40,
            seed=7,
            extra_body={"tpo": {"num_samples": 3, "max_iterations": 2, "return_full_result": True}},
        )
        await aclient.close()
    tpo = completion.model_extra["tpo"]
    assert tpo["iterations"] == 2 and len(tpo["best_scores"]) == 3
    assert len(tpo["result"]["candidates"]) == 9  # N=3 samples + 2 rounds of 3 rewrites
    requests = policy.requests
    assert len(requests) == 7  # sample, then critique, suggest, rewrite twice
    assert [r.samples for r in requests if r.stage in ("sample", "rewrite")] == [3, 3, 3]
    assert all(r.kwargs.get("temperature") == 0.3 for r in requests)
    assert all(r.kwargs.get("max_tokens") == 40 for r in requests)


def test_n_gives_the_best_distinct_answers_best_first() -> None:
    with serving(api_key=KEY) as server:
        raw = client(server.url).chat.completions.with_raw_response.create(
            model="tpo", messages=USER, n=3, extra_body={"tpo": {"num_samples": 4}}
        )
    body = raw.http_response.json()
    completion = ChatCompletion.model_validate(body)
    texts = [c.message.content for c in completion.choices]
    assert [c.index for c in completion.choices] == [0, 1, 2]
    assert len(set(texts)) == 3
    scores = body["tpo"]["scores"]
    assert scores == sorted(scores, reverse=True) and scores[0] == body["tpo"]["score"]
    assert scores == [float(len(t)) for t in texts]  # the length reward: best first


def test_stop_cuts_the_chosen_answer() -> None:
    with serving(api_key=KEY) as server:
        completion = client(server.url).chat.completions.create(
            model="tpo", messages=USER, stop=["]"]
        )
    assert completion.choices[0].message.content == f"About [{QUESTION}"


def test_streaming_shows_progress_then_the_answer_then_a_finish_reason() -> None:
    with serving(api_key=KEY) as server:
        stream = client(server.url).chat.completions.create(
            model="tpo",
            messages=USER,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk.model_dump())
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    reasoning = "".join(
        (c.choices[0].delta.model_extra or {}).get("reasoning_content", "")
        for c in chunks
        if c.choices
    )
    assert "Samples: sampling 2 answers" in reasoning
    assert "Iteration 1 of 1: rewriting" in reasoning and "Done (max_iterations)" in reasoning
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content.startswith(f"About [{QUESTION}]")
    finishes = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert [c.choices[0].finish_reason for c in finishes] == ["stop"]
    assert finishes[0].model_extra["tpo"]["stop_reason"] == "max_iterations"
    # the usage chunk comes last, with no choices
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens > 0
    assert chunks.index(finishes[0]) == len(chunks) - 2


async def test_async_streaming_without_usage_ends_with_the_finish_chunk() -> None:
    with serving(api_key=KEY) as server:
        aclient = openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key=KEY, max_retries=0)
        stream = await aclient.chat.completions.create(model="tpo", messages=USER, stream=True)
        chunks = [chunk async for chunk in stream]
        await aclient.close()
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)


@pytest.mark.parametrize(
    ("kwargs", "error", "param"),
    [
        ({"response_format": {"type": "json_object"}}, openai.BadRequestError, "response_format"),
        ({"logprobs": True}, openai.BadRequestError, "logprobs"),
        ({"n": 0}, openai.BadRequestError, "n"),
        ({"temperature": 7}, openai.BadRequestError, "tpo.temperature"),
        ({"extra_body": {"tpo": {"num_samples": 99}}}, openai.BadRequestError, "tpo.num_samples"),
        ({"extra_body": {"tpo": {"iterations": 2}}}, openai.BadRequestError, "tpo.iterations"),
        ({"extra_body": {"frobnicate": 1}}, openai.BadRequestError, "frobnicate"),
        ({"model": "gpt-4o"}, openai.NotFoundError, "model"),
        (
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "x"},
                ]
            },
            openai.UnprocessableEntityError,
            "messages",
        ),
    ],
)
def test_bad_requests_get_openai_errors(
    kwargs: dict, error: type[openai.APIStatusError], param: str
) -> None:
    arguments = {"model": "tpo", "messages": USER, **kwargs}
    with serving(api_key=KEY) as server, pytest.raises(error) as raised:
        client(server.url).chat.completions.create(**arguments)
    body = raised.value.body
    assert isinstance(body, dict) and set(body) == {"message", "type", "param", "code"}
    assert body["param"] == param and body["message"]
    assert "Traceback" not in raised.value.response.text


def test_timeout_returns_the_best_answer_so_far_with_finish_reason_length() -> None:
    policy = CancellablePolicy(responder=echo, delay=0.3)
    config = TPOConfig(num_samples=2, max_iterations=20, retry_backoff_s=0.05)
    with serving(policy=policy, config=config, api_key=KEY, request_timeout_s=1.5) as server:
        completion = client(server.url).chat.completions.create(model="tpo", messages=USER)
    assert completion.choices[0].finish_reason == "length"
    assert f"[{QUESTION}]" in (completion.choices[0].message.content or "")
    tpo = completion.model_extra["tpo"]
    assert tpo["stop_reason"] == "timeout" and tpo["timed_out"] is True
    assert tpo["iterations"] < 20


def test_a_hung_policy_is_a_504_within_the_request_timeout() -> None:
    policy = CancellablePolicy(responder=echo, delay=60)
    with (
        serving(policy=policy, api_key=KEY, request_timeout_s=1.0) as server,
        pytest.raises(openai.InternalServerError) as raised,
    ):
        client(server.url).chat.completions.create(model="tpo", messages=USER)
    assert raised.value.status_code == 504
    assert raised.value.body["code"] == "timeout"
    assert policy.cancelled >= 1  # the hung request was cancelled, not left running
