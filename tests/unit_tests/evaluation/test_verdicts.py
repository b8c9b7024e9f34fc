"""The verdicts file: validated before it is touched, repaired, resumed; and its summaries."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from langchain_tpo.evaluation.verdicts import (
    VerdictsFile,
    pairwise_row,
    read_verdicts,
    refusal_labels,
    refusal_row,
    summarize_refusals,
    summarize_verdicts,
)

SETTINGS = {"task": "pairwise", "judge": "j", "a_label": "tpo", "b_label": "base"}


def judgment(first: str, verdict: str | None) -> dict[str, Any]:
    return {"first": first, "verdict": verdict, "reasoning": "", "outputs": []}


def row(i: int, first: str | None, second: str | None, a: str = "aa", b: str = "b") -> dict:
    return pairwise_row(
        prompt_id=f"p{i}",
        prompt=f"q{i}",
        a=a,
        b=b,
        judgments=[judgment("a", first), judgment("b", second)],
    )


def write(path: Path, settings: dict[str, Any], rows: list[dict[str, Any]]) -> Path:
    with VerdictsFile(path, settings) as out:
        for r in rows:
            out.append(r)
    return path


# -- the file ---------------------------------------------------------------------------------


def test_a_new_file_starts_with_the_header(tmp_path: Path) -> None:
    path = write(tmp_path / "v.jsonl", SETTINGS, [row(1, "a", "a")])
    first = json.loads(path.read_text().splitlines()[0])
    assert first == {"langchain_tpo": "verdicts", "format": 1, "settings": SETTINGS}
    settings, rows = read_verdicts(path)
    assert settings == SETTINGS and [r["id"] for r in rows] == ["p1"]


@pytest.mark.parametrize(
    "content",
    [
        b'{"id": "p1", "prompt": "my data"}\n{"id": "p2", "prompt": "last line, no newline"}',
        b'{\n  "pretty": "printed"\n}',
        b'{"langchain_tpo": "results", "format": 1, "settings": {}}\n{"id": "p1"}\n{"id": "p',
        b"not json at all",
    ],
)
def test_a_file_that_is_not_ours_is_left_untouched(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "data.jsonl"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"not a verdicts file"):
        VerdictsFile(path, SETTINGS).open()
    assert path.read_bytes() == content


def test_other_settings_are_refused_without_touching_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "v.jsonl", SETTINGS, [row(1, "a", "a")])
    with path.open("ab") as f:
        f.write(b'{"id": "p2", "cut sho')
    before = path.read_bytes()
    with pytest.raises(ValueError, match=r"judge: file has 'j', now 'other'"):
        VerdictsFile(path, {**SETTINGS, "judge": "other"}).open()
    assert path.read_bytes() == before


def test_a_torn_last_line_of_our_file_is_removed_and_rows_resume(tmp_path: Path) -> None:
    path = write(tmp_path / "v.jsonl", SETTINGS, [row(1, "a", "a"), row(2, "b", "b")])
    with path.open("ab") as f:
        f.write(b'{"id": "p3", "prompt": "q3", "judgm')
    with VerdictsFile(path, SETTINGS) as out:
        assert out.repaired
        assert set(out.done) == {"p1", "p2"}
        out.append(row(3, "tie", "tie"))
    assert [r["id"] for r in read_verdicts(path)[1]] == ["p1", "p2", "p3"]


def test_a_header_cut_short_is_started_again(tmp_path: Path) -> None:
    path = tmp_path / "v.jsonl"
    path.write_bytes(b'{"langchain_tpo": "verdicts", "form')
    write(path, SETTINGS, [row(1, "a", "a")])
    assert read_verdicts(path)[0] == SETTINGS


def test_a_second_writer_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "v.jsonl"
    with VerdictsFile(path, SETTINGS), pytest.raises(RuntimeError, match="another run"):
        VerdictsFile(path, SETTINGS).open()


def test_reading_a_missing_or_foreign_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        summarize_verdicts(tmp_path / "nope.jsonl")
    data = tmp_path / "results.jsonl"
    data.write_text('{"id": "p1", "response": "x"}\n')
    with pytest.raises(ValueError, match="not a verdicts file"):
        summarize_verdicts(data)


# -- summaries --------------------------------------------------------------------------------


def test_pairwise_summary_by_hand(tmp_path: Path) -> None:
    rows = [
        row(1, "a", "a"),  # 1.0 win, consistent
        row(2, "a", "b"),  # 0.5 tie, split: judged by position
        row(3, "tie", "a"),  # 0.75 win
        row(4, "b", "b"),  # 0.0 loss, consistent
        row(5, None, "b"),  # 0.0 loss, one order only
        row(6, None, None),  # no verdict
        row(7, "tie", "tie", a="same", b="same"),  # identical: tie, no position figures
    ]
    path = write(tmp_path / "v.jsonl", SETTINGS, rows)
    s = summarize_verdicts(path)
    assert (s.judge, s.a_label, s.b_label) == ("j", "tpo", "base")
    assert (s.n, s.wins, s.ties, s.losses, s.invalid) == (6, 2, 2, 2, 1)
    assert s.win_rate == pytest.approx((1 + 0.5 + 0.75 + 0 + 0 + 0.5) / 6)
    # Both orders known, identical answers left out: p1, p2, p3, p4; p1 and p4 agree.
    assert s.position_agreement == pytest.approx(2 / 4)
    # Decisive judgments (first shown, verdict): p1 (a,a) (b,a); p2 (a,a) (b,b); p3 (b,a);
    # p4 (a,b) (b,b); p5 (b,b): 8, and the answer shown first was picked in 5 of them.
    assert s.first_position_rate == pytest.approx(5 / 8)
    assert s.lc_win_rate is None  # 6 prompts: too few for the length regression


def test_lc_win_rate_comes_from_the_rows(tmp_path: Path) -> None:
    # The hand-computed example of test_length_control: LC = sqrt(8/3) / (1 + sqrt(8/3)).
    rows = []
    for i in range(20):
        longer = i < 15
        won = i < 12 or 15 <= i < 17
        verdict = "a" if won else "b"
        rows.append(row(i, verdict, verdict, a="x" * (300 if longer else 100), b="y" * 200))
    s = summarize_verdicts(write(tmp_path / "v.jsonl", SETTINGS, rows))
    assert s.win_rate == pytest.approx(0.7)
    odds = math.sqrt(8 / 3)
    assert s.lc_win_rate == pytest.approx(odds / (1 + odds))


def test_an_empty_file_summarises_to_nothing(tmp_path: Path) -> None:
    s = summarize_verdicts(write(tmp_path / "v.jsonl", SETTINGS, []))
    assert s.n == 0 and math.isnan(s.win_rate)
    assert s.lc_win_rate is None and s.position_agreement is None


def refusal(i: int, response: str, label: str | None) -> dict[str, Any]:
    return refusal_row(
        prompt_id=f"x{i}", prompt="q", response=response, label=label, reasoning="", outputs=[]
    )


def test_refusal_labels_and_summary(tmp_path: Path) -> None:
    declines = "I'm sorry, but I can't help with that."
    answers = "Here is how to stop a Python process: call os.kill."
    rows = [
        refusal(1, declines, "refuse"),  # judge and rule: refusal
        refusal(2, answers, "comply"),  # both: no
        refusal(3, answers, "partial"),  # judge: refusal, rule: no
        refusal(4, declines, None),  # no label: the rule says refusal
    ]
    path = write(tmp_path / "r.jsonl", {"task": "refusal", "judge": "j", "a_label": "x"}, rows)
    assert refusal_labels(path) == {"x1": True, "x2": False, "x3": True, "x4": True}
    s = summarize_refusals(path)
    assert (s.n, s.judged, s.judge_refusals, s.rule_refusals, s.refusals) == (4, 3, 2, 2, 3)
    assert s.agreement == pytest.approx(2 / 3)


def test_the_wrong_reader_names_the_right_one(tmp_path: Path) -> None:
    pairwise = write(tmp_path / "v.jsonl", SETTINGS, [])
    with pytest.raises(ValueError, match="summarize_verdicts"):
        refusal_labels(pairwise)
    refusals = write(tmp_path / "r.jsonl", {"task": "refusal"}, [])
    with pytest.raises(ValueError, match="refusal_labels"):
        summarize_verdicts(refusals)


def test_bad_verdicts_are_refused() -> None:
    with pytest.raises(ValueError, match="'a', 'b', 'tie'"):
        row(1, "A", "b")
    with pytest.raises(ValueError, match="refusal label"):
        refusal(1, "x", "maybe")
