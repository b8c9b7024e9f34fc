"""RemoteRewardModel against a real vLLM server (pooling runner) on the default checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.requires("vllm")]


@pytest.mark.parametrize("endpoint", ["classify", "pooling"])
def test_served_scores_equal_transformers_scores(
    reward_server: str, reward_dir: Path, hf_reward: Any, pairs: list[Any], endpoint: str
) -> None:
    from langchain_tpo.reward_models import RemoteRewardModel

    reward = RemoteRewardModel(
        f"{reward_server}/v1",
        model="default-reward",
        tokenizer=str(reward_dir),
        endpoint=endpoint,
        max_length=256,
    )
    assert reward.score(pairs) == pytest.approx(hf_reward.score(pairs), abs=1e-3)


async def test_served_scores_async(
    reward_server: str, reward_dir: Path, hf_reward: Any, pairs: list[Any]
) -> None:
    from langchain_tpo.reward_models import RemoteRewardModel

    reward = RemoteRewardModel(
        reward_server, model="default-reward", tokenizer=str(reward_dir), max_length=256
    )
    assert await reward.ascore(pairs[:3]) == pytest.approx(hf_reward.score(pairs[:3]), abs=1e-3)


def test_unknown_model_is_a_server_error(reward_server: str, reward_dir: Path) -> None:
    from langchain_tpo.reward_models import RemoteRewardModel, RewardServerError

    reward = RemoteRewardModel(
        reward_server, model="no-such-model", tokenizer=str(reward_dir), max_retries=0
    )
    with pytest.raises(RewardServerError, match=r"HTTP 404"):
        reward.score([("hi", "hello")])


def test_stopped_server_is_a_clear_error(reward_dir: Path) -> None:
    import socket

    from langchain_tpo.reward_models import RemoteRewardModel, RewardServerError

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    reward = RemoteRewardModel(
        f"http://127.0.0.1:{port}",
        model="m",
        tokenizer=str(reward_dir),
        max_retries=1,
        retry_backoff=0.01,
    )
    with pytest.raises(RewardServerError, match="could not reach"):
        reward.score([("hi", "hello")])
