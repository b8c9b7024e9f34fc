"""`tpo eval` and `tpo report` never damage or mix data they do not own (issue 13, items 1, 2,
7, 8, 10): a file that is not a results file is refused byte for byte, a resume with other
settings or another dataset is refused with the reason, a broken results file or dataset is
named line by line instead of raising a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from langchain_tpo.cli import main, models
from langchain_tpo.evaluation import read_results
from langchain_tpo.reward_models import FunctionReward
from langchain_tpo.testing import ScriptedChatModel


@pytest.fixture(autouse=True)
def scripted_models(monkeypatch: pytest.MonkeyPatch) -> ScriptedChatModel:
    policy = ScriptedChatModel()
    monkeypatch.setattr(models, "load_policy", lambda args: policy)
    monkeypatch.setattr(
        models, "load_reward", lambda args, policy: FunctionReward(lambda q, r: float(len(r)))
    )
    return policy


def prompts(path: Path, n: int, word: str = "question") -> Path:
    rows = [{"id": f"p{i}", "prompt": f"{word} {i}"} for i in range(n)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def evaluate(data: Path, out: Path, *extra: str) -> int:
    return main(["eval", "--data", str(data), "--mode", "base", "--out", str(out), *extra])


@pytest.mark.parametrize(
    "content",
    [
        b'{"id": "p0", "prompt": "question 0"}\n{"id": "p1", "prompt": "no newline at the end"}',
        b'{\n  "id": "p0",\n  "prompt": "question 0"\n}',
        b'{"id": "p0", "mode": "base", "response": "a results file of an older version"}\n',
    ],
    ids=["the-data-file", "pretty-printed-json", "headerless-results"],
)
def test_out_that_is_not_a_results_file_is_left_byte_for_byte(
    tmp_path: Path, content: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    data = prompts(tmp_path / "prompts.jsonl", 2)
    target = tmp_path / "mydata.jsonl"
    target.write_bytes(content)
    assert evaluate(data, target) == 2
    assert target.read_bytes() == content
    err = capsys.readouterr().err
    assert "mydata.jsonl is not a file written by langchain-tpo" in err
    assert "Traceback" not in err


def test_the_dataset_itself_as_out_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "mydata.jsonl"
    content = b'{"id": "p0", "prompt": "a"}\n{"id": "p1", "prompt": "b"}'
    data.write_bytes(content)
    assert evaluate(data, data) == 2
    assert data.read_bytes() == content


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--temperature", "0.2"], "temperature: file has 0.7, now 0.2"),
        (["--seed", "5"], "seed: file has 0, now 5"),
        (["--max-tokens", "7"], "max_tokens: file has 128, now 7"),
        (["--policy", "other-model"], "policy: file has 'default (transformers)'"),
    ],
)
def test_resume_with_other_settings_is_refused_and_names_them(
    tmp_path: Path, flags: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data = prompts(tmp_path / "prompts.jsonl", 3)
    out = tmp_path / "out.jsonl"
    assert evaluate(data, out, "--limit", "2") == 0
    content = out.read_bytes()
    capsys.readouterr()
    assert evaluate(data, out, *flags) == 2
    assert named in capsys.readouterr().err
    assert out.read_bytes() == content


def test_every_answer_changing_setting_is_in_the_header_and_rows(tmp_path: Path) -> None:
    data = prompts(tmp_path / "prompts.jsonl", 1)
    out = tmp_path / "out.jsonl"
    argv = ["eval", "--data", str(data), "--mode", "tpo", "--out", str(out), "-n", "2", "-d", "1"]
    assert main(argv) == 0
    header = json.loads(out.read_text().splitlines()[0])
    assert header["langchain_tpo"] == "results"
    settings = header["settings"]
    for key in (
        "mode",
        "num_samples",
        "max_iterations",
        "max_tokens",
        "temperature",
        "top_p",
        "seed",
        "policy",
        "reward",
        "prompts_sha256",
    ):
        assert key in settings, key
    (row,) = read_results(out)
    assert {k: row[k] for k in settings} == settings
    assert len(row["prompt_sha256"]) == 16


def test_another_dataset_with_overlapping_ids_is_refused_not_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.jsonl"
    assert evaluate(prompts(tmp_path / "a.jsonl", 2), out) == 0
    content = out.read_bytes()
    other = prompts(tmp_path / "b.jsonl", 3, word="something else")
    assert evaluate(other, out) == 2
    err = capsys.readouterr().err
    assert "already holds a row 'p0' for a different prompt" in err
    assert out.read_bytes() == content


@pytest.mark.parametrize(
    ("bad_line", "named"),
    [('{"score": 1.0}', "line 3: has no 'id'"), ('["p9", 1.0]', "line 3: is a JSON list")],
)
def test_a_broken_results_file_is_named_by_eval_and_report(
    tmp_path: Path, bad_line: str, named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data = prompts(tmp_path / "prompts.jsonl", 3)
    out = tmp_path / "out.jsonl"
    assert evaluate(data, out, "--limit", "1") == 0
    with out.open("a") as f:
        f.write(bad_line + "\n")
    content = out.read_bytes()
    capsys.readouterr()
    assert evaluate(data, out) == 2
    assert f"out.jsonl {named}" in capsys.readouterr().err
    assert main(["report", str(out), "--no-plots", "--out-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"out.jsonl {named}" in err and "Traceback" not in err
    assert out.read_bytes() == content


def test_dataset_problems_are_named_per_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "d.jsonl"
    data.write_bytes(
        b'{"id": "a", "prompt": "fine"}\n'
        b'{"id": "b", "prompt": "caf\xe9"}\n'
        b'{"id": "c", "prompt": 42}\n'
        b'{"id": "d", "prompt": ["a"]}\n'
        b'{"id": "e", "prompt": "also fine"}\n'
    )
    out = tmp_path / "out.jsonl"
    assert evaluate(data, out) == 0
    err = capsys.readouterr().err
    assert "line 2: not UTF-8 text (byte 0xe9" in err
    assert "line 3: prompt is not a string (it is a int)" in err
    assert "line 4: prompt is not a string (it is a list)" in err
    assert "empty prompt" not in err
    assert [r["id"] for r in read_results(out)] == ["a", "e"]


def test_an_empty_dataset_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text("")
    assert evaluate(data, tmp_path / "out.jsonl") == 2
    err = capsys.readouterr().err
    assert "is empty" in err and "prompt" not in err.split("is empty")[1]
    assert not (tmp_path / "out.jsonl").exists()
