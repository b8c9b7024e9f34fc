"""sample_pipeline_chat on a tiny random transformers model built in memory (no hub)."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from langchain_tpo.chat_models.huggingface import is_pipeline_chat_model, sample_pipeline_chat
from langchain_tpo.sampling import SamplingParams, sample
from langchain_tpo.testing import ScriptedChatModelWithN

WORDS = ["<eos>", "<user>", "<system>", "<assistant>", "hello", "name", "a", "fruit", "colour"]
WORDS += [f"w{i}" for i in range(40)]
TEMPLATE = (
    "{% for m in messages %}<{{ m['role'] }}> {{ m['content'] }} {% endfor %}"
    "{% if add_generation_prompt %}<assistant> {% endif %}"
)


@pytest.fixture(scope="module")
def tiny_chat() -> Any:
    pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    tokenizers = pytest.importorskip("tokenizers")
    hf = pytest.importorskip("langchain_huggingface")

    backend = tokenizers.Tokenizer(
        tokenizers.models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="w0")
    )
    backend.pre_tokenizer = tokenizers.pre_tokenizers.WhitespaceSplit()
    backend.decoder = tokenizers.decoders.WordPiece()
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token="<eos>", chat_template=TEMPLATE
    )
    transformers.set_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=len(WORDS),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=128,
        eos_token_id=0,
        bos_token_id=0,
    )
    model = transformers.LlamaForCausalLM(config).eval()
    pipe = transformers.pipeline("text-generation", model=model, tokenizer=tokenizer)
    llm = hf.HuggingFacePipeline(pipeline=pipe, model_id="tiny")
    return hf.ChatHuggingFace(llm=llm, tokenizer=tokenizer, model_id="tiny")


def test_other_models_are_not_pipeline_models() -> None:
    assert not is_pipeline_chat_model(ScriptedChatModelWithN())
    assert not is_pipeline_chat_model(object())


def test_refuses_other_models() -> None:
    with pytest.raises(ValueError, match="ChatHuggingFace"):
        sample_pipeline_chat(ScriptedChatModelWithN(), [[HumanMessage("hi")]], 2)


def test_n_samples_per_conversation_in_one_call(tiny_chat: Any) -> None:
    assert is_pipeline_chat_model(tiny_chat)
    conversations: list[list[BaseMessage]] = [
        [SystemMessage("colour"), HumanMessage("hello")],
        [HumanMessage("name a fruit")],
    ]
    texts, usage = sample_pipeline_chat(tiny_chat, conversations, 3, temperature=1.0, max_tokens=4)
    assert [len(t) for t in texts] == [3, 3]
    # Prompts: "<system> colour <user> hello <assistant>" and "<user> name a fruit <assistant>".
    assert usage["input_tokens"] == 5 + 5
    assert 0 < usage["output_tokens"] <= 2 * 3 * 4
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    for reply in texts[0] + texts[1]:
        assert "<assistant>" not in reply  # the prompt is stripped


def test_seed_repeats_and_greedy_repeats_one_reply(tiny_chat: Any) -> None:
    conversations = [[HumanMessage("hello")]]
    first, _ = sample_pipeline_chat(tiny_chat, conversations, 4, max_tokens=5, seed=3)
    again, _ = sample_pipeline_chat(tiny_chat, conversations, 4, max_tokens=5, seed=3)
    assert first == again
    greedy, usage = sample_pipeline_chat(tiny_chat, conversations, 3, temperature=0, max_tokens=5)
    assert len(set(greedy[0])) == 1 and len(greedy[0]) == 3
    assert usage["output_tokens"] <= 5  # generated once


def test_sampling_dispatches_to_the_pipeline(tiny_chat: Any) -> None:
    samples = sample(tiny_chat, [HumanMessage("hello")], 3, SamplingParams(max_tokens=3))
    assert len(samples.texts) == 3 and samples.requests == 1
