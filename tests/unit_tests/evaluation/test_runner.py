from collections.abc import Iterator
from pathlib import Path

import pytest

from langchain_tpo.evaluation import (
    PromptMismatchError,
    PromptRow,
    ResultsFile,
    evaluate,
    mode_config,
    read_results,
    run_settings,
)
from langchain_tpo.evaluation.controls import CONTROL_TEXTS, controls_fingerprint
from langchain_tpo.reward_models import FunctionReward
from langchain_tpo.testing import ScriptedChatModel


def settings(mode: str = "base", seed: int = 0) -> dict[str, object]:
    return run_settings(mode, mode_config(mode), policy="scripted", reward="length", seed=seed)


async def test_rows_are_read_as_prompts_finish_not_up_front(
    tmp_path: Path, length_reward: FunctionReward
) -> None:
    pulled = 0
    ahead: list[int] = []

    def rows() -> Iterator[PromptRow]:
        nonlocal pulled
        for i in range(40):
            pulled += 1
            yield PromptRow(f"p{i}", f"question {i}")

    def progress(done: int, total: int, row: PromptRow, result: object) -> None:
        ahead.append(pulled - done)

    run = settings()
    with ResultsFile(tmp_path / "out.jsonl", run) as out:
        summary = await evaluate(
            ScriptedChatModel(delay=0.01),
            length_reward,
            rows(),
            out,
            config=mode_config("base"),
            run=run,
            concurrency=4,
            progress=progress,
        )
    assert summary.finished == 40
    assert max(ahead) <= 4 + 1  # in flight, plus the one read while waiting
    assert len(read_results(tmp_path / "out.jsonl")) == 40


async def test_a_prompt_changed_under_an_id_stops_the_run(
    tmp_path: Path, length_reward: FunctionReward
) -> None:
    run = settings()
    path = tmp_path / "out.jsonl"
    kwargs = {"config": mode_config("base"), "run": run}
    with ResultsFile(path, run) as out:
        await evaluate(ScriptedChatModel(), length_reward, [PromptRow("a", "x")], out, **kwargs)
    with ResultsFile(path, run) as out, pytest.raises(PromptMismatchError):
        await evaluate(ScriptedChatModel(), length_reward, [PromptRow("a", "y")], out, **kwargs)


async def test_the_seed_comes_from_the_run_settings(
    tmp_path: Path, length_reward: FunctionReward
) -> None:
    run = settings(seed=3)
    with (
        ResultsFile(tmp_path / "out.jsonl", run) as out,
        pytest.raises(ValueError, match="seed=4 differs"),
    ):
        await evaluate(
            ScriptedChatModel(), length_reward, [], out, config=mode_config("base"), run=run, seed=4
        )


async def test_rows_store_the_control_texts_scores(
    tmp_path: Path, length_reward: FunctionReward
) -> None:
    run = settings()
    with ResultsFile(tmp_path / "out.jsonl", run) as out:
        await evaluate(
            ScriptedChatModel(),
            length_reward,
            [PromptRow("a", "x")],
            out,
            config=mode_config("base"),
            run=run,
        )
    (row,) = read_results(tmp_path / "out.jsonl")
    assert row["controls"] == {name: float(len(text)) for name, text in CONTROL_TEXTS.items()}
    assert row["controls_sha256"] == controls_fingerprint()


async def test_other_controls_than_recorded_are_refused(
    tmp_path: Path, length_reward: FunctionReward
) -> None:
    run = settings()
    with (
        ResultsFile(tmp_path / "out.jsonl", run) as out,
        pytest.raises(ValueError, match="control texts"),
    ):
        await evaluate(
            ScriptedChatModel(),
            length_reward,
            [],
            out,
            config=mode_config("base"),
            run=run,
            controls={"x": "y"},
        )
