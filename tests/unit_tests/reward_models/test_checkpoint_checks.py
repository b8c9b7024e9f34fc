"""Checks every backend runs before it loads a reward checkpoint (no torch needed)."""

from types import SimpleNamespace

import pytest

from langchain_tpo.reward_models._checkpoint import default_max_length, resolve_label_index
from langchain_tpo.reward_models.formatting import RewardInputFormatter


def test_single_label_needs_no_index() -> None:
    assert resolve_label_index(SimpleNamespace(num_labels=1), None, "rm") == 0


def test_several_labels_need_an_index() -> None:
    config = SimpleNamespace(num_labels=3, id2label={0: "a", 1: "b", 2: "c"})
    with pytest.raises(ValueError, match=r"rm has 3 output labels \(0=a, 1=b, 2=c\)"):
        resolve_label_index(config, None, "rm")
    assert resolve_label_index(config, 2, "rm") == 2
    with pytest.raises(ValueError, match="out of range"):
        resolve_label_index(config, 3, "rm")


def test_default_max_length_ignores_missing_and_sentinel_limits() -> None:
    assert default_max_length(SimpleNamespace(max_position_embeddings=8192), None) == 8192
    tokenizer = SimpleNamespace(model_max_length=10**30)
    assert default_max_length(SimpleNamespace(max_position_embeddings=2048), tokenizer) == 2048
    assert default_max_length(None, SimpleNamespace(model_max_length=512)) == 512
    assert default_max_length(None, None) == 4096


def test_a_tokenizer_without_chat_template_is_an_error() -> None:
    tokenizer = SimpleNamespace(chat_template=None, name_or_path="plain-tok")
    with pytest.raises(ValueError, match=r"\(plain-tok\) has no chat template.*chat_template="):
        RewardInputFormatter(tokenizer, None, 512)
    assert RewardInputFormatter(tokenizer, "{{ messages }}", 512).chat_template == "{{ messages }}"
