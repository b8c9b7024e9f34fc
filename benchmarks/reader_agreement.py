"""How often a reward agrees with the blind readers, on the policy's own answers.

Every committed blind read (`benchmarks/blind_read/*/` with `key.json` naming its two runs and
the reader's `verdicts.json`, see `side_by_side.py`) is a labelled set of the embedded policy's
real answers: for each prompt a preferred answer (or a tie) and which answers are not answers
at all. This script scores both answers of every pair again with the default reward, part by
part, and counts for the total and for each part's raw score:

- `agrees`: pairs with a preference (ties left out) where the part scores the reader's choice
  higher;
- `answer > non-answer`: pairs where the reader called exactly one answer a NON-ANSWER and the
  part scores the other one higher.

The everyday families of `train_default_reward.py --evaluate-only` measure a reward on
hand-written answers and non-answers; this measures it where TPO uses it, on the candidates a
135M policy writes, whose flaws are subtler (a wrong number, a drift to a neighbouring topic).
The answer length is reported beside the parts as a baseline any reward should beat.

Run:  python benchmarks/reader_agreement.py [--backend transformers] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from side_by_side import finals, read_verdicts

READS = Path(__file__).parent / "blind_read"
ROOT = Path(__file__).parent.parent


@dataclass(frozen=True)
class ReadPair:
    """One pair of a blind read: the prompt, answers A and B, and the reader's verdict."""

    read: str
    prompt: str
    a: str
    b: str
    better: str
    labels: tuple[str, str]


def read_pairs(reads: Path = READS, root: Path = ROOT) -> list[ReadPair]:
    """Every pair of every read under `reads` whose key names its runs and has verdicts."""
    pairs: list[ReadPair] = []
    for directory in sorted(p for p in reads.iterdir() if p.is_dir()):
        if not ((directory / "key.json").is_file() and (directory / "verdicts.json").is_file()):
            continue
        named = json.loads((directory / "key.json").read_text(encoding="utf-8"))
        if not (named.get("a") and named.get("b")):
            continue  # a read of reselected answers, not of two runs' finals
        key, verdicts = read_verdicts(directory)
        runs = {side: finals(root / key[side]) for side in ("a", "b")}
        for number, pair in sorted(key["pairs"].items(), key=lambda item: int(item[0])):
            verdict = verdicts[number]
            a = runs[pair["A"]["run"]][pair["id"]]
            b = runs[pair["B"]["run"]][pair["id"]]
            pairs.append(
                ReadPair(
                    read=directory.name,
                    prompt=a["prompt"],
                    a=a["text"],
                    b=b["text"],
                    better=verdict["better"],
                    labels=(verdict["A"], verdict["B"]),
                )
            )
    return pairs


def agreement(
    pairs: list[ReadPair], score: Callable[[ReadPair, str], float]
) -> dict[str, float | int]:
    """Agreement of `score(pair, "a" | "b")` with the readers (see the module docstring)."""
    agrees = preferences = answer_wins = mixed = 0
    for pair in pairs:
        a, b = score(pair, "a"), score(pair, "b")
        if pair.better in ("A", "B"):
            preferences += 1
            agrees += (a > b) == (pair.better == "A")
        if set(pair.labels) == {"ANSWER", "NON-ANSWER"}:
            mixed += 1
            answer_wins += (a > b) == (pair.labels[0] == "ANSWER")
    return {
        "agrees": agrees,
        "preferences": preferences,
        "answer_wins": answer_wins,
        "mixed": mixed,
    }


def share(count: int | float, total: int | float) -> str:
    """`count/total (ratio)`, or `-` when there is nothing to count."""
    return f"{count}/{total} ({count / total:.2f})" if total else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["transformers", "vllm"], default="transformers")
    parser.add_argument("--relevance-weight", type=float, help="default: the shipped weight")
    parser.add_argument("--similarity-weight", type=float, help="default: the shipped weight")
    parser.add_argument("--json-out", type=Path, help="also write the table as JSON")
    args = parser.parse_args()

    from langchain_tpo.reward_models.default import load_default_reward

    pairs = read_pairs()
    reward = load_default_reward(
        args.backend,
        relevance_weight=args.relevance_weight,
        similarity_weight=args.similarity_weight,
    )
    texts = [(p.prompt, text) for p in pairs for text in (p.a, p.b)]
    try:
        results = dict(zip(texts, reward.evaluate(texts), strict=True))
    finally:
        close = getattr(reward, "close", None)
        if callable(close):
            close()  # a vLLM classifier's engine

    def part(name: str) -> Callable[[ReadPair, str], float]:
        def score(pair: ReadPair, side: str) -> float:
            result = results[(pair.prompt, pair.a if side == "a" else pair.b)]
            if name == "total":
                return result.score
            return (result.components or {})[name]

        return score

    first = next(iter(results.values()))
    names = ["total", *sorted(first.components or {})]
    scorers: dict[str, Callable[[ReadPair, str], float]] = {name: part(name) for name in names}
    scorers["length (characters)"] = lambda pair, side: len(pair.a if side == "a" else pair.b)
    reads = sorted({p.read for p in pairs})
    print(f"{len(pairs)} pairs from {len(reads)} blind reads: {', '.join(reads)}")
    print(f"reward: default ({args.backend}), weights {getattr(reward, 'weights', None)}\n")
    table: dict[str, Any] = {}
    print(f"| {'score':28} | agrees with reader | answer > non-answer |")
    print(f"|{'-' * 30}|--------------------|---------------------|")
    for name, scorer in scorers.items():
        row = agreement(pairs, scorer)
        table[name] = row
        agrees = share(row["agrees"], row["preferences"])
        wins = share(row["answer_wins"], row["mixed"])
        print(f"| {name:28} | {agrees:18} | {wins:19} |")
    if args.json_out:
        record = {"reads": reads, "pairs": len(pairs), "backend": args.backend, "table": table}
        args.json_out.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
