"""Low-rank updates of the base model's last decoder layer, trained with the score head.

A linear head on the frozen last-token state cannot both keep HH-RLHF accuracy and rank real
answers above non-answers (see the grid that `scripts/train_default_reward.py` prints). This
module adds capacity where it is cheap: rank-`r` updates (W + B A) of the last decoder layer's
seven projections, trained together with the head on the cached inputs of that layer
(`scripts/reward_features.py` keeps them), so no other layer runs again.

Only the last token's output is ever read, so the layer runs in full for keys and values only;
queries, the attention output and the MLP run for the last position alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

PROJECTIONS = (
    "self_attn.q_proj",
    "self_attn.k_proj",
    "self_attn.v_proj",
    "self_attn.o_proj",
    "mlp.gate_proj",
    "mlp.up_proj",
    "mlp.down_proj",
)


@dataclass
class LastLayerSettings:
    """What is trained and how."""

    rank: int = 8
    alpha: float = 16.0
    epochs: int = 4
    lr: float = 2e-3
    batch_pairs: int = 32
    off_topic_weight: float = 0.2
    schedule: str = "constant"
    """"cosine" (the learning rate decays to 0 over the run) or "constant"."""
    seed: int = 0


class LastLayer:
    """The base model's last decoder layer and final norm, with trainable low-rank updates."""

    def __init__(self, base_model: Any, settings: LastLayerSettings, head: np.ndarray) -> None:
        import torch

        self.torch = torch
        self.settings = settings
        layer = base_model.layers[-1]
        self.layer = layer
        self.norm = base_model.norm
        self.rotary = base_model.rotary_emb
        config = base_model.config
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.heads = config.num_attention_heads
        self.kv_heads = config.num_key_value_heads
        self.index = len(base_model.layers) - 1
        generator = torch.Generator().manual_seed(settings.seed)
        self.lora: dict[str, tuple[Any, Any]] = {}
        for name in PROJECTIONS:
            weight = layer.get_submodule(name).weight
            out_dim, in_dim = weight.shape
            a = torch.randn(settings.rank, in_dim, generator=generator) / math.sqrt(in_dim)
            b = torch.zeros(out_dim, settings.rank)
            self.lora[name] = (a.requires_grad_(), b.requires_grad_())
        self.head = torch.tensor(head, dtype=torch.float32).reshape(-1).requires_grad_()
        for p in base_model.parameters():
            p.requires_grad_(False)

    @property
    def scale(self) -> float:
        return self.settings.alpha / self.settings.rank

    def parameters(self) -> list[Any]:
        return [t for pair in self.lora.values() for t in pair] + [self.head]

    def _project(self, name: str, x: Any) -> Any:
        a, b = self.lora[name]
        weight = self.layer.get_submodule(name).weight
        return x @ weight.T + (x @ a.T) @ b.T * self.scale

    def final_states(self, inputs: Sequence[np.ndarray]) -> Any:
        """[len(inputs), hidden]: the normed final state at each sequence's last token."""
        torch = self.torch
        lengths = [len(x) for x in inputs]
        width = max(lengths)
        batch = torch.zeros(len(inputs), width, inputs[0].shape[1])
        mask = torch.zeros(len(inputs), width, dtype=torch.bool)
        for i, x in enumerate(inputs):
            batch[i, : len(x)] = torch.from_numpy(np.asarray(x, dtype=np.float32))
            mask[i, : len(x)] = True
        last = torch.tensor(lengths) - 1
        rows = torch.arange(len(inputs))
        attn = self.layer.self_attn
        normed = self.layer.input_layernorm(batch)
        positions = torch.arange(width).expand(len(inputs), width)
        cos, sin = self.rotary(batch, positions)  # [B, T, head_dim]
        d = self.head_dim
        keys = self._project("self_attn.k_proj", normed).view(len(inputs), width, self.kv_heads, d)
        values = self._project("self_attn.v_proj", normed).view(
            len(inputs), width, self.kv_heads, d
        )
        keys = _rotate(keys, cos[:, :, None, :], sin[:, :, None, :])
        query = self._project("self_attn.q_proj", normed[rows, last]).view(
            len(inputs), self.heads, d
        )
        query = _rotate(query, cos[rows, last][:, None, :], sin[rows, last][:, None, :])
        group = self.heads // self.kv_heads
        keys = keys.repeat_interleave(group, dim=2)  # [B, T, H, d]
        values = values.repeat_interleave(group, dim=2)
        scores = torch.einsum("bhd,bthd->bht", query, keys) * attn.scaling
        scores = scores.masked_fill(~mask[:, None, :], float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        attended = torch.einsum("bht,bthd->bhd", weights, values).reshape(len(inputs), -1)
        residual = batch[rows, last] + self._project("self_attn.o_proj", attended)
        hidden = self.layer.post_attention_layernorm(residual)
        act = self.layer.mlp.act_fn
        mlp = self._project(
            "mlp.down_proj",
            act(self._project("mlp.gate_proj", hidden)) * self._project("mlp.up_proj", hidden),
        )
        return self.norm(residual + mlp)

    def scores(self, inputs: Sequence[np.ndarray]) -> Any:
        return self.final_states(inputs) @ self.head

    def low_rank_updates(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """(A, B) of each projection, by the base weight's name (float32)."""
        return {
            f"model.layers.{self.index}.{name}.weight": (
                a.detach().numpy().astype(np.float32),
                b.detach().numpy().astype(np.float32),
            )
            for name, (a, b) in self.lora.items()
        }


def _rotate(x: Any, cos: Any, sin: Any) -> Any:
    half = x.shape[-1] // 2
    import torch

    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + rotated * sin


@dataclass(frozen=True)
class KeyPairs:
    """Pairs as cache keys of their two texts."""

    chosen: list[str]
    rejected: list[str]
    kind: np.ndarray
    row: np.ndarray


def train_anchored(
    model: LastLayer,
    pairs: KeyPairs,
    anchors: dict[str, float],
    load: Callable[[str], np.ndarray],
    anchor_weight: float = 1.0,
    report: Callable[[int, LastLayer], None] | None = None,
) -> None:
    """Non-answers below answers, while every HH-RLHF text keeps the score it had.

    `anchors` maps each HH text's key to its score under the harmlessness-only head: matching
    them keeps that head's ranking of real answers, which is what HH accuracy measures, while
    the non-answer pairs teach the last layer to push non-answers down.
    """
    torch = model.torch
    settings = model.settings
    negative = pairs.kind != "hh"
    weights = np.where(pairs.kind == "off_topic", settings.off_topic_weight, 1.0) * negative
    probabilities = weights / weights.sum()
    anchor_keys = sorted(anchors)
    rng = np.random.default_rng(settings.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    steps = max(1, int(negative.sum()) // settings.batch_pairs)
    total = steps * settings.epochs
    # Without decay the held-out figures swing from epoch to epoch (see benchmarks/RESULTS.md).
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        (lambda i: 0.5 * (1 + math.cos(math.pi * min(i, total) / total)))
        if settings.schedule == "cosine"
        else (lambda i: 1.0),
    )
    size = settings.batch_pairs
    for epoch in range(settings.epochs):
        totals = [0.0, 0.0]
        for _ in range(steps):
            picked = rng.choice(len(weights), size=size, p=probabilities)
            held = [anchor_keys[i] for i in rng.choice(len(anchor_keys), size=size)]
            inputs = [load(pairs.chosen[i]) for i in picked]
            inputs += [load(pairs.rejected[i]) for i in picked]
            inputs += [load(k) for k in held]
            target = torch.tensor([anchors[k] for k in held])
            with torch.enable_grad():  # the feature extractor turns it off process-wide
                scores = model.scores(inputs)
                margin = scores[:size] - scores[size : 2 * size]
                ranking = torch.nn.functional.softplus(-margin).mean()
                anchoring = ((scores[2 * size :] - target) ** 2).mean()
                loss = ranking + anchor_weight * anchoring
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
            totals[0] += float(ranking)
            totals[1] += float(anchoring)
        print(
            f"    epoch {epoch + 1}: ranking loss {totals[0] / steps:.4f}, "
            f"anchor error {totals[1] / steps:.4f}",
            flush=True,
        )
        if report is not None:
            report(epoch + 1, model)


def score_keys(model: LastLayer, keys: Sequence[str], load: Callable[[str], np.ndarray]) -> dict:
    """Score of every key, in length-sorted batches."""
    torch = model.torch
    unique = list(dict.fromkeys(keys))
    inputs = {k: load(k) for k in unique}
    order = sorted(unique, key=lambda k: len(inputs[k]))
    out: dict[str, float] = {}
    with torch.no_grad():
        for begin in range(0, len(order), 64):
            chunk = order[begin : begin + 64]
            values = model.scores([inputs[k] for k in chunk]).tolist()
            out.update(zip(chunk, values, strict=True))
    return out
