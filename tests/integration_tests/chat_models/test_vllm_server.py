"""TPO over `ChatOpenAI` against a vLLM OpenAI-compatible server: N samples through `n`."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage

from langchain_tpo import TPOChain, TPOConfig
from langchain_tpo.reward_models import FunctionReward

pytestmark = [pytest.mark.integration, pytest.mark.requires("vllm")]


@pytest.fixture
def server_chat(policy_server: str) -> object:
    openai = pytest.importorskip("langchain_openai")
    return openai.ChatOpenAI(
        base_url=policy_server, api_key="EMPTY", model="smollm2", n=2, max_tokens=16
    )


def test_n_samples_in_one_request(server_chat: object) -> None:
    result = server_chat.generate([[HumanMessage("Name a fruit.")]])  # type: ignore[attr-defined]
    assert len(result.generations[0]) == 2


def test_tpo_chain_over_the_server(server_chat: object) -> None:
    chain = TPOChain(
        policy=server_chat,  # type: ignore[arg-type]
        reward=FunctionReward(lambda query, response: float(len(response))),
        config=TPOConfig(num_samples=2, max_iterations=1, max_tokens=16),
    )
    result = chain.invoke("Give one tip for sleeping well.")
    assert result.response
    assert len(result.best_scores) == 2 and result.failures == 0


def test_tpo_run_command_over_the_server(
    policy_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`tpo run --server-url` finds the served model itself and scores with the default reward."""
    pytest.importorskip("langchain_openai")
    from langchain_tpo.cli import main

    argv = ["run", "Name a fruit.", "--server-url", policy_server, "-n", "2", "-d", "1"]
    assert main([*argv, "--max-tokens", "12", "--json", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert '"stop_reason": "max_iterations"' in out


def test_tpo_run_with_no_server_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    from langchain_tpo.cli import main
    from tests.integration_tests.vllm_server import free_port

    url = f"http://127.0.0.1:{free_port()}/v1"
    assert main(["run", "hi", "--server-url", url, "-n", "2", "-d", "1", "--quiet"]) == 1
    assert "no server answers" in capsys.readouterr().err
