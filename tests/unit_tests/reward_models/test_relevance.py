"""RelevanceReward: the response's log-likelihood gain from the real request over a neutral one."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from langchain_core.messages import HumanMessage, SystemMessage

from langchain_tpo.reward_models import RelevanceReward
from tests.unit_tests.reward_models.tiny_models import tiny_tokenizer


def tiny_causal_lm() -> Any:
    """A random two-layer Llama causal LM over the tiny tokenizer's words."""
    import transformers

    from tests.unit_tests.reward_models.tiny_models import WORDS

    transformers.set_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=len(WORDS), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=256, pad_token_id=0,
    )  # fmt: skip
    return transformers.LlamaForCausalLM(config).eval()


@pytest.fixture(scope="module")
def relevance() -> RelevanceReward:
    return RelevanceReward(
        model=tiny_causal_lm(), tokenizer=tiny_tokenizer(), neutral_request="w59", batch_size=3
    )


def log_likelihood(reward: RelevanceReward, prompt: str, response: str) -> float:
    """Summed log p(response | prompt) computed directly, one sequence, no padding."""
    import torch

    tokenizer = reward.tokenizer
    prefix = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
    )
    head = tokenizer(prefix, add_special_tokens=False)["input_ids"]
    body = tokenizer(response, add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        logits = reward.model(torch.tensor([head + body])).logits[0].log_softmax(-1)
    return sum(float(logits[len(head) + i - 1, t]) for i, t in enumerate(body))


def test_the_score_is_the_gain_over_the_neutral_request(relevance: RelevanceReward) -> None:
    pairs = [("w1 w2 w3", "w4 w5 w6 w7"), ("w8", "w9 w10"), ("w11 w12", "w13 w14 w15 w16 w17")]
    got = relevance.score(pairs)  # batched and padded together, two readings per pair
    want = [log_likelihood(relevance, q, r) - log_likelihood(relevance, "w59", r) for q, r in pairs]
    assert got == pytest.approx(want, abs=1e-4)
    assert len(set(got)) == 3


def test_a_response_the_request_does_not_change_scores_zero(relevance: RelevanceReward) -> None:
    [same] = relevance.score([("w59", "w4 w5 w6")])  # the neutral request itself
    assert same == pytest.approx(0.0, abs=1e-4)
    assert relevance.score([("w1 w2", "")]) == [0.0]


def test_only_the_first_tokens_of_the_response_count() -> None:
    short = RelevanceReward(
        model=tiny_causal_lm(), tokenizer=tiny_tokenizer(), max_response_tokens=2
    )
    assert short.score([("w1", "w4 w5 w6 w7 w8")]) == pytest.approx(
        short.score([("w1", "w4 w5")]), abs=1e-5
    )


def test_system_messages_stay_in_the_neutral_reading(relevance: RelevanceReward) -> None:
    query = [SystemMessage("w30 w31"), HumanMessage("w1 w2")]
    neutral = relevance._neutral(query)
    assert [m.type for m in neutral] == ["system", "human"]
    assert [m.text for m in neutral] == ["w30 w31", "w59"]
    assert relevance._neutral("w1 w2") == "w59"


def test_a_tokenizer_without_a_chat_template_is_refused_with_what_to_do() -> None:
    tokenizer = tiny_tokenizer()
    tokenizer.chat_template = None
    with pytest.raises(ValueError, match=r"no chat template.*chat_template"):
        RelevanceReward(model=tiny_causal_lm(), tokenizer=tokenizer)


def test_a_long_conversation_loses_its_oldest_tokens_not_the_response() -> None:
    import torch

    reward = RelevanceReward(
        model=tiny_causal_lm(), tokenizer=tiny_tokenizer(), neutral_request="w59", max_length=16
    )
    long_query = " ".join(f"w{i % 50 + 1}" for i in range(40))
    body = reward._tokens("w4 w5 w6")

    def summed(prefix: list[int]) -> float:
        with torch.inference_mode():
            logits = reward.model(torch.tensor([prefix + body])).logits[0].log_softmax(-1)
        return sum(float(logits[len(prefix) + i - 1, t]) for i, t in enumerate(body))

    kept = reward._prefix(long_query)[-(16 - len(body)) :]
    assert len(reward._prefix(long_query)) > len(kept) == 13
    want = summed(kept) - summed(reward._prefix("w59"))
    assert reward.score([(long_query, "w4 w5 w6")]) == pytest.approx([want], abs=1e-4)
