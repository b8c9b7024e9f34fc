"""TPO on a reasoning policy: only answers are scored, shown to the model and returned.

The scripted reasoning policy thinks before every reply, in the three forms real policies use
(a `<think>` block in the text, `reasoning_content`, reasoning content blocks), and cuts some
replies inside their thinking. Every thought carries `THINKING_MARK`, so a prompt, a reward
input or an answer that holds thinking is caught.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from langchain_tpo import TPOChain, TPOChatModel, TPOConfig
from langchain_tpo.cli import main, models
from langchain_tpo.reward_models import FunctionReward
from langchain_tpo.testing import (
    THINKING_MARK,
    ScriptedReasoningModel,
    ScriptedReasoningModelWithN,
    ThinkingForm,
)

FORMS: list[ThinkingForm] = ["tags", "reasoning_content", "content_blocks"]


class Recorder:
    """A length reward that keeps every response it scored."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.reward = FunctionReward(self.score)

    def score(self, query: str, response: str) -> float:
        self.seen.append(response)
        return float(len(response))


def sent_text(policy: ScriptedReasoningModel) -> str:
    """Everything TPO sent to the policy, as one text."""
    return "\n".join(m.text for r in policy.requests for m in r.messages)


def replies(policy: ScriptedReasoningModel) -> list[tuple[str, int]]:
    """(stage, index) of every reply the policy gave, in the order it numbered them."""
    out: list[tuple[str, int]] = []
    for request in policy.requests:
        out += [(request.stage, len(out) + k) for k in range(request.samples)]
    return out


def cut_replies(policy: ScriptedReasoningModel, every: int, stages: tuple[str, ...] = ()) -> int:
    return sum(
        1
        for stage, i in replies(policy)
        if i % every == every - 1 and (not stages or stage in stages)
    )


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("model_class", [ScriptedReasoningModel, ScriptedReasoningModelWithN])
@pytest.mark.parametrize("template_opens", [False, True])
def test_only_answers_are_scored_sent_and_returned(
    form: ThinkingForm, model_class: type[ScriptedReasoningModel], template_opens: bool
) -> None:
    if template_opens and form != "tags":
        pytest.skip("only the tags form has a template that opens the block")
    policy = model_class(thinking_form=form, cut_every=4, template_opens_thinking=template_opens)
    reward = Recorder()
    # The template opens the block, so a reply cut inside it has no tag at all.
    tags = ("", "</think>") if template_opens else ("<think>", "</think>")
    config = TPOConfig(num_samples=3, max_iterations=2, seed=1, thinking_tags=tags)
    result = TPOChain(policy=policy, reward=reward.reward, config=config).invoke("Why?")

    assert result.response and THINKING_MARK not in result.response
    assert "<think>" not in result.response and "</think>" not in result.response
    assert reward.seen and not any(THINKING_MARK in text for text in reward.seen)
    sent = sent_text(policy)
    assert THINKING_MARK not in sent and "</think>" not in sent
    # Each candidate keeps its own thinking, away from its text.
    assert result.candidates
    for candidate in result.candidates:
        assert THINKING_MARK not in candidate.text
        assert candidate.thinking is not None and THINKING_MARK in candidate.thinking
    # Every reply cut inside its thinking is counted and none of them is scored.
    assert result.thinking_cutoffs == cut_replies(policy, 4) > 0
    answers = [r for r in replies(policy) if r[0] in ("sample", "rewrite")]
    cut = cut_replies(policy, 4, ("sample", "rewrite"))
    assert len(result.candidates) == len(answers) - cut
    assert result.empty_outputs == 0


async def test_the_async_path_splits_the_same_way() -> None:
    policy = ScriptedReasoningModelWithN(thinking_form="reasoning_content", cut_every=3)
    reward = Recorder()
    config = TPOConfig(num_samples=3, max_iterations=1, seed=2)
    result = await TPOChain(policy=policy, reward=reward.reward, config=config).ainvoke("Why?")
    assert THINKING_MARK not in sent_text(policy) + "".join(reward.seen) + result.response
    assert result.thinking_cutoffs == cut_replies(policy, 3) > 0
    assert all(c.thinking for c in result.candidates)


def test_cut_rewrites_are_counted_per_iteration() -> None:
    policy = ScriptedReasoningModelWithN(cut_every=2)
    config = TPOConfig(num_samples=4, max_iterations=1, seed=3)
    result = TPOChain(policy=policy, reward=Recorder().reward, config=config).invoke("Why?")
    # Replies 0-3 are the samples (1 and 3 cut), 4 the critique, 5 the suggestion (cut),
    # 6-9 the rewrites (7 and 9 cut).
    assert result.history[0].thinking_cutoffs == 2
    assert len(result.history[0].candidates) == 2
    assert result.thinking_cutoffs == 5
    assert len(result.candidates) == 4
    assert any("ran out of tokens while the policy was thinking" in w for w in result.warnings)


def test_a_run_whose_every_reply_is_cut_has_no_answer_and_says_so() -> None:
    policy = ScriptedReasoningModelWithN()
    config = TPOConfig(num_samples=3, max_iterations=1, max_tokens=5, seed=4)
    result = TPOChain(policy=policy, reward=Recorder().reward, config=config).invoke("Why?")
    assert result.response == "" and result.score is None
    assert result.stop_reason == "no_usable_response"
    assert result.thinking_cutoffs == 3 and result.empty_outputs == 0


def test_the_thinking_budget_leaves_the_answer_its_own_tokens() -> None:
    policy = ScriptedReasoningModelWithN()
    config = TPOConfig(
        num_samples=2,
        max_iterations=1,
        max_tokens=5,
        thinking_budget=20,
        thinking_stages=("sample", "rewrite"),
        seed=4,
    )
    result = TPOChain(policy=policy, reward=Recorder().reward, config=config).invoke("Why?")
    assert result.thinking_cutoffs == 0 and len(result.candidates) == 4
    by_stage = {r.stage: r.kwargs["max_tokens"] for r in policy.requests}
    assert by_stage == {"sample": 25, "critique": 5, "suggest": 5, "rewrite": 25}


# -- where the policy may think ------------------------------------------------------------------


def test_a_template_opened_block_is_no_thinking_where_thinking_was_off() -> None:
    policy = ScriptedReasoningModelWithN(template_opens_thinking=True)
    config = TPOConfig(
        num_samples=2,
        max_iterations=1,
        thinking_stages=("sample",),
        thinking_tags=("", "</think>"),
        seed=5,
    )
    result = TPOChain(policy=policy, reward=Recorder().reward, config=config).invoke("Why?")
    step = result.history[0]
    assert step.critique.startswith("critique") and step.suggestion.startswith("suggest")
    assert [c.thinking is not None for c in result.candidates] == [True, True, False, False]
    assert result.thinking_cutoffs == 0


def test_thinking_stages_reach_every_request() -> None:
    policy = ScriptedReasoningModelWithN(thinking_form="reasoning_content")
    config = TPOConfig(
        num_samples=2, max_iterations=1, thinking_stages=("sample", "rewrite"), seed=5
    )
    result = TPOChain(policy=policy, reward=Recorder().reward, config=config).invoke("Why?")
    asked = {r.stage: r.kwargs["chat_template_kwargs"]["enable_thinking"] for r in policy.requests}
    assert asked == {"sample": True, "critique": False, "suggest": False, "rewrite": True}
    assert all(c.thinking for c in result.candidates)  # samples and rewrites thought
    assert result.history[0].critique  # the critique answered without thinking
    assert not result.warnings


def test_no_thinking_setting_asks_nothing() -> None:
    policy = ScriptedReasoningModelWithN()
    TPOChain(policy=policy, reward=Recorder().reward, config=TPOConfig(num_samples=2)).invoke("q")
    assert all("chat_template_kwargs" not in r.kwargs for r in policy.requests)


def test_the_switch_names_the_template_variable_and_merges_the_models_own() -> None:
    policy = ScriptedReasoningModel(chat_template_kwargs={"custom": "kept"})
    config = TPOConfig(
        num_samples=2, max_iterations=1, thinking_stages=(), thinking_switch="thinking"
    )
    result = TPOChain(policy=policy, reward=Recorder().reward, config=config).invoke("q")
    for request in policy.requests:
        assert request.kwargs["chat_template_kwargs"] == {"custom": "kept", "thinking": False}
    assert all(c.thinking is None for c in result.candidates)  # it was told not to think


def test_a_switch_the_policy_cannot_take_is_a_warning() -> None:
    policy = ScriptedReasoningModel()
    config = TPOConfig(
        num_samples=2,
        max_iterations=1,
        thinking_stages=("sample",),
        thinking_switch="reasoning_effort",
    )
    result = TPOChain(policy=policy, reward=Recorder().reward, config=config).invoke("q")
    assert sum("takes no a reasoning_effort field" in w for w in result.warnings) == 1
    assert all("reasoning_effort" not in r.kwargs for r in policy.requests)


def test_thinking_settings_can_change_per_call() -> None:
    policy = ScriptedReasoningModelWithN()
    chain = TPOChain(policy=policy, reward=Recorder().reward, config=TPOConfig(num_samples=2))
    chain.invoke("q", {"configurable": {"thinking_stages": ["critique"], "max_iterations": 1}})
    asked = {r.stage: r.kwargs["chat_template_kwargs"]["enable_thinking"] for r in policy.requests}
    assert asked == {"sample": False, "critique": True, "suggest": False, "rewrite": False}


# -- usage ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("model_class", [ScriptedReasoningModel, ScriptedReasoningModelWithN])
def test_usage_separates_thinking_and_answer_tokens(
    model_class: type[ScriptedReasoningModel],
) -> None:
    policy = model_class()
    config = TPOConfig(num_samples=2, max_iterations=1, thinking_stages=("sample",), seed=6)
    result = TPOChain(policy=policy, reward=Recorder().reward, config=config).invoke("q")
    usage = result.usage
    thought_words = 13 * 2  # the default thought is 13 words; only the samples think
    assert usage["reasoning_tokens"] == thought_words
    assert usage["reasoning_tokens"] + usage["answer_tokens"] == usage["output_tokens"]


# -- what goes back to the model -----------------------------------------------------------------


def test_earlier_turns_lose_their_thinking() -> None:
    policy = ScriptedReasoningModelWithN()
    chain = TPOChain(policy=policy, reward=Recorder().reward, config=TPOConfig(num_samples=2))
    chain.invoke(
        [
            HumanMessage("First question?"),
            AIMessage(
                "<think>old secret thought</think>Old answer.",
                additional_kwargs={"reasoning_content": "another secret thought"},
            ),
            HumanMessage("Second question?"),
        ]
    )
    sent = sent_text(policy)
    assert "Old answer." in sent
    assert "secret thought" not in sent


def test_drafts_keep_their_thinking_out_of_the_prompts() -> None:
    policy = ScriptedReasoningModelWithN()
    chain = TPOChain(
        policy=policy, reward=FunctionReward(lambda q, r: 100.0 if "Draft" in r else 0.0)
    )
    result = chain.invoke(
        {"query": "q", "drafts": ["<think>draft secret</think>Draft answer.", "<think>cut"]},
        {"configurable": {"num_samples": 2, "max_iterations": 1}},
    )
    assert result.response == "Draft answer."
    draft = next(c for c in result.candidates if c.text == "Draft answer.")
    assert draft.thinking == "draft secret"
    assert "draft secret" not in sent_text(policy)
    assert result.thinking_cutoffs >= 1
    assert any("held thinking and no answer" in w for w in result.warnings)


# -- behind the chat-model interface and the command ------------------------------------------


def test_tpo_chat_model_answers_without_thinking() -> None:
    policy = ScriptedReasoningModelWithN(thinking_form="content_blocks")
    chain = TPOChain(
        policy=policy, reward=Recorder().reward, config=TPOConfig(num_samples=2, max_iterations=1)
    )
    reply = TPOChatModel(chain=chain, return_full_result=True).invoke("Why?")
    assert reply.text and THINKING_MARK not in reply.text
    assert not any(b.get("type") == "reasoning" for b in reply.content_blocks)
    candidates: list[dict[str, Any]] = reply.response_metadata["tpo_result"]["candidates"]
    assert all(THINKING_MARK in c["thinking"] for c in candidates)
    usage = reply.usage_metadata
    assert usage is not None and usage["output_token_details"]["reasoning"] > 0


def test_tpo_run_json_keeps_the_thinking_and_prints_a_clean_answer(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = ScriptedReasoningModelWithN(cut_every=3)
    monkeypatch.setattr(models, "load_policy", lambda args: policy)
    monkeypatch.setattr(models, "load_reward", lambda args, p: Recorder().reward)
    assert main(["run", "Why?", "-n", "3", "-d", "1", "--json", "--quiet"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert THINKING_MARK not in result["response"]
    assert all(THINKING_MARK in c["thinking"] for c in result["candidates"])
    assert result["thinking_cutoffs"] > 0
    assert main(["run", "Why?", "-n", "3", "-d", "1", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "not scored:" in printed and "out of tokens while thinking" in printed
    assert THINKING_MARK not in printed
