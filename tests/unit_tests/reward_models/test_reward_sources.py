"""Readers of AlpacaEval judgments and Arena-Hard answers, on small repositories made here."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from scripts.reward_sources import (
    LFS_POINTER,
    Judgment,
    Snapshot,
    held_out_judgments,
    iter_alpaca_eval_judgments,
    read_arena_hard,
)

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def annotation(instruction: str, one: str, two: str, preference: object) -> dict[str, object]:
    return {
        "instruction": instruction,
        "output_1": one,
        "generator_1": "ref",
        "output_2": two,
        "generator_2": "model",
        "preference": preference,
    }


def write(root: Path, path: str, text: str) -> None:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


@pytest.fixture
def alpaca_repo(tmp_path: Path) -> Path:
    root = tmp_path / "alpaca_eval"
    rows = [
        annotation("Name a fruit.", "Apple.", "A banana is a fruit.", 2.0),
        annotation("Name a fruit.", "Apple.", "Pear.", 1.0),
        annotation("Tie?", "x", "y", 1.5),
        annotation("Same text", "same", "same", 2.0),
        annotation("Empty", "", "y", 2.0),
        annotation("Bad preference", "x", "y", "2"),
        annotation("Out of range", "x", "y", 3.0),
    ]
    write(root, "results/m1/alpaca_eval_gpt4/annotations.json", json.dumps(rows))
    weighted = [annotation("Why?", "Because.", "Because the sky scatters blue light.", 1.9)]
    write(root, "results/m2/weighted_alpaca_eval_gpt4_turbo/annotations.json", json.dumps(weighted))
    write(root, "results/m3/alpaca_eval_gpt4/annotations.json", f"{LFS_POINTER}\noid sha256:0\n")
    write(root, "results/m1/model_outputs.json", "[]")
    return root


def test_judgments_keep_only_usable_rows_and_skip_lfs_pointers(alpaca_repo: Path) -> None:
    judgments = list(iter_alpaca_eval_judgments(Snapshot(alpaca_repo)))
    assert [(j.instruction, j.winner) for j in judgments] == [
        ("Name a fruit.", 2),
        ("Name a fruit.", 1),
        ("Tie?", None),
        ("Why?", 2),
    ]
    assert judgments[0].annotator == "alpaca_eval_gpt4"
    assert judgments[-1].source == "results/m2/weighted_alpaca_eval_gpt4_turbo/annotations.json"


def test_a_bare_git_snapshot_reads_the_same_and_names_its_commit(
    alpaca_repo: Path, tmp_path: Path
) -> None:
    def git(*args: str, cwd: Path = alpaca_repo) -> str:
        return subprocess.run(
            ["git", *args],
            cwd=cwd,
            check=True,
            capture_output=True,
            text=True,
            env={
                "GIT_AUTHOR_NAME": "t",
                "GIT_AUTHOR_EMAIL": "t@t",
                "GIT_COMMITTER_NAME": "t",
                "GIT_COMMITTER_EMAIL": "t@t",
                "PATH": "/usr/bin:/bin",
                "HOME": str(tmp_path),
            },
        ).stdout

    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "data")
    bare = tmp_path / "bare.git"
    git("clone", "-q", "--bare", str(alpaca_repo), str(bare), cwd=tmp_path)
    work = list(iter_alpaca_eval_judgments(Snapshot(alpaca_repo)))
    snapshot = Snapshot(bare)
    assert snapshot.bare
    assert list(iter_alpaca_eval_judgments(snapshot)) == work
    path = "results/m1/alpaca_eval_gpt4/annotations.json"
    described = snapshot.describe(path)
    assert described["commit"] == git("rev-parse", "HEAD").strip()
    assert described["blob"] == git("rev-parse", f"HEAD:{path}").strip()
    assert snapshot.read("results/missing.json") is None


def test_held_out_sample_is_one_decisive_judgment_per_instruction_in_a_fixed_order() -> None:
    def judgment(instruction: str, preference: float, annotator: str) -> Judgment:
        return Judgment(instruction, "a", "g1", "b", "g2", preference, annotator, "f")

    judgments = [
        judgment("q1", 2.0, "alpaca_eval_gpt4"),
        judgment("q1", 1.0, "alpaca_eval_gpt4"),
        judgment("q2", 1.6, "weighted_alpaca_eval_gpt4_turbo"),  # too close to a tie
        judgment("q3", 1.9, "weighted_alpaca_eval_gpt4_turbo"),
        judgment("q4", 2.0, "some_other_annotator"),
    ]
    sample = held_out_judgments(judgments, count=10)
    assert sorted(j.instruction for j in sample) == ["q1", "q3"]
    assert held_out_judgments(list(reversed(judgments)), count=10) == sample
    assert len(held_out_judgments(judgments, count=1)) == 1


def test_arena_hard_answers_are_matched_to_their_questions(tmp_path: Path) -> None:
    root = tmp_path / "arena"
    questions = [
        {"uid": "a", "category": "arena-hard-v0.1", "cluster": "Cooking", "prompt": "Boil an egg?"},
        {"uid": "b", "category": "arena-hard-v0.1", "cluster": "Code", "prompt": "Sort a list?"},
        {"uid": "c", "category": "arena-hard-v0.1", "cluster": "Code", "prompt": "No answer."},
    ]
    answers = [
        {
            "uid": "b",
            "model": "gpt-4-0314",
            "messages": [
                {"role": "user", "content": "Sort a list?"},
                {"role": "assistant", "content": {"answer": "Use sorted(xs).\u2028Done."}},
            ],
        },
        {
            "uid": "a",
            "model": "gpt-4-0314",
            "messages": [
                {"role": "user", "content": "Boil an egg?"},
                {"role": "assistant", "content": "Simmer it for 9 minutes."},
            ],
        },
    ]
    write(root, "data/arena-hard-v0.1/question.jsonl", "\n".join(map(json.dumps, questions)))
    write(
        root,
        "data/arena-hard-v0.1/model_answer/gpt-4-0314.jsonl",
        "\n".join(json.dumps(a, ensure_ascii=False) for a in answers),
    )
    got = read_arena_hard(Snapshot(root))
    assert [(a.uid, a.cluster, a.answer) for a in got] == [
        ("a", "Cooking", "Simmer it for 9 minutes."),
        ("b", "Code", "Use sorted(xs).\u2028Done."),
    ]
    write(root, "data/arena-hard-v0.1/model_answer/gpt-4-0613.jsonl", f"{LFS_POINTER}\n")
    with pytest.raises(FileNotFoundError, match="LFS pointer"):
        read_arena_hard(Snapshot(root), model="gpt-4-0613")
    with pytest.raises(FileNotFoundError, match=r"arena-hard-v2\.0/question\.jsonl"):
        read_arena_hard(Snapshot(root), version="v2.0")


def test_a_missing_directory_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="clone the repository"):
        Snapshot(tmp_path / "nowhere")
