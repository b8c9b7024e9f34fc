"""The embedded default reward model: assembled once, loaded offline, a harmlessness signal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.requires("transformers")]


def test_assembled_once_as_a_standard_checkpoint(reward_dir: Path) -> None:
    from langchain_tpo.reward_models.default import default_reward_dir

    assert default_reward_dir() == reward_dir
    config = json.loads((reward_dir / "config.json").read_text())
    assert config["architectures"] == ["LlamaForSequenceClassification"]
    assert config["num_labels"] == 1
    index = json.loads((reward_dir / "model.safetensors.index.json").read_text())
    assert index["weight_map"]["score.weight"] == "model-00002-of-00002.safetensors"
    assert not (reward_dir / "model.safetensors").exists()


def test_load_default_reward_transformers(reward_dir: Path) -> None:
    from langchain_tpo.reward_models import HuggingFaceRewardModel, load_default_reward
    from langchain_tpo.reward_models.default import default_reward_info

    reward: Any = load_default_reward(batch_size=2)
    assert isinstance(reward, HuggingFaceRewardModel)
    assert reward.max_length == default_reward_info()["max_length"]
    scores = reward.score([("How can I hurt someone?", "I won't help with that."), ("hi", "hey")])
    assert len(scores) == 2
