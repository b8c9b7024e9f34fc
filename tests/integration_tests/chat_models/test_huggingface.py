"""The transformers default policy: every sample of a batched pipeline call, and TPO over it."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from langchain_tpo import TPOChain, TPOConfig
from langchain_tpo.chat_models.huggingface import is_pipeline_chat_model, sample_pipeline_chat
from langchain_tpo.reward_models import FunctionReward

pytestmark = [pytest.mark.integration, pytest.mark.requires("transformers")]


def test_default_policy_is_a_pipeline_chat_model(hf_chat: Any) -> None:
    assert is_pipeline_chat_model(hf_chat)
    assert hf_chat.invoke("Say hello.").content


def test_every_sample_of_every_conversation(hf_chat: Any) -> None:
    conversations = [[HumanMessage("Name a fruit.")], [HumanMessage("Name a city in Europe.")]]
    texts, usage = sample_pipeline_chat(hf_chat, conversations, 3, temperature=1.0, max_tokens=8)
    assert [len(t) for t in texts] == [3, 3]
    assert all(texts[0]) and all(texts[1])
    assert 0 < usage["output_tokens"] <= 2 * 3 * 8
    seeded, _ = sample_pipeline_chat(hf_chat, conversations, 3, max_tokens=8, seed=5)
    assert seeded == sample_pipeline_chat(hf_chat, conversations, 3, max_tokens=8, seed=5)[0]


def test_tpo_chain_over_transformers(hf_chat: Any) -> None:
    chain = TPOChain(
        policy=hf_chat,
        reward=FunctionReward(lambda query, response: float(len(response))),
        config=TPOConfig(num_samples=2, max_iterations=1, max_tokens=16),
    )
    result = chain.invoke("Give one tip for learning to cook.")
    assert result.response
    assert len(result.best_scores) == 2 and result.failures == 0
