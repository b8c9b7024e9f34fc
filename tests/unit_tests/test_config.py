import pytest

from langchain_tpo import TPOConfig


def test_defaults() -> None:
    config = TPOConfig()
    assert (config.num_samples, config.max_iterations, config.mode) == (5, 2, "tpo")
    assert config.temperature == 0.7
    assert config.top_p == 0.95


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("num_samples", 0, ["num_samples", "1"]),
        ("num_samples", 5000, ["num_samples", "1024"]),
        ("max_iterations", -1, ["max_iterations"]),
        ("temperature", 3.0, ["temperature", "2"]),
        ("top_p", 0.0, ["top_p"]),
        ("top_p", 1.5, ["top_p"]),
        ("max_tokens", 0, ["max_tokens"]),
        ("seed", -3, ["seed"]),
        ("target_score", float("nan"), ["target_score"]),
        ("patience", 0, ["patience"]),
        ("mode", "beam", ["mode"]),
    ],
)
def test_invalid_values_name_field_and_range(field: str, value: object, words: list[str]) -> None:
    with pytest.raises(ValueError) as info:
        TPOConfig(**{field: value})  # type: ignore[arg-type]
    message = str(info.value)
    for word in words:
        assert word in message


def test_unknown_field_is_rejected() -> None:
    with pytest.raises(ValueError, match="num_sample"):
        TPOConfig(num_sample=3)  # type: ignore[call-arg]


def test_tpo_mode_needs_two_samples() -> None:
    with pytest.raises(ValueError, match="revision"):
        TPOConfig(num_samples=1, max_iterations=1)
    assert TPOConfig(num_samples=1, max_iterations=1, mode="revision").num_samples == 1
    assert TPOConfig(num_samples=1, max_iterations=0).max_iterations == 0


def test_overrides_validate_and_ignore_foreign_keys() -> None:
    config = TPOConfig()
    changed = config.with_overrides({"num_samples": 3, "thread_id": "abc"})
    assert changed.num_samples == 3
    assert config.num_samples == 5
    assert config.with_overrides({"thread_id": "x"}) is config
    with pytest.raises(ValueError, match="num_samples"):
        config.with_overrides({"num_samples": 0})


def test_timeouts_must_be_positive_seconds() -> None:
    for field in ("request_timeout_s", "timeout_s"):
        for bad in (0, -1, float("inf"), float("nan")):
            with pytest.raises(ValueError, match=field):
                TPOConfig(**{field: bad})
    assert TPOConfig(timeout_s=None, request_timeout_s=None).timeout_s is None
    with pytest.raises(ValueError, match="max_retries"):
        TPOConfig(max_retries=-1)
