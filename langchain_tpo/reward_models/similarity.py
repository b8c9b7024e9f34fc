"""SimilarityReward: does the response read like an answer to this request?

A sentence-embedding model trained to put questions next to their answers (all-MiniLM-L6-v2 and
its kind learned from question-answer pairs, search queries and the passages that answer them)
embeds the request and the response; the reward is their cosine similarity. An answer to a
neighbouring question ("how often to brush" for "how often to replace a toothbrush", "what time
of day to fly" for "how early to be at the airport") lands further from the request than an
answer to it, which a small policy's own log-likelihood cannot tell: it misreads the question
the same way.

It is not a quality reward on its own (saying the question back is the most similar text of
all): combine it with one (`CombinedReward`), as the default reward does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from langchain_tpo.reward_models._checkpoint import right_padded
from langchain_tpo.reward_models.base import Pair, Reward, query_text
from langchain_tpo.reward_models.model_part import ModelPartReward

Pooling = Literal["mean", "cls"]

# sentence-transformers' files beside the weights, read when present.
_POOLING_FILE = Path("1_Pooling") / "config.json"
_SETTINGS_FILE = "sentence_bert_config.json"


class SimilarityReward(ModelPartReward):
    """Cosine similarity of the request and the response under a sentence-embedding model.

    The request is the last user message (or the query string); system messages and earlier
    turns are not embedded. Texts longer than `max_length` tokens are cut at the end: the
    embedding model read no more than that in training. Scores lie in [-1, 1], or at most 0
    with a `ceiling`.

    `from_model_id` loads an encoder with `AutoModel`; a local directory saved by
    sentence-transformers says its pooling (`1_Pooling/`) and its length limit
    (`sentence_bert_config.json`), which are used unless given (a pooling this class does not
    implement is a ValueError).

    Example:
        ```python
        from langchain_tpo.reward_models import SimilarityReward

        similarity = SimilarityReward.from_model_id("sentence-transformers/all-MiniLM-L6-v2")
        similarity.score([
            ("How often should I replace my toothbrush?", "Every three to four months, or "
             "sooner if the bristles are frayed."),
            ("How often should I replace my toothbrush?", "Brush twice a day for two minutes."),
        ])  # the first is closer to the question
        ```
    """

    model: Any
    """A loaded transformers encoder (`AutoModel`)."""
    pooling: Pooling = "mean"
    """How token states become one vector: their mean (over real tokens) or the first one."""
    max_length: int = Field(default=256, ge=8)
    """Most tokens read of each text."""
    ceiling: float | None = Field(default=None, ge=-1, le=1)
    """With a ceiling the score is `min(cosine - ceiling, 0)`: 0 for any text at least that
    close to the request, negative as it drifts away (None: the cosine itself). Past some
    closeness a text is no more of an answer for being closer (the closest text of all is the
    question said back), and a penalty that leaves on-question text at 0 adds nothing to one
    side of a gated combination."""
    batch_size: int = Field(default=32, ge=1)
    """Texts per forward pass."""

    @classmethod
    def _saved_settings(cls, directory: Path, given: set[str]) -> dict[str, Any]:
        """`pooling` and `max_length` from a sentence-transformers directory, unless `given`.

        Raises:
            ValueError: The directory pools in a way this class does not implement.
        """
        settings: dict[str, Any] = {}
        pooling_file = directory / _POOLING_FILE
        if "pooling" not in given and pooling_file.is_file():
            config = json.loads(pooling_file.read_text(encoding="utf-8"))
            modes = [k.removeprefix("pooling_mode_") for k, on in config.items() if on is True]
            known = {"mean_tokens": "mean", "cls_token": "cls"}
            if len(modes) != 1 or modes[0] not in known:
                msg = (
                    f"{pooling_file} asks for pooling {modes}; SimilarityReward implements one "
                    "of mean_tokens or cls_token. Pass `pooling='mean'` or `pooling='cls'` to "
                    "choose."
                )
                raise ValueError(msg)
            settings["pooling"] = known[modes[0]]
        settings_file = directory / _SETTINGS_FILE
        if "max_length" not in given and settings_file.is_file():
            limit = json.loads(settings_file.read_text(encoding="utf-8")).get("max_seq_length")
            if isinstance(limit, int) and limit > 0:
                settings["max_length"] = limit
        return settings

    def _score(self, pairs: Sequence[Pair]) -> Sequence[float | Reward]:
        # TPO scores many responses to one request: embed each request once.
        queries = [query_text(query) for query, _ in pairs]
        requests = list(dict.fromkeys(queries))
        with self._lock:
            vectors = self._embed([*requests, *(response for _, response in pairs)])
        row = {text: i for i, text in enumerate(requests)}
        cosines = [
            float(vectors[row[query]] @ vectors[len(requests) + k])
            for k, query in enumerate(queries)
        ]
        if self.ceiling is None:
            return cosines
        return [min(c - self.ceiling, 0.0) for c in cosines]

    def _embed(self, texts: list[str]) -> Any:
        """Unit-length embeddings of `texts`, one row each (longest first within batches)."""
        import torch

        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        vectors: list[Any] = [None] * len(texts)
        device = self.model.device
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            tokens = self.tokenizer(
                [texts[i] for i in batch], truncation=True, max_length=self.max_length
            )["input_ids"]
            ids, mask = right_padded(tokens, self.tokenizer.pad_token_id)
            ids, mask = ids.to(device), mask.to(device)
            with torch.inference_mode():
                states = self.model(input_ids=ids, attention_mask=mask).last_hidden_state.float()
            if self.pooling == "cls":
                pooled = states[:, 0]
            else:
                weights = mask.unsqueeze(-1).to(states.dtype)
                pooled = (states * weights).sum(1) / weights.sum(1).clamp(min=1)
            pooled = torch.nn.functional.normalize(pooled, dim=-1).cpu()
            for i, vector in zip(batch, pooled, strict=True):
                vectors[i] = vector
        return torch.stack(vectors)
