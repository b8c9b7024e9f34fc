"""Fit the linear score head: Bradley-Terry on frozen features, two kinds of pairs.

The loss is the mean pairwise logistic loss on HH-RLHF pairs, plus `neg_weight` times the
(weighted) mean loss on (answer, non-answer) pairs, plus an L2 penalty, on standardised
features. Off-topic pairs (a real answer to another prompt) get their own weight: a last-token
probe can barely tell relevance, and pushing such answers down teaches it that longer, more
forthcoming answers are worse, which works against the other families (pilot runs on the
training rows). The settings are chosen on the training rows only:

- HH accuracy by 5-fold cross-validation, folds by row;
- robustness to an unseen kind of non-answer by leave-one-family-out: each training family in
  turn is dropped from training (and its fold's rows held out) and scored as if new.

The setting kept has the best leave-one-family-out robustness among those whose HH
cross-validated accuracy is within `HH_TOLERANCE` of the best.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass

import numpy as np

L2_GRID = (0.1, 0.3, 1.0)
NEG_WEIGHT_GRID = (0.25, 0.5, 1.0)
OFF_TOPIC_WEIGHT_GRID = (0.0, 0.2)
OFF_TOPIC = "off_topic"
HH_TOLERANCE = 0.01
FOLDS = 5


@dataclass(frozen=True)
class PairSet:
    """Features of preference pairs: chosen and rejected [n, hidden], kind and row per pair."""

    chosen: np.ndarray
    rejected: np.ndarray
    kind: np.ndarray
    row: np.ndarray

    def subset(self, mask: np.ndarray) -> PairSet:
        """The pairs where `mask` is true."""
        return PairSet(self.chosen[mask], self.rejected[mask], self.kind[mask], self.row[mask])

    @property
    def is_hh(self) -> np.ndarray:
        """Mask of HH-RLHF's own pairs."""
        return np.asarray(self.kind == "hh")


def fold_of(row_ids: np.ndarray, folds: int = FOLDS) -> np.ndarray:
    """A stable fold number per row id (all pairs of a row share a fold)."""
    return np.array([int(hashlib.sha256(str(r).encode()).hexdigest(), 16) % folds for r in row_ids])


def standardiser(pairs: PairSet) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std of every training feature vector."""
    flat = np.concatenate([pairs.chosen, pairs.rejected]).astype(np.float64)
    return flat.mean(0), flat.std(0) + 1e-6


def pair_weights(pairs: PairSet, neg_weight: float, off_topic_weight: float) -> np.ndarray:
    """Per pair: 1/n for HH pairs; non-answer pairs share `neg_weight`, off-topic ones count
    `off_topic_weight` times as much as the others."""
    hh = pairs.is_hh
    factor = np.where(pairs.kind == OFF_TOPIC, off_topic_weight, 1.0) * ~hh
    weights = np.where(hh, 1.0 / max(int(hh.sum()), 1), 0.0)
    if factor.sum() > 0:
        weights = weights + neg_weight * factor / factor.sum()
    return weights


def fit(pairs: PairSet, l2: float, neg_weight: float, off_topic_weight: float = 1.0) -> np.ndarray:
    """The score weight in raw feature space (scores are `features @ weight`)."""
    import torch

    _, std = standardiser(pairs)
    diff = torch.tensor((pairs.chosen - pairs.rejected) / std, dtype=torch.float64)
    weights = torch.tensor(pair_weights(pairs, neg_weight, off_topic_weight))
    w = torch.zeros(diff.shape[1], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=500, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = (torch.nn.functional.softplus(-(diff @ w)) * weights).sum() + l2 * (w @ w)
        loss.backward()
        return loss

    opt.step(closure)
    return np.asarray(w.detach().numpy() / std)


def wins(pairs: PairSet, weight: np.ndarray) -> np.ndarray:
    """Per pair: whether the chosen text scores strictly higher."""
    return np.asarray(pairs.chosen @ weight > pairs.rejected @ weight)


@dataclass(frozen=True)
class Selection:
    """Cross-validated figures of one setting."""

    l2: float
    neg_weight: float
    off_topic_weight: float
    hh_accuracy: float
    family_robustness: dict[str, float]

    @property
    def robustness(self) -> float:
        """Mean leave-one-family-out robustness."""
        return float(np.mean(list(self.family_robustness.values())))


def cross_validate(
    pairs: PairSet, l2: float, neg_weight: float, off_topic_weight: float
) -> Selection:
    """HH accuracy by row folds, robustness by leaving each family out."""
    folds = fold_of(pairs.row)
    hh_correct = []
    for k in range(FOLDS):
        weight = fit(pairs.subset(folds != k), l2, neg_weight, off_topic_weight)
        hh_correct.append(wins(pairs.subset((folds == k) & pairs.is_hh), weight))
    families = sorted(set(pairs.kind[~pairs.is_hh].tolist()))
    robustness = {}
    for i, family in enumerate(families):
        val_fold = i % FOLDS
        train = (folds != val_fold) & (pairs.kind != family)
        weight = fit(pairs.subset(train), l2, neg_weight, off_topic_weight)
        robustness[family] = float(
            wins(pairs.subset((folds == val_fold) & (pairs.kind == family)), weight).mean()
        )
    hh_accuracy = float(np.concatenate(hh_correct).mean())
    return Selection(l2, neg_weight, off_topic_weight, hh_accuracy, robustness)


def choose(pairs: PairSet) -> tuple[Selection, list[Selection]]:
    """The setting to ship and every setting's cross-validated figures."""
    results = []
    grid = itertools.product(L2_GRID, NEG_WEIGHT_GRID, OFF_TOPIC_WEIGHT_GRID)
    for l2, neg_weight, off_topic_weight in grid:
        result = cross_validate(pairs, l2, neg_weight, off_topic_weight)
        results.append(result)
        per_family = " ".join(f"{k}={v:.3f}" for k, v in result.family_robustness.items())
        print(
            f"  l2={l2:g} neg_weight={neg_weight:g} off_topic_weight={off_topic_weight:g}: "
            f"HH cv accuracy {result.hh_accuracy:.3f}, leave-one-family-out robustness "
            f"{result.robustness:.3f} ({per_family})",
            flush=True,
        )
    best_hh = max(r.hh_accuracy for r in results)
    eligible = [r for r in results if r.hh_accuracy >= best_hh - HH_TOLERANCE]
    return max(eligible, key=lambda r: (r.robustness, r.hh_accuracy)), results
