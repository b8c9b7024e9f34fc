"""LangChain's standard integration tests for TPOChatModel on the default models (transformers).

TPO runs small (N=2, D=1, 12 tokens per request) with the embedded SmolLM2 policy and the
default reward model. Tool calling is declared unsupported: the transformers pipeline policy
never returns tool calls. The tool-calling suite runs on a vLLM server with tool calling on, in
tests/integration_tests/test_agents.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests

from langchain_tpo import TPOChain, TPOConfig
from tests.integration_tests.tpo_chat_suite import TPOChatModelOnRealModels

pytestmark = [pytest.mark.integration]

SMALL = TPOConfig(num_samples=2, max_iterations=1, max_tokens=12, seed=0)


class TestTPOChatModelIntegration(TPOChatModelOnRealModels, ChatModelIntegrationTests):
    @pytest.fixture(autouse=True)
    def _default_models(self, hf_chat: Any, default_reward: Any) -> None:
        type(self)._chain = TPOChain(policy=hf_chat, reward=default_reward, config=SMALL)

    @property
    def has_tool_calling(self) -> bool:
        return False

    @property
    def supports_model_override(self) -> bool:
        """The in-process pipeline serves one model."""
        return False
