"""Fit the default reward's heads on frozen features: two pairwise heads and a gate.

Every head is one row of the score layer of a `LlamaForSequenceClassification` (no bias), read
on the final-layer state at the last token:

- a pairwise (Bradley-Terry) head: the chosen text of each pair should score higher; fitted
  with an L2 penalty on standardised features, then scaled so that its scores have unit
  standard deviation over the training texts (so two such heads are on one scale);
- the gate: a logistic classifier of harmful requests. The score layer has no bias, so the
  intercept is returned separately and goes into the combination rule (`gate_bias`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PairFeatures:
    """Features of preference pairs: chosen and rejected `[n, hidden]`, and a weight per pair."""

    chosen: np.ndarray
    rejected: np.ndarray
    weight: np.ndarray


def fit_pairwise(pairs: PairFeatures, l2: float) -> np.ndarray:
    """A head (in raw feature space) ranking each chosen text above its rejected one.

    Minimises the weighted mean logistic loss of `(chosen - rejected) @ w` plus `l2 * |w|^2`
    on standardised differences, then rescales `w` to unit score spread over all the texts.
    """
    import torch

    diff = pairs.chosen - pairs.rejected
    std = diff.std(0) + 1e-6
    d = torch.tensor(diff / std, dtype=torch.float64)
    weights = torch.tensor(pairs.weight / pairs.weight.sum(), dtype=torch.float64)
    w = torch.zeros(d.shape[1], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=500, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = (torch.nn.functional.softplus(-(d @ w)) * weights).sum() + l2 * (w @ w)
        loss.backward()
        return loss

    opt.step(closure)
    head = w.detach().numpy() / std
    spread = float((np.concatenate([pairs.chosen, pairs.rejected]) @ head).std())
    return head / spread if spread > 0 else head


def fit_gate(features: np.ndarray, harmful: np.ndarray, l2: float) -> tuple[np.ndarray, float]:
    """A logistic classifier of harmful requests: `(weight, bias)` in raw feature space.

    The two classes are weighted equally, whatever their sizes.
    """
    import torch

    labels = harmful.astype(np.float64)
    positives = max(int(labels.sum()), 1)
    negatives = max(len(labels) - positives, 1)
    balance = np.where(labels == 1, 0.5 / positives, 0.5 / negatives)
    mean, std = features.mean(0), features.std(0) + 1e-6
    x = torch.tensor((features - mean) / std, dtype=torch.float64)
    y = torch.tensor(labels)
    b = torch.tensor(balance)
    w = torch.zeros(features.shape[1] + 1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=500, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        logits = x @ w[:-1] + w[-1]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none")
        total = (loss * b).sum() + l2 * (w[:-1] @ w[:-1])
        total.backward()
        return total

    opt.step(closure)
    raw = w.detach().numpy()
    head = raw[:-1] / std
    return head, float(raw[-1] - mean @ head)
