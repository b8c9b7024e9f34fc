"""A tiny tokenizer and sequence classifier built in memory, for reward-model tests (no hub)."""

from __future__ import annotations

import random
from typing import Any

WORDS = ["<eos>", "<user>", "<system>", "<assistant>"] + [f"w{i}" for i in range(60)]
TEMPLATE = "{% for m in messages %}<{{ m['role'] }}> {{ m['content'] }} {% endfor %}"


def tiny_tokenizer() -> Any:
    """A word-level tokenizer with a chat template."""
    import tokenizers
    import transformers

    backend = tokenizers.Tokenizer(
        tokenizers.models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="w0")
    )
    backend.pre_tokenizer = tokenizers.pre_tokenizers.WhitespaceSplit()
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token="<eos>", chat_template=TEMPLATE
    )


def tiny_classifier() -> Any:
    """A random one-label Llama sequence classifier (head_dim 64)."""
    import transformers

    transformers.set_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=len(WORDS),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=256,
        num_labels=1,
        pad_token_id=0,
    )
    return transformers.LlamaForSequenceClassification(config).eval()


def score_calls(count: int, size: int, seed: int = 0) -> list[list[tuple[str, str]]]:
    """`count` calls of `size` (query, response) pairs of varied lengths."""
    rng = random.Random(seed)

    def words(n: int) -> str:
        return " ".join(f"w{rng.randrange(60)}" for _ in range(n))

    return [[(words(2), words(rng.randrange(1, 80))) for _ in range(size)] for _ in range(count)]
