"""TPO in LangChain agents on real models: the embedded SmolLM2 on transformers, and the same
model behind a vLLM server started with tool calling on (`--enable-auto-tool-choice
--tool-call-parser hermes`, argument schemas enforced with `--tool-strict-level parameter`).

SmolLM2-135M does not call tools of its own accord, so the agents here force a tool call on the
first turn (`tool_choice="required"`, which the server turns into constrained decoding) and
leave the choice to the model afterwards, when it answers in text. The standard
tool-calling suite for TPOChatModel runs on the same server.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
from langchain_core.messages import BaseMessage
from langchain_core.tools import tool
from langchain_tests.integration_tests import ChatModelIntegrationTests

from langchain_tpo import TPOChain, TPOChatModel, TPOConfig, TPOResult
from tests.integration_tests.tpo_chat_suite import TPOChatModelOnRealModels
from tests.integration_tests.vllm_server import vllm_server

pytestmark = [pytest.mark.integration, pytest.mark.requires("vllm")]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")

SMALL = TPOConfig(num_samples=2, max_iterations=1, max_tokens=16, seed=0)
HOURS = "The city library opens 9:00-18:00 on weekdays and 10:00-14:00 on Saturdays."
QUESTION = "When is the city library open on Monday?"


Day = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


@tool
def library_hours(day: Day) -> str:
    """Opening hours of the city library on a given day."""
    # An enum, not free text: constrained decoding of a free string argument lets a 135M
    # model ramble until the token limit cuts the call.
    return HOURS


@pytest.fixture(scope="module")
def tool_server(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a vLLM server on the default model, with tool calling on."""
    pytest.importorskip("vllm")
    pytest.importorskip("langchain_openai")
    args = [
        "--served-model-name", "smollm2", "smollm2-again",
        "--max-model-len", "1024",
        "--enable-auto-tool-choice",
        "--tool-call-parser", "hermes",
        "--tool-strict-level", "parameter",
        # No torch.compile warm-up: minutes on a busy CPU, for no gain with tiny requests.
        "--enforce-eager",
    ]  # fmt: skip
    with vllm_server(model_dir, tmp_path_factory.mktemp("vllm-tools"), *args) as url:
        yield f"{url}/v1"


@pytest.fixture
def server_policy(tool_server: str) -> Any:
    import httpx
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        base_url=tool_server,
        api_key="EMPTY",
        model="smollm2",
        max_tokens=96,  # room for a whole tool call; TPO's own texts use SMALL's limit
        # Greedy for the policy's own replies (tool calls, the draft after the tool result), so
        # each test sees the same draft; TPO's samples and rewrites use SMALL's temperature.
        temperature=0.0,
        # A client per test: langchain-openai's shared async client is bound to the event
        # loop of the first test that used it, and each async test gets a loop of its own.
        http_async_client=httpx.AsyncClient(),
    )


def call_the_tool_first() -> Any:
    """Middleware: `tool_choice="required"` until a tool has answered, then the model's choice."""
    from langchain.agents.middleware import wrap_model_call

    @wrap_model_call
    def force_first_call(request: Any, handler: Callable[[Any], Any]) -> Any:
        if not any(m.type == "tool" for m in request.messages):
            request = request.override(tool_choice="required")
        return handler(request)

    return force_first_call


def check_refined_after_the_tool(messages: list[BaseMessage]) -> TPOResult:
    assert [m.type for m in messages] == ["human", "ai", "tool", "ai"]
    assert messages[1].tool_calls[0]["name"] == "library_hours"  # type: ignore[attr-defined]
    assert messages[2].text == HOURS
    answer = messages[-1]
    result = TPOResult.model_validate(answer.response_metadata["tpo_result"])
    assert answer.text == result.response
    assert answer.response_metadata["tpo_best_scores"] == result.best_scores
    assert len(result.best_scores) == 2 and result.stop_reason == "max_iterations"
    return result


def test_create_agent_on_tpo_chat_model_over_a_tool_calling_server(
    server_policy: Any, default_reward: Any
) -> None:
    from langchain.agents import create_agent

    chain = TPOChain(policy=server_policy, reward=default_reward, config=SMALL)
    model = TPOChatModel(chain=chain, return_full_result=True)
    agent = create_agent(model, tools=[library_hours], middleware=[call_the_tool_first()])
    state = agent.invoke({"messages": [("human", QUESTION)]})
    result = check_refined_after_the_tool(state["messages"])
    # The policy's own answer (made with the tool result in view) was seeded as a draft:
    # one more initial candidate than the N samples.
    assert len([c for c in result.candidates if c.iteration == -1]) == SMALL.num_samples + 1


def test_tpo_middleware_on_a_plain_chat_model_over_the_server(
    server_policy: Any, default_reward: Any
) -> None:
    from langchain.agents import create_agent

    from langchain_tpo.agents import TPOMiddleware

    refine = TPOMiddleware(reward=default_reward, config=SMALL, return_full_result=True)
    agent = create_agent(
        server_policy, tools=[library_hours], middleware=[call_the_tool_first(), refine]
    )
    state = agent.invoke({"messages": [("human", QUESTION)]})
    result = check_refined_after_the_tool(state["messages"])
    assert len([c for c in result.candidates if c.iteration == -1]) == SMALL.num_samples + 1


def test_tpo_middleware_on_the_default_policy_without_tools(default_reward: Any) -> None:
    pytest.importorskip("langchain_huggingface")
    from langchain.agents import create_agent

    from langchain_tpo.agents import TPOMiddleware
    from langchain_tpo.chat_models import load_default_policy

    policy = load_default_policy("transformers", max_new_tokens=16)
    agent = create_agent(
        policy,
        system_prompt="You are a helpful assistant.",
        middleware=[TPOMiddleware(reward=default_reward, config=SMALL)],
    )
    # Synchronous: ChatHuggingFace over a pipeline has no async generation.
    state = agent.invoke({"messages": [("human", "Give one tip for sleeping well.")]})
    answer = state["messages"][-1]
    assert [m.type for m in state["messages"]] == ["human", "ai"]
    assert answer.text
    assert len(answer.response_metadata["tpo_best_scores"]) == 2
    assert answer.response_metadata["tpo_score"] == max(answer.response_metadata["tpo_best_scores"])


class TestTPOChatModelToolServer(TPOChatModelOnRealModels, ChatModelIntegrationTests):
    """The standard suite for TPOChatModel over ChatOpenAI against the tool-calling server."""

    @pytest.fixture(autouse=True)
    def _models(self, server_policy: Any, default_reward: Any) -> None:
        type(self)._chain = TPOChain(policy=server_policy, reward=default_reward, config=SMALL)

    @property
    def model_override_value(self) -> str:
        """The server serves the model under a second name; a per-call `model` picks it."""
        return "smollm2-again"

    # The policy's own limits, not TPO's: a reply that calls a tool is the policy's, unchanged.
    # Constrained decoding makes the calls well-formed; what goes into them is up to the model.

    @pytest.mark.xfail(reason="SmolLM2-135M does not call a tool unless tool_choice forces it")
    def test_agent_loop(self, model: Any) -> None:
        super().test_agent_loop(model)

    @pytest.mark.xfail(
        reason="SmolLM2-135M sometimes writes a malformed <tool_call> (the server's parser then "
        "finds none) even when tool_choice names the tool"
    )
    def test_tool_choice(self, model: Any) -> None:
        super().test_tool_choice(model)

    @pytest.mark.xfail(reason="SmolLM2-135M may answer in prose instead of calling the tool")
    def test_tool_calling_with_no_arguments(self, model: Any) -> None:
        super().test_tool_calling_with_no_arguments(model)

    @pytest.mark.xfail(reason="SmolLM2-135M often passes another number than the question's 3")
    @pytest.mark.parametrize("model", [{}, {"output_version": "v1"}], indirect=True)
    def test_tool_calling(self, model: Any) -> None:
        super().test_tool_calling(model)

    @pytest.mark.xfail(reason="SmolLM2-135M often passes another number than the question's 3")
    async def test_tool_calling_async(self, model: Any) -> None:
        await super().test_tool_calling_async(model)

    @pytest.mark.xfail(reason="SmolLM2-135M may fill a free-text argument with an empty string")
    def test_bind_runnables_as_tools(self, model: Any) -> None:
        super().test_bind_runnables_as_tools(model)

    @pytest.mark.xfail(
        reason="SmolLM2-135M writes another name than 你好 into the argument, or rambles to the "
        "token limit"
    )
    def test_unicode_tool_call_integration(self, model: Any, **kwargs: Any) -> None:
        super().test_unicode_tool_call_integration(model, **kwargs)
