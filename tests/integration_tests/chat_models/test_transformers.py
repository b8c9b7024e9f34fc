"""The transformers default policy (ChatTransformers): n samples, TPO over it, traces."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from langchain_tpo import TPOChain, TPOConfig
from langchain_tpo.errors import ContextLengthError
from langchain_tpo.reward_models import FunctionReward
from tests.traced_runs import Collector, all_runs

pytestmark = [pytest.mark.integration, pytest.mark.requires("transformers")]


def test_default_policy_draws_n_samples_in_one_request(hf_chat: Any) -> None:
    from langchain_tpo.chat_models import ChatTransformers

    assert isinstance(hf_chat, ChatTransformers)
    result = hf_chat.generate([[HumanMessage("Name a fruit.")]], n=3, max_tokens=8)
    texts = [g.text for g in result.generations[0]]
    assert len(texts) == 3 and all(texts)
    usage = result.llm_output["token_usage"]
    assert 0 < usage["completion_tokens"] <= 3 * 8
    seeded = [
        [
            g.text
            for g in hf_chat.generate([[HumanMessage("Name a city.")]], n=2, seed=5).generations[0]
        ]
        for _ in range(2)
    ]
    assert seeded[0] == seeded[1]


def test_a_query_longer_than_the_context_fails_before_generating(hf_chat: Any) -> None:
    with pytest.raises(ContextLengthError, match="8192"):
        hf_chat.invoke("word " * 9000)


def test_traced_tpo_run_on_the_default_models(hf_chat: Any) -> None:
    from langchain_tpo.reward_models import load_default_reward

    reward = load_default_reward("transformers", max_length=256)
    n, d = 2, 1
    chain = TPOChain(
        policy=hf_chat,
        reward=reward,
        config=TPOConfig(num_samples=n, max_iterations=d, max_tokens=12),
    )
    tracer = Collector()
    result = chain.invoke("Give one tip for learning to cook.", {"callbacks": [tracer]})
    assert result.response and result.stop_reason == "max_iterations"
    (root,) = [r for r in tracer.runs if r.parent_run_id is None]
    runs = all_runs(root)
    llm_runs = [r for r in runs if r.run_type == "llm"]
    assert len(llm_runs) == result.model_calls <= n * (d + 1) + 2 * d
    assert all(
        r.outputs and r.outputs["llm_output"]["token_usage"]["total_tokens"] for r in llm_runs
    )
    reward_runs = [r for r in runs if r.name == reward.get_name()]
    assert len(reward_runs) == d + 1
    assert result.usage["total_tokens"] > 0


def test_tpo_chain_over_transformers_with_a_function_reward(hf_chat: Any) -> None:
    chain = TPOChain(
        policy=hf_chat,
        reward=FunctionReward(lambda query, response: float(len(response))),
        config=TPOConfig(num_samples=2, max_iterations=1, max_tokens=16),
    )
    result = chain.invoke("Give one tip for learning to cook.")
    assert result.response
    assert len(result.best_scores) == 2 and result.failures == 0


async def test_concurrent_requests_share_batches_and_keep_their_seeded_samples(
    hf_chat: Any,
) -> None:
    questions = ["Name a fruit.", "Name a colour.", "Name a city.", "Name a tool."]
    chat = hf_chat.model_copy(update={"max_batch_rows": 8})
    chat._batcher = None  # its own worker, so its counts are its own
    alone = [
        [g.text for g in (await chat.agenerate([[HumanMessage(q)]], n=2, seed=i)).generations[0]]
        for i, q in enumerate(questions)
    ]
    together = await asyncio.gather(
        *(chat.agenerate([[HumanMessage(q)]], n=2, seed=i) for i, q in enumerate(questions))
    )
    counts = chat.generation_counts()
    assert counts.requests == 8
    assert counts.batches <= 4 + 2  # the four alone, then at most two for the four together
    assert [[g.text for g in r.generations[0]] for r in together] == alone
