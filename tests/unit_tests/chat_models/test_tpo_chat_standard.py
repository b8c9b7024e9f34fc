"""LangChain's standard test suites for TPOChatModel, over a scripted tool-calling policy.

Both suites run here without a real model: the unit suite, and the integration suite
(invoke, stream, usage, tool calling, tool-message histories, an agent loop, structured
output), since the scripted policy answers, calls tools and answers in a JSON schema like a
real one.
"""

from __future__ import annotations

from typing import Any

from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests

from langchain_tpo import TPOChain, TPOConfig
from langchain_tpo.reward_models import FunctionReward
from langchain_tpo.testing import ScriptedToolCallingModel
from tests.unit_tests.chat_models.tpo_capabilities import (
    TPOChatModelCapabilities,
    TPOChatModelIntegrationCapabilities,
)


def scripted_chain() -> TPOChain:
    return TPOChain(
        policy=ScriptedToolCallingModel(),
        reward=FunctionReward(lambda query, response: float(len(response))),
        config=TPOConfig(num_samples=2, max_iterations=1),
    )


class TestTPOChatModelStandard(TPOChatModelCapabilities, ChatModelUnitTests):
    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"chain": scripted_chain()}


class TestTPOChatModelScriptedIntegration(
    TPOChatModelIntegrationCapabilities, ChatModelIntegrationTests
):
    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"chain": scripted_chain()}

    @property
    def model_override_value(self) -> str:
        """A per-call `model` goes to the policy and names the reply's model."""
        return "another-scripted-model"
