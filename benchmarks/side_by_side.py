"""A blind side-by-side read of two runs' final answers, with the reward's verdicts beside.

    python benchmarks/side_by_side.py draw --a RUN_A.jsonl --b RUN_B.jsonl --count 30 \
        --seed 5 --out benchmarks/blind_read/NAME
    # a reader who sees only NAME/pairs.md writes NAME/verdicts.json:
    #   {"1": {"better": "A" | "B" | "TIE", "A": "ANSWER" | "NON-ANSWER",
    #          "B": "ANSWER" | "NON-ANSWER", "why": "..."}, ...}
    python benchmarks/side_by_side.py tally --dir benchmarks/blind_read/NAME

`draw` takes prompts both runs answered (seeded sample, in file order), puts the two final
answers in a random order per prompt, and writes `pairs.md` (what the reader sees: the prompt
and answers A and B, nothing about where they came from) and `key.json` (which run is which
side, and each answer's reward as its run recorded it). `tally` counts, by run, the reader's
preferences and non-answers, and how often the reward agreed with the reader.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections import Counter
from pathlib import Path
from typing import Any

from langchain_tpo.evaluation.results import iter_results

ANSWER_LABELS = """ANSWER (it answers the message, however roughly) or NON-ANSWER (it does not:
stalling, platitudes, comfort or advice unrelated to the question, deflecting to someone else,
restating the question, disclaimers about being an AI, refusing a harmless request, asking
back instead of answering, talk about an answer instead of one)"""
INSTRUCTIONS = """# {count} prompts, two answers each

For each prompt, two assistant answers (A and B) in random order. Read them as the person who
asked would. For each prompt write which answer is better for that person (A, B or TIE), and
label each answer {labels}.

Write the verdicts as JSON:
{{"1": {{"better": "A", "A": "ANSWER", "B": "NON-ANSWER", "why": "one sentence"}}, ...}}
"""


def fenced_block(text: str) -> list[str]:
    """`text` as a Markdown code block whose fence is longer than any run of backticks in it,
    so an answer that holds a code block of its own can't close the reader's block."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, text, fence]


def finals(path: Path) -> dict[str, dict[str, Any]]:
    """Each prompt's final answer and reward in one results file, by prompt id."""
    return {
        str(row["id"]): {"prompt": row["prompt"], "text": row["response"], "score": row["score"]}
        for row in iter_results(path)
        if row.get("response")
    }


def draw(args: argparse.Namespace) -> None:
    """Write pairs.md and key.json for a reader."""
    a, b = finals(args.a), finals(args.b)
    shared = [pid for pid in a if pid in b]
    rng = random.Random(args.seed)
    chosen = sorted(rng.sample(shared, min(args.count, len(shared))), key=shared.index)
    key, lines = {}, [INSTRUCTIONS.format(count=len(chosen), labels=ANSWER_LABELS)]
    for number, pid in enumerate(chosen, start=1):
        sides = [("a", a[pid]), ("b", b[pid])]
        rng.shuffle(sides)
        key[str(number)] = {
            "id": pid,
            "A": {"run": sides[0][0], "score": sides[0][1]["score"]},
            "B": {"run": sides[1][0], "score": sides[1][1]["score"]},
        }
        lines += [f"## Prompt {number}", "", f"**User:** {a[pid]['prompt']}", ""]
        for label, (_, answer) in zip("AB", sides, strict=True):
            lines += [f"**Answer {label}:**", "", *fenced_block(answer["text"].strip()), ""]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "pairs.md").write_text("\n".join(lines), encoding="utf-8")
    runs = {"a": str(args.a), "b": str(args.b), "seed": args.seed, "pairs": key}
    (args.out / "key.json").write_text(json.dumps(runs, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(chosen)} pairs to {args.out}/pairs.md (key in key.json)")


def read_verdicts(directory: Path) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """A read's key and its reader's verdicts: every pair judged, `better`, `A` and `B` in
    capitals."""
    key = json.loads((directory / "key.json").read_text(encoding="utf-8"))
    verdicts = json.loads((directory / "verdicts.json").read_text(encoding="utf-8"))
    missing = sorted(set(key["pairs"]) - set(verdicts), key=int)
    if missing:
        msg = f"verdicts.json has no verdict for pairs {missing}"
        raise SystemExit(msg)
    checked = {}
    for number in key["pairs"]:
        verdict = verdicts[number]
        better = str(verdict["better"]).upper()
        if better not in ("A", "B", "TIE"):
            msg = f"pair {number}: 'better' must be A, B or TIE, not {verdict['better']!r}"
            raise SystemExit(msg)
        checked[number] = {"better": better, **{side: str(verdict[side]).upper() for side in "AB"}}
    return key, checked


def tally(args: argparse.Namespace) -> dict[str, Any]:
    """Count the reader's verdicts by run; print and return them."""
    key, verdicts = read_verdicts(args.dir)
    preferred: Counter[str] = Counter()
    non_answers: Counter[str] = Counter()
    reward_agrees = reward_decided = 0
    for number, pair in key["pairs"].items():
        verdict = verdicts[number]
        better = verdict["better"]
        preferred[pair[better]["run"] if better != "TIE" else "tie"] += 1
        for side in "AB":
            if verdict[side] == "NON-ANSWER":
                non_answers[pair[side]["run"]] += 1
        if better != "TIE" and pair["A"]["score"] != pair["B"]["score"]:
            reward_decided += 1
            reward_better = "A" if pair["A"]["score"] > pair["B"]["score"] else "B"
            reward_agrees += reward_better == better
    total = len(key["pairs"])
    summary = {
        "pairs": total,
        "a": key["a"],
        "b": key["b"],
        "a_preferred": preferred["a"],
        "b_preferred": preferred["b"],
        "ties": preferred["tie"],
        "a_preferred_or_tied": preferred["a"] + preferred["tie"],
        "a_non_answers": non_answers["a"],
        "b_non_answers": non_answers["b"],
        "reward_agrees_with_reader": reward_agrees,
        "pairs_reader_and_reward_both_decided": reward_decided,
    }
    print(f"run a: {key['a']}\nrun b: {key['b']}")
    print(f"reader prefers a {preferred['a']}, b {preferred['b']}, ties {preferred['tie']} "
          f"(a preferred or tied: {summary['a_preferred_or_tied']} of {total})")  # fmt: skip
    print(f"non-answers: a {non_answers['a']}, b {non_answers['b']}")
    print(f"the reward picks the reader's choice in {reward_agrees} of {reward_decided} pairs "
          "where both decided")  # fmt: skip
    return summary


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    d = commands.add_parser("draw", help="write a blind sample for a reader")
    d.add_argument("--a", type=Path, required=True, help="results file of run a")
    d.add_argument("--b", type=Path, required=True, help="results file of run b")
    d.add_argument("--count", type=int, default=30)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--out", type=Path, required=True)
    t = commands.add_parser("tally", help="count a reader's verdicts")
    t.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args()
    if args.command == "draw":
        draw(args)
    else:
        tally(args)


if __name__ == "__main__":
    main()
