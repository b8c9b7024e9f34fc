"""SimilarityReward: cosine similarity of request and response embeddings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from langchain_tpo.reward_models import SimilarityReward
from tests.unit_tests.reward_models.tiny_models import WORDS, tiny_tokenizer


def tiny_encoder() -> Any:
    """A random two-layer BERT encoder over the tiny tokenizer's words."""
    import transformers

    transformers.set_seed(0)
    config = transformers.BertConfig(
        vocab_size=len(WORDS), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=2, max_position_embeddings=128, pad_token_id=0,
    )  # fmt: skip
    return transformers.BertModel(config).eval()


@pytest.fixture(scope="module")
def similarity() -> SimilarityReward:
    return SimilarityReward(model=tiny_encoder(), tokenizer=tiny_tokenizer(), batch_size=2)


def embedding(reward: SimilarityReward, text: str) -> Any:
    """One text's pooled, unit-length embedding, computed directly (no batch, no padding)."""
    import torch

    ids = reward.tokenizer(text, return_tensors="pt")
    with torch.inference_mode():
        states = reward.model(**ids).last_hidden_state[0]
    pooled = states[0] if reward.pooling == "cls" else states.mean(0)
    return torch.nn.functional.normalize(pooled, dim=-1)


def test_the_score_is_the_cosine_of_the_two_embeddings(similarity: SimilarityReward) -> None:
    pairs = [("w1 w2 w3", "w4 w5"), ("w1 w2 w3", "w6 w7 w8 w9 w10 w11"), ("w12", "w12")]
    got = similarity.score(pairs)  # batched and padded together, the request embedded once
    want = [float(embedding(similarity, q) @ embedding(similarity, r)) for q, r in pairs]
    assert got == pytest.approx(want, abs=1e-5)
    assert got[2] == pytest.approx(1.0, abs=1e-5)  # a text is its own nearest neighbour
    assert all(-1.0 - 1e-6 <= s <= 1.0 + 1e-6 for s in got)
    assert len(set(got)) == 3


def test_the_request_is_the_last_user_message(similarity: SimilarityReward) -> None:
    conversation = [
        SystemMessage("w30 w31"),
        HumanMessage("w40 w41"),
        AIMessage("w42"),
        HumanMessage("w1 w2 w3"),
    ]
    assert similarity.score([(conversation, "w4 w5")]) == pytest.approx(
        similarity.score([("w1 w2 w3", "w4 w5")]), abs=1e-6
    )


def test_with_a_ceiling_only_the_shortfall_below_it_counts() -> None:
    plain = SimilarityReward(model=tiny_encoder(), tokenizer=tiny_tokenizer())
    capped = SimilarityReward(model=tiny_encoder(), tokenizer=tiny_tokenizer(), ceiling=0.95)
    pairs = [("w12", "w12"), ("w1 w2 w3", "w40 w41 w42 w43")]
    raw = plain.score(pairs)
    assert raw[0] == pytest.approx(1.0, abs=1e-5)
    assert raw[1] < 0.95  # the second falls short of the ceiling, the first does not
    assert capped.score(pairs) == pytest.approx([0.0, raw[1] - 0.95], abs=1e-6)
    with pytest.raises(ValueError, match="ceiling"):
        SimilarityReward(model=tiny_encoder(), tokenizer=tiny_tokenizer(), ceiling=1.5)


def test_cls_pooling_reads_the_first_token_only() -> None:
    cls = SimilarityReward(model=tiny_encoder(), tokenizer=tiny_tokenizer(), pooling="cls")
    [got] = cls.score([("w1 w2", "w3 w4 w5")])
    assert got == pytest.approx(float(embedding(cls, "w1 w2") @ embedding(cls, "w3 w4 w5")))


def test_texts_are_cut_at_max_length() -> None:
    short = SimilarityReward(model=tiny_encoder(), tokenizer=tiny_tokenizer(), max_length=8)
    long_response = " ".join(f"w{i}" for i in range(3, 40))
    cut = " ".join(f"w{i}" for i in range(3, 11))
    assert short.score([("w1", long_response)]) == pytest.approx(
        short.score([("w1", cut)]), abs=1e-5
    )


def saved(tmp_path: Path, pooling: dict[str, bool] | None, max_seq_length: int | None) -> Path:
    """The tiny encoder saved as sentence-transformers saves a model."""
    directory = tmp_path / "encoder"
    tiny_encoder().save_pretrained(directory)
    tiny_tokenizer().save_pretrained(directory)
    if pooling is not None:
        (directory / "1_Pooling").mkdir()
        (directory / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    if max_seq_length is not None:
        (directory / "sentence_bert_config.json").write_text(
            json.dumps({"max_seq_length": max_seq_length})
        )
    return directory


def test_from_model_id_reads_pooling_and_length_from_the_directory(tmp_path: Path) -> None:
    modes = {"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}
    reward = SimilarityReward.from_model_id(saved(tmp_path, modes, 12), device="cpu")
    assert (reward.pooling, reward.max_length) == ("cls", 12)
    assert reward.get_name().startswith("SimilarityReward(")
    # What the caller gives wins over the directory.
    given = SimilarityReward.from_model_id(tmp_path / "encoder", pooling="mean", max_length=20)
    assert (given.pooling, given.max_length) == ("mean", 20)


def test_a_pooling_it_does_not_implement_is_a_clear_error(tmp_path: Path) -> None:
    directory = saved(tmp_path, {"pooling_mode_max_tokens": True}, None)
    with pytest.raises(ValueError, match=r"implements one of mean_tokens or cls_token.*pooling="):
        SimilarityReward.from_model_id(directory)
    assert SimilarityReward.from_model_id(directory, pooling="mean").pooling == "mean"


async def test_concurrent_async_calls_score_as_one_call_would(
    similarity: SimilarityReward,
) -> None:
    import asyncio

    pairs = [("w1 w2", "w3"), ("w5", "w6 w7 w8"), ("w1 w2", "w9 w10")]
    want = similarity.score(pairs)
    got = await asyncio.gather(*(similarity.ascore([pair]) for pair in pairs))
    assert [s for [s] in got] == pytest.approx(want, abs=1e-5)
