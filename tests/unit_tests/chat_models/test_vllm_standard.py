"""LangChain's standard unit tests for ChatVLLM, on a fake engine (vLLM not needed)."""

from __future__ import annotations

from typing import Any

from langchain_tests.unit_tests import ChatModelUnitTests

from tests.unit_tests.chat_models.fakes import FakeAsyncEngine
from tests.unit_tests.chat_models.standard_capabilities import ChatVLLMCapabilities


class TestChatVLLMStandard(ChatVLLMCapabilities, ChatModelUnitTests):
    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"engine": FakeAsyncEngine()}
