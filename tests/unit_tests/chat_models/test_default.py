"""load_default_policy argument handling (loading real models is an integration test)."""

from __future__ import annotations

import pytest

from langchain_tpo.chat_models import load_default_policy


def test_unknown_backend(tmp_path: object) -> None:
    with pytest.raises(ValueError, match="transformers"):
        load_default_policy("llamacpp", model=str(tmp_path))  # type: ignore[call-overload]


def test_vllm_backend_checks_the_model_path(tmp_path: object) -> None:
    with pytest.raises(FileNotFoundError):
        load_default_policy("vllm", model=f"{tmp_path}/missing")


@pytest.mark.parametrize(
    ("given", "cache_bytes"),
    [({}, 2 << 30), ({"gpu_memory_utilization": 0.5}, None), ({"kv_cache_memory_bytes": 1}, 1)],
)
def test_vllm_kv_cache_is_fixed_unless_a_device_share_is_asked_for(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object, given: dict, cache_bytes: int | None
) -> None:
    from langchain_tpo.chat_models.vllm import ChatVLLM

    seen: dict = {}
    monkeypatch.setattr(ChatVLLM, "from_model_id", lambda model, **kwargs: seen.update(kwargs))
    load_default_policy("vllm", model=str(tmp_path), **given)
    assert seen.get("kv_cache_memory_bytes") == cache_bytes
    assert seen["max_model_len"] == 2048
