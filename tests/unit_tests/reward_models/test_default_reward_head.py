"""The shipped default reward head: present, small, and documented."""

from langchain_tpo.reward_models.default import HEAD_FILE, INFO_FILE, default_reward_info


def test_head_is_a_small_file_with_its_provenance() -> None:
    assert HEAD_FILE.is_file()
    assert HEAD_FILE.stat().st_size < 64_000
    info = default_reward_info()
    assert INFO_FILE.is_file()
    for key in ("held_out_accuracy", "held_out_rows", "train_rows", "max_length", "command"):
        assert key in info
    assert 0.5 <= info["held_out_accuracy"] <= 1.0


def test_unknown_backend_is_an_error() -> None:
    import pytest

    from langchain_tpo.reward_models import load_default_reward

    with pytest.raises(ValueError, match="Unknown backend 'onnx'"):
        load_default_reward(backend="onnx")  # type: ignore[arg-type]
