"""Checks every backend runs before it loads a reward checkpoint (no torch needed)."""

import re
from types import SimpleNamespace

import pytest

from langchain_tpo.reward_models._checkpoint import (
    default_max_length,
    resolve_label_index,
    resolve_label_weights,
    reward_columns,
)
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


TWO_HEADS = SimpleNamespace(num_labels=2, id2label={0: "helpfulness", 1: "harmlessness"})


def test_label_weights_pick_columns_by_name_or_number() -> None:
    columns = resolve_label_weights(TWO_HEADS, {"harmlessness": 0.5, 0: 1.0}, "rm")
    assert columns == [("harmlessness", 1, 0.5), ("helpfulness", 0, 1.0)]


@pytest.mark.parametrize(
    ("weights", "words"),
    [
        ({}, "empty; give a weight to at least one of: 0=helpfulness, 1=harmlessness"),
        ({"kindness": 1.0}, "no label 'kindness'; the labels are 0=helpfulness, 1=harmlessness"),
        ({2: 1.0}, "column 2 is out of range"),
        ({0: 1.0, "helpfulness": 2.0}, "column 0 is given twice"),
        ({"helpfulness": float("nan")}, "must be a finite number"),
    ],
)
def test_bad_label_weights_say_what_is_wrong(weights: dict, words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        resolve_label_weights(TWO_HEADS, weights, "rm")


def test_declared_weights_are_used_unless_a_column_or_weights_are_given() -> None:
    declared = SimpleNamespace(
        **vars(TWO_HEADS), reward_label_weights={"helpfulness": 1.0, "harmlessness": 0.25}
    )
    assert reward_columns(declared, None, None, "rm") == (
        0,
        [("helpfulness", 0, 1.0), ("harmlessness", 1, 0.25)],
    )
    assert reward_columns(declared, 1, None, "rm") == (1, [])
    assert reward_columns(declared, None, {"harmlessness": 1.0}, "rm") == (
        0,
        [("harmlessness", 1, 1.0)],
    )
    with pytest.raises(ValueError, match="label_index or label_weights, not both"):
        reward_columns(declared, 0, {"harmlessness": 1.0}, "rm")
    # Without declared weights, two labels still need to be told apart.
    with pytest.raises(ValueError, match="label_weights="):
        reward_columns(TWO_HEADS, None, None, "rm")
