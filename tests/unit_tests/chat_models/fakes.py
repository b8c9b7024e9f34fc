"""Stand-ins for vLLM engines: the same surface ChatVLLM uses, no vLLM needed."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any


class FakeTokenizer:
    """One token per whitespace-separated word; a plain-text chat template."""

    def apply_chat_template(
        self, messages: list[dict[str, str]], *, tokenize: bool, add_generation_prompt: bool
    ) -> str:
        assert not tokenize
        text = " ".join(f"<{m['role']}> {m['content']}" for m in messages)
        return text + (" <assistant>" if add_generation_prompt else "")

    def encode(self, text: str, *, add_special_tokens: bool) -> list[int]:
        assert not add_special_tokens
        return [len(word) for word in text.split()]


@dataclass
class FakeModelConfig:
    model: str = "fake/model"
    served_model_name: str | None = None
    max_model_len: int = 64

    def get_diff_sampling_param(self) -> dict[str, Any]:
        return {"temperature": 0.6}


def _output(prompt: dict[str, Any], params: Any, index: int) -> SimpleNamespace:
    tokens = min(params.max_tokens, 3)
    completions = [
        SimpleNamespace(
            index=k,
            text=f"reply {index}.{k} t={params.temperature}",
            token_ids=list(range(tokens)),
            finish_reason="length" if tokens == params.max_tokens else "stop",
            stop_reason=None,
        )
        for k in reversed(range(params.n))  # out of order on purpose
    ]
    return SimpleNamespace(
        prompt_token_ids=prompt["prompt_token_ids"], outputs=completions, finished=True
    )


@dataclass
class FakeAsyncEngine:
    """Like vLLM's AsyncLLM: an async-generator `generate` per request."""

    model_config: FakeModelConfig = field(default_factory=FakeModelConfig)
    requests: list[tuple[dict[str, Any], Any]] = field(default_factory=list)
    shut_down: bool = False

    def get_tokenizer(self) -> FakeTokenizer:
        return FakeTokenizer()

    async def generate(
        self, prompt: dict[str, Any], sampling_params: Any, request_id: str
    ) -> AsyncIterator[Any]:
        self.requests.append((prompt, sampling_params))
        if not getattr(sampling_params, "delta", False):
            yield _output(prompt, sampling_params, len(self.requests) - 1)
            return
        words = ["one ", "two ", "three"][: sampling_params.max_tokens]
        for k, word in enumerate(words):
            completion = SimpleNamespace(
                index=0, text=word, token_ids=[k], finish_reason="stop", stop_reason=None
            )
            yield SimpleNamespace(
                prompt_token_ids=prompt["prompt_token_ids"],
                outputs=[completion],
                finished=k == len(words) - 1,
            )

    def shutdown(self) -> None:
        self.shut_down = True


@dataclass
class FakeOfflineEngine:
    """Like `vllm.LLM`: a blocking `generate` over a list of prompts."""

    llm_engine: Any = field(default_factory=lambda: SimpleNamespace(model_config=FakeModelConfig()))
    calls: list[int] = field(default_factory=list)
    delay: float = 0.0

    def get_tokenizer(self) -> FakeTokenizer:
        return FakeTokenizer()

    def generate(
        self, prompts: Sequence[dict[str, Any]], params: Sequence[Any], *, use_tqdm: bool
    ) -> list[Any]:
        self.calls.append(len(prompts))
        if self.delay:
            threading.Event().wait(self.delay)
        return [_output(p, sp, i) for i, (p, sp) in enumerate(zip(prompts, params, strict=True))]
