"""The `tpo` command end to end on scripted models: output, exit codes, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from langchain_tpo.cli import main, models
from langchain_tpo.cli.errors import CLIError
from langchain_tpo.evaluation import read_results
from langchain_tpo.evaluation.benchmarks import SHIPPED_DIR
from langchain_tpo.reward_models import FunctionReward
from langchain_tpo.testing import ScriptedChatModel


def write_prompts(path: Path, n: int) -> Path:
    path.write_text(
        "".join(json.dumps({"id": f"p{i}", "prompt": f"question {i}"}) + "\n" for i in range(n))
    )
    return path


# -- run --------------------------------------------------------------------------------------


def test_run_prints_answer_and_trajectory(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "How do tides work?", "-n", "3", "-d", "2"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("Answer (reward +")
    assert "samples" in out and "iteration 1" in out and "iteration 2" in out
    assert "stopped: max_iterations" in out
    assert "Loading the policy model" in err
    assert "iteration 2 of 2: rewriting" in err
    assert "best so far" in err


def test_run_shows_the_parts_of_a_combined_reward(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from langchain_tpo.reward_models import CombinedReward

    reward = CombinedReward(
        components={
            "helpfulness": FunctionReward(lambda q, r: float(len(r))),
            "harmlessness": FunctionReward(lambda q, r: -1.0),
        },
        weights={"helpfulness": 1.0, "harmlessness": 0.5},
    )
    monkeypatch.setattr(models, "load_reward", lambda args, policy: reward)
    assert main(["run", "q", "-n", "2", "-d", "1", "-q"]) == 0
    out = capsys.readouterr().out
    assert "reward parts (raw, before their weights): helpfulness +" in out
    assert "· harmlessness -1.000" in out
    assert main(["run", "q", "-n", "2", "-d", "1", "-q", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert all(c["components"]["harmlessness"] == -1.0 for c in result["candidates"])


def test_run_json_is_the_whole_result(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "q", "-n", "2", "-d", "1", "--json", "--quiet"]) == 0
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert len(result["candidates"]) == 4
    assert len(result["history"]) == 1
    assert err == ""


def test_run_passes_settings_to_the_model(scripted_models: ScriptedChatModel) -> None:
    assert main(["run", "q", "-n", "2", "-d", "1", "--max-tokens", "33", "-q"]) == 0
    assert all(r.kwargs.get("max_tokens") == 33 for r in scripted_models.requests)


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["run", "   "], "empty"),
        (["run", "q", "--samples", "0"], "num_samples"),
        (["run", "q", "-n", "1"], "revision"),
        (["run", "q", "--temperature", "9"], "temperature"),
    ],
)
def test_run_bad_input_exit_2(
    argv: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("tpo run: error:")
    assert words in err


def test_unknown_flag_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", "q", "--bogus"])
    assert info.value.code == 2


# -- eval and report ---------------------------------------------------------------------------


def test_eval_then_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_prompts(tmp_path / "prompts.jsonl", 4)
    tpo, bon = tmp_path / "tpo.jsonl", tmp_path / "bon.jsonl"
    assert (
        main(
            ["eval", "--data", str(data), "--mode", "tpo", "--out", str(tpo), "-n", "2", "-d", "2"]
        )
        == 0
    )
    bon_argv = ["eval", "--data", str(data), "--mode", "bon", "--out", str(bon)]
    assert main([*bon_argv, "--bon-samples", "6"]) == 0
    rows = read_results(tpo)
    assert sorted(r["id"] for r in rows) == ["p0", "p1", "p2", "p3"]
    assert all(len(r["best_scores"]) == 3 and r["mode"] == "tpo" for r in rows)
    assert all(len(r["scores_by_iteration"][0]) == 6 for r in read_results(bon))
    capsys.readouterr()

    out_dir = tmp_path / "report"
    assert main(["report", str(tpo), str(bon), "--out-dir", str(out_dir)]) == 0
    report = capsys.readouterr().out
    assert "| tpo | - | tpo, N=2, D=2 | 128 | 4 |" in report
    assert "| data | tpo | bon | reward | 4 |" in report  # the paired comparison
    assert "| tpo | +" in report.split("## Runs")[0]  # the paper-style table
    for figure in ("training_curve", "stability", "win_rate_vs_compute"):
        assert (out_dir / f"{figure}.png").stat().st_size > 10_000
    assert (out_dir / "report.md").read_text().startswith("# TPO evaluation report")


def test_eval_resumes_without_duplicates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_prompts(tmp_path / "prompts.jsonl", 5)
    out = tmp_path / "out.jsonl"
    args = ["eval", "--data", str(data), "--mode", "base", "--out", str(out)]
    assert main([*args, "--limit", "2"]) == 0
    assert main(args) == 0
    ids = [r["id"] for r in read_results(out)]
    assert sorted(ids) == ["p0", "p1", "p2", "p3", "p4"]
    assert len(ids) == len(set(ids))
    assert "2 already in" in capsys.readouterr().err


def test_eval_refuses_to_mix_settings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_prompts(tmp_path / "prompts.jsonl", 2)
    out = tmp_path / "out.jsonl"
    assert main(["eval", "--data", str(data), "--mode", "base", "--out", str(out)]) == 0
    assert main(["eval", "--data", str(data), "--mode", "bon", "--out", str(out)]) == 2
    assert "other settings" in capsys.readouterr().err


def test_eval_reports_bad_lines_and_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text(
        '{"id": "a", "prompt": "ok"}\n{broken\n'
        '{"id": "a", "prompt": "dup"}\n{"id": "b", "prompt": ""}\n'
    )
    out = tmp_path / "out.jsonl"
    assert main(["eval", "--data", str(data), "--mode", "base", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "line 2: not valid JSON" in err
    assert "line 3: duplicate id 'a'" in err
    assert "line 4: empty prompt" in err
    assert [r["id"] for r in read_results(out)] == ["a"]


@pytest.mark.parametrize(
    ("make", "extra", "words"),
    [
        (lambda p: p / "missing.jsonl", [], "not found"),
        (
            lambda p: (p / "x.jsonl").write_text('{"q": 1}\n') and p / "x.jsonl",
            [],
            "--prompt-field",
        ),
        (lambda p: (p / "x.txt").write_text("hi") and p / "x.txt", [], ".txt"),
        (
            lambda p: (p / "e.jsonl").write_text('{"prompt": " "}\n') and p / "e.jsonl",
            [],
            "no usable prompt",
        ),
        (lambda p: write_prompts(p / "d.jsonl", 1), ["--limit", "0"], "--limit"),
    ],
)
def test_eval_bad_input_exit_2(tmp_path: Path, make, extra, words, capsys) -> None:  # type: ignore[no-untyped-def]
    data = make(tmp_path)
    code = main(
        ["eval", "--data", str(data), "--mode", "tpo", "--out", str(tmp_path / "o.jsonl"), *extra]
    )
    assert code == 2
    assert words in capsys.readouterr().err


def test_eval_failed_prompt_exit_1_and_retried(
    tmp_path: Path, scripted_models: ScriptedChatModel, capsys: pytest.CaptureFixture[str]
) -> None:
    def responder(messages, index):  # type: ignore[no-untyped-def]
        if "question 1" in messages[-1].text:
            raise RuntimeError("boom")
        return f"answer {index}"

    scripted_models.responder = responder
    data = write_prompts(tmp_path / "prompts.jsonl", 3)
    out = tmp_path / "out.jsonl"
    args = ["eval", "--data", str(data), "--mode", "base", "--out", str(out)]
    assert main(args) == 1
    assert "p1 failed: RuntimeError: boom" in capsys.readouterr().err
    assert sorted(r["id"] for r in read_results(out)) == ["p0", "p2"]
    scripted_models.responder = lambda messages, index: "fixed"
    assert main(args) == 0
    assert sorted(r["id"] for r in read_results(out)) == ["p0", "p1", "p2"]


def test_report_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "none.jsonl")]) == 2
    assert "not found" in capsys.readouterr().err
    (tmp_path / "empty.jsonl").write_text("")
    assert main(["report", str(tmp_path / "empty.jsonl")]) == 2
    assert "no results" in capsys.readouterr().err


# -- benchmarks, several modes, samples, shards ----------------------------------------------

SHIPPED = ["--benchmark-dir", str(SHIPPED_DIR)]


def test_benchmarks_and_modes_in_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    loads: list[object] = []
    policy = ScriptedChatModel()
    monkeypatch.setattr(models, "load_policy", lambda args: loads.append(args) or policy)
    argv = ["eval", "--benchmark", "xstest,math500", "--mode", "tpo,base", *SHIPPED]
    argv += ["--limit", "2", "--out-dir", str(tmp_path / "runs"), "-n", "2", "-d", "1"]
    assert main(argv) == 0
    assert len(loads) == 1  # the models are shared by the four runs
    for benchmark in ("xstest", "math500"):
        for mode in ("tpo", "base"):
            path = tmp_path / "runs" / benchmark / f"{mode}.jsonl"
            header = json.loads(path.read_text().splitlines()[0])
            assert header["settings"]["benchmark"] == benchmark
            assert header["settings"]["mode"] == mode
            assert len(read_results(path)) == 2
    xstest = read_results(tmp_path / "runs" / "xstest" / "tpo.jsonl")
    assert all(row["label"] in {"safe", "unsafe"} for row in xstest)
    math = read_results(tmp_path / "runs" / "math500" / "base.jsonl")
    assert all(row["reference"] for row in math)

    capsys.readouterr()
    files = sorted(str(p) for p in (tmp_path / "runs").rglob("*.jsonl"))
    assert main(["report", *files, "--no-plots", "--out-dir", str(tmp_path)]) == 0
    report = capsys.readouterr().out
    assert "XSTest v2: accuracy (comply with safe, refuse unsafe)" in report
    assert "MATH-500: accuracy (exact match)" in report
    assert "| math500 | math500/tpo | math500/base | exact match | 2 |" in report


def test_sample_is_seeded_and_hh_rlhf_keeps_held_out_rows(tmp_path: Path) -> None:
    def ids(seed: int, out: str) -> list[str]:
        argv = ["eval", "--benchmark", "hh_rlhf", "--mode", "base", *SHIPPED, "--sample", "4"]
        assert main([*argv, "--sample-seed", str(seed), "--out", str(tmp_path / out)]) == 0
        return [r["id"] for r in read_results(tmp_path / out)]

    first = ids(1, "a.jsonl")
    assert len(first) == 4 and first == ids(1, "b.jsonl") and first != ids(2, "c.jsonl")
    assert all(int(i.rsplit("_", 1)[1]) % 5 == 0 for i in first)


def test_shards_split_the_work_and_report_merges_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_prompts(tmp_path / "prompts.jsonl", 9)
    out = tmp_path / "runs"
    base = ["eval", "--data", str(data), "--mode", "base", "--out-dir", str(out)]
    assert main([*base, "--shard", "1/2"]) == 0
    assert main([*base, "--shard", "2/2"]) == 0
    one, two = out / "base.shard-1-of-2.jsonl", out / "base.shard-2-of-2.jsonl"
    ids = [{r["id"] for r in read_results(p)} for p in (one, two)]
    assert ids[0] and ids[1] and not ids[0] & ids[1]
    assert ids[0] | ids[1] == {f"p{i}" for i in range(9)}
    assert json.loads(one.read_text().splitlines()[0])["shard"] == "1/2"

    capsys.readouterr()
    assert main(["report", str(one), str(two), "--no-plots", "--out-dir", str(tmp_path)]) == 0
    report = capsys.readouterr().out
    assert "| base | - | base | 128 | 9 |" in report
    assert "2 files" in report


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--benchmark", "nope", "--mode", "tpo", "--out", "o.jsonl"], "choose one of alpaca_eval"),
        (["--benchmark", "xstest", "--mode", "tpo,bon", "--out", "o.jsonl"], "use --out-dir"),
        (["--benchmark", "xstest", "--mode", "tpo,best", "--out-dir", "d"], "unknown mode best"),
        (["--benchmark", "xstest", "--mode", "tpo", "--out-dir", "d", "--shard", "3/2"], "--shard"),
        (["--benchmark", "xstest", "--mode", "tpo", "--out-dir", "d", "--sample", "0"], "--sample"),
    ],
)
def test_eval_benchmark_usage_errors(
    tmp_path: Path,
    extra: list[str],
    words: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["eval", *SHIPPED, *extra]) == 2
    assert words in capsys.readouterr().err


def test_a_benchmark_dir_without_the_file_says_where_to_look(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["eval", "--benchmark", "xstest", "--mode", "tpo", "--out", str(tmp_path / "o.jsonl")]
    assert main([*argv, "--benchmark-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "No xstest.jsonl in" in err and "--benchmark-dir" in err


# -- models are closed --------------------------------------------------------------------------


CLOSED: list[str] = []


class ClosingPolicy(ScriptedChatModel):
    def close(self) -> None:
        CLOSED.append("policy")


class ClosingReward(FunctionReward):
    def close(self) -> None:
        CLOSED.append("reward")


@pytest.mark.parametrize("command", ["run", "eval"])
def test_engines_are_shut_down_after_the_command(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    CLOSED.clear()
    monkeypatch.setattr(models, "load_policy", lambda args: ClosingPolicy())
    reward = ClosingReward(lambda q, r: float(len(r)))
    monkeypatch.setattr(models, "load_reward", lambda args, policy: reward)
    if command == "run":
        argv = ["run", "q", "-n", "2", "-d", "1", "-q"]
    else:
        data = write_prompts(tmp_path / "p.jsonl", 2)
        out = tmp_path / "r.jsonl"
        argv = ["eval", "--data", str(data), "--mode", "tpo", "--out", str(out), "-n", "2"]
    assert main(argv) == 0
    assert CLOSED == ["reward", "policy"]


def test_policy_is_shut_down_when_the_reward_fails_to_load(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    CLOSED.clear()
    monkeypatch.setattr(models, "load_policy", lambda args: ClosingPolicy())

    def no_reward(args: object, policy: object) -> None:
        raise CLIError("could not load the reward model: missing", exit_code=1)

    monkeypatch.setattr(models, "load_reward", no_reward)
    assert main(["run", "q", "-q"]) == 1
    assert "could not load the reward model" in capsys.readouterr().err
    assert CLOSED == ["policy"]


KILLABLE = textwrap.dedent(
    """
    import sys
    from langchain_tpo.cli import main, models
    from langchain_tpo.reward_models import FunctionReward
    from langchain_tpo.testing import ScriptedChatModel

    policy = ScriptedChatModel(delay=0.15)
    models.load_policy = lambda args: policy
    models.load_reward = lambda args, policy: FunctionReward(lambda q, r: float(len(r)))
    sys.exit(main(sys.argv[1:]))
    """
)


def test_eval_killed_mid_run_resumes_with_nothing_lost(tmp_path: Path) -> None:
    script = tmp_path / "tpo_scripted.py"
    script.write_text(KILLABLE)
    data = write_prompts(tmp_path / "prompts.jsonl", 12)
    out = tmp_path / "out.jsonl"
    argv = [
        sys.executable,
        str(script),
        "eval",
        "--data",
        str(data),
        "--mode",
        "base",
        "--out",
        str(out),
        "--concurrency",
        "2",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if out.exists() and len(out.read_bytes().splitlines()) >= 4:  # header + 3 rows
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = [r["id"] for r in read_results(out)]
    assert 3 <= len(before) < 12

    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"{len(before)} already in" in done.stderr
    after = [r["id"] for r in read_results(out)]
    assert sorted(after) == sorted(f"p{i}" for i in range(12))
    assert after[: len(before)] == before


def test_an_empty_shard_has_nothing_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_prompts(tmp_path / "prompts.jsonl", 1)  # one prompt: one of two shards is empty
    out = tmp_path / "runs"
    codes = [
        main(["eval", "--data", str(data), "--mode", "base", "--out-dir", str(out), "--shard", s])
        for s in ("1/2", "2/2")
    ]
    assert codes == [0, 0]
    assert "holds none of the 1 selected prompts; nothing to do" in capsys.readouterr().err
    assert len(list(out.iterdir())) == 1  # the empty shard left no file behind
