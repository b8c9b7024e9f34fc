import json
from pathlib import Path

import pytest

from langchain_tpo.evaluation import (
    BadRecordError,
    PromptMismatchError,
    ResultsFile,
    read_results,
)
from langchain_tpo.evaluation.fingerprints import prompts_fingerprint, text_sha256
from langchain_tpo.evaluation.results import results_header
from langchain_tpo.prompts import REWRITE_PROMPT, TPOPrompts

SETTINGS = {"mode": "bon", "num_samples": 4}


def test_rows_remember_their_prompt(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    with ResultsFile(path, SETTINGS) as out:
        assert not out.has("a", "first")
        out.append({"id": "a", "prompt_sha256": text_sha256("first")})
    with ResultsFile(path, SETTINGS) as out:
        assert out.has("a", "first")
        assert not out.has("b", "second")
        with pytest.raises(PromptMismatchError, match="different prompt"):
            out.has("a", "another prompt under the same id")


def test_headerless_results_of_older_versions_are_readable_not_writable(tmp_path: Path) -> None:
    path = tmp_path / "old.jsonl"
    path.write_text(json.dumps({"id": "a", "mode": "tpo", "score": 1.0}) + "\n")
    assert results_header(path) is None
    assert [r["id"] for r in read_results(path)] == ["a"]
    with pytest.raises(ValueError, match="not a file written by langchain-tpo"):
        ResultsFile(path, SETTINGS).open()


def test_a_row_without_id_is_named_on_reading(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    with ResultsFile(path, SETTINGS) as out:
        out.append({"id": "a"})
    with path.open("a") as f:
        f.write('{"score": 2}\n')
    with pytest.raises(BadRecordError, match=r"out.jsonl line 3: has no 'id'"):
        read_results(path)


def test_prompts_fingerprint_follows_the_templates() -> None:
    assert prompts_fingerprint() == prompts_fingerprint(TPOPrompts())
    assert len(prompts_fingerprint()) == 16
    other = TPOPrompts(rewrite=REWRITE_PROMPT.partial(response_start="[", response_end="]"))
    assert prompts_fingerprint(other) != prompts_fingerprint()
