"""`tpo run --interactive`: a person at the terminal reviews each iteration."""

from __future__ import annotations

import io

import pytest

from langchain_tpo.cli import main
from langchain_tpo.testing import ScriptedChatModel


def test_the_person_picks_the_pair_and_edits_the_suggestion(
    scripted_models: ScriptedChatModel,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    answers = "\n".join(
        [
            "1",  # chosen
            "none",  # no rejected: critique the chosen alone
            "",  # let the model write the critique
            "Name the three steps in order.",  # new suggestions
        ]
    )
    monkeypatch.setattr("sys.stdin", io.StringIO(answers + "\n"))
    assert main(["run", "How do I make tea?", "-n", "2", "-d", "1", "--interactive"]) == 0
    out, err = capsys.readouterr()
    assert "Review before the critique of iteration 1" in err
    assert "Review before the rewrite of iteration 1" in err
    assert out.startswith("Answer (reward")
    critique = scripted_models.requests_for("critique")
    assert len(critique) == 1 and "Here is an answer to review" in critique[0].messages[-1].text
    rewrites = scripted_models.requests_for("rewrite")
    assert rewrites and all(
        "Name the three steps in order." in r.messages[0].text for r in rewrites
    )


def test_a_bad_answer_is_asked_again(
    scripted_models: ScriptedChatModel,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    answers = "\n".join(["9", "", "", "0", "", "", ""])  # index 9 does not exist
    monkeypatch.setattr("sys.stdin", io.StringIO(answers + "\n"))
    assert main(["run", "q", "-n", "2", "-d", "1", "-i"]) == 0
    _, err = capsys.readouterr()
    assert "That did not work" in err and "index of one of the 2 shown candidates" in err


def test_end_of_input_keeps_every_proposal(
    scripted_models: ScriptedChatModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["run", "q", "-n", "2", "-d", "2", "-i", "-q"]) == 0
    assert len(scripted_models.requests_for("critique")) == 2
