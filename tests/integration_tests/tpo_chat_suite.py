"""LangChain's standard integration suite for TPOChatModel over a chain of real models."""

from __future__ import annotations

from typing import Any

from langchain_tpo import TPOChain
from tests.unit_tests.chat_models.tpo_capabilities import TPOChatModelCapabilities


class TPOChatModelOnRealModels(TPOChatModelCapabilities):
    """Mix in before `ChatModelIntegrationTests`; an autouse fixture of the test class sets
    `_chain` (the suite reads `chat_model_params` where no fixture is at hand)."""

    _chain: TPOChain | None = None

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"chain": self._chain}

    @property
    def has_structured_output(self) -> bool:
        """Off here: these runs keep every request to 12-16 tokens so the suite stays short, and
        a joke object does not fit in them. TPO over a schema on a real engine is tested in
        tests/integration_tests/chat_models/test_vllm_structured.py, and the suite's
        structured-output tests run on the scripted policy in the unit tests."""
        return False

    @property
    def standard_chat_model_params(self) -> dict[str, Any]:
        # The suite's 100 tokens per request would make every TPO run several times longer;
        # the chain's own limit keeps each run short.
        params = super().standard_chat_model_params
        params.pop("max_tokens", None)
        return params
