"""Keys never shown: in URLs, results rows, reports, error lines, repr and to_json."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from langchain_core.messages import BaseMessage
from pydantic import SecretStr

from langchain_tpo import TPOChain
from langchain_tpo._redact import redact_text, redact_url, url_secrets
from langchain_tpo.cli import build_parser, main, models
from langchain_tpo.reward_models import FunctionReward, RemoteRewardModel
from langchain_tpo.testing import ScriptedChatModel

KEY = "sk-PLANTED-0123456789"
URL_PASSWORD = "pw-PLANTED-abcdef"
URL_QUERY_KEY = "qk-PLANTED-424242"
REWARD_KEY = "rk-PLANTED-987654"
PLANTED = (KEY, URL_PASSWORD, URL_QUERY_KEY, REWARD_KEY)
KEYED_URL = f"http://user:{URL_PASSWORD}@127.0.0.1:8000/v1?api_key={URL_QUERY_KEY}"


def assert_no_secret(text: str) -> None:
    for secret in PLANTED:
        assert secret not in text, f"{secret!r} leaked: {text}"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1"),
        ("http://user:pw@host:8000/v1", "http://***@host:8000/v1"),
        ("https://KEY@host/v1", "https://***@host/v1"),
        ("http://host/v1?api_key=K&x=1", "http://host/v1?api_key=***&x=***"),
        ("http://host/v1?TOKEN", "http://host/v1?***"),
        ("http://host/v1#access_token=K", "http://host/v1#access_token=***"),
        ("http://host/v1?empty=", "http://host/v1?empty="),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_url_secrets_and_redact_text() -> None:
    assert set(url_secrets(KEYED_URL)) == {URL_PASSWORD, URL_QUERY_KEY}
    assert url_secrets("http://KEY-ONLY-USER@host/v1") == ["KEY-ONLY-USER"]
    assert set(url_secrets("http://user@host/v1?a=b%2Fc")) == {"user", "b%2Fc", "b/c"}
    text = f"failed to reach {KEYED_URL} with key {KEY}"
    cleaned = redact_text(text, [KEY])
    assert_no_secret(cleaned)
    assert "http://***@127.0.0.1:8000/v1?api_key=***" in cleaned
    assert redact_text("a user said abc", ["abc"]) == "a user said abc"  # too short to be a key


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["run", "q", *argv])


def test_keys_are_secret_strings_and_flag_beats_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "from-env-key")
    args = parse("--server-api-key", KEY, "--reward-api-key", REWARD_KEY)
    assert isinstance(args.server_api_key, SecretStr)
    assert_no_secret(repr(args))
    assert models.policy_api_key(args).get_secret_value() == KEY
    assert models.reward_api_key(args).get_secret_value() == REWARD_KEY
    assert models.policy_api_key(parse()).get_secret_value() == "from-env-key"
    monkeypatch.delenv("OPENAI_API_KEY")
    assert models.policy_api_key(parse()) is None
    monkeypatch.setenv("TPO_REWARD_API_KEY", "reward-from-env")
    assert models.reward_api_key(parse()).get_secret_value() == "reward-from-env"


@pytest.mark.parametrize("command", ["run", "eval"])
def test_api_key_stays_an_alias_of_server_api_key_on_run_and_eval(command: str) -> None:
    rest = ["q"] if command == "run" else ["--data", "p.jsonl", "--mode", "tpo", "--out", "r.jsonl"]
    argv = [command, *rest]
    args = build_parser().parse_args([*argv, "--api-key", KEY])
    assert models.policy_api_key(args).get_secret_value() == KEY


def test_serve_keeps_api_key_for_its_clients_and_server_api_key_for_the_policy() -> None:
    args = build_parser().parse_args(["serve", "--api-key", KEY, "--server-api-key", REWARD_KEY])
    assert args.client_api_key.get_secret_value() == KEY
    assert models.policy_api_key(args).get_secret_value() == REWARD_KEY
    assert_no_secret(repr(args))
    assert set(models.secrets_of(args)) >= {KEY, REWARD_KEY}


def test_descriptions_recorded_in_results_have_no_credentials() -> None:
    args = parse("--server-url", KEYED_URL, "--reward-url", KEYED_URL, "--reward", "rm")
    assert models.describe_policy(args) == ("server@http://***@127.0.0.1:8000/v1?api_key=***")
    assert models.describe_reward(args) == "rm@http://***@127.0.0.1:8000/v1?api_key=***"


def test_server_chat_model_uses_the_key_and_shows_none() -> None:
    pytest.importorskip("langchain_openai")
    chat = models.server_chat_model(KEYED_URL, model="m", api_key=SecretStr(KEY), timeout=7)
    assert chat.openai_api_key.get_secret_value() == KEY
    # The query moves to default_query, so request paths go before it.
    assert chat.openai_api_base == f"http://user:{URL_PASSWORD}@127.0.0.1:8000/v1"
    assert chat.default_query == {"api_key": URL_QUERY_KEY}
    assert chat.request_timeout == 7
    chain = TPOChain(policy=chat, reward=FunctionReward(lambda q, r: 1.0))
    for shown in (repr(chat), json.dumps(chat.to_json()), repr(chain), json.dumps(chain.to_json())):
        assert_no_secret(shown)


def test_server_chat_model_can_leave_the_seed_out() -> None:
    pytest.importorskip("langchain_openai")
    seeded = models.server_chat_model("http://h/v1", model="m", timeout=5)
    unseeded = models.server_chat_model("http://h/v1", model="m", timeout=5, send_seed=False)
    assert seeded._get_request_payload("hi", seed=3)["seed"] == 3
    assert "seed" not in unseeded._get_request_payload("hi", seed=3)


def test_remote_reward_hides_its_key_everywhere() -> None:
    reward = RemoteRewardModel(KEYED_URL, model="rm", api_key=REWARD_KEY, tokenizer=object())
    assert isinstance(reward.api_key, SecretStr)
    assert reward._headers() == {"Authorization": f"Bearer {REWARD_KEY}"}
    chain = TPOChain(policy=ScriptedChatModel(), reward=reward)
    for shown in (
        repr(reward),
        str(reward),
        reward.get_name(),
        json.dumps(reward.to_json()),
        repr(chain),
        json.dumps(chain.to_json()),
    ):
        assert_no_secret(shown)


# -- the command end to end, on scripted models (see conftest) --------------------------------


def keyed_flags() -> list[str]:
    return [
        "--server-url", KEYED_URL, "--api-key", KEY,
        "--reward-url", KEYED_URL, "--reward-api-key", REWARD_KEY,
    ]  # fmt: skip


def test_eval_rows_and_report_hold_no_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "prompts.jsonl"
    data.write_text(
        "".join(json.dumps({"id": f"p{i}", "prompt": f"q {i}"}) + "\n" for i in range(3))
    )
    out = tmp_path / "results.jsonl"
    argv = ["eval", "--data", str(data), "--mode", "tpo", "--out", str(out), "-n", "2", "-d", "1"]
    assert main([*argv, *keyed_flags()]) == 0
    rows = out.read_text()
    assert "127.0.0.1:8000" in rows  # the address is recorded, only without credentials
    assert main(["report", str(out), "--no-plots", "--out-dir", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert_no_secret(rows + captured.out + captured.err + (tmp_path / "report.md").read_text())


def test_failure_line_holds_no_key(
    scripted_models: ScriptedChatModel, capsys: pytest.CaptureFixture[str]
) -> None:
    def leaky(messages: list[BaseMessage], index: int) -> str:
        raise RuntimeError(f"POST {KEYED_URL}/chat/completions with Bearer {KEY} failed")

    scripted_models.responder = leaky
    for debug in ([], ["--debug"]):
        assert main([*debug, "run", "q", "-n", "2", "-d", "1", *keyed_flags()]) == 1
        captured = capsys.readouterr()
        assert "failed" in captured.err
        assert_no_secret(captured.out + captured.err)
