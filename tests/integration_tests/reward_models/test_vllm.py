"""VLLMRewardModel on the default reward checkpoint: the same scores as transformers."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.requires("vllm")]


def test_vllm_scores_equal_transformers_scores(
    vllm_reward: Any, hf_reward: Any, pairs: list[Any]
) -> None:
    # float32 on both sides; different kernels, so equal to rounding only.
    assert vllm_reward.score(pairs) == pytest.approx(hf_reward.score(pairs), abs=1e-3)


def test_vllm_feeds_the_engine_the_transformers_token_ids(
    vllm_reward: Any, hf_reward: Any, pairs: list[Any]
) -> None:
    for query, response in pairs:
        assert (
            vllm_reward._formatter.encode(query, response).input_ids
            == hf_reward._formatter.encode(query, response).input_ids
        )


async def test_async_and_order(vllm_reward: Any, pairs: list[Any]) -> None:
    reference = vllm_reward.score(pairs)
    assert (await vllm_reward.ascore(pairs[::-1]))[::-1] == pytest.approx(reference, abs=1e-4)


def test_truncation_is_counted_and_warned(
    vllm_reward: Any, caplog: pytest.LogCaptureFixture
) -> None:
    before = vllm_reward.truncated
    scores = vllm_reward.score([("Say something long.", "word " * 400), ("hi", "hello")])
    assert len(scores) == 2
    assert vllm_reward.truncated == before + 1
    assert "exceeded max_length=256" in caplog.text


def test_max_length_above_the_engine_limit_is_an_error(vllm_reward: Any) -> None:
    from langchain_tpo.reward_models import VLLMRewardModel

    with pytest.raises(ValueError, match="exceeds the engine's max_model_len"):
        VLLMRewardModel(llm=vllm_reward.llm, tokenizer=vllm_reward.tokenizer, max_length=100_000)


def test_closing_a_wrapper_leaves_an_engine_it_was_given_running(
    vllm_reward: Any, pairs: list[Any]
) -> None:
    from langchain_tpo.reward_models import VLLMRewardModel

    VLLMRewardModel(llm=vllm_reward.llm, tokenizer=vllm_reward.tokenizer).close()
    assert len(vllm_reward.score(pairs)) == len(pairs)
