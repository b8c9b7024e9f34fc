"""Which prompts of a dataset a run answers: a seeded sample, a limit, a shard, as a stream.

The order of operations is fixed: rows a benchmark excludes are dropped, then `sample` K rows
are drawn with a seeded generator (kept in file order), then the first `limit` are kept, then
`shard` I/K keeps the rows whose id hashes to shard I. So K machines running the same command
with `--shard 1/K` ... `--shard K/K` answer disjoint parts of exactly the prompts one machine
would, whatever order the rows are read in, and `tpo report` merges their files.

Drawing a sample reads the file twice (first to count the usable rows); nothing but the drawn
positions is held in memory.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from langchain_tpo.evaluation.datasets import DatasetProblem, PromptRow

Stream = Iterator[PromptRow | DatasetProblem]


@dataclass(frozen=True)
class Shard:
    """Part `index` (1-based) of `count` parts of a dataset, split by a hash of each id."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """`"2/4"` -> Shard(2, 4); a clear ValueError for anything else."""
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if not match:
            msg = f"--shard takes I/K, such as 1/4 (part I of K); got {text!r}."
            raise ValueError(msg)
        index, count = int(match.group(1)), int(match.group(2))
        if not 1 <= index <= count:
            msg = f"--shard {text}: I must be between 1 and K; got {index} of {count}."
            raise ValueError(msg)
        return cls(index, count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, row_id: str) -> bool:
        """Whether the row with this id belongs to this shard (the same on every machine)."""
        digest = hashlib.sha256(row_id.encode("utf-8")).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index - 1


@dataclass(frozen=True)
class Selection:
    """How to pick a run's prompts from a stream of rows."""

    sample: int | None = None
    """Draw this many rows at random (seeded by `sample_seed`); None keeps every row."""
    sample_seed: int = 0
    limit: int | None = None
    """Then keep the first `limit` rows."""
    shard: Shard | None = None
    """Then keep the rows of this shard."""
    keep: Callable[[PromptRow], bool] | None = None
    """Rows a benchmark counts (applied first); None keeps every row."""

    def __post_init__(self) -> None:
        for name in ("sample", "limit"):
            value = getattr(self, name)
            if value is not None and value < 1:
                msg = f"--{name} must be at least 1; got {value}."
                raise ValueError(msg)

    def rows(self, read: Callable[[], Stream]) -> Stream:
        """The selected rows, in file order, with the problems met reading the file up to the
        last row selected.

        Args:
            read: Opens a fresh stream of the dataset (called twice when sampling).
        """
        chosen: set[int] | None = None
        if self.sample is not None:
            usable = sum(1 for row in self._kept(read()) if isinstance(row, PromptRow))
            if self.sample < usable:
                chosen = set(random.Random(self.sample_seed).sample(range(usable), self.sample))
        position = kept = 0
        for row in self._kept(read()):
            if isinstance(row, DatasetProblem):
                yield row
                continue
            position += 1
            if chosen is not None and position - 1 not in chosen:
                continue
            kept += 1
            if self.limit is not None and kept > self.limit:
                return
            if self.shard is None or self.shard.holds(row.id):
                yield row

    def _kept(self, stream: Stream) -> Stream:
        if self.keep is None:
            yield from stream
            return
        for row in stream:
            if isinstance(row, DatasetProblem) or self.keep(row):
                yield row

    def describe(self) -> str:
        """`sample 30 (seed 0), limit 10, shard 1/4`, or `all rows`."""
        parts = []
        if self.sample is not None:
            parts.append(f"sample {self.sample} (seed {self.sample_seed})")
        if self.limit is not None:
            parts.append(f"limit {self.limit}")
        if self.shard is not None:
            parts.append(f"shard {self.shard}")
        return ", ".join(parts) or "all rows"
