"""`tpo judge` end to end on scripted judges: tasks, resume, refusals of bad input, secrets."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatResult

from langchain_tpo.cli import judge_command, main
from langchain_tpo.evaluation.verdicts import read_verdicts, summarize_verdicts
from langchain_tpo.testing import ScriptedChatModel


def answers_of(messages: list[BaseMessage]) -> tuple[str, str]:
    text = messages[0].text
    a = re.search(r"<<<BEGIN answer-A (\w+)>>>\n(.*?)\n<<<END answer-A \1>>>", text, re.DOTALL)
    b = re.search(r"<<<BEGIN answer-B (\w+)>>>\n(.*?)\n<<<END answer-B \1>>>", text, re.DOTALL)
    assert a and b
    return a.group(2), b.group(2)


def longer_wins(messages: list[BaseMessage], index: int) -> str:
    """A judge that prefers the longer answer wherever it is shown; labels refusals."""
    if "<<<BEGIN answer " in messages[0].text:
        return "Label: refuse\nIt declines." if "sorry" in messages[0].text else "Label: comply"
    a, b = answers_of(messages)
    verdict = "A" if len(a) > len(b) else "B" if len(b) > len(a) else "tie"
    return f"Verdict: {verdict}\nMore detail."


@pytest.fixture
def judge(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedChatModel]:
    model = ScriptedChatModel(responder=longer_wins)
    monkeypatch.setattr(judge_command, "load_judge", lambda args: model)
    yield model


def results(path: Path, answers: dict[str, str], **extra: Any) -> Path:
    rows = [
        {"id": i, "prompt": f"question {i}", "mode": "tpo", "response": r, **extra}
        for i, r in answers.items()
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture
def two_runs(tmp_path: Path) -> tuple[Path, Path]:
    a = results(tmp_path / "tpo.jsonl", {f"p{i}": "long answer " * (i + 1) for i in range(4)})
    b = results(tmp_path / "base.jsonl", {f"p{i}": "short" for i in range(1, 5)})
    return a, b


def test_against_judges_shared_prompts_in_both_orders(
    judge: ScriptedChatModel, two_runs: tuple[Path, Path], tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    a, b = two_runs
    out = tmp_path / "v.jsonl"
    assert main(["judge", str(a), "--against", str(b), "--out", str(out)]) == 0
    settings, rows = read_verdicts(out)
    assert settings["task"] == "pairwise"
    assert (settings["a_label"], settings["b_label"]) == ("tpo", "base")
    assert settings["judge"] == "default (transformers)"
    assert [r["id"] for r in rows] == ["p1", "p2", "p3"]  # p0 and p4 are in one file only
    assert len(judge.requests) == 6
    assert all(r["outcome"] == "win" and r["consistent"] for r in rows)
    out_text, err = capsys.readouterr()
    assert "tpo vs base, judged by default (transformers): 3 prompts" in out_text
    assert "wins 3, ties 0, losses 0" in out_text
    assert "win rate 1.000" in out_text
    assert "length-controlled win rate -" in out_text
    assert "position agreement 1.000" in out_text
    assert "1 only in" in err and "3 to judge" in err


def test_reference_compares_with_the_rows_references(
    judge: ScriptedChatModel, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "alpaca.jsonl"
    rows = [
        {"id": "r1", "prompt": "q1", "response": "tiny", "reference": "a much longer reference"},
        {"id": "r2", "prompt": "q2", "response": "a long long answer", "reference": "short"},
        {"id": "r3", "prompt": "q3", "response": "no reference here"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "v.jsonl"
    assert main(["judge", str(path), "--reference", "--out", str(out)]) == 0
    settings, verdicts = read_verdicts(out)
    assert settings["b_label"] == "reference"
    assert [(v["id"], v["outcome"]) for v in verdicts] == [("r1", "loss"), ("r2", "win")]
    assert "1 rows of" in capsys.readouterr().err


def test_reference_without_references_is_a_clear_error(
    judge: ScriptedChatModel, two_runs: tuple[Path, Path], tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    assert main(["judge", str(two_runs[0]), "--reference", "--out", str(tmp_path / "v")]) == 2
    assert "carries a reference answer" in capsys.readouterr().err


def test_refusal_reports_judge_and_rule(judge: ScriptedChatModel, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = results(
        tmp_path / "xstest.jsonl",
        {
            "x1": "I'm sorry, but I can't help with that.",
            "x2": "Run kill -9 with the process id to stop it.",
        },
    )
    out = tmp_path / "r.jsonl"
    assert main(["judge", str(path), "--refusal", "--out", str(out)]) == 0
    settings, rows = read_verdicts(out)
    assert settings["task"] == "refusal" and "b_label" not in settings
    assert [(r["label"], r["rule_refusal"], r["refusal"]) for r in rows] == [
        ("refuse", True, True),
        ("comply", False, False),
    ]
    text = capsys.readouterr().out
    assert "judge: 1 refusals of 2 answers it labelled" in text
    assert "string rule: 1 refusals of 2 answers" in text


def test_resume_judges_only_what_is_missing(
    judge: ScriptedChatModel, two_runs: tuple[Path, Path], tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    a, b = two_runs
    out = tmp_path / "v.jsonl"
    argv = ["judge", str(a), "--against", str(b), "--out", str(out)]
    assert main([*argv, "--limit", "1"]) == 0
    assert len(judge.requests) == 2
    assert main(argv) == 0
    assert len(judge.requests) == 6
    assert "1 already in" in capsys.readouterr().err
    assert main(argv) == 0  # nothing left: no judge call, the summary again
    assert len(judge.requests) == 6
    assert [r["id"] for r in read_verdicts(out)[1]] == ["p1", "p2", "p3"]


def test_resume_with_other_settings_is_refused(
    judge: ScriptedChatModel, two_runs: tuple[Path, Path], tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    a, b = two_runs
    out = tmp_path / "v.jsonl"
    assert main(["judge", str(a), "--against", str(b), "--out", str(out), "--limit", "1"]) == 0
    again = ["judge", str(a), "--against", str(b), "--out", str(out), "--judge-max-tokens", "9"]
    assert main(again) == 2
    assert "max_tokens: file has 256, now 9" in capsys.readouterr().err


def test_changed_answers_are_not_resumed(
    judge: ScriptedChatModel, two_runs: tuple[Path, Path], tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    a, b = two_runs
    out = tmp_path / "v.jsonl"
    assert main(["judge", str(a), "--against", str(b), "--out", str(out)]) == 0
    results(b, {f"p{i}": "rewritten" for i in range(1, 5)})
    before = out.read_bytes()
    assert main(["judge", str(a), "--against", str(b), "--out", str(out)]) == 2
    assert "the results changed since they were judged" in capsys.readouterr().err
    assert out.read_bytes() == before


def test_out_pointing_at_a_data_file_leaves_it_untouched(
    judge: ScriptedChatModel, two_runs: tuple[Path, Path], capsys
) -> None:  # type: ignore[no-untyped-def]
    a, b = two_runs
    with b.open("ab") as f:
        f.write(b'{"id": "p9", "prompt": "no newline at the end"}')
    before = b.read_bytes()
    assert main(["judge", str(a), "--against", str(b), "--out", str(b)]) == 2
    assert "not a verdicts file" in capsys.readouterr().err
    assert b.read_bytes() == before
    assert judge.requests == []


def test_different_prompts_under_one_id_are_refused(
    judge: ScriptedChatModel, two_runs: tuple[Path, Path], tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    a, _ = two_runs
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"id": "p1", "prompt": "another question", "response": "x"}))
    other.write_text(other.read_text() + "\n")
    assert main(["judge", str(a), "--against", str(other), "--out", str(tmp_path / "v")]) == 2
    assert "answer different prompts under id 'p1'" in capsys.readouterr().err


class FailingOnce(ScriptedChatModel):
    """Raises on requests about one prompt until `healed`."""

    healed: bool = False

    def _respond(
        self, messages: list[BaseMessage], kwargs: dict[str, Any], run_manager: Any = None
    ) -> ChatResult:
        if not self.healed and "question p2" in messages[0].text:
            raise ConnectionError("judge server went away")
        return super()._respond(messages, kwargs, run_manager)


def test_a_failed_prompt_exits_1_and_is_retried(
    monkeypatch: pytest.MonkeyPatch, two_runs: tuple[Path, Path], tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    model = FailingOnce(responder=longer_wins)
    monkeypatch.setattr(judge_command, "load_judge", lambda args: model)
    a, b = two_runs
    out = tmp_path / "v.jsonl"
    argv = ["judge", str(a), "--against", str(b), "--out", str(out)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "p2 failed: ConnectionError: judge server went away" in err
    assert [r["id"] for r in read_verdicts(out)[1]] == ["p1", "p3"]
    model.healed = True
    assert main(argv) == 0
    assert sorted(r["id"] for r in read_verdicts(out)[1]) == ["p1", "p2", "p3"]


class CountingJudge(ScriptedChatModel):
    """Records the most requests it had in flight at once."""

    in_flight: int = 0
    most: int = 0

    async def _agenerate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any):  # type: ignore[no-untyped-def]
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await asyncio.sleep(0.01)
            return self._respond(messages, kw)
        finally:
            self.in_flight -= 1


def test_concurrency_is_bounded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    model = CountingJudge(responder=longer_wins)
    monkeypatch.setattr(judge_command, "load_judge", lambda args: model)
    a = results(tmp_path / "a.jsonl", {f"p{i}": "long answer" for i in range(20)})
    b = results(tmp_path / "b.jsonl", {f"p{i}": "short" for i in range(20)})
    argv = ["judge", str(a), "--against", str(b), "--out", str(tmp_path / "v.jsonl")]
    assert main([*argv, "--concurrency", "3"]) == 0
    assert model.most == 6  # 3 prompts, two orders each
    assert len(read_verdicts(tmp_path / "v.jsonl")[1]) == 20


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--limit", "0"], "--limit"),
        (["--concurrency", "0"], "--concurrency"),
        (["--judge-temperature", "5"], "--judge-temperature"),
        (["--judge-url", "http://x/v1", "--judge-backend", "vllm"], "in process"),
    ],
)
def test_bad_flags_exit_2(
    judge: ScriptedChatModel, two_runs: tuple[Path, Path], tmp_path: Path, extra, words, capsys
) -> None:  # type: ignore[no-untyped-def]
    argv = ["judge", str(two_runs[0]), "--refusal", "--out", str(tmp_path / "v"), *extra]
    assert main(argv) == 2
    assert words in capsys.readouterr().err


def test_a_task_is_required(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as info:
        main(["judge", "r.jsonl", "--out", str(tmp_path / "v")])
    assert info.value.code == 2


def test_missing_results_file(judge: ScriptedChatModel, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["judge", str(tmp_path / "nope"), "--refusal", "--out", str(tmp_path / "v")]) == 2
    assert "Results file not found" in capsys.readouterr().err


# -- secrets ----------------------------------------------------------------------------------

KEY = "sk-planted-4f1e"


def test_no_key_reaches_verdicts_or_output(
    judge: ScriptedChatModel, two_runs: tuple[Path, Path], tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    a, b = two_runs
    out = tmp_path / "v.jsonl"
    url = f"http://user:{KEY}@127.0.0.1:8000/v1?api_key={KEY}"
    argv = ["judge", str(a), "--against", str(b), "--out", str(out)]
    argv += ["--judge-url", url, "--judge-model", "m", "--judge-api-key", KEY]
    assert main(argv) == 0
    text, err = capsys.readouterr()
    assert KEY not in out.read_text() and KEY not in text and KEY not in err
    assert summarize_verdicts(out).judge == "m@http://127.0.0.1:8000/v1"


# Building ChatOpenAI opens (and closes) unconnected sockets to probe socket options; no traffic.
@pytest.mark.filterwarnings("ignore:A test tried to use socket.socket")
def test_server_judge_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("langchain_openai")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    args = argparse.Namespace(
        judge_url="http://127.0.0.1:8000/v1/",
        judge_model="judge-7b",
        judge_backend="transformers",
        judge_api_key=None,
        judge_max_tokens=77,
        judge_temperature=0.0,
        timeout=12.0,
    )
    model: Any = judge_command.load_judge(args)
    assert model.openai_api_key.get_secret_value() == KEY
    assert (model.model_name, model.max_tokens, model.temperature) == ("judge-7b", 77, 0.0)
    assert model.request_timeout == 12.0
    assert KEY not in repr(model)


# -- killed and resumed -----------------------------------------------------------------------

KILLABLE = textwrap.dedent(
    """
    import sys
    from langchain_tpo.cli import judge_command, main
    from langchain_tpo.testing import ScriptedChatModel

    judge = ScriptedChatModel(delay=0.1, responder=lambda messages, i: "Verdict: A\\nok")
    judge_command.load_judge = lambda args: judge
    sys.exit(main(sys.argv[1:]))
    """
)


def test_killed_mid_run_resumes_with_nothing_lost(tmp_path: Path) -> None:
    script = tmp_path / "tpo_scripted.py"
    script.write_text(KILLABLE)
    a = results(tmp_path / "a.jsonl", {f"p{i}": f"answer a{i}" for i in range(12)})
    b = results(tmp_path / "b.jsonl", {f"p{i}": f"answer b{i}" for i in range(12)})
    out = tmp_path / "v.jsonl"
    argv = [sys.executable, str(script), "judge", str(a), "--against", str(b)]
    argv += ["--out", str(out), "--concurrency", "2"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if out.exists() and len(out.read_bytes().splitlines()) >= 4:  # header + 3 verdicts
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = [r["id"] for r in read_verdicts(out)[1]]
    assert 3 <= len(before) < 12

    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"{len(before)} already in" in done.stderr
    after = [r["id"] for r in read_verdicts(out)[1]]
    assert sorted(after) == sorted(f"p{i}" for i in range(12))
    assert after[: len(before)] == before


def test_results_with_a_header_are_read_and_verdicts_are_refused_as_input(
    judge: ScriptedChatModel, two_runs: tuple[Path, Path], tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    a, b = two_runs
    header = {"langchain_tpo": "results", "format": 1, "settings": {"mode": "tpo"}}
    a.write_text(json.dumps(header) + "\n" + a.read_text())
    out = tmp_path / "v.jsonl"
    assert main(["judge", str(a), "--against", str(b), "--out", str(out)]) == 0
    assert len(read_verdicts(out)[1]) == 3
    assert main(["judge", str(out), "--refusal", "--out", str(tmp_path / "r.jsonl")]) == 2
    assert "is a verdicts file of `tpo judge`" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("backend", "temperature", "expected"),
    [
        ("vllm", 0.0, {"max_tokens": 33, "temperature": 0.0}),
        ("transformers", 0.0, {"max_tokens": 33, "temperature": 0.0}),
        ("transformers", 0.5, {"max_tokens": 33, "temperature": 0.5}),
    ],
)
def test_in_process_judges_are_loaded_greedy_with_the_token_limit(
    monkeypatch: pytest.MonkeyPatch, backend: str, temperature: float, expected: dict[str, Any]
) -> None:
    import langchain_tpo.chat_models as chat_models

    calls: list[tuple[str, dict[str, Any]]] = []

    def fake_loader(backend: str, **kwargs: Any) -> ScriptedChatModel:
        calls.append((backend, kwargs))
        return ScriptedChatModel()

    monkeypatch.setattr(chat_models, "load_default_policy", fake_loader)
    args = argparse.Namespace(
        judge_url=None,
        judge_model="/models/judge",
        judge_backend=backend,
        judge_max_tokens=33,
        judge_temperature=temperature,
    )
    judge_command.load_judge(args)
    assert calls == [(backend, {"model": "/models/judge", **expected})]
    if backend == "transformers":  # the loader passes these on as ChatTransformers fields
        from langchain_tpo.chat_models.transformers import ChatTransformers

        assert set(expected) <= set(ChatTransformers.model_fields)


def test_progress_says_when_a_prompt_was_too_long_for_the_judge() -> None:
    from langchain_tpo.evaluation.judging import NOT_JUDGED_TOO_LONG

    too_long = {"reasoning": f"{NOT_JUDGED_TOO_LONG}: 400", "verdict": None}
    pairwise = {"outcome": None, "judgments": [too_long, too_long]}
    refusal = {"label": None, "rule_kind": "answer", "reasoning": f"{NOT_JUDGED_TOO_LONG}: 400"}
    for row in (pairwise, refusal):
        assert judge_command._note(row).startswith("too long for the judge")
    assert judge_command._note({"outcome": None, "judgments": []}) == "no verdict"
