"""Results files written by hand, so report tests need no model."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from langchain_tpo.evaluation import ResultsFile
from langchain_tpo.evaluation.fingerprints import text_sha256

WriteRun = Callable[..., Path]


def settings_for(mode: str, benchmark: str | None = None, **extra: Any) -> dict[str, Any]:
    n = {"base": 1, "bon": 6}.get(mode, 2)
    return {
        "mode": mode,
        "num_samples": extra.pop("num_samples", n),
        "max_iterations": 0 if mode in {"base", "bon"} else extra.pop("max_iterations", 2),
        "max_tokens": 16,
        "seed": 0,
        "benchmark": benchmark,
        **extra,
    }


@pytest.fixture
def write_run(tmp_path: Path) -> WriteRun:
    def write(
        name: str,
        mode: str,
        rows: Sequence[dict[str, Any]],
        benchmark: str | None = None,
        shard: str | None = None,
        **extra: Any,
    ) -> Path:
        path = tmp_path / name
        settings = settings_for(mode, benchmark, **extra)
        with ResultsFile(path, settings, extra={"shard": shard} if shard else None) as out:
            for row in rows:
                prompt = row.get("prompt", f"prompt of {row['id']}")
                out.append(
                    {
                        "prompt": prompt,
                        "prompt_sha256": text_sha256(prompt),
                        **settings,
                        "response": "a plain answer with enough words",
                        **row,
                    }
                )
        return path

    return write
