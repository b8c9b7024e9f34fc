"""A reasoning policy behind an OpenAI-compatible server (the stub on 127.0.0.1).

What each request carries (the stage's thinking setting, the thinking budget, the answer
schema) is read from the request bodies the server received; what comes back (thinking in the
content, in `reasoning` or `reasoning_content`, reasoning token counts) is checked in TPO's
result.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

pytest.importorskip("langchain_openai")

from langchain_openai import ChatOpenAI

from langchain_tpo import TPOChain, TPOChatModel, TPOConfig
from langchain_tpo.chat_models import ChatOpenAICompatible
from langchain_tpo.reward_models import FunctionReward
from tests.reliability.stub_server import THOUGHT, StubServer

THOUGHT_TOKENS = len(THOUGHT.split())


class Person(BaseModel):
    name: str
    age: int


def client(stub: StubServer, kind: type[ChatOpenAI] = ChatOpenAI, **kwargs: Any) -> ChatOpenAI:
    return kind(
        base_url=f"{stub.url}/v1",
        api_key="sk-stub",  # type: ignore[arg-type]
        model="stub-model",
        timeout=30,
        max_retries=0,
        **kwargs,
    )


def run(policy: Any, **settings: Any) -> Any:
    seen: list[str] = []

    def score(query: str, response: str) -> float:
        seen.append(response)
        return float(len(response))

    config = TPOConfig(num_samples=2, max_iterations=1, seed=0, **settings)
    result = TPOChain(policy=policy, reward=FunctionReward(score), config=config).invoke("Why?")
    return result, seen


def bodies(stub: StubServer) -> list[dict[str, Any]]:
    return [r.body for r in stub.chat_requests]


def test_each_stage_asks_the_server_to_think_or_not(stub: StubServer) -> None:
    stub.thinking = "reasoning"
    policy = client(stub, extra_body={"top_k": 5, "chat_template_kwargs": {"custom": "kept"}})
    run(policy, thinking_stages=("sample", "rewrite"))
    sent = bodies(stub)
    assert [b["chat_template_kwargs"]["enable_thinking"] for b in sent] == [
        True,
        False,
        False,
        True,
    ]
    assert all(b["chat_template_kwargs"]["custom"] == "kept" for b in sent)
    assert all(b["top_k"] == 5 for b in sent)  # the model's own extra_body is kept


def test_the_reasoning_effort_switch_sends_none_where_thinking_is_off(stub: StubServer) -> None:
    run(client(stub), thinking_stages=("sample",), thinking_switch="reasoning_effort")
    efforts = [b.get("reasoning_effort") for b in bodies(stub)]
    assert efforts == [None, "none", "none", "none"]
    assert all("chat_template_kwargs" not in b for b in bodies(stub))


def test_the_thinking_budget_comes_on_top_of_the_answers_tokens(stub: StubServer) -> None:
    run(client(stub), max_tokens=50, thinking_budget=200, thinking_stages=("sample", "rewrite"))
    sent = bodies(stub)
    limits = [b.get("max_completion_tokens") or b.get("max_tokens") for b in sent]
    assert limits == [250, 50, 50, 250]
    assert [b.get("thinking_token_budget") for b in sent] == [200, None, None, 200]


@pytest.mark.parametrize("form", ["reasoning", "reasoning_content", "tags"])
def test_the_servers_thinking_is_kept_apart_from_the_answer(stub: StubServer, form: str) -> None:
    stub.thinking = form
    result, seen = run(client(stub, ChatOpenAICompatible))
    assert all(THOUGHT not in text for text in seen)
    assert THOUGHT not in result.response
    sent = "\n".join(str(m.get("content")) for b in bodies(stub) for m in b["messages"])
    assert THOUGHT not in sent
    assert all(c.thinking == THOUGHT for c in result.candidates)
    # Every request thought: 2 samples, the critique, the suggestion, 2 rewrites.
    assert result.usage["reasoning_tokens"] == THOUGHT_TOKENS * 6
    assert (
        result.usage["reasoning_tokens"] + result.usage["answer_tokens"]
        == (result.usage["output_tokens"])
    )


def test_plain_chat_openai_drops_the_servers_thinking_and_keeps_the_answer_clean(
    stub: StubServer,
) -> None:
    stub.thinking = "reasoning"
    result, seen = run(client(stub))
    assert all(THOUGHT not in text for text in seen) and THOUGHT not in result.response
    assert all(c.thinking is None for c in result.candidates)  # ChatOpenAI never kept it
    assert result.usage["reasoning_tokens"] > 0  # the counts still arrive


def test_tpo_chat_model_reports_the_thinking_tokens(stub: StubServer) -> None:
    stub.thinking = "reasoning"
    chain = TPOChain(
        policy=client(stub, ChatOpenAICompatible),
        reward=FunctionReward(lambda q, r: float(len(r))),
        config=TPOConfig(num_samples=2, max_iterations=1),
    )
    reply = TPOChatModel(chain=chain).invoke("Why?")
    assert THOUGHT not in reply.text
    usage = reply.usage_metadata
    assert usage is not None and usage["output_token_details"]["reasoning"] == THOUGHT_TOKENS * 6


def test_an_answer_schema_becomes_the_servers_response_format(stub: StubServer) -> None:
    policy = client(stub)
    chain = TPOChain(
        policy=policy,
        reward=FunctionReward(lambda q, r: float(len(r))),
        config=TPOConfig(num_samples=2, max_iterations=1),
        answer_schema=Person,
    )
    result = chain.invoke("Invent a person.")
    assert isinstance(result.parsed, Person)
    asked = [b.get("response_format") for b in bodies(stub)]
    assert [a is not None for a in asked] == [True, False, False, True]
    schema = asked[0]["json_schema"]
    assert schema["name"] == "Person" and schema["schema"]["required"] == ["name", "age"]
    assert json.loads(result.response) == result.parsed.model_dump()


def test_with_structured_output_over_a_server(stub: StubServer) -> None:
    stub.thinking = "reasoning_content"
    chain = TPOChain(
        policy=client(stub, ChatOpenAICompatible),
        reward=FunctionReward(lambda q, r: float(len(r))),
        config=TPOConfig(num_samples=2, max_iterations=1),
    )
    person = TPOChatModel(chain=chain).with_structured_output(Person).invoke("Invent a person.")
    assert isinstance(person, Person)
