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


def test_a_byte_that_is_not_utf8_skips_only_its_line(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(
        b'{"id": "a", "prompt": "ok"}\n{"id": "b", "prompt": "caf\xe9"}\n'
        b'{"id": "c", "prompt": "fine"}\n'
    )
    loaded = load_prompts(path)
    assert [r.id for r in loaded.rows] == ["a", "c"]
    assert [str(p) for p in loaded.problems] == [
        "line 2: not UTF-8 text (byte 0xe9 at column 27); skipped"
    ]


def test_a_csv_byte_that_is_not_utf8_skips_only_its_row(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(b"id,prompt\nq1,hello\nq2,caf\xe9\nq3,bye\n")
    loaded = load_prompts(path)
    assert [r.id for r in loaded.rows] == ["q1", "q3"]
    assert [p.line for p in loaded.problems] == [3]
    assert "not UTF-8" in loaded.problems[0].message


@pytest.mark.parametrize("content", ["", "\n  \n"])
def test_an_empty_file_says_it_is_empty(tmp_path: Path, content: str) -> None:
    with pytest.raises(ValueError, match="is empty"):
        load_prompts(write(tmp_path / "d.jsonl", content))


@pytest.mark.parametrize(("prompt", "kind"), [(42, "int"), (["a"], "list"), (None, "null")])
def test_a_prompt_that_is_not_text_says_so(tmp_path: Path, prompt: object, kind: str) -> None:
    path = write(tmp_path / "d.jsonl", json.dumps({"id": "a", "prompt": prompt}) + "\n")
    loaded = load_prompts(path)
    assert loaded.rows == []
    assert [p.message for p in loaded.problems] == [
        f"prompt is not a string (it is a {kind}); skipped"
    ]


def test_rows_carry_labels_and_categories(tmp_path: Path) -> None:
    path = write(
        tmp_path / "d.jsonl", '{"id": "x1", "prompt": "p", "label": "unsafe", "category": "c"}\n'
    )
    (row,) = load_prompts(path).rows
    assert (row.label, row.category) == ("unsafe", "c")
