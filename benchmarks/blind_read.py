"""A blind read of rewrites: a sample for a reader, then their labels set against the rule.

The published rule (`langchain_tpo.answer_kinds`) is a list of phrases, so it can only count
the scaffolding it knows. This script checks it against a reader who sees neither the rule's
verdict nor which run a text came from:

    python benchmarks/blind_read.py draw --count 60 --seed 11 --out benchmarks/blind_read/NAME
    # a reader writes NAME/labels.json: {"1": "ANSWER" | "META" | "EMPTY", ...}
    python benchmarks/blind_read.py tally --dir benchmarks/blind_read/NAME

Each read so far has its own directory under `benchmarks/blind_read/` (see RESULTS.md).

`draw` takes rewrites (candidates of iteration 0 and later) from the TPO and revision results
of both quality prompt sets, writes `sample.md` (what the reader sees) and `key.json` (where
each item came from). `tally` prints, per label, how the current rule classifies the texts.
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from pathlib import Path

from langchain_tpo.answer_kinds import KINDS, answer_kind
from langchain_tpo.evaluation.answer_quality import iter_rewrites
from langchain_tpo.evaluation.results import iter_results

HERE = Path(__file__).resolve().parent
SETS = ("hh_rlhf_30", "hh_rlhf_30b")
MODES = ("tpo", "revision")
LABELS = ("ANSWER", "META", "EMPTY")
INSTRUCTIONS = """# Texts to label

Each item is a user's message and an assistant's text. Label every item with one word:

- ANSWER: the text answers or responds to the user (however poorly, harmful or not);
- META: the text is about an answer, a draft, a review, a rewrite or "the user", instead of
  speaking to the user;
- EMPTY: the text says nothing (pleasantries, stalling, promises of an answer, fragments).

Write the labels as JSON, {"1": "ANSWER", "2": "META", ...}.
"""


def rewrites(quality_dir: Path) -> list[dict[str, str]]:
    """Every rewrite of the TPO and revision runs, with the prompt it answers."""
    pool = []
    for prompt_set in SETS:
        for mode in MODES:
            rows = iter_results(quality_dir / prompt_set / f"{mode}.jsonl")
            for row, text in iter_rewrites(rows):
                source = f"{prompt_set}/{mode}/{row['id']}"
                pool.append({"prompt": str(row["prompt"]), "text": text, "src": source})
    return pool


def draw(args: argparse.Namespace) -> None:
    pool = rewrites(args.quality_dir)
    items = random.Random(args.seed).sample(pool, args.count)
    args.out.mkdir(parents=True, exist_ok=True)
    parts = [INSTRUCTIONS]
    for number, item in enumerate(items, 1):
        parts.append(
            f"## Item {number}\n\n**User:** {item['prompt']}\n\n**Assistant text:**\n\n"
            f"```\n{item['text']}\n```\n"
        )
    (args.out / "sample.md").write_text("\n".join(parts), encoding="utf-8")
    key = {str(n): item for n, item in enumerate(items, 1)}
    (args.out / "key.json").write_text(json.dumps(key, indent=1) + "\n", encoding="utf-8")
    print(f"{len(items)} of {len(pool)} rewrites -> {args.out}/sample.md and key.json")


def tally(args: argparse.Namespace) -> None:
    key = json.loads((args.dir / "key.json").read_text(encoding="utf-8"))
    labels = json.loads((args.dir / "labels.json").read_text(encoding="utf-8"))
    missing = sorted(set(key) - set(labels), key=int)
    if missing:
        msg = f"labels.json has no label for items {', '.join(missing)}"
        raise SystemExit(msg)
    unknown = {n: v for n, v in labels.items() if v not in LABELS}
    if unknown:
        msg = f"labels must be one of {LABELS}; got {unknown}"
        raise SystemExit(msg)
    table = Counter((labels[n], answer_kind(item["text"])) for n, item in key.items())
    print(f"| reader \\ rule | {' | '.join(KINDS)} | total |")
    print("|---" * (len(KINDS) + 2) + "|")
    for label in LABELS:
        cells = [table[(label, kind)] for kind in KINDS]
        print(f"| {label} | {' | '.join(map(str, cells))} | {sum(cells)} |")
    meta = [n for n in key if labels[n] == "META"]
    missed = [n for n in meta if answer_kind(key[n]["text"]) != "scaffolding"]
    print(f"\nmeta texts the rule does not flag: {len(missed)} of {len(meta)}")
    for n in missed:
        print(f"- item {n}: {key[n]['text'][:160]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p_draw = commands.add_parser("draw", help="write the sample for the reader")
    p_draw.add_argument("--count", type=int, default=60)
    p_draw.add_argument("--seed", type=int, default=11)
    p_draw.add_argument("--quality-dir", type=Path, default=HERE / "quality")
    p_draw.add_argument("--out", type=Path, required=True, help="benchmarks/blind_read/NAME")
    p_tally = commands.add_parser("tally", help="set the reader's labels against the rule")
    p_tally.add_argument("--dir", type=Path, required=True, help="the directory of a draw")
    args = parser.parse_args()
    draw(args) if args.command == "draw" else tally(args)


if __name__ == "__main__":
    main()
