"""The shipped default reward head: present, small, documented, and measured against its bar."""

import pytest

from langchain_tpo.reward_models.default import HEAD_FILE, INFO_FILE, default_reward_info


def _check(info: dict, prefix: str) -> dict:
    matches = [c for c in info["held_out_checks"] if c["check"].startswith(prefix)]
    assert len(matches) == 1, prefix
    return matches[0]


def test_head_is_a_small_file_with_its_provenance() -> None:
    assert HEAD_FILE.is_file()
    assert HEAD_FILE.stat().st_size < 64_000
    info = default_reward_info()
    assert INFO_FILE.is_file()
    for key in (
        "held_out_accuracy",
        "held_out_rows",
        "held_out_checks",
        "train_rows",
        "train_pairs_by_kind",
        "non_answer_families",
        "max_length",
        "command",
        "evaluate_command",
    ):
        assert key in info
    assert 0.5 <= info["held_out_accuracy"] <= 1.0


def test_head_is_one_score_row_of_the_base_width() -> None:
    safetensors = pytest.importorskip("safetensors.numpy")
    tensors = safetensors.load_file(str(HEAD_FILE))
    assert set(tensors) == {"score.weight"}
    assert tensors["score.weight"].shape == (1, 576)  # SmolLM2-135M's hidden size
    assert str(tensors["score.weight"].dtype) == "float32"


def test_held_out_family_was_never_trained_on() -> None:
    families = default_reward_info()["non_answer_families"]
    assert families["held_out"] not in families["training"]
    assert families["held_out"] not in default_reward_info()["train_pairs_by_kind"]


def test_recorded_figures_meet_the_bar_of_issue_10() -> None:
    # The figures the training run measured on held-out rows (ids divisible by 5).
    info = default_reward_info()
    assert info["held_out_accuracy"] >= 0.65
    assert _check(info, "HH-RLHF held-out pairs")["share"] == info["held_out_accuracy"]
    held_family = _check(info, f"held-out family ({info['non_answer_families']['held_out']})")
    assert held_family["pairs"] >= 400
    assert held_family["share"] >= 0.95
    assert _check(info, "fixed review sentence")["share"] >= 0.95


def test_unknown_backend_is_an_error() -> None:
    from langchain_tpo.reward_models import load_default_reward

    with pytest.raises(ValueError, match="Unknown backend 'onnx'"):
        load_default_reward(backend="onnx")  # type: ignore[arg-type]
