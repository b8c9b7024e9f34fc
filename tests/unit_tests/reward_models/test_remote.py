"""RemoteRewardModel against an in-process stub of vLLM's /classify and /pooling endpoints."""

import json
from typing import Any

import httpx
import pytest
from langchain_core.messages import AIMessage, HumanMessage

from langchain_tpo.reward_models import (
    Combination,
    RemoteRewardModel,
    RewardModelError,
    RewardServerError,
)


class CharTokenizer:
    """A tokenizer stand-in: one token per character, a ChatML-like template."""

    chat_template = "{% for m in messages %}<{{ m.role }}>{{ m.content }}</s>{% endfor %}"
    name_or_path = "char-tokenizer"
    bos_token_id = None
    model_max_length = 10**30

    def apply_chat_template(self, messages: list[dict[str, str]], **kwargs: Any) -> str:
        return "".join(f"<{m['role']}>{m['content']}</s>" for m in messages)

    def __call__(self, text: str, add_special_tokens: bool = True) -> dict[str, list[int]]:
        return {"input_ids": [ord(c) for c in text]}


class Stub:
    """Records requests; answers with scripted statuses, then with one score per input."""

    def __init__(self, statuses: list[int] | None = None, endpoint: str = "classify") -> None:
        self.statuses = list(statuses or [])
        self.endpoint = endpoint
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.statuses:
            status = self.statuses.pop(0)
            return httpx.Response(
                status, json={"error": {"message": f"boom {status}", "code": status}}
            )
        body = json.loads(request.content)
        key = "probs" if self.endpoint == "classify" else "data"
        data = [{"index": i, key: [float(len(ids))]} for i, ids in enumerate(body["input"])]
        return httpx.Response(200, json={"data": data[::-1]})  # any order: sorted by index


def make(stub: Any, **kwargs: Any) -> RemoteRewardModel:
    return RemoteRewardModel(
        "http://rm.test/v1",
        model="rm",
        tokenizer=CharTokenizer(),
        retry_backoff=0.0,
        client_kwargs={"transport": httpx.MockTransport(stub)},
        **kwargs,
    )


def expected_length(query: Any, response: str) -> float:
    turns = (
        [("user", query)]
        if isinstance(query, str)
        else [("user" if m.type == "human" else "assistant", m.text) for m in query]
    )
    turns.append(("assistant", response))
    return float(sum(len(f"<{r}>{c}</s>") for r, c in turns))


def test_scores_all_pairs_in_one_request_as_token_ids() -> None:
    stub = Stub()
    reward = make(stub, api_key="secret")
    conversation = [HumanMessage("hi"), AIMessage("hello"), HumanMessage("help")]
    pairs: list[Any] = [("q", "short"), (conversation, "a longer answer")]
    assert reward.score(pairs) == [expected_length(q, r) for q, r in pairs]
    assert len(stub.requests) == 1
    request = stub.requests[0]
    assert str(request.url) == "http://rm.test/classify"
    assert request.headers["authorization"] == "Bearer secret"
    body = json.loads(request.content)
    assert body["model"] == "rm"
    assert body["use_activation"] is False
    assert body["add_special_tokens"] is False
    assert body["input"][0] == [ord(c) for c in "<user>q</s><assistant>short</s>"]


async def test_async_and_pooling_endpoint() -> None:
    stub = Stub(endpoint="pooling")
    reward = make(stub, endpoint="pooling")
    assert await reward.ascore([("q", "abc")]) == [expected_length("q", "abc")]
    assert str(stub.requests[0].url) == "http://rm.test/pooling"
    assert json.loads(stub.requests[0].content)["task"] == "classify"


def test_retries_server_errors_then_succeeds() -> None:
    stub = Stub(statuses=[503, 500])
    assert make(stub, max_retries=2).score([("q", "r")]) == [expected_length("q", "r")]
    assert len(stub.requests) == 3


async def test_gives_up_after_retries_with_the_server_message() -> None:
    stub = Stub(statuses=[503] * 5)
    with pytest.raises(RewardServerError, match=r"HTTP 503 boom 503 after 3 attempt\(s\)"):
        await make(stub, max_retries=2).ascore([("q", "r")])
    assert len(stub.requests) == 3


def test_client_errors_are_not_retried() -> None:
    stub = Stub(statuses=[400])
    with pytest.raises(RewardServerError, match="HTTP 400 boom 400"):
        make(stub, max_retries=3).score([("q", "r")])
    assert len(stub.requests) == 1


def test_server_down_is_a_clear_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    reward = make(refuse, max_retries=1)
    with pytest.raises(
        RewardServerError, match=r"could not reach http://rm\.test/classify"
    ) as info:
        reward.score([("q", "r")])
    assert "Connection refused" in str(info.value)
    assert "vllm serve rm --runner pooling" in str(info.value)
    assert isinstance(info.value, RewardModelError)


async def test_timeout_is_retried_then_reported() -> None:
    calls = []

    def slow(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(RewardServerError, match="ReadTimeout"):
        await make(slow, max_retries=2).ascore([("q", "r")])
    assert len(calls) == 3


def test_malformed_answer_and_wrong_count() -> None:
    def garbage(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="not json")

    with pytest.raises(RewardServerError, match="unexpected answer"):
        make(garbage).score([("q", "r")])

    def one(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": [{"index": 0, "probs": [1.0]}]})

    with pytest.raises(RewardServerError, match="1 scores for 2 pairs"):
        make(one).score([("q", "r"), ("q", "s")])


def test_truncation_is_counted_and_warned(caplog: pytest.LogCaptureFixture) -> None:
    stub = Stub()
    reward = make(stub, max_length=40)
    scores = reward.score([("q", "x" * 200), ("q", "ok")])
    assert scores[0] == 40.0
    assert reward.truncated == 1
    assert "1 of 2 pair(s) exceeded max_length=40" in caplog.text
    ids = json.loads(stub.requests[0].content)["input"][0]
    assert "".join(map(chr, ids)).endswith("xxx</s>")  # the template's end is kept


# -- credentials and retry hints ----------------------------------------------------------------

KEY = "sk-PLANTED-reward-31337"
PASSWORD = "pw-PLANTED-8a8a8a"


def test_key_is_a_secret_and_urls_are_shown_without_credentials() -> None:
    stub = Stub()
    reward = RemoteRewardModel(
        f"http://user:{PASSWORD}@rm.test/v1?api_key={KEY}",
        model="rm",
        api_key=KEY,
        tokenizer=CharTokenizer(),
        client_kwargs={"transport": httpx.MockTransport(stub)},
    )
    assert reward.score([("q", "r")]) == [expected_length("q", "r")]
    request = stub.requests[0]
    # Requests carry every credential given: the endpoint goes before the query.
    assert request.url.path == "/classify" and request.url.params["api_key"] == KEY
    shown = repr(reward) + reward.get_name() + json.dumps(reward.to_json()) + reward.shown_url
    assert KEY not in shown and PASSWORD not in shown
    assert reward.shown_url == "http://***@rm.test/classify?api_key=***"


def test_failure_messages_hold_no_credentials_and_say_a_retry_may_work() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot connect to {request.url}", request=request)

    reward = RemoteRewardModel(
        f"http://user:{PASSWORD}@rm.test?api_key={KEY}",
        model="rm",
        tokenizer=CharTokenizer(),
        max_retries=0,
        client_kwargs={"transport": httpx.MockTransport(refuse)},
    )
    with pytest.raises(RewardServerError) as info:
        reward.score([("q", "r")])
    assert KEY not in str(info.value) and PASSWORD not in str(info.value)
    assert info.value.is_retryable

    with pytest.raises(RewardServerError) as client_error:
        make(Stub(statuses=[400])).score([("q", "r")])
    assert not client_error.value.is_retryable


def test_empty_key_sends_no_header() -> None:
    stub = Stub()
    make(stub, api_key="").score([("q", "r")])
    assert "authorization" not in stub.requests[0].headers


def two_heads(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    data = [{"index": i, "probs": [float(len(ids)), -1.0]} for i, ids in enumerate(body["input"])]
    return httpx.Response(200, json={"data": data})


def test_a_combination_of_served_columns_keeps_each() -> None:
    reward = make(two_heads, combination=Combination(weights={"0": 1.0, "1": 3.0}))
    (got,) = reward.evaluate([("q", "answer")])
    length = expected_length("q", "answer")
    assert got.score == length - 3.0
    assert got.components == {"0": length, "1": -1.0}
    with pytest.raises(ValueError, match="name the columns by number"):
        make(two_heads, combination=Combination(weights={"helpful": 1.0})).score([("q", "a")])


def test_weights_the_checkpoint_declares_are_read_from_its_local_config(tmp_path: Any) -> None:
    transformers = pytest.importorskip("transformers")
    config = transformers.LlamaConfig(
        num_labels=2,
        id2label={0: "helpfulness", 1: "harmlessness"},
        label2id={"helpfulness": 0, "harmlessness": 1},
    )
    config.reward_combination = {"weights": {"helpfulness": 1.0, "harmlessness": 0.5}}
    config.save_pretrained(tmp_path)
    reward = RemoteRewardModel(
        "http://rm.test/v1",
        model=str(tmp_path),
        tokenizer=CharTokenizer(),
        retry_backoff=0.0,
        client_kwargs={"transport": httpx.MockTransport(two_heads)},
    )
    (got,) = reward.evaluate([("q", "answer")])
    length = expected_length("q", "answer")
    assert got.components == {"helpfulness": length, "harmlessness": -1.0}
    assert got.score == length - 0.5


def test_a_config_that_declares_nothing_leaves_the_first_column(tmp_path: Any) -> None:
    # A causal LM's config (a policy directory as tokenizer) says nothing about reward labels,
    # though transformers gives every config two labels by default.
    transformers = pytest.importorskip("transformers")
    transformers.LlamaConfig().save_pretrained(tmp_path)
    reward = RemoteRewardModel(
        "http://rm.test/v1", model=str(tmp_path), tokenizer=CharTokenizer(), retry_backoff=0.0,
        client_kwargs={"transport": httpx.MockTransport(two_heads)},
    )  # fmt: skip
    reward.check_tokenizer()
    assert reward.score([("q", "answer")]) == [expected_length("q", "answer")]


async def test_concurrent_async_calls_go_to_the_server_in_one_request() -> None:
    import asyncio

    stub = Stub()
    # A window wide enough that a loaded machine still gathers the six calls: what is tested
    # is that gathered calls share one request, not how short the window may be.
    reward = make(stub, batch_window_ms=200.0)
    calls: list[list[Any]] = [[(f"q{i}", "a" * i), (f"q{i}", "b")] for i in range(6)]
    scores = await asyncio.gather(*(reward.ascore(call) for call in calls))
    assert scores == [[expected_length(q, r) for q, r in call] for call in calls]
    assert len(stub.requests) == 1
    assert len(json.loads(stub.requests[0].content)["input"]) == 12
    counts = reward.score_counts()
    assert (counts.score_calls, counts.batches) == (6, 1)


async def test_a_failing_request_fails_every_call_it_carried() -> None:
    import asyncio

    stub = Stub(statuses=[400])
    reward = make(stub)
    results = await asyncio.gather(
        *(reward.ascore([(f"q{i}", "a")]) for i in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, RewardServerError) and "HTTP 400" in str(r) for r in results)
    assert len(stub.requests) == 1
    assert await reward.ascore([("q", "a")]) == [expected_length("q", "a")]
