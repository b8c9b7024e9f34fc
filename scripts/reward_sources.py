"""Readers of the public preference and answer data the default reward is trained or measured on.

Both sources are GitHub repositories; point the readers at a clone (a work tree) or at a bare
git directory (what the search tool's `fetch` brings). Nothing is downloaded here and nothing
from them is committed to this repository: the trainer records each file's repository, commit,
path and git blob id in the shipped provenance instead.

- tatsu-lab/alpaca_eval (code Apache-2.0, **data CC BY-NC 4.0**): pairwise judgments in
  `results/<model>/<annotator>/annotations.json`. Used for measurement only (see
  `scripts/training_data/LICENSES.md`): no shipped weight is fitted on it.
- lmarena/arena-hard-auto (Apache-2.0): the prompts of `data/arena-hard-v0.1/` and
  `data/arena-hard-v2.0/` (`question.jsonl`) and the answers of strong models under
  `model_answer/` (gpt-4-0314 for v0.1, o3-mini for v2.0).

Some files in these repositories are Git LFS pointers, and snapshots may lack the largest files;
the readers skip both.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LFS_POINTER = "version https://git-lfs.github.com/spec/v1"


class Snapshot:
    """Files of one repository at one commit, from a work tree or a bare git directory."""

    def __init__(self, path: Path, rev: str = "HEAD") -> None:
        self.path = Path(path)
        if not self.path.exists():
            msg = (
                f"{self.path} does not exist: clone the repository (or fetch its snapshot) and "
                "pass its directory"
            )
            raise FileNotFoundError(msg)
        self.bare = not (self.path / ".git").exists() and (self.path / "HEAD").is_file()
        self.rev = rev

    def _git(self, *args: str) -> str:
        flag = ["--git-dir", str(self.path)] if self.bare else ["-C", str(self.path)]
        return subprocess.run(
            ["git", *flag, *args], check=True, capture_output=True, text=True
        ).stdout

    @property
    def is_git(self) -> bool:
        """Whether the directory is a git repository (a work tree may be a plain copy)."""
        return self.bare or (self.path / ".git").exists()

    def commit(self) -> str | None:
        """The commit read, when the directory is a git repository."""
        return self._git("rev-parse", self.rev).strip() if self.is_git else None

    def blob(self, path: str) -> str | None:
        """The git blob id of a file, when the directory is a git repository."""
        return self._git("rev-parse", f"{self.rev}:{path}").strip() if self.is_git else None

    def list(self, prefix: str) -> list[str]:
        """Paths of files under `prefix`, sorted."""
        if self.bare:
            out = self._git("ls-tree", "-r", "--name-only", self.rev, "--", prefix)
            return sorted(line for line in out.splitlines() if line)
        root = self.path / prefix
        return sorted(str(p.relative_to(self.path)) for p in root.rglob("*") if p.is_file())

    def read(self, path: str) -> str | None:
        """A file's text, or None when its content is not here.

        Not here: a Git LFS pointer, or a blob a partial snapshot left out (the search tool's
        snapshots omit files of 4 MiB and more).
        """
        if self.bare:
            try:
                text = self._git("show", f"{self.rev}:{path}")
            except subprocess.CalledProcessError:
                return None
        else:
            text = (self.path / path).read_text(encoding="utf-8")
        return None if text.startswith(LFS_POINTER) else text

    def describe(self, path: str) -> dict[str, Any]:
        """Where a file came from, for provenance."""
        return {"path": path, "commit": self.commit(), "blob": self.blob(path)}


# ---------------------------------------------------------------------------- AlpacaEval
@dataclass(frozen=True)
class Judgment:
    """One pairwise judgment: the annotator preferred output 2 by `preference` - 1 (0 to 1)."""

    instruction: str
    output_1: str
    generator_1: str
    output_2: str
    generator_2: str
    preference: float
    annotator: str
    source: str

    @property
    def winner(self) -> int | None:
        """1 or 2, or None for a tie."""
        if self.preference == 1.5:
            return None
        return 2 if self.preference > 1.5 else 1


def alpaca_eval_annotation_files(snapshot: Snapshot) -> list[str]:
    """Every `annotations.json` under `results/`."""
    return [p for p in snapshot.list("results") if p.endswith("/annotations.json")]


def read_alpaca_eval_judgments(snapshot: Snapshot, path: str) -> list[Judgment]:
    """The usable judgments of one annotations file (none when it is an LFS pointer).

    Usable: both outputs are non-empty strings, they differ, and the preference is a number
    from 1 to 2.
    """
    text = snapshot.read(path)
    if text is None:
        return []
    annotator = path.split("/")[-2]
    judgments = []
    for record in json.loads(text):
        preference = record.get("preference")
        one, two = record.get("output_1"), record.get("output_2")
        if not isinstance(preference, int | float) or not 1 <= preference <= 2:
            continue
        if not (isinstance(one, str) and isinstance(two, str) and one.strip() and two.strip()):
            continue
        if one.strip() == two.strip():
            continue
        judgments.append(
            Judgment(
                str(record["instruction"]),
                one,
                str(record.get("generator_1", "")),
                two,
                str(record.get("generator_2", "")),
                float(preference),
                annotator,
                path,
            )
        )
    return judgments


def iter_alpaca_eval_judgments(snapshot: Snapshot) -> Iterator[Judgment]:
    """Every usable judgment of every annotations file, file by file in path order."""
    for path in alpaca_eval_annotation_files(snapshot):
        yield from read_alpaca_eval_judgments(snapshot, path)


# ---------------------------------------------------------------------------- Arena-Hard
ARENA_HARD_QUESTIONS = "data/arena-hard-{version}/question.jsonl"
ARENA_HARD_ANSWERS = "data/arena-hard-{version}/model_answer/{model}.jsonl"
ARENA_HARD_MODELS = {"v0.1": "gpt-4-0314", "v2.0": "o3-mini-2025-01-31"}


@dataclass(frozen=True)
class ArenaHardAnswer:
    """A strong model's answer to one Arena-Hard prompt."""

    uid: str
    cluster: str
    prompt: str
    answer: str
    model: str


def read_arena_hard(
    snapshot: Snapshot, version: str = "v0.1", model: str | None = None
) -> list[ArenaHardAnswer]:
    """The prompts of one Arena-Hard version with one model's answers, in question order.

    Args:
        snapshot: The arena-hard-auto repository.
        version: `"v0.1"` or `"v2.0"`.
        model: Whose answers; by default the strong model the version ships answers of.

    Raises:
        FileNotFoundError: The questions or the model's answers are missing or LFS pointers.
    """
    model = model or ARENA_HARD_MODELS.get(version, "")
    questions_path = ARENA_HARD_QUESTIONS.format(version=version)
    answers_path = ARENA_HARD_ANSWERS.format(version=version, model=model)
    questions = snapshot.read(questions_path)
    answers = snapshot.read(answers_path)
    if questions is None or answers is None:
        msg = f"{snapshot.path}: {questions_path} or {answers_path} is missing or an LFS pointer"
        raise FileNotFoundError(msg)
    by_uid: dict[str, str] = {}
    for line in answers.split("\n"):  # not splitlines: texts hold U+2028
        if not line.strip():
            continue
        record = json.loads(line)
        text = _arena_hard_answer_text(record)
        if text:
            by_uid[str(record["uid"])] = text
    out = []
    for line in questions.split("\n"):
        if not line.strip():
            continue
        q = json.loads(line)
        uid = str(q["uid"])
        if uid in by_uid:
            out.append(
                ArenaHardAnswer(uid, str(q.get("cluster", "")), q["prompt"], by_uid[uid], model)
            )
    return out


def _arena_hard_answer_text(record: dict[str, Any]) -> str:
    """The assistant's answer of one model-answer record (the first assistant message)."""
    for message in record.get("messages", []):
        if message.get("role") != "assistant":
            continue
        content = message.get("content")
        if isinstance(content, dict):
            content = content.get("answer")
        return content.strip() if isinstance(content, str) else ""
    return ""


def held_out_judgments(
    judgments: Iterator[Judgment] | list[Judgment],
    count: int,
    annotators: tuple[str, ...] = ("alpaca_eval_gpt4", "weighted_alpaca_eval_gpt4_turbo"),
    min_margin: float = 0.2,
) -> list[Judgment]:
    """At most one decisive judgment per instruction, for `count` instructions, by a fixed rule.

    Decisive: the annotator's preference is at least `min_margin` away from a tie (weighted
    annotators give probabilities). Instructions are taken in the order of a hash of their text
    and each gets the judgment its hash picks among its decisive ones, so the sample does not
    depend on file order and every run measures the same pairs.
    """
    import hashlib

    def digest(text: str) -> int:
        return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:12], 16)

    by_instruction: dict[str, list[Judgment]] = {}
    for judgment in judgments:
        if judgment.annotator in annotators and abs(judgment.preference - 1.5) >= min_margin:
            by_instruction.setdefault(judgment.instruction, []).append(judgment)
    chosen = []
    for instruction in sorted(by_instruction, key=digest)[:count]:
        candidates = sorted(
            by_instruction[instruction],
            key=lambda j: (
                j.source,
                j.generator_1,
                j.generator_2,
                j.output_1,
                j.output_2,
                j.preference,
            ),
        )
        chosen.append(candidates[digest(instruction + "|pick") % len(candidates)])
    return chosen
