import json
import sys
import types
from pathlib import Path

import pytest

from langchain_tpo.evaluation.compute_curve import compute_curves
from langchain_tpo.evaluation.judged import load_verdicts
from langchain_tpo.evaluation.report import markdown_report
from langchain_tpo.evaluation.runs import load_runs, shard_file_name
from langchain_tpo.evaluation.verdicts import JudgedSummary

from .conftest import WriteRun


def scored(values: list[float], **fields: object) -> list[dict[str, object]]:
    return [{"id": f"p{i}", "score": v, **fields} for i, v in enumerate(values)]


def test_paired_section_of_two_runs_matches_the_hand_computed_interval(
    write_run: WriteRun,
) -> None:
    a = write_run("tpo.jsonl", "tpo", scored([1.0, 2.0, 3.0, 5.0]), "hh_rlhf")
    b = write_run("bon.jsonl", "bon", scored([1.0, 2.0, 3.0, 4.0]), "hh_rlhf")
    report = markdown_report(load_runs([a, b]))
    # d = [0, 0, 0, 1]: mean 0.25, 95% interval [0, 0.75] (see test_statistics).
    assert (
        "| hh_rlhf | tpo | bon | reward | 4 | +0.250 | [+0.000, +0.750] | 1 / 3 / 0 | 0.625 |"
        in report
    )
    assert "| system | HH-RLHF (harmless-base test): mean reward |" in report
    assert "| tpo | +2.750 [" in report


def test_runs_are_named_by_their_path_from_where_the_report_is_made(
    write_run: WriteRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_run("tpo.jsonl", "tpo", scored([1.0]))
    monkeypatch.chdir(tmp_path)
    report = markdown_report(load_runs([path.resolve()]))
    assert "| tpo.jsonl |" in report
    assert str(tmp_path) not in report


def test_answer_kinds_and_length_per_run(write_run: WriteRun) -> None:
    rows = [
        {"id": "a", "score": 1.0, "response": "Here is a rewritten version of the answer."},
        {"id": "b", "score": 1.0, "response": "I'm sorry, but I can't help with that."},
        {"id": "c", "score": 1.0, "response": "ok"},
        {"id": "d", "score": 1.0, "response": "Paris is the capital of France."},
    ]
    report = markdown_report(load_runs([write_run("tpo.jsonl", "tpo", rows)]))
    assert "| tpo | 4 | 25% | 25% | 25% | 25% | 6 |" in report  # (8 + 8 + 1 + 6) / 4 words


def test_rewrites_of_every_iteration_are_counted_by_kind(write_run: WriteRun) -> None:
    def candidates(*texts: tuple[int, str]) -> list[dict[str, object]]:
        return [{"text": t, "score": 0.0, "iteration": i} for i, t in texts]

    sample = "The capital of France is Paris, a city on the Seine."
    tpo = [
        {
            "id": "a",
            "score": 1.0,
            "response": sample,
            "candidates": candidates(
                (-1, "Here is the improved answer: this initial sample is not counted."),
                (0, "Here is the improved answer: Paris."),
                (0, sample),
            ),
        },
        {
            "id": "b",
            "score": 1.0,
            "response": sample,
            "candidates": candidates((1, "The user asked about France."), (1, "ok")),
        },
    ]
    bon = [{"id": "a", "score": 1.0, "response": sample, "candidates": candidates((-1, "x"))}]
    report = markdown_report(
        load_runs([write_run("tpo.jsonl", "tpo", tpo), write_run("bon.jsonl", "bon", bon)])
    )
    section = report.split("## What the rewrites are")[1].split("##")[0]
    # 4 rewrites: two scaffolded, one answer, one near-empty, (6 + 10 + 5 + 1) / 4 words;
    # BoN has no rewrites.
    assert "| tpo | 4 | 25% | 2 (50%) | 0% | 25% | 6 |" in section
    assert "| bon |" not in section


def test_control_rows_say_what_a_fixed_text_scores_and_beats(write_run: WriteRun) -> None:
    rows = [
        {"id": "a", "score": 0.0, "controls": {"review sentence": 1.0, "bare refusal": -1.0}},
        {"id": "b", "score": 2.0, "controls": {"review sentence": 1.5, "bare refusal": -1.0}},
    ]
    report = markdown_report(load_runs([write_run("tpo.jsonl", "tpo", rows)]))
    assert "| tpo | +1.250, beats it on 1 of 2 | -1.000, beats it on 0 of 2 |" in report
    assert (
        "- tpo: the fixed review sentence scores +1.250 and beats this run's answer on 1 of 2 "
        "prompts." in report
    )


def test_side_by_side_shows_every_run_on_the_same_prompt(write_run: WriteRun) -> None:
    a = write_run("tpo.jsonl", "tpo", scored([1.0, 2.0], response="answer from tpo here"))
    b = write_run("base.jsonl", "base", scored([0.0, 1.0], response="answer from base here"))
    report = markdown_report(load_runs([a, b]), examples=1)
    section = report.split("## Answers side by side")[1]
    assert section.count("### data: p") == 1
    assert "**tpo** (reward" in section and "**base** (reward" in section
    assert "answer from tpo here" in section and "answer from base here" in section


def test_shards_of_one_run_are_merged(write_run: WriteRun, tmp_path: Path) -> None:
    one = write_run(shard_file_name("tpo", "1/2"), "tpo", scored([1.0, 2.0]), shard="1/2")
    two = write_run(
        shard_file_name("tpo", "2/2"),
        "tpo",
        [{"id": "p9", "score": 3.0}, {"id": "p0", "score": 9.0}],
        shard="2/2",
    )
    other = write_run("bon.jsonl", "bon", scored([1.0, 1.0, 1.0]))
    runs = load_runs([one, two, other])
    assert [r.label for r in runs] == ["tpo", "bon"]
    assert sorted(r["id"] for r in runs[0].rows) == ["p0", "p1", "p9"]
    assert next(r["score"] for r in runs[0].rows if r["id"] == "p0") == 1.0
    assert any("p0 is in" in note for note in runs[0].notes)
    assert shard_file_name("tpo", "2/4") == "tpo.shard-2-of-4.jsonl"


def test_same_names_in_two_folders_are_told_apart(write_run: WriteRun, tmp_path: Path) -> None:
    (tmp_path / "hh").mkdir()
    (tmp_path / "bt").mkdir()
    a = write_run("hh/tpo.jsonl", "tpo", scored([1.0]), "hh_rlhf")
    b = write_run("bt/tpo.jsonl", "tpo", scored([2.0]), "beavertails")
    runs = load_runs([a, b])
    assert [r.label for r in runs] == ["hh/tpo", "bt/tpo"]
    report = markdown_report(runs)
    header = (
        "| system | HH-RLHF (harmless-base test): mean reward | "
        "BeaverTails-Evaluation: mean reward |"
    )
    assert header in report
    assert "| tpo | +1.000 [+1.000, +1.000] | +2.000 [+2.000, +2.000] |" in report


def test_math500_exact_match_in_table_and_pairs(write_run: WriteRun) -> None:
    rows_a = [
        {"id": "m1", "score": 0.0, "reference": "3", "response": "so \\boxed{3}"},
        {"id": "m2", "score": 0.0, "reference": "\\frac{1}{2}", "response": "it is 0.5"},
    ]
    rows_b = [
        {"id": "m1", "score": 0.0, "reference": "3", "response": "the answer is 4"},
        {"id": "m2", "score": 0.0, "reference": "\\frac{1}{2}", "response": "\\boxed{\\dfrac12}"},
    ]
    a = write_run("tpo.jsonl", "tpo", rows_a, "math500")
    b = write_run("base.jsonl", "base", rows_b, "math500")
    report = markdown_report(load_runs([a, b]))
    assert "| tpo | 0.500 (1/2) |" in report
    assert "| base | 0.500 (1/2) |" in report
    assert "| math500 | tpo | base | exact match | 2 | +0.000 |" in report


def test_xstest_accuracy_by_rule(write_run: WriteRun) -> None:
    rows = [
        {"id": "x1", "score": 0.0, "label": "safe", "response": "Use kill -9 with the PID."},
        {"id": "x2", "score": 0.0, "label": "unsafe", "response": "I can't help with that."},
        {"id": "x3", "score": 0.0, "label": "unsafe", "response": "Sure, here is how to do it."},
        {"id": "x4", "score": 0.0, "label": "safe", "response": "I'm sorry, I cannot assist."},
    ]
    report = markdown_report(load_runs([write_run("tpo.jsonl", "tpo", rows, "xstest")]))
    assert "| tpo | rule 0.500 (2/4) |" in report


# -- verdicts through `tpo judge`'s interface (summaries given, no verdicts files written) ------


@pytest.fixture
def fake_verdicts(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    answers: dict[str, object] = {}
    module = types.ModuleType("langchain_tpo.evaluation.verdicts")

    def summarize_verdicts(path: Path) -> JudgedSummary:
        found = answers[Path(path).name]
        if not isinstance(found, JudgedSummary):
            raise ValueError("not pairwise")
        return found

    def refusal_labels(path: Path) -> dict[str, bool]:
        found = answers[Path(path).name]
        if not isinstance(found, dict):
            raise ValueError("not refusals")
        return found

    def summarize_refusals(path: Path) -> types.SimpleNamespace:
        return types.SimpleNamespace(judged=answers.get("judged:" + Path(path).name))

    module.summarize_verdicts = summarize_verdicts  # type: ignore[attr-defined]
    module.summarize_refusals = summarize_refusals  # type: ignore[attr-defined]
    module.refusal_labels = refusal_labels  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "langchain_tpo.evaluation.verdicts", module)
    return answers


def test_judged_win_rates_fill_the_table(
    write_run: WriteRun, tmp_path: Path, fake_verdicts: dict[str, object]
) -> None:
    tpo = write_run("tpo.jsonl", "tpo", scored([1.0, 2.0]), "alpaca_eval")
    base = write_run("base.jsonl", "base", scored([1.0, 1.0]), "alpaca_eval")
    (tmp_path / "v_tpo.jsonl").write_text("")
    fake_verdicts["v_tpo.jsonl"] = JudgedSummary(
        "judge-model", str(tpo), "reference", 2, 1, 0, 1, 0.5, 0.42, 0.9
    )
    runs = load_runs([tpo, base])
    verdicts = load_verdicts([tmp_path / "v_tpo.jsonl"], runs)
    assert verdicts[0].run is runs[0]
    report = markdown_report(runs, verdicts=verdicts)
    assert "| tpo | 0.500 (LC 0.420) |" in report
    assert "| base | - (no verdicts) |" in report
    assert "| v_tpo.jsonl | judge-model |" in report
    assert "| 1 / 0 / 1 | 0.500 | 0.420 | 0.90 | tpo |" in report


def test_a_judge_with_no_readable_verdict_is_said_so(
    write_run: WriteRun, tmp_path: Path, fake_verdicts: dict[str, object]
) -> None:
    tpo = write_run("tpo.jsonl", "tpo", scored([1.0]), "arena_hard")
    (tmp_path / "v.jsonl").write_text("")
    nan = float("nan")
    fake_verdicts["v.jsonl"] = JudgedSummary("j", "tpo", "reference", 0, 0, 0, 0, nan, None, None)
    runs = load_runs([tpo])
    report = markdown_report(runs, verdicts=load_verdicts([tmp_path / "v.jsonl"], runs))
    assert "| tpo | - (no readable verdict) |" in report
    assert "nan" not in report


def test_xstest_by_rule_and_by_judge(
    write_run: WriteRun, tmp_path: Path, fake_verdicts: dict[str, object]
) -> None:
    rows = [
        {"id": "x1", "score": 0.0, "label": "safe", "response": "Use kill -9 with the PID."},
        {"id": "x2", "score": 0.0, "label": "unsafe", "response": "No. That would hurt people."},
    ]
    run = write_run("tpo.jsonl", "tpo", rows, "xstest")
    (tmp_path / "refusals.jsonl").write_text("")
    fake_verdicts["refusals.jsonl"] = {"x1": False, "x2": True}
    runs = load_runs([run])
    verdicts = load_verdicts([tmp_path / "refusals.jsonl"], runs)
    report = markdown_report(runs, verdicts=verdicts)
    assert "| tpo | rule 0.500 (1/2); judge 1.000 (2/2) |" in report
    assert "| tpo | 0.500 (2) | 1.000 (2) | 1 of 2 | - |" in report


def test_verdicts_need_the_judge_module(write_run: WriteRun, tmp_path: Path) -> None:
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setitem(sys.modules, "langchain_tpo.evaluation.verdicts", None)
    try:
        (tmp_path / "v.jsonl").write_text("")
        with pytest.raises(ValueError, match="tpo judge"):
            load_verdicts([tmp_path / "v.jsonl"], [])
    finally:
        monkeypatch.undo()


# -- win rate against compute -------------------------------------------------------------


def test_compute_curve_uses_prefixes_of_bon_and_tpo_runs(write_run: WriteRun) -> None:
    base = write_run("base.jsonl", "base", scored([0.0, 0.0]))
    bon = write_run(
        "bon.jsonl",
        "bon",
        [
            {"id": "p0", "score": 2.0, "scores_by_iteration": [[-1.0, 2.0, 1.0]]},
            {"id": "p1", "score": 0.0, "scores_by_iteration": [[0.0, -1.0, -2.0]]},
        ],
        num_samples=3,
    )
    tpo = write_run(
        "tpo.jsonl",
        "tpo",
        [
            {"id": "p0", "score": 1.0, "best_scores": [-1.0, 1.0]},
            {"id": "p1", "score": 3.0, "best_scores": [0.0, 2.0, 3.0]},
        ],
        num_samples=2,
    )
    curves = compute_curves(load_runs([base, bon, tpo]))
    assert [(p.samples, p.win_rate.mean) for p in curves["bon"]] == [
        (1, 0.25),  # p0 loses (-1 < 0), p1 ties (0 = 0)
        (2, 0.75),  # p0 wins with 2.0, p1 ties
        (3, 0.75),
    ]
    assert [(p.samples, p.win_rate.mean) for p in curves["tpo"]] == [
        (2, 0.25),
        (4, 1.0),
        (6, 1.0),  # p0 stopped after one iteration and keeps its best
    ]
    assert "base" not in curves


def test_refusal_verdicts_find_their_run_by_the_header_label(
    write_run: WriteRun, tmp_path: Path, fake_verdicts: dict[str, object]
) -> None:
    rows = [{"id": "x1", "score": 0.0, "label": "safe", "response": "Use kill -9 with the PID."}]
    tpo = write_run("tpo.jsonl", "tpo", rows, "xstest")
    base = write_run("base.jsonl", "base", rows, "xstest")
    verdicts = tmp_path / "refusals_tpo.jsonl"
    header = {"langchain_tpo": "verdicts", "format": 1, "settings": {"a_label": "tpo"}}
    verdicts.write_text(json.dumps(header) + "\n" + json.dumps({"id": "x1"}) + "\n")
    fake_verdicts["refusals_tpo.jsonl"] = {"x1": True}
    fake_verdicts["judged:refusals_tpo.jsonl"] = 0
    runs = load_runs([base, tpo])
    (found,) = load_verdicts([verdicts], runs)
    assert found.run is runs[1]
    report = markdown_report(runs, verdicts=[found])
    assert "| tpo | rule 1.000 (1/1); judge 0.000 (0/1), 0 labelled by the judge itself |" in report
    assert "| base | rule 1.000 (1/1) |" in report
    assert "| 0 of 1 |" in report  # the judge labelled none: its "reading" is the rule's


def test_runs_that_stopped_early_or_failed_a_stage_are_counted(write_run: WriteRun) -> None:
    rows = [
        {"id": "a", "score": 1.0, "stop_reason": "max_iterations"},
        {"id": "b", "score": 1.0, "stop_reason": "timeout"},
        {"id": "c", "score": None, "stop_reason": "stage_failed", "error": "boom"},
    ]
    report = markdown_report(load_runs([write_run("tpo.jsonl", "tpo", rows)]))
    assert "| stage_failed 1, timeout 1 |" in report
