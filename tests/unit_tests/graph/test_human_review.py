"""Human in the loop: a person acts as critic before the critique and edits before the rewrite."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from langchain_tpo import TPOChain, TPOConfig, create_tpo_graph
from langchain_tpo.reward_models import FunctionReward
from langchain_tpo.testing import ScriptedChatModel

CONFIG = TPOConfig(num_samples=2, max_iterations=1, retry_backoff_s=0.0)
EDIT = "Open with a one-line summary, then give exactly three numbered steps."


def length() -> FunctionReward:
    return FunctionReward(lambda q, r: float(len(r)))


def test_an_edited_suggestion_reaches_the_rewrite_prompt() -> None:
    policy = ScriptedChatModel()
    graph = create_tpo_graph(policy, length(), CONFIG, InMemorySaver(), human_review=["rewrite"])
    thread = {"configurable": {"thread_id": "h1"}}
    paused = graph.invoke({"query": "How do I repot a cactus?"}, thread)
    (pause,) = paused["__interrupt__"]
    assert pause.value["review"] == "rewrite"
    assert pause.value["suggestion"]  # the model's suggestion, shown for editing
    assert not policy.requests_for("rewrite")

    out = graph.invoke(Command(resume={"suggestion": EDIT}), thread)
    rewrites = policy.requests_for("rewrite")
    assert rewrites and all(EDIT in r.messages[0].text for r in rewrites)
    assert out["history"][0]["suggestion"] == EDIT
    assert out["history"][0]["human_edits"] == ["suggestion"]
    assert out["stop_reason"] == "max_iterations"


def test_a_person_picks_the_pair_and_writes_the_critique() -> None:
    policy = ScriptedChatModel()
    graph = create_tpo_graph(policy, length(), CONFIG, InMemorySaver(), human_review="critique")
    thread = {"configurable": {"thread_id": "h2"}}
    paused = graph.invoke({"query": "q"}, thread)
    shown = paused["__interrupt__"][0].value
    assert [c["index"] for c in shown["candidates"]] == [0, 1]
    assert shown["chosen"] in (0, 1) and shown["rejected"] in (0, 1)

    critique = "The second answer is warmer; the first is curt."
    out = graph.invoke(Command(resume={"chosen": 1, "rejected": 0, "critique": critique}), thread)
    assert not policy.requests_for("critique")  # the person was the critic
    record = out["history"][0]
    assert record["chosen"]["text"] == shown["candidates"][1]["text"]
    assert record["critique"] == critique
    assert critique in policy.requests_for("suggest")[0].messages[-1].text


def test_chain_reports_the_pending_review_and_resumes() -> None:
    chain = TPOChain(
        policy=ScriptedChatModel(),
        reward=length(),
        config=CONFIG,
        checkpointer=InMemorySaver(),
        human_review=("critique", "rewrite"),
    )
    thread = {"configurable": {"thread_id": "h3"}}
    first = chain.invoke("q", thread)
    assert not first.done and first.pending_review["review"] == "critique"
    second = chain.invoke(Command(resume=True), thread)  # accept the proposed pair
    assert second.pending_review["review"] == "rewrite"
    final = chain.invoke(Command(resume={"suggestion": EDIT}), thread)
    assert final.done and final.pending_review is None
    assert final.history[0].suggestion == EDIT


def test_a_bad_decision_is_asked_again_with_what_was_wrong() -> None:
    graph = create_tpo_graph(
        ScriptedChatModel(), length(), CONFIG, InMemorySaver(), human_review=["critique"]
    )
    thread = {"configurable": {"thread_id": "h4"}}
    graph.invoke({"query": "q"}, thread)
    again = graph.invoke(Command(resume={"chosen": 7}), thread)
    error = again["__interrupt__"][0].value["error"]
    assert "index of one of the 2 shown candidates" in error
    again = graph.invoke(Command(resume={"chosen_one": 0}), thread)
    assert "unknown key" in again["__interrupt__"][0].value["error"]
    again = graph.invoke(Command(resume="yes"), thread)
    assert "expects a dict" in again["__interrupt__"][0].value["error"]
    out = graph.invoke(Command(resume={"chosen": 0}), thread)
    assert out["stop_reason"] == "max_iterations"
    assert out["history"][0]["human_edits"] == ["chosen"]


def test_review_needs_a_checkpointer_and_known_points() -> None:
    with pytest.raises(ValueError, match="checkpointer"):
        create_tpo_graph(ScriptedChatModel(), length(), CONFIG, human_review=["rewrite"])
    with pytest.raises(ValueError, match="review point"):
        create_tpo_graph(ScriptedChatModel(), length(), CONFIG, True, human_review=["score"])


def test_a_review_pause_survives_the_process_with_sqlite(tmp_path: Path) -> None:
    pytest.importorskip("langgraph.checkpoint.sqlite")
    from langgraph.checkpoint.sqlite import SqliteSaver

    database = tmp_path / "tpo.sqlite"
    script = textwrap.dedent(
        f"""
        from langgraph.checkpoint.sqlite import SqliteSaver
        from langchain_tpo import TPOConfig, create_tpo_graph
        from langchain_tpo.reward_models import FunctionReward
        from langchain_tpo.testing import ScriptedChatModel

        with SqliteSaver.from_conn_string({str(database)!r}) as saver:
            graph = create_tpo_graph(
                ScriptedChatModel(), FunctionReward(lambda q, r: float(len(r))),
                TPOConfig(num_samples=2, max_iterations=1), saver, human_review=["rewrite"],
            )
            out = graph.invoke({{"query": "q"}}, {{"configurable": {{"thread_id": "s"}}}})
            print(out["__interrupt__"][0].value["review"])
        """
    )
    first = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert first.stdout.strip() == "rewrite"

    policy = ScriptedChatModel()
    with SqliteSaver.from_conn_string(str(database)) as saver:
        graph = create_tpo_graph(policy, length(), CONFIG, saver, human_review=["rewrite"])
        out = graph.invoke(
            Command(resume={"suggestion": EDIT}), {"configurable": {"thread_id": "s"}}
        )
    assert out["stop_reason"] == "max_iterations"
    assert [r.stage for r in policy.requests] == ["rewrite", "rewrite"]  # nothing else redone
    assert EDIT in policy.requests[0].messages[0].text
