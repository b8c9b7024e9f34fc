"""ChatTransformers on a tiny random transformers model built in memory (no hub)."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import HumanMessage, SystemMessage

from langchain_tpo.errors import ContextLengthError
from langchain_tpo.sampling import SamplingParams, is_native, sample

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
    from langchain_tpo.chat_models import ChatTransformers

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
        max_position_embeddings=24,
        eos_token_id=0,
        bos_token_id=0,
    )
    model = transformers.LlamaForCausalLM(config).eval()
    return ChatTransformers(model=model, tokenizer=tokenizer, model_id="tiny", temperature=1.0)


def test_n_samples_in_one_call_with_usage(tiny_chat: Any) -> None:
    result = tiny_chat.generate(
        [[SystemMessage("colour"), HumanMessage("hello")]], n=3, max_tokens=4
    )
    generations = result.generations[0]
    assert len(generations) == 3
    usage = result.llm_output["token_usage"]
    # "<system> colour <user> hello <assistant>": 5 prompt tokens, counted once.
    assert usage["prompt_tokens"] == 5
    assert 0 < usage["completion_tokens"] <= 3 * 4
    for generation in generations:
        # The prompt (5 tokens) is not echoed: only the reply's 4 tokens at most.
        assert len(generation.text.split()) <= 4
        assert generation.message.usage_metadata["input_tokens"] == 5


def test_seed_repeats_and_greedy_repeats_one_reply(tiny_chat: Any) -> None:
    messages = [HumanMessage("hello")]
    first = [
        g.text for g in tiny_chat.generate([messages], n=4, max_tokens=5, seed=3).generations[0]
    ]
    again = [
        g.text for g in tiny_chat.generate([messages], n=4, max_tokens=5, seed=3).generations[0]
    ]
    assert first == again
    greedy = tiny_chat.generate([messages], n=3, temperature=0, max_tokens=5)
    texts = [g.text for g in greedy.generations[0]]
    assert len(set(texts)) == 1 and len(texts) == 3
    assert greedy.llm_output["token_usage"]["completion_tokens"] <= 3 * 5


def test_prompt_longer_than_the_context_is_refused_before_generating(tiny_chat: Any) -> None:
    with pytest.raises(ContextLengthError, match="at most 24 tokens"):
        tiny_chat.invoke("hello " * 30)


def test_reply_is_capped_to_the_room_left(tiny_chat: Any) -> None:
    result = tiny_chat.generate([[HumanMessage("hello " * 18)]], n=1, max_tokens=50, temperature=0)
    assert result.llm_output["token_usage"]["total_tokens"] <= 24


def test_tpo_samples_natively_and_the_request_is_traced(tiny_chat: Any) -> None:
    starts: list[Any] = []

    class Recorder(BaseCallbackHandler):
        def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
            starts.append(kwargs.get("metadata"))

    assert is_native(tiny_chat)
    samples = sample(
        tiny_chat,
        [HumanMessage("hello")],
        3,
        SamplingParams(max_tokens=3),
        {"callbacks": [Recorder()]},
    )
    assert len(samples.texts) == 3 and samples.requests == 1
    assert samples.usage["input_tokens"] == 3
    assert len(starts) == 1 and starts[0]["tpo_stage"] == "sample"


async def test_async_generation_runs_off_the_event_loop(tiny_chat: Any) -> None:
    reply = await tiny_chat.ainvoke("hello", max_tokens=3)
    assert reply.usage_metadata["input_tokens"] == 3


def test_runs_at_once_is_one_on_a_cpu_unless_set(tiny_chat: Any) -> None:
    from langchain_tpo.concurrent_runs import runs_at_once

    assert tiny_chat.runs_at_once() == 1
    runs, why = runs_at_once(tiny_chat, usual=32)
    assert runs == 1 and why is not None and "admitted 1 at a time" in why
    assert tiny_chat.model_copy(update={"concurrent_runs": 5}).runs_at_once() == 5
