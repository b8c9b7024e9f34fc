"""The held-out checks of the default reward: what `train_default_reward.py` prints.

Each check is a list of pairs whose first text should score higher; its figure is the share of
pairs where it does. Nothing here is ever trained on:

- the everyday set (`reward_everyday`): a real answer against each non-answer family (two of
  them never trained on at all) and against another question's answer; bar 0.90 per family
  and 0.85 for relevance (issue 22);
- AlpacaEval's pairwise GPT-4 judgments (CC BY-NC 4.0: measured, never trained on), one per
  instruction: agreement with the judge (bar 0.60), and, since judges favour length, the
  agreement on pairs whose lengths are within 25% of each other and the mean of the agreement
  where the judge chose the longer and where it chose the shorter output (length-balanced);
- HH-RLHF harmless-base held-out pairs (ids divisible by 5): chosen over rejected (bar 0.60);
- TPO's own failure modes on held-out HH rows: a fixed review sentence, and the default
  policy's scaffolded rewrites from committed benchmark runs against its own samples.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scripts import reward_data as data
from scripts import reward_negatives as negatives
from scripts.reward_everyday import MISREAD, RELEVANCE, EverydaySet, everyday_pairs
from scripts.reward_sources import Judgment

REPO = Path(__file__).resolve().parent.parent
BENCHMARK_RESULTS = [
    REPO / "benchmarks" / "quality" / "before_issue_10" / f"{m}.jsonl" for m in ("tpo", "revision")
]
LENGTH_MATCH = 1.25
"""Outputs whose character lengths are within this ratio count as length-matched."""

Item = tuple[str, str]
"""(raw HH-RLHF-style dialogue, response): what the reward scores."""


@dataclass(frozen=True)
class Check:
    """A named set of pairs whose chosen text should score higher."""

    name: str
    pairs: list[data.Pair]
    bar: float | None = None
    note: str = ""


@dataclass(frozen=True)
class Result:
    """How one check came out."""

    name: str
    pairs: int
    wins: int
    mean_chosen: float
    mean_rejected: float
    bar: float | None
    note: str

    @property
    def share(self) -> float:
        """Share of pairs where the chosen text scored strictly higher."""
        return self.wins / self.pairs if self.pairs else float("nan")

    @property
    def passed(self) -> bool | None:
        """Whether the share reaches the bar (None without a bar)."""
        return None if self.bar is None else self.share >= self.bar


def load_everyday_rows() -> list[data.Row]:
    """The everyday questions (for checks that no training prompt is one of them)."""
    from scripts.reward_everyday import load_everyday

    return load_everyday().rows


def one_turn(prompt: str) -> str:
    """A single request as a raw dialogue."""
    return f"\n\nHuman: {prompt}\n\nAssistant:"


def everyday_checks(everyday: EverydaySet) -> list[Check]:
    """One check per non-answer family, then relevance and misread answers."""
    checks = []
    for family, pairs in everyday_pairs(everyday).items():
        converted = [
            data.Pair(p.row_id, one_turn(p.question), p.answer, p.other, family) for p in pairs
        ]
        note = "never trained" if family in everyday.never_trained else ""
        if family == RELEVANCE:
            name, bar = "everyday: answer > another question's answer (relevance)", 0.85
        elif family == MISREAD:
            # Written after issue 22's bars, so it has none of its own: reported, not held.
            name, bar = "everyday: answer > a neighbouring question's answer (misread)", None
            note = "never trained"
        else:
            name, bar = f"everyday: answer > {family}", 0.90
        checks.append(Check(name, converted, bar, note))
    return checks


def alpaca_eval_checks(judgments: Sequence[Judgment]) -> list[Check]:
    """Agreement with AlpacaEval's judge: all pairs, length-matched, and by which length won."""
    pairs, matched, longer, shorter = [], [], [], []
    for j in judgments:
        if j.winner is None:
            continue
        won, lost = (j.output_2, j.output_1) if j.winner == 2 else (j.output_1, j.output_2)
        row = "alpaca_" + hashlib.sha256(j.instruction.encode()).hexdigest()[:10]
        pair = data.Pair(row, one_turn(j.instruction), won, lost, "alpaca_eval")
        pairs.append(pair)
        a, b = len(won), len(lost)
        if max(a, b) <= LENGTH_MATCH * min(a, b):
            matched.append(pair)
        (longer if a > b else shorter).append(pair)
    return [
        Check("AlpacaEval: the judge's choice scores higher", pairs, 0.60, "never trained"),
        Check(f"AlpacaEval, lengths within {LENGTH_MATCH:g}x: the judge's choice", matched),
        Check("AlpacaEval, the judge chose the longer output", longer),
        Check("AlpacaEval, the judge chose the shorter output", shorter),
    ]


def hh_checks(rows: Sequence[data.Row], eval_rows: int) -> list[Check]:
    """HH-RLHF held-out pairs, and TPO's failure modes on held-out HH rows."""
    held = data.held_out_rows(rows, eval_rows)
    checks = [
        Check("HH-RLHF harmless held-out: chosen > rejected", data.hh_pairs(held), 0.60),
        Check(
            "HH held-out rows: answer > a fixed review sentence",
            data.fixed_text_pairs(held, negatives.FIXED_REVIEW_SENTENCE, "fixed"),
        ),
    ]
    benchmark = [pair for path in BENCHMARK_RESULTS if path.is_file()
                 for pair in benchmark_policy_pairs(path)]  # fmt: skip
    if benchmark:
        checks.append(
            Check("policy's own sample > its own scaffolded rewrite (benchmark runs)", benchmark)
        )
    return checks


def benchmark_policy_pairs(path: Path) -> list[data.Pair]:
    """From a committed benchmark run: each initial sample over each scaffolded rewrite.

    Both were written by the default policy for the same held-out HH prompt
    (`benchmarks/quality/before_issue_10/`): the samples the published rule calls answers (or
    refusals), and the rewrites it calls scaffolding.
    """
    from langchain_tpo.answer_kinds import answer_kind

    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if not data.is_held_out(record):
            continue
        context = one_turn(record["prompt"])
        candidates = record.get("candidates", [])
        samples = {c["text"].strip() for c in candidates if c["iteration"] < 0}
        rewrites = {c["text"].strip() for c in candidates if c["iteration"] >= 0} - samples
        answers = sorted(t for t in samples if answer_kind(t) in ("answer", "refusal"))
        scaffolds = sorted(t for t in rewrites if answer_kind(t) == "scaffolding")
        pairs += [data.Pair(record["id"], context, a, s, "benchmark")
                  for a in answers for s in scaffolds]  # fmt: skip
    return pairs


# ------------------------------------------------------------------------------ scoring
Scorer = Callable[[Sequence[Item]], np.ndarray]


def distinct_items(checks: Sequence[Check]) -> list[Item]:
    """Every (dialogue, text) the checks compare, once each, in first-seen order."""
    return list(
        dict.fromkeys(
            item
            for check in checks
            for pair in check.pairs
            for item in ((pair.context, pair.chosen), (pair.context, pair.rejected))
        )
    )


def run_checks(checks: Sequence[Check], scorer: Scorer) -> list[Result]:
    """Score every distinct text once, then count wins per check."""
    items = distinct_items(checks)
    scores = dict(zip(items, np.asarray(scorer(items)).tolist(), strict=True))
    results = []
    for check in checks:
        chosen = np.array([scores[(p.context, p.chosen)] for p in check.pairs])
        rejected = np.array([scores[(p.context, p.rejected)] for p in check.pairs])
        results.append(
            Result(
                check.name,
                len(check.pairs),
                int((chosen > rejected).sum()),
                float(chosen.mean()) if len(chosen) else float("nan"),
                float(rejected.mean()) if len(rejected) else float("nan"),
                check.bar,
                check.note,
            )
        )
    return results


def length_balanced(results: Sequence[Result]) -> float | None:
    """Mean agreement over the pairs where the judge chose the longer and the shorter output."""
    by_name = {r.name: r for r in results}
    longer = by_name.get("AlpacaEval, the judge chose the longer output")
    shorter = by_name.get("AlpacaEval, the judge chose the shorter output")
    if not longer or not shorter or not longer.pairs or not shorter.pairs:
        return None
    return (longer.share + shorter.share) / 2


def table(title: str, results: Sequence[Result]) -> str:
    """The report table, with the bar each figure is held to and whether it was met."""
    lines = [
        f"\n{title}",
        f"{'check':<68} {'pairs':>6} {'share':>6} {'bar':>5}  {'mean chosen':>11} "
        f"{'mean other':>10}  note",
    ]
    for r in results:
        bar = f"{r.bar:.2f}" if r.bar is not None else "-"
        verdict = {True: "met", False: "MISSED", None: ""}[r.passed]
        note = ", ".join(x for x in (verdict, r.note) if x)
        lines.append(
            f"{r.name:<68} {r.pairs:>6} {r.share:>6.3f} {bar:>5}  {r.mean_chosen:>+11.3f} "
            f"{r.mean_rejected:>+10.3f}  {note}"
        )
    balanced = length_balanced(results)
    if balanced is not None:
        lines.append(f"{'AlpacaEval, length-balanced agreement (mean of the two above)':<68} "
                     f"{'':>6} {balanced:>6.3f}")  # fmt: skip
    return "\n".join(lines)


def results_json(results: Sequence[Result]) -> list[dict[str, Any]]:
    """The results as provenance records."""
    out: list[dict[str, Any]] = [
        {
            "check": r.name,
            "pairs": r.pairs,
            "chosen_higher": r.wins,
            "share": round(r.share, 4),
            "bar": r.bar,
            "note": r.note,
            "mean_chosen_score": round(r.mean_chosen, 4),
            "mean_other_score": round(r.mean_rejected, 4),
        }
        for r in results
    ]
    balanced = length_balanced(results)
    if balanced is not None:
        out.append({"check": "AlpacaEval, length-balanced agreement", "share": round(balanced, 4)})
    return out
