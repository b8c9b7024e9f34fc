"""Results files as runs: shards of one run merged, each run named for the report.

Files whose headers carry the same settings are one run (the shards `tpo eval --shard I/K`
wrote on different machines, or a run continued into a second file); their rows are merged by
id, the first row of an id kept. Every other file is a run of its own. A run is named after its
file without the shard suffix (`tpo.shard-2-of-4.jsonl` -> `tpo`), and, when two runs would
share a name, after its folder too (`hh_rlhf/tpo`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_tpo.evaluation.results import iter_results, results_header

_SHARD_SUFFIX = re.compile(r"[.\-_]shard[.\-_]?\d+[.\-_]?of[.\-_]?\d+$", re.IGNORECASE)


def shard_file_name(mode: str, shard: str | None) -> str:
    """`tpo.jsonl`, or `tpo.shard-2-of-4.jsonl` for shard "2/4"."""
    if shard is None:
        return f"{mode}.jsonl"
    index, count = shard.split("/")
    return f"{mode}.shard-{index}-of-{count}.jsonl"


@dataclass
class Run:
    """The rows of one run, from one or more results files."""

    label: str
    rows: list[dict[str, Any]]
    paths: list[Path] = field(default_factory=list)
    settings: dict[str, Any] | None = None
    """The header settings (None for files written before headers)."""
    notes: list[str] = field(default_factory=list)
    """What merging found (duplicate ids across shards...)."""

    def setting(self, key: str) -> Any:
        if self.settings is not None and key in self.settings:
            return self.settings[key]
        return self.rows[0].get(key) if self.rows else None

    @property
    def mode(self) -> str:
        return str(self.setting("mode") or "?")

    @property
    def benchmark(self) -> str | None:
        value = self.setting("benchmark")
        return str(value) if value else None

    @property
    def name(self) -> str:
        """The label without its folder: what the paper-style table calls the run's row."""
        return self.label.rsplit("/", 1)[-1]

    @property
    def is_reference_line(self) -> bool:
        """Base and BoN runs have no iterations: a flat line in the training-curve plot."""
        return self.mode in {"base", "bon"}

    @property
    def samples_per_prompt(self) -> int:
        """Policy samples per prompt: N x (D + 1) for the loop, N for BoN, 1 for base."""
        n = int(self.setting("num_samples") or 1)
        d = 0 if self.is_reference_line else int(self.setting("max_iterations") or 0)
        return n * (d + 1)

    def describe(self) -> str:
        """`tpo, N=5, D=2` / `bon, N=15` / `base`."""
        if self.mode == "base":
            return "base"
        if self.mode == "bon":
            return f"bon, N={self.setting('num_samples')}"
        return f"{self.mode}, N={self.setting('num_samples')}, D={self.setting('max_iterations')}"


def file_stem(path: Path) -> str:
    """The file name without extension and shard suffix: `tpo.shard-2-of-4.jsonl` -> `tpo`."""
    return _SHARD_SUFFIX.sub("", path.stem)


def load_runs(paths: Sequence[str | Path]) -> list[Run]:
    """One Run per distinct run among the files (shards merged), in the order first given.

    Raises:
        ValueError: No files, a file that is not a results file, a bad row (named by file and
            line), or a run with no rows yet.
        FileNotFoundError: A file does not exist.
    """
    if not paths:
        msg = "Give at least one results file (written by `tpo eval --out FILE`)."
        raise ValueError(msg)
    groups: list[tuple[dict[str, Any] | None, list[Path]]] = []
    for given in paths:
        path = Path(given)
        header = results_header(path)
        settings = header.settings if header is not None else None
        for group_settings, members in groups:
            if settings is not None and group_settings == settings:
                if path not in members:
                    members.append(path)
                break
        else:
            groups.append((settings, [path]))

    runs = []
    for settings, members in groups:
        rows: list[dict[str, Any]] = []
        seen: dict[str, str] = {}
        notes = []
        for path in members:
            for row in iter_results(path):
                row_id = str(row["id"])
                if row_id in seen:
                    notes.append(f"{row_id} is in {seen[row_id]} and {path}; the first is kept")
                    continue
                seen[row_id] = str(path)
                rows.append(row)
        if not rows:
            names = ", ".join(str(p) for p in members)
            msg = f"{names} holds no results yet; run `tpo eval` first."
            raise ValueError(msg)
        runs.append(Run(file_stem(members[0]), rows, members, settings, notes))
    _disambiguate(runs)
    return runs


def _disambiguate(runs: list[Run]) -> None:
    """Prefix the folder to labels used by more than one run; then number what still clashes."""
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.label] = counts.get(run.label, 0) + 1
    for run in runs:
        if counts[run.label] > 1 and run.paths[0].parent.name:
            run.label = f"{run.paths[0].parent.name}/{run.label}"
    seen: dict[str, int] = {}
    for run in runs:
        if run.label in seen:
            seen[run.label] += 1
            run.label = f"{run.label} ({seen[run.label]})"
        else:
            seen[run.label] = 1
