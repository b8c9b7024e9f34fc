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
