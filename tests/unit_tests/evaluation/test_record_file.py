import json
from pathlib import Path

import pytest

from langchain_tpo.evaluation.record_file import (
    FORMAT,
    BadRecordError,
    NotOurFileError,
    RecordFile,
    SettingsMismatchError,
    iter_records,
    read_header,
)

SETTINGS = {"mode": "tpo", "seed": 0}


def test_a_new_file_starts_with_its_header(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "out.jsonl"
    with RecordFile(path, "results", SETTINGS, extra={"shard": "1/2"}) as out:
        assert out.created
        out.append({"id": "a", "x": 1})
    first = json.loads(path.read_text().splitlines()[0])
    assert first == {
        "langchain_tpo": "results",
        "format": FORMAT,
        "settings": SETTINGS,
        "shard": "1/2",
    }
    header = read_header(path, "results")
    assert header.settings == SETTINGS and header.extra == {"shard": "1/2"}
    assert list(iter_records(path, "results")) == [{"id": "a", "x": 1}]


def test_resume_by_key_remembers_a_field(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    with RecordFile(path, "results", SETTINGS, remember="h") as out:
        out.append({"id": "a", "h": "1"})
        out.append({"id": 7, "h": "2"})
    with RecordFile(path, "results", SETTINGS, remember="h") as out:
        assert not out.created and not out.repaired
        assert out.done == {"a": "1", "7": "2"}


def test_an_empty_file_gets_a_header(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(b"")
    with RecordFile(path, "results", SETTINGS) as out:
        assert out.created
    assert read_header(path).kind == "results"


@pytest.mark.parametrize(
    "content",
    [
        b'{"id": "a", "prompt": "x"}\n{"id": "b", "prompt": "last line, no newline"}',
        b'{\n  "id": "a",\n  "prompt": "pretty"\n}',
        b"id,prompt\n1,hello\n",
        b'{"langchain_tpo": "verdicts", "format": 1, "settings": {}}\n{"id": "a"}\n',
        b'{"langchain_tpo": "results", "format": 99, "settings": {}}\n',
        b'{"langchain_tpo": "results", "format": 1, "sett',
        b"   \n",
        b'{"id": "a", "mode": "tpo"}\n{"id": "b", "mode": "tpo", "resp',
    ],
    ids=[
        "dataset",
        "pretty-json",
        "csv",
        "other-kind",
        "newer-format",
        "torn-header",
        "blank",
        "headerless-results",
    ],
)
def test_a_file_that_is_not_ours_is_refused_untouched(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(content)
    before = path.stat()
    with pytest.raises(NotOurFileError, match=r"out\.jsonl"):
        RecordFile(path, "results", SETTINGS).open()
    assert path.read_bytes() == content
    assert path.stat().st_mtime_ns == before.st_mtime_ns
    assert list(tmp_path.iterdir()) == [path]


def test_other_settings_are_refused_and_named(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    with RecordFile(path, "results", SETTINGS) as out:
        out.append({"id": "a"})
    content = path.read_bytes()
    with pytest.raises(SettingsMismatchError) as caught:
        RecordFile(path, "results", {"mode": "tpo", "seed": 1, "top_p": 0.9}).open()
    assert caught.value.differences == {"seed": (0, 1), "top_p": (None, 0.9)}
    assert "seed: file has 0, now 1" in str(caught.value)
    assert path.read_bytes() == content


def test_a_torn_last_line_is_dropped_in_our_file(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    with RecordFile(path, "results", SETTINGS) as out:
        out.append({"id": "a"})
    with path.open("ab") as f:
        f.write(b'{"id": "b", "sco')
    assert [r["id"] for r in iter_records(path, "results")] == ["a"]  # readers skip it...
    assert path.read_bytes().endswith(b'"sco')  # ...and leave it
    with RecordFile(path, "results", SETTINGS) as out:
        assert out.repaired and set(out.done) == {"a"}
        out.append({"id": "b"})
    assert path.read_text().splitlines()[1:] == ['{"id": "a"}', '{"id": "b"}']


def test_a_whole_record_missing_only_its_newline_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    with RecordFile(path, "results", SETTINGS) as out:
        out.append({"id": "a"})
    with path.open("ab") as f:
        f.write(b'{"id": "b"}')
    with RecordFile(path, "results", SETTINGS) as out:
        assert out.repaired and set(out.done) == {"a", "b"}
        out.append({"id": "c"})
    assert [r["id"] for r in iter_records(path, "results")] == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("line", "words"),
    [
        (b'["a", "list"]\n', "line 3: is a JSON list, not an object"),
        (b'{"score": 1}\n', "line 3: has no 'id'"),
        (b'{"id": ["x"]}\n', "line 3: has a 'id' that is not text"),
        (b"GARBAGE\n", "line 3: is not valid JSON"),
        (b'{"id": "\xff"}\n', "line 3: is not UTF-8"),
    ],
)
def test_a_bad_line_is_named_and_nothing_changes(tmp_path: Path, line: bytes, words: str) -> None:
    path = tmp_path / "out.jsonl"
    with RecordFile(path, "results", SETTINGS) as out:
        out.append({"id": "a"})
    with path.open("ab") as f:
        f.write(line + b'{"id": "z", "torn')
    content = path.read_bytes()
    with pytest.raises(BadRecordError, match=words) as caught:
        RecordFile(path, "results", SETTINGS).open()
    assert caught.value.line == 3
    assert path.read_bytes() == content
    with pytest.raises(BadRecordError, match=words):
        list(iter_records(path, "results"))


def test_a_second_writer_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    with RecordFile(path, "results", SETTINGS), pytest.raises(RuntimeError, match="another"):
        RecordFile(path, "results", SETTINGS).open()


def test_append_needs_an_open_file_and_a_key(tmp_path: Path) -> None:
    out = RecordFile(tmp_path / "out.jsonl", "results", SETTINGS)
    with pytest.raises(RuntimeError, match="open"):
        out.append({"id": "a"})
    with out, pytest.raises(ValueError, match="'id'"):
        out.append({"score": 1})


def test_read_header_of_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_header(tmp_path / "none.jsonl")
    (tmp_path / "e.jsonl").write_bytes(b"")
    with pytest.raises(NotOurFileError, match="empty"):
        read_header(tmp_path / "e.jsonl", "results")
