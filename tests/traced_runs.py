"""Collect the runs a traced call makes, to check what a LangSmith user would see."""

from __future__ import annotations

from langchain_core.tracers.base import BaseTracer
from langchain_core.tracers.schemas import Run


class Collector(BaseTracer):
    """Keeps every finished run (roots and children), in the order they finished."""

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[Run] = []

    def _persist_run(self, run: Run) -> None:
        pass

    def _end_trace(self, run: Run) -> None:
        super()._end_trace(run)
        self.runs.append(run)


def all_runs(root: Run) -> list[Run]:
    """`root` and every run below it, depth first."""
    return [root, *(run for child in root.child_runs for run in all_runs(child))]
