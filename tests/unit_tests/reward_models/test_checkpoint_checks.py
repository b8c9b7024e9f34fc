"""Checks every backend runs before it loads a reward checkpoint (no torch needed)."""

import re
from types import SimpleNamespace

import pytest

from langchain_tpo.reward_models import Combination
from langchain_tpo.reward_models._checkpoint import (
    default_max_length,
    label_columns,
    resolve_label_index,
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


def test_combined_labels_are_found_by_name_or_number() -> None:
    assert label_columns(TWO_HEADS, ["harmlessness", "0"], "rm") == {"harmlessness": 1, "0": 0}


@pytest.mark.parametrize(
    ("labels", "words"),
    [
        (
            ["kindness"],
            "no label 'kindness' to combine; the labels are 0=helpfulness, 1=harmlessness",
        ),
        (["2"], "column 2 is out of range"),
    ],
)
def test_unknown_labels_say_which_labels_exist(labels: list[str], words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        label_columns(TWO_HEADS, labels, "rm")


def test_a_declared_combination_is_used_unless_a_column_or_another_is_given() -> None:
    rule = {"weights": {"helpfulness": 1.0}, "gate": "harmlessness", "gated_weights": {"0": 2.0}}
    declared = SimpleNamespace(**vars(TWO_HEADS), reward_combination=rule)
    _, combination, columns = reward_columns(declared, None, None, "rm")
    assert combination == Combination(**rule)
    assert columns == {"helpfulness": 0, "harmlessness": 1, "0": 0}
    assert reward_columns(declared, 1, None, "rm") == (1, None, {})
    _, plain, columns = reward_columns(declared, None, {"harmlessness": 1.0}, "rm")
    assert plain == Combination(weights={"harmlessness": 1.0})
    assert columns == {"harmlessness": 1}
    with pytest.raises(ValueError, match="label_index or a combination of labels, not both"):
        reward_columns(declared, 0, {"harmlessness": 1.0}, "rm")
    # Without a declared combination, two labels still need to be told apart.
    with pytest.raises(ValueError, match="combination="):
        reward_columns(TWO_HEADS, None, None, "rm")
