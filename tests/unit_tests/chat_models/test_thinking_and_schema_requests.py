"""What ChatVLLM and ChatTransformers do with a request's chat template kwargs and schema."""

from __future__ import annotations

import copy
import sys
import types
from dataclasses import dataclass, field
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from langchain_tpo import TPOChain, TPOConfig
from langchain_tpo.chat_models import ChatVLLM
from langchain_tpo.reward_models import FunctionReward
from tests.unit_tests.chat_models.fakes import FakeAsyncEngine, FakeTokenizer
from tests.unit_tests.chat_models.test_transformers import tiny_chat  # noqa: F401 (a fixture)


class TemplateTokenizer(FakeTokenizer):
    """The fake tokenizer, writing the chat template variables it gets into the prompt."""

    def apply_chat_template(  # type: ignore[override]
        self,
        messages: list[dict[str, str]],
        *,
        tokenize: bool,
        add_generation_prompt: bool,
        **kw: Any,
    ) -> str:
        text = super().apply_chat_template(
            messages, tokenize=tokenize, add_generation_prompt=add_generation_prompt
        )
        return text + "".join(f" {k}={v}" for k, v in sorted(kw.items()))


@dataclass
class TemplateEngine(FakeAsyncEngine):
    prompts: list[str] = field(default_factory=list)

    def get_tokenizer(self) -> TemplateTokenizer:
        engine = self

        class Recording(TemplateTokenizer):
            def apply_chat_template(self, messages: Any, **kwargs: Any) -> str:  # type: ignore[override]
                text = super().apply_chat_template(messages, **kwargs)
                engine.prompts.append(text)
                return text

        return Recording()


@pytest.fixture
def fake_vllm(monkeypatch: pytest.MonkeyPatch) -> None:
    """Just enough of `vllm` for `_sampling_params`: plain records of what it builds."""

    @dataclass
    class StructuredOutputsParams:
        json: Any = None
        json_object: bool | None = None

    class SamplingParams(types.SimpleNamespace):
        pass

    sampling = types.ModuleType("vllm.sampling_params")
    sampling.RequestOutputKind = types.SimpleNamespace(DELTA="delta", FINAL_ONLY="final")  # type: ignore[attr-defined]
    sampling.StructuredOutputsParams = StructuredOutputsParams  # type: ignore[attr-defined]
    root = types.ModuleType("vllm")
    root.SamplingParams = SamplingParams  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vllm", root)
    monkeypatch.setitem(sys.modules, "vllm.sampling_params", sampling)


def test_chat_vllm_passes_template_kwargs_merged_over_its_own(fake_vllm: None) -> None:
    engine = TemplateEngine()
    chat = ChatVLLM(engine=engine, max_tokens=4, chat_template_kwargs={"custom": 1})
    chat.invoke([HumanMessage("hi")])
    chat.invoke([HumanMessage("hi")], chat_template_kwargs={"enable_thinking": False})
    assert engine.prompts[0].endswith("<assistant> custom=1")
    assert engine.prompts[1].endswith("<assistant> custom=1 enable_thinking=False")
    # Template variables are not sampling parameters.
    assert not hasattr(engine.requests[1][1], "chat_template_kwargs")


def test_chat_vllm_turns_a_schema_dict_into_structured_outputs(fake_vllm: None) -> None:
    engine = TemplateEngine()
    chat = ChatVLLM(engine=engine, max_tokens=4)
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    chat.invoke([HumanMessage("hi")], structured_outputs={"json": schema}, thinking_token_budget=7)
    params = engine.requests[0][1]
    assert type(params.structured_outputs).__name__ == "StructuredOutputsParams"
    assert params.structured_outputs.json == schema
    assert params.thinking_token_budget == 7


def test_tpo_asks_chat_vllm_for_the_schema_and_the_thinking_setting(fake_vllm: None) -> None:
    engine = TemplateEngine()

    class Person:  # a JSON schema dict is enough here
        schema = {
            "title": "Person",
            "type": "object",
            "properties": {"name": {"type": "string"}},
            "required": ["name"],
        }

    chain = TPOChain(
        policy=ChatVLLM(engine=engine, max_tokens=4),
        reward=FunctionReward(lambda q, r: 0.0),
        config=TPOConfig(
            num_samples=2, max_iterations=0, thinking_stages=("sample",), thinking_budget=16
        ),
        answer_schema=Person.schema,
    )
    result = chain.invoke("Name someone.")
    params = engine.requests[0][1]
    assert params.structured_outputs.json["required"] == ["name"]
    assert params.thinking_token_budget == 16 and params.max_tokens == 20
    assert engine.prompts[0].endswith("enable_thinking=True")
    # The fake engine's replies are no JSON: every one is counted, none scored.
    assert result.invalid_outputs == 2 and result.parsed is None


def test_chat_transformers_passes_template_kwargs(tiny_chat: Any) -> None:  # noqa: F811
    from langchain_tpo.chat_models import ChatTransformers

    tokenizer = copy.deepcopy(tiny_chat.tokenizer)
    tokenizer.chat_template = (
        "{% for m in messages %}<{{ m['role'] }}> {{ m['content'] }} {% endfor %}"
        "{% if enable_thinking is false %}<system> {% endif %}"
        "{% if add_generation_prompt %}<assistant> {% endif %}"
    )

    def prompt_tokens(chat: Any, **kwargs: Any) -> int:
        usage = chat.invoke([HumanMessage("hello")], **kwargs).usage_metadata
        return int(usage["input_tokens"])

    chat = ChatTransformers(model=tiny_chat.model, tokenizer=tokenizer, max_tokens=2)
    thinking = prompt_tokens(chat)
    assert prompt_tokens(chat, chat_template_kwargs={"enable_thinking": False}) == thinking + 1
    quiet = ChatTransformers(
        model=tiny_chat.model,
        tokenizer=tokenizer,
        max_tokens=2,
        chat_template_kwargs={"enable_thinking": False},
    )
    assert prompt_tokens(quiet) == thinking + 1
    assert prompt_tokens(quiet, chat_template_kwargs={"enable_thinking": True}) == thinking
