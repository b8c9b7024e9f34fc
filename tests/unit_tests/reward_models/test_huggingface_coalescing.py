"""HuggingFaceRewardModel coalesces concurrent async calls: one batch at a time, same scores."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.unit_tests.reward_models.tiny_models import score_calls, tiny_classifier, tiny_tokenizer

pytest.importorskip("torch")
pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def parts() -> tuple[Any, Any]:
    return tiny_classifier(), tiny_tokenizer()


def _reward(parts: tuple[Any, Any], **fields: Any) -> Any:
    from langchain_tpo.reward_models import HuggingFaceRewardModel

    model, tokenizer = parts
    return HuggingFaceRewardModel(model=model, tokenizer=tokenizer, **fields)


def test_coalescing_is_on_by_default_one_batch_at_a_time(parts: tuple[Any, Any]) -> None:
    reward = _reward(parts)
    assert reward.batch_window_ms == 5.0
    assert reward.max_batches_in_flight == 1


async def test_32_concurrent_calls_get_exactly_the_scores_of_calls_scored_alone(
    parts: tuple[Any, Any],
) -> None:
    calls = score_calls(32, 5)
    # One pair per forward: no float rounding from shared forwards, so equality is exact and
    # any mix-up of pairs, order or slices between callers would show.
    alone = _reward(parts, batch_size=1, batch_window_ms=None)
    expected = [alone.score(call) for call in calls]
    coalesced = _reward(parts, batch_size=1)
    got = await asyncio.gather(*(coalesced.ascore(call) for call in calls))
    assert got == expected
    counts = coalesced.score_counts()
    assert counts.score_calls == 32
    assert counts.batches * 4 <= counts.score_calls


async def test_shared_forwards_move_scores_by_float_rounding_only(parts: tuple[Any, Any]) -> None:
    calls = score_calls(16, 5, seed=1)
    alone = _reward(parts, batch_window_ms=None)
    expected = [alone.score(call) for call in calls]
    coalesced = _reward(parts)
    got = await asyncio.gather(*(coalesced.ascore(call) for call in calls))
    assert coalesced.score_counts().batches < 16
    for row, reference in zip(got, expected, strict=True):
        assert row == pytest.approx(reference, rel=1e-6, abs=1e-6)


def test_from_model_id_takes_the_coalescing_settings(parts: tuple[Any, Any], tmp_path: Any) -> None:
    from langchain_tpo.reward_models import HuggingFaceRewardModel

    model, tokenizer = parts
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    reward = HuggingFaceRewardModel.from_model_id(
        tmp_path, device="cpu", batch_window_ms=2, max_batch_pairs=64, max_batches_in_flight=2
    )
    assert (reward.batch_window_ms, reward.max_batch_pairs, reward.max_batches_in_flight) == (
        2,
        64,
        2,
    )
