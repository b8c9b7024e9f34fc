"""Failures of the `tpo` command end as one line on stderr; --debug adds the traceback."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from langchain_core.exceptions import (
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelTimeoutError,
)
from langchain_core.messages import BaseMessage

from langchain_tpo.cli import build_parser, main, models, run_command
from langchain_tpo.cli.errors import MAX_MESSAGE, CLIError, describe_failure
from langchain_tpo.reward_models import FunctionReward, RewardModelError
from langchain_tpo.testing import ScriptedChatModel, default_responder, stage_of


def chained(outer: BaseException, cause: BaseException) -> BaseException:
    outer.__cause__ = cause
    return outer


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (ModelTimeoutError("Request timed out."), "timed out"),
        (TimeoutError(), "timed out"),
        (chained(RuntimeError("wrapped"), TimeoutError("read")), "timed out"),
        (
            chained(ModelConnectionError("Connection error."), OSError("Connection refused")),
            "lost the connection to the model server: OSError: Connection refused",
        ),
        (ModelAPIError("Error code: 500 - boom"), "the model server failed"),
        (ModelAuthenticationError("Error code: 401"), "--server-api-key"),
        (json.JSONDecodeError("Expecting value", "<html>", 0), "not JSON"),
        (RewardModelError("Reward model 'x' returned nan for pair 0"), "returned nan"),
        (ImportError("A --server-url policy needs langchain-openai"), "langchain-openai"),
        (KeyError("surprise"), "--debug"),
    ],
)
def test_describe_failure_is_one_line(error: BaseException, words: str) -> None:
    line = describe_failure(error)
    assert words in line
    assert "\n" not in line


def test_long_or_multiline_messages_are_cut() -> None:
    line = describe_failure(ModelAPIError("x" * 5000 + "\nsecond line"))
    assert len(line) <= MAX_MESSAGE and "\n" not in line


def test_engine_death_on_a_server_names_the_fix() -> None:
    line = describe_failure(ModelAPIError("Error code: 500 - EngineCore encountered an issue."))
    assert "--no-enable-chunked-prefill" in line and "--no-seed-per-request" in line


def failing_policy(error: Exception, stage: str = "sample") -> Any:
    def responder(messages: list[BaseMessage], index: int) -> str:
        if stage_of(messages) == stage:
            raise error
        return default_responder(messages, index)

    return responder


@pytest.mark.parametrize(
    "error",
    [
        ModelTimeoutError("Request timed out."),
        ModelAPIError("Error code: 500 - internal"),
        json.JSONDecodeError("Expecting value", "<html>", 0),
        KeyError("anything at all"),
    ],
)
def test_run_failure_is_one_line_without_traceback(
    error: Exception,
    scripted_models: ScriptedChatModel,
    capsys: pytest.CaptureFixture[str],
) -> None:
    scripted_models.responder = failing_policy(error)
    assert main(["run", "q", "-n", "2", "-d", "1", "--quiet"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tpo run: error: "), captured.err


def test_reward_nan_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        models, "load_reward", lambda args, policy: FunctionReward(lambda q, r: float("nan"))
    )
    assert main(["run", "q", "-n", "2", "-d", "1", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tpo run: error: ") and "finite" in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [["--debug", "run"], ["run", "--debug"]])
def test_debug_shows_the_traceback(
    argv: list[str], scripted_models: ScriptedChatModel, capsys: pytest.CaptureFixture[str]
) -> None:
    scripted_models.responder = failing_policy(ModelAPIError("Error code: 500 - internal"))
    assert main([*argv, "q", "-n", "2", "-d", "1", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.splitlines()[-1].startswith("tpo run: error: the model server failed")


def test_a_failure_after_scoring_prints_the_best_answer_and_why(
    scripted_models: ScriptedChatModel, capsys: pytest.CaptureFixture[str]
) -> None:
    scripted_models.responder = failing_policy(ModelAPIError("Error code: 500"), "critique")
    assert main(["run", "q", "-n", "3", "-d", "2", "--quiet"]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("Answer (reward ")
    assert "sample" in captured.out  # the best of the initial samples
    assert "Traceback" not in captured.err
    assert captured.err.startswith("tpo run: stopped early (")
    assert "Error code: 500" in captured.err and len(captured.err.splitlines()) == 1


@pytest.mark.parametrize(
    ("stop_reason", "error", "expected"),
    [
        ("stage_failed", "critique failed: the server answered HTTP 500", "HTTP 500"),
        ("timeout", None, "--run-timeout"),
        ("max_iterations", None, None),
    ],
)
def test_early_stop_reason(stop_reason: str, error: str | None, expected: str | None) -> None:
    result: Any = SimpleNamespace(stop_reason=stop_reason, error=error)
    reason = run_command._early_stop_reason(result, [])
    assert (reason is None) if expected is None else (expected in str(reason))


def test_limits_reach_the_config() -> None:
    args = build_parser().parse_args(
        ["run", "q", "--timeout", "12.5", "--run-timeout", "90", "--retries", "4"]
    )
    config = run_command.config_from_args(args)
    assert config.request_timeout_s == 12.5
    assert config.timeout_s == 90
    assert config.max_retries == 4
    default = run_command.config_from_args(build_parser().parse_args(["run", "q"]))
    assert default.request_timeout_s == models.DEFAULT_TIMEOUT_S and default.timeout_s is None


@pytest.mark.parametrize(
    ("flag", "words"), [("--timeout", "request_timeout_s"), ("--run-timeout", "timeout_s")]
)
def test_bad_limits_are_usage_errors(
    flag: str, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "q", flag, "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tpo run: error:") and words in err


def test_judge_reward_takes_no_reward_server() -> None:
    args = build_parser().parse_args(["run", "q", "--reward", "judge", "--reward-url", "http://h"])
    with pytest.raises(CLIError, match="judge"):
        models._server_reward(args)
