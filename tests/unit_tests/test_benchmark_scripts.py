"""The benchmarks built on the scripted models still run and answer every query."""

import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_overhead_benchmark_prints_its_table() -> None:
    out = _run(
        "benchmarks/overhead.py",
        "--queries",
        "2",
        "--repeats",
        "1",
        "--samples",
        "2",
        "--iterations",
        "1",
    )
    assert "| 2 | fan-out (N requests) |" in out
    assert "| 2 | n per request |" in out


def test_eval_memory_benchmark_prints_its_table() -> None:
    out = _run("benchmarks/eval_memory.py", "--sizes", "20", "--concurrency", "4")
    assert "| 20 | 20 |" in out  # prompts, rows written: every query answered


def test_a_scripted_model_can_answer_without_keeping_its_requests() -> None:
    from langchain_tpo.testing import ScriptedChatModel

    quiet = ScriptedChatModel(record_requests=False)
    kept = ScriptedChatModel()
    assert quiet.invoke("hi").content == kept.invoke("hi").content
    assert quiet.requests == []
    assert len(kept.requests) == 1


def _benchmark_module(name: str) -> Any:
    """Import `benchmarks/<name>.py` (the scripts import each other as top-level modules)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(REPO / "benchmarks"))


def _script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `benchmarks/<name>.py` with `args`; the caller checks the return code."""
    return subprocess.run(
        [sys.executable, f"benchmarks/{name}.py", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_blind_read_sets_a_readers_labels_against_the_rule(tmp_path: Path) -> None:
    import json

    quality = tmp_path / "quality"
    for prompt_set in ("hh_rlhf_30", "hh_rlhf_30b"):
        (quality / prompt_set).mkdir(parents=True)
        for mode in ("tpo", "revision"):
            candidates = [{"text": "A first sample.", "iteration": -1}] + [
                {"text": f"{mode} rewrite {i} of {prompt_set}.", "iteration": i % 2}
                for i in range(3)
            ]
            header = {"langchain_tpo": "results", "format": 1, "settings": {"mode": mode}}
            row = {"id": "r1", "mode": mode, "prompt": "Hi?", "candidates": candidates}
            rows = [header, row]
            (quality / prompt_set / f"{mode}.jsonl").write_text(
                "\n".join(json.dumps(r) for r in rows) + "\n"
            )
    drawn = _script("blind_read", "draw", "--count", "6", "--seed", "1", "--out", str(tmp_path),
                    "--quality-dir", str(quality))  # fmt: skip
    assert drawn.returncode == 0, drawn.stderr
    key = json.loads((tmp_path / "key.json").read_text())
    sample = (tmp_path / "sample.md").read_text()
    assert len(key) == 6 and "## Item 6" in sample and "src" not in sample
    assert all("rewrite" in item["text"] for item in key.values())  # never an initial sample
    # A reader who calls every text meta: the tally lists each one the rule does not flag.
    (tmp_path / "labels.json").write_text(json.dumps(dict.fromkeys(key, "META")))
    tallied = _script("blind_read", "tally", "--dir", str(tmp_path))
    assert tallied.returncode == 0, tallied.stderr
    assert "| META |" in tallied.stdout and "| 6 |" in tallied.stdout
    assert "meta texts the rule does not flag:" in tallied.stdout
    # A missing label is an error that names the item.
    (tmp_path / "labels.json").write_text(json.dumps({"1": "META"}))
    missing = _script("blind_read", "tally", "--dir", str(tmp_path))
    assert missing.returncode != 0 and "no label for items 2" in missing.stderr


def test_side_by_side_hides_the_runs_and_tallies_a_readers_verdicts(tmp_path: Path) -> None:
    import json

    def results(path: Path, mode: str, texts: list[str], scores: list[float]) -> Path:
        header = {"langchain_tpo": "results", "format": 1, "settings": {"mode": mode}}
        pairs = enumerate(zip(texts, scores, strict=True))
        rows = [{"id": f"q{i}", "mode": mode, "prompt": f"Question {i}?", "response": t,
                 "score": s} for i, (t, s) in pairs]  # fmt: skip
        path.write_text("\n".join(json.dumps(r) for r in [header, *rows]) + "\n")
        return path

    tpo = results(tmp_path / "tpo.jsonl", "tpo", [f"tpo answer {i}" for i in range(5)], [2.0] * 5)
    base = results(tmp_path / "base.jsonl", "base", [f"base answer {i}" for i in range(5)],
                   [1.0] * 5)  # fmt: skip
    out = tmp_path / "read"
    drawn = _script("side_by_side", "draw", "--a", str(tpo), "--b", str(base), "--count", "4",
                    "--seed", "3", "--out", str(out))  # fmt: skip
    assert drawn.returncode == 0, drawn.stderr
    pairs = (out / "pairs.md").read_text()
    key = json.loads((out / "key.json").read_text())["pairs"]
    assert len(key) == 4 and "## Prompt 4" in pairs
    assert "tpo.jsonl" not in pairs and "score" not in pairs and '"run"' not in pairs
    assert {key[n]["A"]["run"] for n in key} == {"a", "b"}  # both runs appear on side A
    # The reader always prefers run a's answer and calls run b's a non-answer once.
    verdicts = {}
    for n, pair in key.items():
        a_side = "A" if pair["A"]["run"] == "a" else "B"
        b_side = "B" if a_side == "A" else "A"
        verdicts[n] = {"better": a_side, a_side: "ANSWER",
                       b_side: "NON-ANSWER" if n == "1" else "ANSWER"}  # fmt: skip
    (out / "verdicts.json").write_text(json.dumps(verdicts))
    tallied = _script("side_by_side", "tally", "--dir", str(out))
    assert tallied.returncode == 0, tallied.stderr
    assert "reader prefers a 4, b 0, ties 0" in tallied.stdout
    assert "non-answers: a 0, b 1" in tallied.stdout
    assert "the reward picks the reader's choice in 4 of 4" in tallied.stdout
    (out / "verdicts.json").write_text(json.dumps({"1": verdicts["1"]}))
    missing = _script("side_by_side", "tally", "--dir", str(out))
    assert missing.returncode != 0 and "no verdict for pairs ['2', '3', '4']" in missing.stderr


def test_reader_agreement_reads_every_read_of_two_runs_and_counts_agreement(
    tmp_path: Path,
) -> None:
    import json

    reader_agreement = _benchmark_module("reader_agreement")

    header = {"langchain_tpo": "results", "format": 1, "settings": {}}
    for run in ("tpo", "base"):
        rows = [{"id": f"q{i}", "prompt": f"Q{i}?", "response": f"{run} {i}", "score": 0.0}
                for i in range(3)]  # fmt: skip
        (tmp_path / f"{run}.jsonl").write_text(
            "\n".join(json.dumps(r) for r in [header, *rows]) + "\n"
        )
    reads = tmp_path / "reads"
    key = {"a": "tpo.jsonl", "b": "base.jsonl", "pairs": {
        "1": {"id": "q0", "A": {"run": "a"}, "B": {"run": "b"}},
        "2": {"id": "q1", "A": {"run": "b"}, "B": {"run": "a"}},
        "3": {"id": "q2", "A": {"run": "a"}, "B": {"run": "b"}},
    }}  # fmt: skip
    verdicts = {
        "1": {"better": "A", "A": "ANSWER", "B": "NON-ANSWER"},
        "2": {"better": "A", "A": "ANSWER", "B": "ANSWER"},
        "3": {"better": "TIE", "A": "ANSWER", "B": "ANSWER"},
    }
    (reads / "r1").mkdir(parents=True)
    (reads / "r1" / "key.json").write_text(json.dumps(key))
    (reads / "r1" / "verdicts.json").write_text(json.dumps(verdicts))
    (reads / "not_read_yet").mkdir()  # drawn, no verdicts: skipped
    (reads / "not_read_yet" / "key.json").write_text(json.dumps(key))
    (reads / "reselected").mkdir()  # no runs named in its key: skipped
    (reads / "reselected" / "key.json").write_text(json.dumps({"pairs": {}}))
    (reads / "reselected" / "verdicts.json").write_text("{}")

    pairs = reader_agreement.read_pairs(reads, tmp_path)
    assert [(p.a, p.b, p.better) for p in pairs] == [
        ("tpo 0", "base 0", "A"), ("base 1", "tpo 1", "A"), ("tpo 2", "base 2", "TIE")
    ]  # fmt: skip

    # A score that always prefers the tpo run's answer: right on pair 1, wrong on pair 2.
    def prefers_tpo(pair: reader_agreement.ReadPair, side: str) -> float:
        return float((pair.a if side == "a" else pair.b).startswith("tpo"))

    counts = reader_agreement.agreement(pairs, prefers_tpo)
    assert counts == {"agrees": 1, "preferences": 2, "answer_wins": 1, "mixed": 1}


def test_pool_read_hides_scores_and_tells_the_rewards_misses_from_the_policys(
    tmp_path: Path,
) -> None:
    import json

    def candidate(text: str, score: float, relevance: float) -> dict[str, object]:
        iteration = -1 if text.startswith(("answer", "stall")) else 0  # drifts are rewrites
        return {"text": text, "score": score, "components": {"relevance": relevance},
                "iteration": iteration}  # fmt: skip

    header = {"langchain_tpo": "results", "format": 1, "settings": {"mode": "tpo"}}
    rows = [
        # q0: the reward returned a non-answer although the pool held an answer.
        {"id": "q0", "prompt": "Q0?", "response": "drift 0", "score": 2.0, "candidates": [
            candidate("drift 0", 2.0, 1.0), candidate("answer 0", 1.0, 3.0),
            candidate("answer 0", 1.0, 3.0), candidate("", 0.0, 0.0)]},
        # q1: no answer in the pool at all.
        {"id": "q1", "prompt": "Q1?", "response": "stall 1", "score": 1.0, "candidates": [
            candidate("stall 1", 1.0, 1.0), candidate("drift 1", 0.5, 1.0)]},
        # q2: the reward found the answer.
        {"id": "q2", "prompt": "Q2?", "response": "answer 2", "score": 3.0, "candidates": [
            candidate("answer 2", 3.0, 0.0), candidate("stall 2", 0.0, 1.0)]},
        {"id": "q3", "prompt": "Q3?", "response": "no pool", "score": 0.0},  # a base row
    ]  # fmt: skip
    run = tmp_path / "tpo.jsonl"
    run.write_text("\n".join(json.dumps(r) for r in [header, *rows]) + "\n")
    out = tmp_path / "read"
    drawn = _script(
        "pool_read", "draw", "--run", str(run), "--parts", "2", "--seed", "1", "--out", str(out)
    )
    assert drawn.returncode == 0, drawn.stderr
    assert "3 prompts, 6 distinct candidates" in drawn.stdout  # duplicates and empties dropped
    shown = (out / "part-1.md").read_text() + (out / "part-2.md").read_text()
    assert "score" not in shown and "relevance" not in shown and "tpo.jsonl" not in shown
    assert shown.count("## Prompt") == 3 and "Q3?" not in shown
    key = json.loads((out / "key.json").read_text())["prompts"]
    assert [key[n]["part"] for n in ("1", "2", "3")] == [1, 1, 2]

    # The reader labels by the text, which the test reads back through the shown order.
    texts: dict[str, dict[str, str]] = {}
    for block in shown.split("## Prompt ")[1:]:
        number = block.split("\n", 1)[0].strip()
        answers = block.split("**Answer ")[1:]
        texts[number] = {a.split(":", 1)[0]: a.split("```\n", 1)[1].split("\n```")[0]
                         for a in answers}  # fmt: skip
    labels = {n: {i: "answer" if t.startswith("answer") else "NON-ANSWER" for i, t in given.items()}
              for n, given in texts.items()}  # fmt: skip
    (out / "labels-1.json").write_text(json.dumps({n: labels[n] for n in ("1", "2")}))
    incomplete = _script("pool_read", "tally", "--dir", str(out))
    assert incomplete.returncode != 0 and "prompt 3: no label for answers" in incomplete.stderr
    (out / "labels-2.json").write_text(json.dumps({"3": labels["3"]}))
    tallied = _script(
        "pool_read", "tally", "--dir", str(out), "--json-out", str(tmp_path / "t.json")
    )
    assert tallied.returncode == 0, tallied.stderr
    summary = json.loads((tmp_path / "t.json").read_text())
    assert summary["prompts_with_an_answer_in_pool"] == 2
    assert summary["finals_answer"] == 1
    assert summary["finals_non_answer_with_an_answer_in_pool"] == ["q0"]
    # total: answer 0 < drift 0 (loss), answer 2 > stall 2 (win); relevance wins both.
    assert summary["within_pool"]["total"] == {"answer_above_non_answer": 1.0, "pairs": 2}
    assert summary["within_pool"]["relevance"] == {"answer_above_non_answer": 1.0, "pairs": 2}
    assert summary["within_pool"]["length"]["pairs"] == 2
    assert summary["answers_by_round"] == {"samples": [2, 4], "rewrites 1": [0, 2]}
    assert "samples 2/4 (0.50), rewrites 1 0/2 (0.00)" in tallied.stdout


def test_an_answer_with_its_own_code_block_stays_inside_the_readers_block() -> None:
    fenced_block = _benchmark_module("side_by_side").fenced_block

    assert fenced_block("plain answer") == ["```", "plain answer", "```"]
    answer = "Run this:\n```python\nimport sys\nprint(sys.version)\n```"
    opening, body, closing = fenced_block(answer)
    assert opening == closing == "````" and body == answer
