"""What ChatVLLM declares to LangChain's standard test suites (unit and integration)."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel

from langchain_tpo.chat_models import ChatVLLM


class ChatVLLMCapabilities:
    """Mix in before a langchain-tests suite class.

    ChatVLLM binds no tools and has no structured-output mode, and an in-process engine has no
    API key, network timeout or retries.
    """

    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return ChatVLLM

    @property
    def standard_chat_model_params(self) -> dict[str, Any]:
        params: dict[str, Any] = super().standard_chat_model_params  # type: ignore[misc]
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
