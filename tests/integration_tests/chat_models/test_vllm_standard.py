"""LangChain's standard integration tests for ChatVLLM on the default model, on the CPU."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_tests.integration_tests import ChatModelIntegrationTests

from langchain_tpo.chat_models import ChatVLLM

pytestmark = [pytest.mark.integration, pytest.mark.requires("vllm")]


class TestChatVLLMIntegration(ChatModelIntegrationTests):
    """Tool calling, structured output and image inputs are declared unsupported (skipped):
    ChatVLLM binds no tools and SmolLM2-135M has no tool-calling chat template.
    """

    _engine: Any = None

    @pytest.fixture(autouse=True)
    def _shared_engine(self, vllm_chat: ChatVLLM) -> None:
        # The session's engine: starting one per test would take a minute each.
        type(self)._engine = vllm_chat.engine

    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return ChatVLLM

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"engine": self._engine, "max_tokens": 16}

    @property
    def standard_chat_model_params(self) -> dict[str, Any]:
        # An in-process engine has no network timeout and nothing to retry.
        params = super().standard_chat_model_params
        for key in ("timeout", "max_retries", "api_key"):
            params.pop(key, None)
        return params

    @property
    def has_tool_calling(self) -> bool:
        return False

    @property
    def has_structured_output(self) -> bool:
        return False

    @property
    def returns_usage_metadata(self) -> bool:
        return True

    @property
    def supports_image_inputs(self) -> bool:
        return False
