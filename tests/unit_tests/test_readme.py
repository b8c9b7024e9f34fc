"""Every ```python block of README.md runs, in order, as a reader would paste them.

The blocks share one namespace (each recipe continues the ones before it) and nothing else:
a name a recipe uses must be defined in README itself. Only model loading is replaced, so the
blocks run without a model, a GPU or a network:

- `langchain_tpo.chat_models.load_default_policy()` and `langchain_openai.ChatOpenAI(...)` give
  a `ScriptedToolCallingModel` (it samples, critiques, rewrites and calls tools);
- `langchain_tpo.chat_models.ChatOpenAICompatible(...)` gives a `ScriptedReasoningModelWithN`
  (it thinks before every reply, with its thinking beside the answer, as a server with a
  reasoning parser sends it);
- `langchain_tpo.reward_models.load_default_reward()` gives a reward that prefers longer
  answers.

The `tpo serve` examples need a live server: their ```py block and `curl` command run in
`tests/server_tests/test_readme_serve.py`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import langchain_tpo.chat_models
import langchain_tpo.reward_models
from langchain_tpo.reward_models import FunctionReward
from langchain_tpo.testing import ScriptedReasoningModelWithN, ScriptedToolCallingModel

README = Path(__file__).resolve().parents[2] / "README.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def python_blocks() -> list[tuple[int, str]]:
    """(first line number, code) of every python block, in order."""
    text = README.read_text()
    return [(text[: m.start(1)].count("\n") + 1, m.group(1)) for m in _BLOCK.finditer(text)]


@pytest.fixture
def scripted_models(monkeypatch: pytest.MonkeyPatch) -> None:
    def policy(*args: Any, **kwargs: Any) -> ScriptedToolCallingModel:
        return ScriptedToolCallingModel()

    def reward(*args: Any, **kwargs: Any) -> FunctionReward:
        return FunctionReward(lambda query, response: float(len(response)))

    monkeypatch.setattr(langchain_tpo.chat_models, "load_default_policy", policy, raising=False)
    monkeypatch.setattr(langchain_tpo.reward_models, "load_default_reward", reward, raising=False)

    def reasoning_server(*args: Any, **kwargs: Any) -> ScriptedReasoningModelWithN:
        return ScriptedReasoningModelWithN(thinking_form="reasoning_content")

    monkeypatch.setattr(
        langchain_tpo.chat_models, "ChatOpenAICompatible", reasoning_server, raising=False
    )
    openai = pytest.importorskip("langchain_openai")
    monkeypatch.setattr(openai, "ChatOpenAI", policy)


def test_readme_has_python_blocks() -> None:
    assert len(python_blocks()) >= 8


@pytest.mark.parametrize("upto", range(len(python_blocks())))
def test_readme_block_runs(upto: int, scripted_models: None) -> None:
    namespace: dict[str, Any] = {"__name__": "readme"}
    for line, code in python_blocks()[: upto + 1]:
        # Blank lines first, so a traceback names the block's line in README.md.
        exec(compile("\n" * (line - 1) + code, str(README), "exec"), namespace)
