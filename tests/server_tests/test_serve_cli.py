"""`tpo serve`'s own logic, in this process: flags, names, warnings, failures at start."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

import langchain_tpo.server as server_package
from langchain_tpo.cli import main, models
from langchain_tpo.cli.serve_command import _default_names
from langchain_tpo.reward_models import FunctionReward
from langchain_tpo.server import bind
from langchain_tpo.testing import ScriptedChatModelWithN


class NamedPolicy(ScriptedChatModelWithN):
    """A scripted policy with a model name, as server and local models have."""

    model_name: str = "policy"


class FakeServer:
    """Stands in for uvicorn: says it started, keeps the app, returns."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.on_started: list[Any] = []

    def run(self, sockets: list[Any]) -> None:
        for callback in self.on_started:
            callback()


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[FakeServer]:
    servers: list[FakeServer] = []
    policy = NamedPolicy(model_name="/models/Some-Policy-7B")

    def load_policy(args: argparse.Namespace) -> ScriptedChatModelWithN:
        return policy

    monkeypatch.setattr(models, "load_policy", load_policy)
    monkeypatch.setattr(models, "load_reward", lambda args, p: FunctionReward(lambda q, r: 1.0))
    monkeypatch.setattr(server_package, "bind", lambda host, port: bind("127.0.0.1", 0))

    def server_for(app: Any, **kwargs: Any) -> FakeServer:
        servers.append(FakeServer(app))
        return servers[-1]

    monkeypatch.setattr(server_package, "server_for", server_for)
    monkeypatch.delenv("TPO_API_KEY", raising=False)
    return servers


def test_flags_become_the_servers_settings(
    started: list[FakeServer], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["serve", "-n", "3", "-d", "1", "--max-concurrency", "2", "--max-queue", "5",
         "--request-timeout", "30", "--max-samples", "4", "--api-key", "sk-cli-PLANTED-1"]
    )  # fmt: skip
    assert code == 0
    state = started[0].app.state.tpo
    settings = state.settings
    assert (settings.max_concurrency, settings.max_queue, settings.max_samples) == (2, 5, 4)
    assert settings.request_timeout_s == 30 and settings.api_key is not None
    assert settings.model_ids == ("tpo", "Some-Policy-7B")
    assert state.model.chain.config.num_samples == 3
    assert state.model.chain.config.seed is None  # a seed per run unless --seed
    err = capsys.readouterr().err
    assert "Serving TPO on http://127.0.0.1:" in err and "API key required" in err
    assert "sk-cli-PLANTED-1" not in err


def test_a_key_from_the_environment(
    started: list[FakeServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TPO_API_KEY", "sk-env-PLANTED-2")
    assert main(["serve", "--served-model-name", "mine"]) == 0
    settings = started[0].app.state.tpo.settings
    assert settings.api_key.get_secret_value() == "sk-env-PLANTED-2"
    assert settings.model_ids == ("mine",)


def test_listening_beyond_this_machine_without_a_key_warns(
    started: list[FakeServer], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--host", "0.0.0.0"]) == 0
    assert "without an API key" in capsys.readouterr().err


def test_bad_limits_are_one_line_usage_errors(
    started: list[FakeServer], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--max-concurrency", "0"]) == 2
    err = capsys.readouterr().err
    assert "tpo serve: error: max_concurrency must be at least 1" in err
    assert "Traceback" not in err


def test_a_taken_port_is_a_one_line_failure(capsys: pytest.CaptureFixture[str]) -> None:
    taken = bind("127.0.0.1", 0)
    taken.listen()
    try:
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port), "--reward", "judge"]) == 1
    finally:
        taken.close()
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "names"),
    [
        ("/root/.cache/models/SmolLM2-135M-Instruct", ["tpo", "SmolLM2-135M-Instruct"]),
        ("Qwen/Qwen3-8B", ["tpo", "Qwen/Qwen3-8B"]),
        ("tpo", ["tpo"]),
    ],
)
def test_default_names(name: str, names: list[str]) -> None:
    assert _default_names(NamedPolicy(model_name=name)) == names
