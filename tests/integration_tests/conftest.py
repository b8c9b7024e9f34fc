"""Fixtures every integration test may share: the embedded default models, loaded once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration_tests.default_models import require_default_models


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The converted default model directory."""
    require_default_models()
    pytest.importorskip("transformers")
    pytest.importorskip("gguf")
    from langchain_tpo.bundled import default_model_dir

    return default_model_dir()


@pytest.fixture(scope="session")
def default_reward(model_dir: Path) -> Any:
    """The default reward model on transformers."""
    pytest.importorskip("torch")
    from langchain_tpo.reward_models import load_default_reward

    return load_default_reward("transformers")
