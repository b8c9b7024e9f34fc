"""TPO over a schema on the in-process vLLM engine (the embedded SmolLM2-135M).

Samples and rewrites are asked for through vLLM's structured outputs (guided decoding), so the
135M model, which writes no JSON of its own accord, answers in the schema; every reply is
validated and the reward (the default reward model) scores each object's JSON text.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, Field

from langchain_tpo import TPOChain, TPOChatModel, TPOConfig

pytestmark = [pytest.mark.integration, pytest.mark.requires("vllm")]


class Person(BaseModel):
    """A person."""

    name: str = Field(max_length=24)
    age: int = Field(ge=0, le=120)


def test_with_structured_output_returns_a_valid_person(vllm_chat: Any, default_reward: Any) -> None:
    # The stage settings reach the real chat template (SmolLM2's ignores enable_thinking).
    config = TPOConfig(
        num_samples=3,
        max_iterations=1,
        max_tokens=48,
        seed=0,
        thinking_stages=("sample", "rewrite"),
    )
    chain = TPOChain(policy=vllm_chat, reward=default_reward, config=config)
    model = TPOChatModel(chain=chain, return_full_result=True)
    out = model.with_structured_output(Person, include_raw=True).invoke(
        "Invent a person: give their name and age."
    )
    assert out["parsing_error"] is None
    assert isinstance(out["parsed"], Person)
    result = out["raw"].response_metadata["tpo_result"]
    # Three samples and three rewrites: each was scored, or counted as not fitting.
    replies = len(result["candidates"]) + result["invalid_outputs"] + result["thinking_cutoffs"]
    assert replies == 6 and result["failures"] == 0
    assert len(result["candidates"]) >= 1
    for candidate in result["candidates"]:
        Person.model_validate_json(candidate["text"])  # the cache holds valid objects only
        assert candidate["thinking"] is None  # SmolLM2 does not think
    assert Person.model_validate_json(out["raw"].text) == out["parsed"]
