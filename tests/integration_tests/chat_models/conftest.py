"""Shared, expensive fixtures for the policy integration tests: one of each per session.

The default model is the bundled SmolLM2-135M-Instruct, converted once into the user cache;
nothing is fetched from a hub. Starting a vLLM engine or server takes about a minute on two
CPU cores, so every test of a session shares the same engine and the same server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration_tests.vllm_server import KV_CACHE_BYTES, vllm_server

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")

MAX_MODEL_LEN = 1024
ENGINE_KWARGS: dict[str, Any] = {
    "kv_cache_memory_bytes": KV_CACHE_BYTES,
    "max_model_len": MAX_MODEL_LEN,
    "max_tokens": 16,
}


@pytest.fixture(scope="package")
def vllm_chat(model_dir: Path) -> Iterator[Any]:
    """The vLLM default policy (a ChatVLLM), shared by the session and stopped at its end."""
    pytest.importorskip("vllm")
    from langchain_tpo.chat_models import load_default_policy

    chat: Any = load_default_policy("vllm", **ENGINE_KWARGS)
    try:
        yield chat
    finally:
        chat.close()


@pytest.fixture(scope="session")
def hf_chat(model_dir: Path) -> Any:
    """The transformers default policy, with short replies."""
    pytest.importorskip("langchain_huggingface")
    pytest.importorskip("torch")
    from langchain_tpo.chat_models import load_default_policy

    return load_default_policy("transformers", max_new_tokens=16)


@pytest.fixture(scope="package")
def policy_server(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL (`http://127.0.0.1:PORT/v1`) of a vLLM OpenAI server on the default model."""
    pytest.importorskip("vllm")
    log_dir = tmp_path_factory.mktemp("vllm-server")
    args = ["--served-model-name", "smollm2", "--max-model-len", str(MAX_MODEL_LEN)]
    with vllm_server(model_dir, log_dir, *args) as url:
        yield f"{url}/v1"
