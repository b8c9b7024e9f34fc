"""What TPOChatModel declares to LangChain's standard test suites (unit and integration)."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel

from langchain_tpo import TPOChatModel


class TPOChatModelCapabilities:
    """Mix in before a langchain-tests suite class.

    TPOChatModel calls tools through its policy (the suite class says whether that policy can)
    and runs TPO over a schema for `with_structured_output`. TPO itself has no API key.
    """

    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return TPOChatModel

    @property
    def standard_chat_model_params(self) -> dict[str, Any]:
        params: dict[str, Any] = super().standard_chat_model_params  # type: ignore[misc]
        params.pop("api_key", None)
        return params

    @property
    def has_structured_output(self) -> bool:
        return True


class TPOChatModelIntegrationCapabilities(TPOChatModelCapabilities):
    """Mix in before `ChatModelIntegrationTests` (the structured-output tests run as they are:
    the suite's handler sees one chat-model run per call, see `policy_runs_seen_by`)."""
