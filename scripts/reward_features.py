"""Frozen SmolLM2 features of (dialogue, response) pairs, cached on disk by token ids.

For each pair formatted exactly as the reward model formats it at run time
(`RewardInputFormatter`), the extractor keeps:

- `final/<key>.npy`: the final-layer (normed) hidden state at the last token, the input of
  the linear score head;
- `layer/<key>.npy` (float16, optional): the hidden states entering the last decoder layer at
  every position, so that the last layer itself can be trained without re-running the model.

The key is a hash of the token ids, so any pair built from any source is extracted once.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from scripts.reward_data import messages_of

REPO = Path(__file__).resolve().parent.parent
TOKENS_PER_BATCH = 4096
SEQUENCES_PER_CHUNK = 100
MIN_SHARED_PREFIX = 16

Item = tuple[str, str]
"""(raw HH-RLHF context, response)."""


class FeatureExtractor:
    """Runs the frozen base model over formatted pairs and caches what the heads need."""

    def __init__(
        self, model_dir: Path, cache_root: Path, max_length: int, keep_layer_inputs: bool = True
    ) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        sys.path.insert(0, str(REPO))
        from langchain_tpo.reward_models.formatting import RewardInputFormatter

        torch.set_grad_enabled(False)
        # One thread unless told otherwise: on a shared, oversubscribed machine, threads that
        # spin-wait for each other make the run many times slower.
        torch.set_num_threads(int(os.environ.get("REWARD_FEATURE_THREADS", "1")))
        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        self.model = AutoModel.from_pretrained(str(model_dir), dtype=torch.float32).eval()
        self.formatter = RewardInputFormatter(self.tokenizer, None, max_length)
        self.keep_layer_inputs = keep_layer_inputs
        self.cache = cache_root / _cache_key(model_dir, max_length, self.formatter.chat_template)
        (self.cache / "final").mkdir(parents=True, exist_ok=True)
        (self.cache / "layer").mkdir(parents=True, exist_ok=True)
        self._ids: dict[Item, list[int]] = {}
        self._captured: Any = None
        self.model.layers[-1].register_forward_pre_hook(self._capture, with_kwargs=True)

    def _capture(self, module: Any, args: tuple, kwargs: dict) -> None:
        self._captured = args[0] if args else kwargs["hidden_states"]

    def token_ids(self, item: Item) -> list[int]:
        """The token ids the reward model scores for this pair."""
        if item not in self._ids:
            self._ids[item] = self.formatter.encode(messages_of(item[0]), item[1]).input_ids
        return self._ids[item]

    def key(self, item: Item) -> str:
        """The cache key of a pair: a hash of its token ids."""
        ids = np.asarray(self.token_ids(item), dtype=np.int64)
        return hashlib.sha256(ids.tobytes()).hexdigest()[:20]

    def features(self, items: Sequence[Item], label: str) -> np.ndarray:
        """Array [len(items), hidden]: the score head's input for each pair.

        Pairs that share a dialogue share its tokens: the common prefix of their token ids is
        run once and its KV cache reused for each response, which halves the work here.
        """
        keys = [self.key(item) for item in items]
        todo: dict[str, Item] = {}
        for key, item in zip(keys, items, strict=True):
            if not (self.cache / "final" / f"{key}.npy").is_file():
                todo.setdefault(key, item)
        groups: dict[str, list[tuple[str, Item]]] = {}
        for key, item in todo.items():
            groups.setdefault(item[0], []).append((key, item))
        shared = [g for g in groups.values() if len(g) > 1]
        alone = [member for g in groups.values() if len(g) == 1 for member in g]
        done, start, last_report = 0, time.perf_counter(), 0
        for group in shared:
            self._extract_shared(group)
            done += len(group)
            if done - last_report >= SEQUENCES_PER_CHUNK or done == len(todo):
                last_report = done
                self._report(label, done, len(todo), start)
        for begin in range(0, len(alone), SEQUENCES_PER_CHUNK):
            chunk = alone[begin : begin + SEQUENCES_PER_CHUNK]
            self._extract_batched(chunk)
            done += len(chunk)
            self._report(label, done, len(todo), start)
        return np.stack([np.load(self.cache / "final" / f"{k}.npy") for k in keys])

    @staticmethod
    def _report(label: str, done: int, total: int, start: float) -> None:
        rate = done / (time.perf_counter() - start)
        print(f"  [{label}] {done}/{total} sequences, {rate:.1f}/s", flush=True)

    def layer_inputs(self, item: Item) -> np.ndarray:
        """[tokens, hidden] float16 states entering the last decoder layer (after `features`)."""
        return np.load(self.cache / "layer" / f"{self.key(item)}.npy")

    def _save(self, key: str, final: np.ndarray, layer_states: Any) -> None:
        if self.keep_layer_inputs:
            np.save(self.cache / "layer" / f"{key}.npy", np.asarray(layer_states, np.float16))
        np.save(self.cache / "final" / f"{key}.npy", final)  # last: marks the pair done

    def _extract_shared(self, group: list[tuple[str, Item]]) -> None:
        """One dialogue, several responses: the shared prefix once, then the suffixes."""
        import copy

        torch = self.torch
        seqs = [self.token_ids(item) for _, item in group]
        prefix = 0
        shortest = min(len(s) for s in seqs)
        while prefix < shortest - 1 and all(s[prefix] == seqs[0][prefix] for s in seqs):
            prefix += 1
        if prefix < MIN_SHARED_PREFIX:
            self._extract_batched(group)
            return
        out = self.model(input_ids=torch.tensor([seqs[0][:prefix]]), use_cache=True)
        cache, prefix_states = out.past_key_values, self._captured[0]
        order = sorted(range(len(group)), key=lambda i: len(seqs[i]), reverse=True)
        pos = 0
        while pos < len(order):
            width = len(seqs[order[pos]]) - prefix
            size = max(1, min(32, TOKENS_PER_BATCH // (width + prefix)))
            batch = order[pos : pos + size]
            pos += len(batch)
            ids = torch.zeros((len(batch), width), dtype=torch.long)
            mask = torch.ones((len(batch), prefix + width), dtype=torch.long)
            for k, i in enumerate(batch):
                suffix = seqs[i][prefix:]
                ids[k, : len(suffix)] = torch.tensor(suffix)
                mask[k, prefix + len(suffix) :] = 0
            batch_cache = copy.deepcopy(cache)
            batch_cache.batch_repeat_interleave(len(batch))
            positions = (prefix + torch.arange(width)).expand(len(batch), width)
            hidden = self.model(
                input_ids=ids,
                attention_mask=mask,
                position_ids=positions,
                past_key_values=batch_cache,
                use_cache=True,
            ).last_hidden_state
            for k, i in enumerate(batch):
                n = len(seqs[i]) - prefix
                states = (
                    torch.cat([prefix_states, self._captured[k, :n]]).numpy()
                    if self.keep_layer_inputs
                    else None
                )
                self._save(group[i][0], hidden[k, n - 1].numpy(), states)

    def _extract_batched(self, chunk: list[tuple[str, Item]]) -> None:
        """Whole sequences, right-padded into batches of similar length."""
        torch = self.torch
        chunk = sorted(chunk, key=lambda kv: len(self.token_ids(kv[1])), reverse=True)
        pos = 0
        while pos < len(chunk):
            width = len(self.token_ids(chunk[pos][1]))
            size = max(1, min(32, TOKENS_PER_BATCH // width))
            batch = chunk[pos : pos + size]
            pos += len(batch)
            ids = torch.zeros((len(batch), width), dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for k, (_, item) in enumerate(batch):
                seq = self.token_ids(item)
                ids[k, : len(seq)] = torch.tensor(seq)
                mask[k, : len(seq)] = 1
            hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
            for k, (key, item) in enumerate(batch):
                n = len(self.token_ids(item))
                states = self._captured[k, :n].numpy() if self.keep_layer_inputs else None
                self._save(key, hidden[k, n - 1].numpy(), states)


class VLLMFeatureExtractor:
    """The same final-layer features as `FeatureExtractor`, computed by vLLM's pooling runner.

    vLLM runs the base model as an embedding model with last-token pooling and no
    normalisation, which is exactly the score head's input (equal to the transformers forward
    within 1e-4 in float32); on two CPU cores it is several times faster. It shares the
    `final/` cache with `FeatureExtractor` (same keys), but keeps no layer inputs.
    """

    def __init__(self, model_dir: Path, cache_root: Path, max_length: int) -> None:
        from transformers import AutoTokenizer

        sys.path.insert(0, str(REPO))
        from langchain_tpo.reward_models.formatting import RewardInputFormatter

        self.model_dir = model_dir
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        self.formatter = RewardInputFormatter(self.tokenizer, None, max_length)
        self.max_length = max_length
        self.cache = cache_root / _cache_key(model_dir, max_length, self.formatter.chat_template)
        (self.cache / "final").mkdir(parents=True, exist_ok=True)
        self._ids: dict[Item, list[int]] = {}
        self._llm: Any = None

    def token_ids(self, item: Item) -> list[int]:
        """The token ids the reward model scores for this pair."""
        if item not in self._ids:
            self._ids[item] = self.formatter.encode(messages_of(item[0]), item[1]).input_ids
        return self._ids[item]

    def key(self, item: Item) -> str:
        """The cache key of a pair: a hash of its token ids."""
        ids = np.asarray(self.token_ids(item), dtype=np.int64)
        return hashlib.sha256(ids.tobytes()).hexdigest()[:20]

    def _engine(self) -> Any:
        if self._llm is None:
            from vllm import LLM
            from vllm.config import PoolerConfig

            self._llm = LLM(
                model=str(self.model_dir),
                runner="pooling",
                convert="embed",
                dtype="float32",
                pooler_config=PoolerConfig(pooling_type="LAST", use_activation=False),
                kv_cache_memory_bytes=1 << 30,
                max_model_len=self.max_length,
                enable_chunked_prefill=False,
            )
        return self._llm

    def features(self, items: Sequence[Item], label: str) -> np.ndarray:
        """Array [len(items), hidden]: the score head's input for each pair."""
        from vllm.inputs import TokensPrompt

        keys = [self.key(item) for item in items]
        todo = {
            k: item
            for k, item in zip(keys, items, strict=True)
            if not (self.cache / "final" / f"{k}.npy").is_file()
        }
        start, pending = time.perf_counter(), list(todo.items())
        for begin in range(0, len(pending), 256):
            # Another process sharing the cache may have done some of them meanwhile.
            chunk = [(k, item) for k, item in pending[begin : begin + 256]
                     if not (self.cache / "final" / f"{k}.npy").is_file()]  # fmt: skip
            if not chunk:
                continue
            prompts = [TokensPrompt(prompt_token_ids=self.token_ids(item)) for _, item in chunk]
            outputs = self._engine().embed(prompts, use_tqdm=False)
            for (key, _), out in zip(chunk, outputs, strict=True):
                np.save(
                    self.cache / "final" / f"{key}.npy",
                    np.asarray(out.outputs.embedding, np.float32),
                )
            FeatureExtractor._report(label, begin + len(chunk), len(pending), start)
        return np.stack([np.load(self.cache / "final" / f"{k}.npy") for k in keys])

    def close(self) -> None:
        """Stop the engine."""
        if self._llm is not None:
            from langchain_tpo.chat_models.vllm import shutdown_llm

            shutdown_llm(self._llm)
            self._llm = None


def _cache_key(model_dir: Path, max_length: int, chat_template: str) -> str:
    """The cache directory name: the base model's config, the length limit, the template."""
    return hashlib.sha256(
        f"{(model_dir / 'config.json').read_text()}|{max_length}|{chat_template}".encode()
    ).hexdigest()[:12]
