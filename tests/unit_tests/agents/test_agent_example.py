"""examples/agent_final_answer.py on scripted models: it prints the answer TPO returned."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from langchain_core.messages import BaseMessage

from langchain_tpo.reward_models import FunctionReward
from langchain_tpo.testing import ScriptedChatModel, stage_of

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
DRAFT = "Open until 18:00."
REWRITE = "The library is open 9:00-18:00 on weekdays; late returns cost 0.20 EUR a day."


def responder(messages: list[BaseMessage], index: int) -> str:
    stage = stage_of(messages)
    return {"sample": DRAFT, "rewrite": REWRITE}.get(stage, f"a {stage}")


def test_the_printed_answer_is_the_refined_answer(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.delitem(sys.modules, "agent_final_answer", raising=False)
    import agent_final_answer as example

    policy = ScriptedChatModel(responder=responder)
    reward = FunctionReward(lambda query, response: float(len(response)))
    monkeypatch.setattr(example, "default_models", lambda: (policy, reward))
    example.main()
    out = capsys.readouterr().out

    assert "Tool library_facts: The city library opens 9:00-18:00" in out
    assert "Tool library_facts: Late returns cost 0.20 EUR" in out
    assert f"The model's answer (reward {len(DRAFT):+.3f}):\n{DRAFT}\n" in out
    assert out.rstrip().endswith(
        f"Final answer (reward {len(REWRITE):+.3f}, best by step "
        f"[{float(len(DRAFT))}, {float(len(REWRITE))}]):\n{REWRITE}"
    )
    # The model answered from the tool results, shown to it as text, and TPO saw the same
    # conversation: no assistant turn the example made up (an earlier version put a fake
    # "Noted." there, which SmolLM2 repeated and the reward model preferred).
    draft_request = policy.requests_for("sample")[0]
    research = draft_request.messages[2].text
    assert "I used the tool library_facts (topic: opening hours) and got: The city" in research
    for request in policy.requests_for("sample"):
        assistant_turns = [m.text for m in request.messages if m.type == "ai"]
        assert assistant_turns and all(t.startswith("I used the tool") for t in assistant_turns)
