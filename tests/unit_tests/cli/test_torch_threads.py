"""How many threads `tpo` gives torch: all cores when idle, the free ones when busy."""

from __future__ import annotations

import sys
import types

import pytest

from langchain_tpo.cli import models


@pytest.mark.parametrize(
    ("cores", "load", "threads"),
    [
        (2, 0.2, 2),  # idle: every core
        (2, 0.99, 2),
        (2, 1.0, 1),  # half busy: the free core
        (2, 40.0, 1),  # overloaded: still one
        (8, 3.0, 8),
        (8, 5.0, 3),
    ],
)
def test_threads_follow_the_load(cores: int, load: float, threads: int) -> None:
    assert models.torch_threads(cores, load) == threads


class _FakeTorch(types.ModuleType):
    def __init__(self) -> None:
        super().__init__("torch")
        self.threads: list[int] = []

    def set_num_threads(self, n: int) -> None:
        self.threads.append(n)


def test_the_users_omp_num_threads_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _FakeTorch()
    monkeypatch.setitem(sys.modules, "torch", fake)
    monkeypatch.setattr(models, "torch_threads", lambda: 1)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    models._set_torch_threads()
    assert fake.threads == []
    monkeypatch.delenv("OMP_NUM_THREADS")
    models._set_torch_threads()
    assert fake.threads == [1]
