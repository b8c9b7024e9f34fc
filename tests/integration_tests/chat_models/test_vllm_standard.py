"""LangChain's standard integration tests for ChatVLLM on the default model, on the CPU."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests

from langchain_tpo.chat_models import ChatVLLM
from tests.unit_tests.chat_models.standard_capabilities import ChatVLLMCapabilities

pytestmark = [pytest.mark.integration, pytest.mark.requires("vllm")]


class TestChatVLLMIntegration(ChatVLLMCapabilities, ChatModelIntegrationTests):
    """Tool calling, structured output and image inputs are declared unsupported (skipped):
    ChatVLLM binds no tools and SmolLM2-135M has no tool-calling chat template.
    """

    _engine: Any = None

    @pytest.fixture(autouse=True)
    def _shared_engine(self, vllm_chat: ChatVLLM) -> None:
        # The package's engine: starting one per test would take a minute each.
        type(self)._engine = vllm_chat.engine

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"engine": self._engine, "max_tokens": 16}

    @property
    def supports_image_inputs(self) -> bool:
        return False
