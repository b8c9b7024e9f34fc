"""Run the `tpo` command in-process on scripted models instead of the real defaults."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from langchain_tpo.cli import models
from langchain_tpo.reward_models import FunctionReward
from langchain_tpo.testing import ScriptedChatModel


@pytest.fixture(autouse=True)
def scripted_models(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedChatModel]:
    policy = ScriptedChatModel()
    loaded: list[argparse.Namespace] = []

    def load_policy(args: argparse.Namespace) -> ScriptedChatModel:
        loaded.append(args)
        return policy

    monkeypatch.setattr(models, "load_policy", load_policy)
    monkeypatch.setattr(
        models, "load_reward", lambda args, policy: FunctionReward(lambda q, r: float(len(r)))
    )
    yield policy
