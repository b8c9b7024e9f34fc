"""Engines the project started are shut down once: by close(), or at interpreter exit."""

from __future__ import annotations

import gc
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from langchain_tpo import _vllm_engine
from langchain_tpo._vllm_engine import (
    AsyncEngineRunner,
    EngineOwnership,
    OfflineEngineRunner,
)
from tests.unit_tests.chat_models.fakes import FakeAsyncEngine


class ExitHooks:
    """Stands in for `atexit`: records hooks, and runs them as the interpreter would."""

    def __init__(self) -> None:
        self.hooks: list[Callable[[], None]] = []

    def register(self, hook: Callable[[], None]) -> None:
        self.hooks.append(hook)

    def unregister(self, hook: Callable[[], None]) -> None:
        self.hooks = [h for h in self.hooks if h is not hook]

    def exit(self) -> None:
        for hook in reversed(self.hooks):
            hook()


@pytest.fixture
def exit_hooks(monkeypatch: pytest.MonkeyPatch) -> ExitHooks:
    hooks = ExitHooks()
    monkeypatch.setattr(_vllm_engine, "atexit", hooks)
    return hooks


def test_unclosed_engine_is_shut_down_at_exit(exit_hooks: ExitHooks) -> None:
    calls: list[str] = []
    ownership = EngineOwnership(lambda: calls.append("shutdown"))
    exit_hooks.exit()
    assert calls == ["shutdown"]
    assert ownership.closed


def test_close_is_idempotent_and_forgets_the_exit_hook(exit_hooks: ExitHooks) -> None:
    calls: list[str] = []
    ownership = EngineOwnership(lambda: calls.append("shutdown"))
    ownership.close()
    ownership.close()
    assert exit_hooks.hooks == []
    exit_hooks.exit()
    assert calls == ["shutdown"]


def test_the_exit_hook_does_not_keep_an_engine_alive(exit_hooks: ExitHooks) -> None:
    calls: list[str] = []
    EngineOwnership(lambda: calls.append("shutdown"))  # dropped at once
    gc.collect()
    exit_hooks.exit()
    assert calls == []


def test_a_failing_shutdown_at_exit_is_swallowed(exit_hooks: ExitHooks) -> None:
    def broken() -> None:
        raise RuntimeError("engine already gone")

    ownership = EngineOwnership(broken)
    exit_hooks.exit()  # no exception escapes while the interpreter exits
    assert ownership.closed


def test_async_runner_owning_its_engine(exit_hooks: ExitHooks) -> None:
    engine = FakeAsyncEngine()
    runner = AsyncEngineRunner(engine, owns_engine=True)
    assert runner.owns_engine
    exit_hooks.exit()
    assert engine.shut_down and not runner.owns_engine
    engine.shut_down = False
    runner.close()  # already shut down: nothing more happens
    engine.shutdown()  # nor when vLLM's __del__ calls it again during interpreter teardown
    assert not engine.shut_down


def test_wrapped_engines_are_left_alone(exit_hooks: ExitHooks) -> None:
    engine = FakeAsyncEngine()
    runner = AsyncEngineRunner(engine)
    runner.close()
    exit_hooks.exit()
    assert not engine.shut_down and exit_hooks.hooks == []


def test_offline_runner_shuts_the_engine_core_down_once(exit_hooks: ExitHooks) -> None:
    calls: list[str] = []
    core = SimpleNamespace(shutdown=lambda: calls.append("shutdown"))
    llm: Any = SimpleNamespace(llm_engine=SimpleNamespace(engine_core=core))
    runner = OfflineEngineRunner(llm, owns_engine=True)
    runner.close()
    runner.close()
    exit_hooks.exit()
    assert calls == ["shutdown"]
