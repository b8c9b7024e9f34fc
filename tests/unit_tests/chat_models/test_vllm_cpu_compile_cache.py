"""On the CPU, vLLM's unloadable AOT artifact is turned off so the next start reuses caches."""

from __future__ import annotations

import os

import pytest

from langchain_tpo import _vllm_engine as chat_vllm


@pytest.fixture
def no_setting(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv("VLLM_USE_AOT_COMPILE", raising=False)
    return monkeypatch


def test_on_the_cpu_the_aot_artifact_is_off(no_setting: pytest.MonkeyPatch) -> None:
    no_setting.setattr(chat_vllm, "on_cpu", lambda: True)
    chat_vllm.reuse_cpu_compile_cache()
    assert os.environ["VLLM_USE_AOT_COMPILE"] == "0"


def test_the_users_setting_wins(no_setting: pytest.MonkeyPatch) -> None:
    no_setting.setattr(chat_vllm, "on_cpu", lambda: True)
    no_setting.setenv("VLLM_USE_AOT_COMPILE", "1")
    chat_vllm.reuse_cpu_compile_cache()
    assert os.environ["VLLM_USE_AOT_COMPILE"] == "1"


def test_off_the_cpu_or_without_vllm_nothing_changes(no_setting: pytest.MonkeyPatch) -> None:
    no_setting.setattr(chat_vllm, "on_cpu", lambda: False)
    chat_vllm.reuse_cpu_compile_cache()
    assert "VLLM_USE_AOT_COMPILE" not in os.environ

    def missing() -> bool:
        raise ImportError("no vllm")

    no_setting.setattr(chat_vllm, "on_cpu", missing)
    chat_vllm.reuse_cpu_compile_cache()
    assert "VLLM_USE_AOT_COMPILE" not in os.environ


def test_policy_and_reward_share_one_copy_under_the_old_name_too() -> None:
    from langchain_tpo.chat_models import _vllm_engine as old_location
    from langchain_tpo.chat_models.vllm import reuse_cpu_compile_cache

    assert reuse_cpu_compile_cache is chat_vllm.reuse_cpu_compile_cache
    assert old_location.AsyncEngineRunner is chat_vllm.AsyncEngineRunner
