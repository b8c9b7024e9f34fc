"""LangChain's standard unit tests for ChatVLLM, on a fake engine (vLLM not needed)."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_tests.unit_tests import ChatModelUnitTests

from langchain_tpo.chat_models import ChatVLLM
from tests.unit_tests.chat_models.fakes import FakeAsyncEngine


class TestChatVLLMStandard(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return ChatVLLM

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"engine": FakeAsyncEngine()}

    @property
    def standard_chat_model_params(self) -> dict[str, Any]:
        # An in-process engine has no API key, no network timeout and nothing to retry.
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
