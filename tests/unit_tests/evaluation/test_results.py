import json
from pathlib import Path

import pytest

from langchain_tpo.evaluation import ResultsFile, read_results


def test_append_and_resume(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    with ResultsFile(path) as out:
        out.append({"id": "a", "score": 1.0})
        out.append({"id": "b", "score": 2.0})
    with ResultsFile(path) as out:
        assert out.done == {"a", "b"}
        assert not out.repaired
    assert [r["id"] for r in read_results(path)] == ["a", "b"]


def test_line_cut_short_is_removed_on_open(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text('{"id": "a"}\n{"id": "b", "sco', encoding="utf-8")
    assert [r["id"] for r in read_results(path)] == ["a"]
    with ResultsFile(path) as out:
        assert out.repaired
        assert out.done == {"a"}
        out.append({"id": "b"})
    assert path.read_text().splitlines() == ['{"id": "a"}', '{"id": "b"}']


def test_second_writer_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    with ResultsFile(path), pytest.raises(RuntimeError, match="another run"):
        ResultsFile(path).open()


def test_settings_must_match_to_resume(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text(json.dumps({"id": "a", "mode": "bon", "num_samples": 4}) + "\n")
    with ResultsFile(path) as out:
        out.check_same_run({"mode": "bon", "num_samples": 4})
        with pytest.raises(ValueError, match="mode: file has 'bon', now 'tpo'"):
            out.check_same_run({"mode": "tpo", "num_samples": 4})


def test_corrupt_complete_line_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text('{"id": "a"}\nGARBAGE\n')
    with pytest.raises(ValueError, match="line 2"):
        ResultsFile(path).open()
