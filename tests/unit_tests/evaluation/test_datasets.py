import json
from pathlib import Path

import pytest

from langchain_tpo.evaluation import load_prompts

SHARED = Path("/work/shared/benchmarks")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_benchmark_format(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "prompt": "first", "source": "x"},
        {"id": "b", "prompt": "second", "reference": "42"},
    ]
    path = write(tmp_path / "d.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    loaded = load_prompts(path)
    assert [(r.id, r.prompt, r.reference) for r in loaded.rows] == [
        ("a", "first", None),
        ("b", "second", "42"),
    ]
    assert loaded.problems == []


def test_bad_lines_are_reported_with_line_numbers(tmp_path: Path) -> None:
    text = (
        '{"id": "a", "prompt": "ok"}\n'
        "{not json\n"
        "\n"
        '["a list"]\n'
        '{"id": "b", "prompt": "   "}\n'
        '{"id": "a", "prompt": "again"}\n'
        '{"id": "c", "text": "no prompt"}\n'
        '{"id": "d", "prompt": "fine"}\n'
    )
    loaded = load_prompts(write(tmp_path / "d.jsonl", text))
    assert [r.id for r in loaded.rows] == ["a", "d"]
    messages = {p.line: p.message for p in loaded.problems}
    assert set(messages) == {2, 4, 5, 6, 7}
    assert "JSON" in messages[2]
    assert "empty prompt" in messages[5]
    assert "duplicate id 'a'" in messages[6]
    assert "'prompt'" in messages[7]
    assert str(loaded.problems[0]).startswith("line 2:")


def test_plain_jsonl_with_prompt_field_and_no_ids(tmp_path: Path) -> None:
    path = write(tmp_path / "d.jsonl", '{"instruction": "x"}\n{"instruction": "y"}\n')
    loaded = load_prompts(path, prompt_field="instruction")
    assert [(r.id, r.prompt) for r in loaded.rows] == [("line-1", "x"), ("line-2", "y")]


def test_csv(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", 'id,question\nq1,"What, exactly?"\nq2,\nq3,Why\n')
    loaded = load_prompts(path, prompt_field="question")
    assert [(r.id, r.prompt) for r in loaded.rows] == [("q1", "What, exactly?"), ("q3", "Why")]
    assert [p.line for p in loaded.problems] == [3]


def test_wrong_prompt_field_is_a_clear_error(tmp_path: Path) -> None:
    path = write(tmp_path / "d.jsonl", '{"question": "x"}\n')
    with pytest.raises(ValueError, match="--prompt-field"):
        load_prompts(path)


def test_missing_file_and_bad_extension(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        load_prompts(tmp_path / "nope.jsonl")
    with pytest.raises(ValueError, match=r"\.txt"):
        load_prompts(write(tmp_path / "d.txt", "hello"))


def test_limit(tmp_path: Path) -> None:
    path = write(
        tmp_path / "d.jsonl", "".join(f'{{"id": {i}, "prompt": "p{i}"}}\n' for i in range(9))
    )
    assert [r.id for r in load_prompts(path, limit=3).rows] == ["0", "1", "2"]


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared benchmarks not on this machine")
def test_every_shipped_benchmark_loads_cleanly() -> None:
    for path in SHARED.glob("*.jsonl"):
        loaded = load_prompts(path)
        assert loaded.rows and not loaded.problems, path
