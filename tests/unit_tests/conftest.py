"""Fixtures shared by the unit tests: scripted policies and a length reward, no network."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import pytest_socket

from langchain_tpo.reward_models import FunctionReward
from langchain_tpo.testing import ScriptedChatModel, ScriptedChatModelWithN


@pytest.fixture
def policy() -> ScriptedChatModel:
    return ScriptedChatModel()


@pytest.fixture
def policy_with_n() -> ScriptedChatModelWithN:
    return ScriptedChatModelWithN()


@pytest.fixture
def length_reward() -> FunctionReward:
    return FunctionReward(lambda query, response: float(len(response)))


@pytest.fixture(autouse=True)
def _no_network() -> Iterator[None]:
    """Unit tests must not touch the network; unix sockets stay open for asyncio."""
    pytest_socket.disable_socket(allow_unix_socket=True)
    yield
    pytest_socket.enable_socket()
