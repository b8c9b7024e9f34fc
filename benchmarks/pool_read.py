"""A blind read of every candidate TPO saw, to tell a reward's misses from the policy's.

A blind read of finals (`side_by_side.py`) counts the non-answers TPO returned. It cannot say
whose fault one is: the reward's, for ranking a non-answer above an answer in the pool, or the
policy's, for writing no answer to rank. This read labels every distinct candidate of each
prompt's pool (the N samples and every rewrite), shuffled, with no score or round shown:

    python benchmarks/pool_read.py draw --run RUN.jsonl --parts 2 --seed 5 \
        --out benchmarks/pool_read/NAME
    # a reader who sees only NAME/part-K.md writes NAME/labels-K.json:
    #   {"1": {"1": "ANSWER", "2": "NON-ANSWER", ...}, ...}   (prompt -> candidate -> label)
    python benchmarks/pool_read.py tally --dir benchmarks/pool_read/NAME [--json-out FILE]

`tally` counts the prompts whose pool holds an answer and those whose final is one: the
prompts with no answer in their pool bound from below the non-answers any reward could reach
with this policy. It then measures, inside each pool, how often the reward and each of its
recorded parts score an ANSWER above a NON-ANSWER of the same prompt (ties count half), with
the answer length as a baseline, and the share of answers among the texts each round wrote
first (the N samples, then each round's rewrites): whether the update step writes answers as
often as sampling does.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

from side_by_side import ANSWER_LABELS, fenced_block

from langchain_tpo.evaluation.results import iter_results

LABELS = ("ANSWER", "NON-ANSWER")
INSTRUCTIONS = """# {count} prompts, every answer an assistant wrote for each

Each prompt comes with several assistant answers in random order. Read each as the person who
asked would, and label every answer {labels}.

Label each answer on its own, not against the others. Write the labels as JSON, by prompt
number and answer number:
{{"1": {{"1": "ANSWER", "2": "NON-ANSWER", ...}}, "2": {{...}}, ...}}
"""


def pools(path: Path) -> list[dict[str, Any]]:
    """Each prompt's distinct non-empty candidates with their recorded reward and parts."""
    found = []
    for row in iter_results(path):
        if not row.get("candidates"):
            continue
        final = str(row.get("response") or "").strip()
        distinct: dict[str, dict[str, Any]] = {}
        for candidate in row["candidates"]:
            text = str(candidate.get("text") or "").strip()
            if text and text not in distinct:
                distinct[text] = {
                    "text": text,
                    "score": candidate.get("score"),
                    "components": candidate.get("components") or {},
                    "final": text == final,
                    "round": candidate.get("iteration"),
                }
        found.append(
            {"id": str(row["id"]), "prompt": str(row["prompt"]), "pool": list(distinct.values())}
        )
    return found


def draw(args: argparse.Namespace) -> None:
    """Write part-K.md for the readers and key.json for the tally."""
    found = pools(args.run)
    if not found:
        msg = f"{args.run} has no rows with candidates; run `tpo eval` with mode tpo first"
        raise SystemExit(msg)
    rng = random.Random(args.seed)
    key: dict[str, Any] = {"run": str(args.run), "seed": args.seed, "prompts": {}}
    parts: list[list[str]] = [[] for _ in range(args.parts)]
    for number, prompt in enumerate(found, start=1):
        pool = prompt["pool"][:]
        rng.shuffle(pool)
        part = (number - 1) * args.parts // len(found)
        lines = [f"## Prompt {number}", "", f"**User:** {prompt['prompt']}", ""]
        for index, candidate in enumerate(pool, start=1):
            lines += [f"**Answer {index}:**", "", *fenced_block(candidate["text"]), ""]
        parts[part] += lines
        key["prompts"][str(number)] = {
            "id": prompt["id"],
            "part": part + 1,
            "answers": {
                str(index): {k: c[k] for k in ("score", "components", "final", "round")}
                | {"length": len(c["text"])}
                for index, c in enumerate(pool, start=1)
            },
        }
    args.out.mkdir(parents=True, exist_ok=True)
    for index, lines in enumerate(parts, start=1):
        count = sum(1 for p in key["prompts"].values() if p["part"] == index)
        header = INSTRUCTIONS.format(count=count, labels=ANSWER_LABELS)
        (args.out / f"part-{index}.md").write_text("\n".join([header, *lines]), encoding="utf-8")
    (args.out / "key.json").write_text(json.dumps(key, indent=1) + "\n", encoding="utf-8")
    answers = sum(len(p["answers"]) for p in key["prompts"].values())
    print(f"{len(found)} prompts, {answers} distinct candidates -> {args.out}/part-*.md")


def read_labels(directory: Path) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """The key and every reader's labels, merged; every candidate labelled ANSWER/NON-ANSWER."""
    key = json.loads((directory / "key.json").read_text(encoding="utf-8"))
    labels: dict[str, dict[str, str]] = {}
    for path in sorted(directory.glob("labels-*.json")):
        for number, answers in json.loads(path.read_text(encoding="utf-8")).items():
            labels[str(number)] = {str(n): str(v).upper() for n, v in answers.items()}
    problems = []
    for number, prompt in key["prompts"].items():
        given = labels.get(number, {})
        missing = [n for n in prompt["answers"] if n not in given]
        if missing:
            problems.append(f"prompt {number}: no label for answers {', '.join(missing)}")
        wrong = {n: v for n, v in given.items() if v not in LABELS}
        if wrong:
            problems.append(f"prompt {number}: labels must be ANSWER or NON-ANSWER, not {wrong}")
    if problems:
        raise SystemExit("labels-*.json: " + "; ".join(problems))
    return key, labels


def ranking(key: dict[str, Any], labels: dict[str, dict[str, str]], name: str) -> tuple[float, int]:
    """Pairs (answer, non-answer) of one prompt where `name` scores the answer higher, of all."""
    wins, pairs = 0.0, 0
    for number, prompt in key["prompts"].items():
        values = {n: _value(a, name) for n, a in prompt["answers"].items()}
        answers = [values[n] for n, v in labels[number].items() if v == "ANSWER"]
        others = [values[n] for n, v in labels[number].items() if v == "NON-ANSWER"]
        for a in answers:
            for b in others:
                pairs += 1
                wins += 1.0 if a > b else 0.5 if a == b else 0.0
    return wins, pairs


def _round_name(iteration: int | None) -> str:
    """`samples` for the first N answers (iteration -1), `rewrites k` for round k's."""
    if iteration is None:
        return "unknown"
    return "samples" if iteration < 0 else f"rewrites {iteration + 1}"


def _value(answer: dict[str, Any], name: str) -> float:
    if name == "total":
        return float(answer["score"])
    if name == "length":
        return float(answer["length"])
    return float(answer["components"][name])


def tally(args: argparse.Namespace) -> dict[str, Any]:
    """Print and return the counts described in the module docstring."""
    key, labels = read_labels(args.dir)
    prompts = key["prompts"]
    candidates = sum(len(p["answers"]) for p in prompts.values())
    answers = sum(v == "ANSWER" for given in labels.values() for v in given.values())
    with_answer = [n for n in prompts if "ANSWER" in labels[n].values()]
    finals_answer, missed = [], []
    for number, prompt in prompts.items():
        final = [n for n, a in prompt["answers"].items() if a["final"]]
        if final and labels[number][final[0]] == "ANSWER":
            finals_answer.append(number)
        elif number in with_answer:
            missed.append(prompt["id"])
    counted: dict[int | None, list[int]] = {}
    for number, prompt in prompts.items():
        for index, answer in prompt["answers"].items():
            counts = counted.setdefault(answer.get("round"), [0, 0])
            counts[0] += labels[number][index] == "ANSWER"
            counts[1] += 1
    # in round order (samples, rewrites 1, 2, ... 10), not the names' alphabetical one
    by_round = {_round_name(i): counted[i] for i in sorted(counted, key=lambda i: (i is None, i))}
    names = ["total", *sorted({c for p in prompts.values() for a in p["answers"].values()
                               for c in a["components"]}), "length"]  # fmt: skip
    table = {}
    for name in names:
        wins, pairs = ranking(key, labels, name)
        table[name] = {"answer_above_non_answer": wins, "pairs": pairs}
    summary = {
        "run": key["run"],
        "prompts": len(prompts),
        "candidates": candidates,
        "candidates_answer": answers,
        "prompts_with_an_answer_in_pool": len(with_answer),
        "finals_answer": len(finals_answer),
        "finals_non_answer_with_an_answer_in_pool": missed,
        "answers_by_round": by_round,
        "within_pool": table,
    }
    print(f"run: {key['run']}: {len(prompts)} prompts, {candidates} distinct candidates, "
          f"{answers} labelled ANSWER")  # fmt: skip
    bare = len(prompts) - len(with_answer)
    print(f"pools holding at least one answer: {len(with_answer)} of {len(prompts)} "
          f"(no reward can avoid a non-answer on the other {bare})")  # fmt: skip
    print(f"finals that are answers: {len(finals_answer)} of {len(prompts)}; non-answer "
          f"finals although the pool held an answer: {len(missed)} {missed}")  # fmt: skip
    rounds = ", ".join(f"{name} {a}/{n} ({a / n:.2f})" for name, (a, n) in by_round.items())
    print(f"answers among the candidates each round wrote first: {rounds}")
    print(f"\n| {'score':28} | answer above non-answer, same pool |")
    print(f"|{'-' * 30}|------------------------------------|")
    for name, row in table.items():
        wins, pairs = row["answer_above_non_answer"], row["pairs"]
        cell = f"{wins:g}/{pairs} ({wins / pairs:.2f})" if pairs else "-"
        print(f"| {name:28} | {cell:34} |")
    if args.json_out:
        args.json_out.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return summary


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    d = commands.add_parser("draw", help="write the pools for readers")
    d.add_argument("--run", type=Path, required=True, help="a TPO results file with candidates")
    d.add_argument("--parts", type=int, default=1, help="split the prompts among this many readers")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--out", type=Path, required=True)
    t = commands.add_parser("tally", help="count the readers' labels")
    t.add_argument("--dir", type=Path, required=True)
    t.add_argument("--json-out", type=Path, help="also write the counts as JSON")
    args = parser.parse_args()
    draw(args) if args.command == "draw" else tally(args)


if __name__ == "__main__":
    main()
