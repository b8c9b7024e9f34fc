"""Splitting a reply into thinking and answer, and asking a backend to think or not."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage
from pydantic import Field

from langchain_tpo.testing import ScriptedChatModel
from langchain_tpo.thinking import answer_only, split_reply, thinking_kwargs

# -- split_reply --------------------------------------------------------------------------------


def test_a_leading_think_block_is_thinking() -> None:
    reply = split_reply("  <think>\nWhat is asked?\n</think>\n\nParis.")
    assert (reply.answer.strip(), reply.thinking) == ("Paris.", "What is asked?")
    assert not reply.cut_in_thinking


def test_a_block_the_template_opened_ends_at_the_closing_tag() -> None:
    reply = split_reply("The user wants a city.</think>\n\nParis.")
    assert (reply.answer.strip(), reply.thinking) == ("Paris.", "The user wants a city.")


def test_an_unclosed_block_is_a_reply_cut_inside_its_thinking() -> None:
    reply = split_reply("<think>First I should consider")
    assert reply.answer == "" and reply.thinking == "First I should consider"
    assert reply.cut_in_thinking


def test_an_empty_block_before_an_answer_is_no_thinking() -> None:
    # What Qwen3 writes with enable_thinking=False.
    reply = split_reply("<think>\n\n</think>\n\nParis.")
    assert (reply.answer.strip(), reply.thinking) == ("Paris.", None)


def test_text_without_tags_is_all_answer() -> None:
    reply = split_reply("Use <b>tags</b> sparingly; a think block starts with <think>.")
    assert reply.thinking is None
    assert reply.answer.startswith("Use <b>")


def test_tags_are_configurable() -> None:
    reply = split_reply("[[reason]]hmm[[/reason]]Yes.", ("[[reason]]", "[[/reason]]"))
    assert (reply.answer, reply.thinking) == ("Yes.", "hmm")
    assert split_reply("<think>hmm</think>Yes.", ("[[reason]]", "[[/reason]]")).thinking is None


def test_reasoning_content_is_thinking() -> None:
    message = AIMessage("Paris.", additional_kwargs={"reasoning_content": "Capital of France."})
    reply = split_reply(message)
    assert (reply.answer, reply.thinking) == ("Paris.", "Capital of France.")
    cut = split_reply(AIMessage("", additional_kwargs={"reasoning_content": "Capital of"}))
    assert cut.cut_in_thinking


def test_vllm_reasoning_field_is_thinking() -> None:
    message = AIMessage("Paris.", additional_kwargs={"reasoning": "Capital of France."})
    assert split_reply(message).thinking == "Capital of France."


def test_reasoning_content_blocks_are_thinking() -> None:
    v1 = AIMessage(
        [{"type": "reasoning", "reasoning": "Capital?"}, {"type": "text", "text": "Paris."}]
    )
    anthropic = AIMessage(
        [{"type": "thinking", "thinking": "Capital?"}, {"type": "text", "text": "Paris."}]
    )
    for message in (v1, anthropic):
        reply = split_reply(message)
        assert (reply.answer, reply.thinking) == ("Paris.", "Capital?")
    only = split_reply(AIMessage([{"type": "reasoning", "reasoning": "Capital"}]))
    assert only.cut_in_thinking


def test_thinking_in_two_forms_is_kept_whole() -> None:
    message = AIMessage("<think>inline</think>Paris.", additional_kwargs={"reasoning": "beside"})
    assert split_reply(message).thinking == "beside\n\ninline"


def test_answer_only_drops_the_thinking_of_an_assistant_turn() -> None:
    turn = AIMessage("<think>secret</think> Paris.", additional_kwargs={"reasoning_content": "x"})
    clean = answer_only(turn)
    assert clean.content == "Paris." and "reasoning_content" not in clean.additional_kwargs
    human = HumanMessage("<think>a user's text is theirs</think>")
    assert answer_only(human) is human
    plain = AIMessage("Paris.")
    assert answer_only(plain) is plain


# -- thinking_kwargs ----------------------------------------------------------------------------


class _TemplateModel(ScriptedChatModel):
    """Takes chat_template_kwargs, like ChatVLLM and ChatTransformers."""


class _VLLMLike(ScriptedChatModel):
    sampling_kwargs: dict[str, Any] = Field(default_factory=dict)


class _ServerLike(BaseChatModel):
    """The fields of ChatOpenAI that matter here."""

    extra_body: dict[str, Any] | None = None
    reasoning_effort: str | None = None

    @property
    def _llm_type(self) -> str:
        return "server-like"

    def _generate(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


def test_template_models_get_chat_template_kwargs_merged() -> None:
    model = _TemplateModel(chat_template_kwargs={"custom": 1})
    kwargs, understood = thinking_kwargs(
        model,
        {"chat_template_kwargs": {"bound": 2}},
        enabled=False,
        switch="enable_thinking",
        budget=None,
    )
    assert understood
    assert kwargs == {"chat_template_kwargs": {"custom": 1, "bound": 2, "enable_thinking": False}}
    kwargs, _ = thinking_kwargs(model, {}, enabled=True, switch="thinking", budget=None)
    assert kwargs["chat_template_kwargs"]["thinking"] is True


def test_servers_get_the_setting_in_extra_body_merged_with_theirs() -> None:
    model = _ServerLike(extra_body={"top_k": 5, "chat_template_kwargs": {"custom": 1}})
    kwargs, understood = thinking_kwargs(
        model, {}, enabled=True, switch="enable_thinking", budget=64
    )
    assert understood
    assert kwargs == {
        "extra_body": {
            "top_k": 5,
            "chat_template_kwargs": {"custom": 1, "enable_thinking": True},
            "thinking_token_budget": 64,
        }
    }


def test_reasoning_effort_switch_turns_thinking_off_with_none() -> None:
    model = _ServerLike(reasoning_effort="high")
    off, understood = thinking_kwargs(
        model, {}, enabled=False, switch="reasoning_effort", budget=None
    )
    assert understood and off == {"reasoning_effort": "none"}
    on, _ = thinking_kwargs(model, {}, enabled=True, switch="reasoning_effort", budget=None)
    assert on == {}  # the model's own effort stays


def test_vllm_gets_a_thinking_budget_but_not_where_thinking_is_off() -> None:
    model = _VLLMLike()
    on, _ = thinking_kwargs(model, {}, enabled=None, switch="enable_thinking", budget=32)
    assert on == {"thinking_token_budget": 32}
    off, _ = thinking_kwargs(model, {}, enabled=False, switch="enable_thinking", budget=32)
    assert "thinking_token_budget" not in off


def test_a_model_that_cannot_be_told_is_reported() -> None:
    class Plain(BaseChatModel):
        @property
        def _llm_type(self) -> str:
            return "plain"

        def _generate(self, *args: Any, **kwargs: Any) -> Any:
            raise NotImplementedError

    kwargs, understood = thinking_kwargs(
        Plain(), {}, enabled=False, switch="enable_thinking", budget=None
    )
    assert kwargs == {} and not understood
    _, asked_nothing = thinking_kwargs(
        Plain(), {}, enabled=None, switch="enable_thinking", budget=None
    )
    assert asked_nothing


@pytest.mark.parametrize("module", ["langchain_tpo.thinking", "langchain_tpo.structured"])
def test_the_new_modules_import_nothing_heavy(module: str) -> None:
    code = (
        f"import sys, {module};"
        "heavy = [m for m in ('torch', 'transformers', 'vllm', 'langchain_openai', 'openai', "
        "'jsonschema') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
