"""HuggingFaceRewardModel on the default reward checkpoint: exact scores, batching, errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.requires("transformers")]


def test_scores_equal_a_direct_forward_of_the_templated_text(
    hf_reward: Any, reward_dir: Path, pairs: list[Any]
) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from langchain_tpo.reward_models import Combination

    config = json.loads((reward_dir / "config.json").read_text())
    rule = Combination(**config["reward_combination"])
    labels = [config["id2label"][str(i)] for i in range(len(config["id2label"]))]
    tokenizer = AutoTokenizer.from_pretrained(str(reward_dir))
    model = AutoModelForSequenceClassification.from_pretrained(str(reward_dir), dtype=torch.float32)
    expected = []
    for query, response in pairs:
        messages = (
            [{"role": "user", "content": query}]
            if isinstance(query, str)
            else [
                {"role": "user" if m.type == "human" else "assistant", "content": m.text}
                for m in query
            ]
        )
        messages.append({"role": "assistant", "content": response})
        text = tokenizer.apply_chat_template(messages, tokenize=False)
        inputs = tokenizer(text, add_special_tokens=False, return_tensors="pt")
        assert inputs["input_ids"][0].tolist().count(tokenizer.bos_token_id) == text.count(
            tokenizer.bos_token
        )  # the template's own BOS-like tokens only, nothing added
        with torch.no_grad():
            row = model(**inputs).logits[0].tolist()
        expected.append(rule(dict(zip(labels, row, strict=True))))
    assert hf_reward.score(pairs) == pytest.approx(expected, abs=1e-4)


def test_scores_do_not_depend_on_batch_size_or_order(hf_reward: Any, pairs: list[Any]) -> None:
    reference = hf_reward.score(pairs)
    one_by_one = hf_reward.model_copy(update={"batch_size": 1})
    assert one_by_one.score(pairs) == pytest.approx(reference, abs=1e-4)
    reversed_scores = hf_reward.score(pairs[::-1])[::-1]
    assert reversed_scores == pytest.approx(reference, abs=1e-4)
    alone = [hf_reward.score([pair])[0] for pair in pairs[:3]]
    assert alone == pytest.approx(reference[:3], abs=1e-4)


async def test_async_scores(hf_reward: Any, pairs: list[Any]) -> None:
    assert await hf_reward.ascore(pairs[:2]) == pytest.approx(hf_reward.score(pairs[:2]), abs=1e-5)


def test_truncation_is_counted_and_warned(
    reward_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from langchain_tpo.reward_models import HuggingFaceRewardModel

    reward = HuggingFaceRewardModel.from_model_id(reward_dir, max_length=64)
    long = "word " * 200
    scores = reward.score([("Say something long.", long), ("hi", "hello")])
    assert len(scores) == 2
    assert reward.truncated == 1
    assert "1 of 2 pair(s) exceeded max_length=64" in caplog.text
    ids = reward._formatter.encode("Say something long.", long).input_ids
    assert len(ids) == 64
    assert reward.tokenizer.decode(ids).endswith("word<|im_end|>\n")  # end of turn kept


def _variant(reward_dir: Path, tmp_path: Path, **config: Any) -> Path:
    """A copy of the checkpoint (weights linked) with config edits; chat_template=None drops it."""
    out = tmp_path / "variant"
    out.mkdir()
    for item in reward_dir.iterdir():
        (out / item.name).symlink_to(item)
    if config.pop("chat_template", "keep") is None:
        (out / "chat_template.jinja").unlink()
    data = json.loads((reward_dir / "config.json").read_text())
    data.update(config)
    (out / "config.json").unlink()
    (out / "config.json").write_text(json.dumps(data))
    return out


def test_several_labels_without_label_index_is_an_error(reward_dir: Path, tmp_path: Path) -> None:
    from langchain_tpo.reward_models import HuggingFaceRewardModel

    path = _variant(
        reward_dir,
        tmp_path,
        num_labels=2,
        id2label={"0": "bad", "1": "good"},
        label2id={"bad": 0, "good": 1},
        reward_combination=None,  # nothing says how to read the two labels
    )
    with pytest.raises(ValueError, match=r"2 output labels \(0=bad, 1=good\).*label_index="):
        HuggingFaceRewardModel.from_model_id(path)


def test_missing_chat_template_is_an_error_unless_given(reward_dir: Path, tmp_path: Path) -> None:
    from langchain_tpo.reward_models import HuggingFaceRewardModel

    path = _variant(reward_dir, tmp_path, chat_template=None)
    with pytest.raises(ValueError, match=r"no chat template.*chat_template="):
        HuggingFaceRewardModel.from_model_id(path)
    template = (reward_dir / "chat_template.jinja").read_text()
    reward = HuggingFaceRewardModel.from_model_id(path, chat_template=template, max_length=64)
    assert len(reward.score([("hi", "hello")])) == 1
    shutil.rmtree(path)
