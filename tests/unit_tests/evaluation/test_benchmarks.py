from pathlib import Path

import pytest

from langchain_tpo.evaluation import PromptRow, Selection, iter_prompts
from langchain_tpo.evaluation.benchmarks import (
    BENCHMARKS,
    SHARED_DIR,
    SHIPPED_DIR,
    SUBSET_SIZE,
    benchmark_dir,
    benchmark_path,
    get_benchmark,
)


def rows(path: Path, selection: Selection) -> list[PromptRow]:
    return [r for r in selection.rows(lambda: iter_prompts(path)) if isinstance(r, PromptRow)]


def test_every_benchmark_ships_a_clean_subset_with_its_fields() -> None:
    for name, spec in BENCHMARKS.items():
        shipped = rows(SHIPPED_DIR / spec.file_name, Selection())
        assert len(shipped) == SUBSET_SIZE, name
        assert spec.licence and spec.source and spec.metric
    assert all(
        r.label in {"safe", "unsafe"} for r in rows(SHIPPED_DIR / "xstest.jsonl", Selection())
    )
    assert all(r.reference for r in rows(SHIPPED_DIR / "math500.jsonl", Selection()))
    assert all(r.reference for r in rows(SHIPPED_DIR / "alpaca_eval.jsonl", Selection()))


@pytest.mark.skipif(not SHARED_DIR.is_dir(), reason="the full benchmark files are not here")
def test_shipped_subsets_are_what_sample_30_draws_from_the_full_files() -> None:
    for name, spec in BENCHMARKS.items():
        drawn = rows(SHARED_DIR / spec.file_name, Selection(SUBSET_SIZE, 0, keep=spec.keep))
        shipped = rows(SHIPPED_DIR / spec.file_name, Selection())
        assert [(r.id, r.prompt) for r in drawn] == [(r.id, r.prompt) for r in shipped], name


def test_where_benchmarks_are_read_from(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert benchmark_dir(tmp_path) == tmp_path
    monkeypatch.setenv("TPO_BENCHMARK_DIR", str(tmp_path / "env"))
    assert benchmark_dir() == tmp_path / "env"
    monkeypatch.delenv("TPO_BENCHMARK_DIR")
    monkeypatch.setattr("langchain_tpo.evaluation.benchmarks.SHARED_DIR", tmp_path / "none")
    assert benchmark_dir() == SHIPPED_DIR
    assert benchmark_path("xstest") == SHIPPED_DIR / "xstest.jsonl"
    with pytest.raises(FileNotFoundError, match=r"No xstest\.jsonl"):
        benchmark_path("xstest", tmp_path)
    with pytest.raises(ValueError, match="choose one of"):
        get_benchmark("mmlu")


def test_hh_rlhf_counts_only_rows_the_default_reward_never_trained_on() -> None:
    keep = get_benchmark("hh_rlhf").keep
    assert keep is not None
    assert keep(PromptRow("hh_harmless_test_0015", "x"))
    assert not keep(PromptRow("hh_harmless_test_0016", "x"))
