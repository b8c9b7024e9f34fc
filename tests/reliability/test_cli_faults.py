"""`tpo run` and `tpo eval` against a model server that hangs, fails, or talks nonsense.

Each case runs the command against the stub server, with keys planted in every place a user
can put one, and checks that it ends in bounded time with a one-line error on stderr, a
non-zero exit, no traceback and none of the keys anywhere in its output. Most run the command
in this process (`tpo`, no start-up cost); a few run it in a fresh process as a user would
(`run_tpo`), where nothing can hide a traceback that a library prints itself.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.reliability.conftest import Finished, run_tpo
from tests.reliability.stub_server import StubServer

POLICY_KEY = "sk-policy-PLANTED-7f3a9c"
REWARD_KEY = "sk-reward-PLANTED-2b6e41"
URL_PASSWORD = "urlpass-PLANTED-51c2d8"
URL_QUERY_KEY = "query-PLANTED-88d0aa"
PLANTED = (POLICY_KEY, REWARD_KEY, URL_PASSWORD, URL_QUERY_KEY)

BOUND_S = 150.0
"""Far above what a bounded run takes (start-up, about 10 s, plus a few 2-second timeouts; more
on a loaded machine), far below what an unbounded one does (the stub releases a hanging request
after 120 s, and the command retries it)."""


def keyed(url: str) -> str:
    """`url` with a password and a query key in it, as a user might write it."""
    return url.replace("http://", f"http://user:{URL_PASSWORD}@") + f"?api_key={URL_QUERY_KEY}"


def run_args(server: StubServer | str, tokenizer_dir: str | None, *extra: str) -> list[str]:
    """Flags of a small run on the stub, keys planted; the stub also serves the reward model,
    or (`tokenizer_dir=None`) the policy judges, which spares a process loading a tokenizer."""
    url = server if isinstance(server, str) else server.url
    reward = (
        ["--reward-url", keyed(url), "--reward", tokenizer_dir, "--reward-api-key", REWARD_KEY]
        if tokenizer_dir
        else ["--reward", "judge"]
    )
    return [
        "-n", "2", "-d", "1", "--max-tokens", "8",
        "--server-url", keyed(f"{url}/v1"),
        "--api-key", POLICY_KEY,
        *reward,
        "--timeout", "2",
        *extra,
    ]  # fmt: skip


QUERY = "How do tides work?"
Tpo = Callable[..., Finished]


def assert_no_secret(text: str) -> None:
    for secret in PLANTED:
        assert secret not in text, f"planted key {secret!r} leaked:\n{text}"


def assert_one_line_failure(done: Finished, command: str = "run") -> str:
    """Exit 1, the error as the last stderr line and the only one, no traceback, no key."""
    assert done.code == 1, done.everything
    assert "Traceback" not in done.everything, done.err
    assert_no_secret(done.everything)
    errors = [line for line in done.err.splitlines() if line.startswith(f"tpo {command}: error:")]
    assert len(errors) == 1, done.err
    assert done.err.rstrip("\n").splitlines()[-1] == errors[0]
    assert done.seconds < BOUND_S, f"took {done.seconds:.0f} s"
    return errors[0]


def test_normal_answer_sends_the_keys_and_shows_none(stub: StubServer, tokenizer_dir: str) -> None:
    done = run_tpo("run", QUERY, *run_args(stub, tokenizer_dir))
    assert done.code == 0, done.everything
    assert done.out.startswith("Answer (reward ")
    assert_no_secret(done.everything)
    chat, scoring = stub.chat_requests, stub.reward_requests
    assert chat and scoring
    # The key in the URL's query reaches the server as a query, on every request.
    assert all(f"api_key={URL_QUERY_KEY}" in r.path for r in chat + scoring)
    assert all(r.body.get("seed") is not None for r in chat)


def test_policy_key_comes_from_the_flag_or_the_environment(
    stub: StubServer, tokenizer_dir: str, tpo: Tpo
) -> None:
    plain = ["run", "q", "-n", "2", "-d", "0", "--max-tokens", "8", "--mode", "bon"]
    server = ["--server-url", f"{stub.url}/v1", "--reward-url", stub.url, "--reward", tokenizer_dir]
    assert tpo(*plain, *server, "--api-key", POLICY_KEY).code == 0
    assert tpo(*plain, *server, env={"OPENAI_API_KEY": "sk-from-env"}).code == 0
    assert tpo(*plain, *server, "--reward-api-key", REWARD_KEY).code == 0
    keys = [r.headers.get("authorization") for r in stub.chat_requests]
    assert keys == [f"Bearer {POLICY_KEY}", "Bearer sk-from-env", "Bearer EMPTY"]
    reward_keys = [r.headers.get("authorization") for r in stub.reward_requests]
    assert reward_keys == [None, None, f"Bearer {REWARD_KEY}"]


def test_no_seed_per_request_leaves_seeds_out(
    stub: StubServer, tokenizer_dir: str, tpo: Tpo
) -> None:
    done = tpo("run", QUERY, *run_args(stub, tokenizer_dir, "--no-seed-per-request"))
    assert done.code == 0, done.everything
    assert stub.chat_requests
    assert all("seed" not in r.body for r in stub.chat_requests)


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ("hang", "timed out"),
        ("500", "HTTP 500"),
        ("close", "connection"),
        ("garbage", "not JSON"),
    ],
)
def test_policy_fault_is_one_line(
    stub: StubServer, tokenizer_dir: str, tpo: Tpo, fault: str, words: str
) -> None:
    stub.chat_fault = fault
    line = assert_one_line_failure(tpo("run", QUERY, *run_args(stub, tokenizer_dir)))
    assert words in line


def test_hanging_server_in_a_fresh_process(stub: StubServer) -> None:
    stub.chat_fault = "hang"
    line = assert_one_line_failure(run_tpo("run", QUERY, *run_args(stub, None)))
    assert "timed out" in line


def test_debug_adds_the_traceback_but_no_key(stub: StubServer) -> None:
    stub.chat_fault = "500"
    done = run_tpo("--debug", "run", "q", *run_args(stub, None))
    assert done.code == 1
    assert "Traceback (most recent call last)" in done.err
    assert done.err.rstrip("\n").splitlines()[-1].startswith("tpo run: error:")
    assert_no_secret(done.everything)


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ("nan", "finite"),
        ("hang", "timed out"),
        ("500", "HTTP 500"),
        ("garbage", "unexpected"),
    ],
)
def test_reward_fault_is_one_line(
    stub: StubServer, tokenizer_dir: str, tpo: Tpo, fault: str, words: str
) -> None:
    stub.reward_fault = fault
    done = tpo("run", QUERY, *run_args(stub, tokenizer_dir, "--retries", "1"))
    line = assert_one_line_failure(done)
    assert words in line


def test_nobody_listening_is_one_line(tokenizer_dir: str, tpo: Tpo) -> None:
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens on it
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = tpo("run", QUERY, *run_args(f"http://127.0.0.1:{port}", tokenizer_dir))
    line = assert_one_line_failure(done)
    assert "no server answers" in line


def test_server_dying_mid_run_keeps_the_best_answer(
    stub: StubServer, tokenizer_dir: str, tpo: Tpo
) -> None:
    stub.chat_fault, stub.fail_after = "500", 1  # the samples come back, then only errors
    done = tpo("run", QUERY, *run_args(stub, tokenizer_dir))
    assert done.code == 1, done.everything
    assert done.out.startswith("Answer (reward "), done.everything
    assert "stopped early" in done.err
    assert "Traceback" not in done.everything
    assert_no_secret(done.everything)


def test_eval_against_a_hanging_server_is_bounded_and_keeps_no_key(
    stub: StubServer, tokenizer_dir: str, tmp_path: Path, tpo: Tpo
) -> None:
    data = tmp_path / "prompts.jsonl"
    data.write_text(
        "".join(json.dumps({"id": f"p{i}", "prompt": f"q {i}"}) + "\n" for i in range(3))
    )
    out = tmp_path / "results.jsonl"
    eval_args = ["eval", "--data", str(data), "--mode", "bon", "--out", str(out)]
    first = tpo(*eval_args, *run_args(stub, tokenizer_dir))
    assert first.code == 0, first.everything
    written = out.read_text()
    assert "***" in written  # the policy's address is recorded, without its credentials
    assert_no_secret(first.everything + written)
    report = tpo("report", str(out), "--no-plots", "--out-dir", str(tmp_path))
    assert report.code == 0, report.everything
    assert_no_secret(report.everything + (tmp_path / "report.md").read_text())

    stub.chat_fault = "hang"
    out.unlink()
    hung = run_tpo(*eval_args, *run_args(stub, None))
    assert hung.code == 1, hung.everything
    assert hung.seconds < BOUND_S
    assert "Traceback" not in hung.everything
    assert_no_secret(hung.everything + (out.read_text() if out.exists() else ""))
