"""What a reward model may return: one real number (or `Reward`) per pair, in a sequence."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from langchain_tpo.reward_models import Reward, RewardModel, RewardModelError
from langchain_tpo.reward_models.base import Pair


class Returns(RewardModel):
    """A reward model that returns a fixed object, whatever it is asked."""

    value: Any

    def _score(self, pairs: Sequence[Pair]) -> Sequence[float | Reward]:
        return self.value  # type: ignore[no-any-return]


PAIRS = [("q", "a"), ("q", "b")]


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({"a": 1.0, "b": 2.0}, "a dict"),
        ({0: 1.0, 1: 2.0}, "a dict"),  # numeric keys would pass the number check
        ("12", "a str"),  # two characters, two pairs
        (b"12", "a bytes"),
        ({1.0, 2.0}, "a set"),  # no order
    ],
)
def test_mappings_strings_and_sets_are_refused(value: Any, words: str) -> None:
    with pytest.raises(RewardModelError, match="sequence") as info:
        Returns(value=value).score(PAIRS)
    assert words in str(info.value)


@pytest.mark.parametrize(
    "value",
    [[1.0, 2], (1.0, 2.0), [Reward(1.0, "ok"), 2.0], iter([1.0, 2.0])],
)
def test_sequences_of_numbers_and_rewards_are_accepted(value: Any) -> None:
    assert Returns(value=value).score(PAIRS) == [1.0, 2.0]


async def test_async_path_refuses_a_dict_too() -> None:
    with pytest.raises(RewardModelError, match="dict"):
        await Returns(value={"a": 1.0, "b": 2.0}).ascore(PAIRS)
