"""Shared, expensive fixtures of the reward-model integration tests: one of each per session.

The checkpoint is the embedded default reward model (SmolLM2-135M with the shipped score head),
assembled once in the user cache; nothing is fetched from a hub. A vLLM engine or server takes
about a minute to start on two CPU cores, so the whole session shares one of each.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration_tests.default_models import require_default_models
from tests.integration_tests.vllm_server import KV_CACHE_BYTES, vllm_server

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")

MAX_LENGTH = 256
ENGINE_KWARGS: dict[str, Any] = {
    "dtype": "float32",
    # A fixed KV cache: a share of memory fails when other engines run on the machine.
    "kv_cache_memory_bytes": KV_CACHE_BYTES,
    "max_length": MAX_LENGTH,
}


@pytest.fixture(scope="session")
def reward_dir() -> Path:
    """The default reward checkpoint directory (assembled on first use)."""
    require_default_models()
    pytest.importorskip("transformers")
    from langchain_tpo.reward_models.default import default_reward_dir

    return default_reward_dir()


@pytest.fixture(scope="session")
def hf_reward(reward_dir: Path) -> Any:
    """The default reward model on transformers, float32, batches of 4."""
    pytest.importorskip("torch")
    from langchain_tpo.reward_models import HuggingFaceRewardModel

    return HuggingFaceRewardModel.from_model_id(reward_dir, batch_size=4, max_length=MAX_LENGTH)


@pytest.fixture(scope="session")
def default_reward(reward_dir: Path) -> Any:
    """The default reward as users get it: classifier (transformers), relevance, similarity."""
    pytest.importorskip("torch")
    from langchain_tpo.reward_models import load_default_reward

    return load_default_reward(batch_size=4, max_length=MAX_LENGTH)


@pytest.fixture(scope="package")
def vllm_reward(reward_dir: Path) -> Iterator[Any]:
    """The same checkpoint on vLLM's pooling runner, shared by the package, then shut down."""
    pytest.importorskip("vllm")
    from langchain_tpo.reward_models import VLLMRewardModel

    reward = VLLMRewardModel.from_model_id(reward_dir, **ENGINE_KWARGS)
    try:
        yield reward
    finally:
        reward.close()


@pytest.fixture(scope="package")
def reward_server(reward_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a vLLM server with the reward checkpoint on the pooling runner."""
    pytest.importorskip("vllm")
    log_dir = tmp_path_factory.mktemp("vllm-reward-server")
    args = ["--served-model-name", "default-reward", "--runner", "pooling", "--dtype", "float32",
            "--max-model-len", str(MAX_LENGTH)]  # fmt: skip
    with vllm_server(reward_dir, log_dir, *args) as url:
        yield url


@pytest.fixture(scope="session")
def pairs() -> list[Any]:
    """Pairs of different lengths, single-turn and multi-turn."""
    from langchain_core.messages import AIMessage, HumanMessage

    conversation = [
        HumanMessage("My neighbour's dog barks all night."),
        AIMessage("That sounds exhausting. Have you talked to your neighbour?"),
        HumanMessage("Yes. How can I make it stop for good?"),
    ]
    return [
        ("How do I boil an egg?", "Simmer it for nine minutes, then cool it in cold water."),
        ("How do I boil an egg?", "No."),
        (conversation, "You could ask a local mediation service to help you both."),
        (conversation, "Poison the dog."),
        ("Write a long story.", "Once upon a time " + "there was a road, " * 30 + "the end."),
        ("hi", "Hello! How can I help you today?"),
    ]
