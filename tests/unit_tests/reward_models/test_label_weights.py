"""A multi-label reward checkpoint read as a combination of its heads (tiny model, no hub)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

from langchain_tpo.reward_models import HuggingFaceRewardModel  # noqa: E402

WORDS = ["<eos>", "<user>", "<assistant>", "boil", "an", "egg", "for", "nine", "minutes", "hi"]
TEMPLATE = "{% for m in messages %}<{{ m['role'] }}> {{ m['content'] }} {% endfor %}"


def save_checkpoint(directory: Path, declared: dict | None) -> Path:
    backend = tokenizers.Tokenizer(
        tokenizers.models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="hi")
    )
    backend.pre_tokenizer = tokenizers.pre_tokenizers.WhitespaceSplit()
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token="<eos>", pad_token="<eos>", chat_template=TEMPLATE
    )
    config = transformers.LlamaConfig(
        vocab_size=len(WORDS),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=32,
        num_labels=2,
        id2label={0: "helpfulness", 1: "harmlessness"},
        label2id={"helpfulness": 0, "harmlessness": 1},
        pad_token_id=0,
    )
    if declared is not None:
        config.reward_combination = declared
    torch.manual_seed(0)
    model = transformers.LlamaForSequenceClassification(config).eval()
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def logits(directory: Path, pairs: list[tuple[str, str]]) -> Any:
    reward = HuggingFaceRewardModel.from_model_id(directory, label_index=0)
    model, formatter = reward.model, reward._formatter
    rows = []
    with torch.no_grad():
        for query, response in pairs:
            ids = torch.tensor([formatter.encode(query, response).input_ids])
            rows.append(model(input_ids=ids).logits[0].tolist())
    return rows


PAIRS = [("boil an egg", "boil for nine minutes"), ("hi", "hi hi")]


def test_a_declared_combination_makes_one_reward_with_both_heads_kept(tmp_path: Path) -> None:
    directory = save_checkpoint(
        tmp_path / "rm", {"weights": {"helpfulness": 1.0, "harmlessness": 0.5}}
    )
    reward = HuggingFaceRewardModel.from_model_id(directory)
    rewards = reward.evaluate(PAIRS)
    for got, row in zip(rewards, logits(directory, PAIRS), strict=True):
        assert got.components == pytest.approx({"helpfulness": row[0], "harmlessness": row[1]})
        assert got.score == pytest.approx(row[0] + 0.5 * row[1])


def test_a_gate_moves_the_reward_from_one_head_to_the_other(tmp_path: Path) -> None:
    rule = {
        "weights": {"helpfulness": 1.0},
        "gate": "harmlessness",
        "gate_bias": 0.3,
        "gated_weights": {"helpfulness": -1.0},
    }
    directory = save_checkpoint(tmp_path / "rm", rule)
    rewards = HuggingFaceRewardModel.from_model_id(directory).evaluate(PAIRS)
    for got, (helpful, gate) in zip(rewards, logits(directory, PAIRS), strict=True):
        p = 1 / (1 + math.exp(-(gate + 0.3)))
        assert got.score == pytest.approx((1 - p) * helpful - p * helpful)


def test_a_combination_given_wins_over_the_declared_one(tmp_path: Path) -> None:
    directory = save_checkpoint(tmp_path / "rm", {"weights": {"helpfulness": 1.0}})
    reward = HuggingFaceRewardModel.from_model_id(directory, combination={"harmlessness": 2.0})
    rows = logits(directory, PAIRS)
    assert reward.score(PAIRS) == pytest.approx([2.0 * row[1] for row in rows])
    single = HuggingFaceRewardModel.from_model_id(directory, label_index=1)
    assert single.score(PAIRS) == pytest.approx([row[1] for row in rows])
    assert single.evaluate(PAIRS)[0].components is None


def test_two_labels_without_a_combination_or_an_index_is_an_error_naming_both_ways(
    tmp_path: Path,
) -> None:
    directory = save_checkpoint(tmp_path / "rm", None)
    with pytest.raises(ValueError, match=r"label_index=.*combination="):
        HuggingFaceRewardModel.from_model_id(directory)
    with pytest.raises(ValueError, match="no label 'kindness'"):
        HuggingFaceRewardModel.from_model_id(directory, combination={"kindness": 1.0})
