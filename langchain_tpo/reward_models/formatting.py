"""Turn (query, response) pairs into the token ids a sequence-classifier reward model scores.

Shared by the transformers and vLLM backends so that both score exactly the same tokens: the
pair is rendered with the reward model's own chat template (earlier turns of a conversation
included, the response as the final assistant turn), then tokenized without adding special
tokens, because the template already places any BOS token the model expects; tokenizing the
rendered text with `add_special_tokens=True` would add a second one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import BaseMessage

from langchain_tpo.reward_models.base import Pair, Query

logger = logging.getLogger(__name__)

_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}
_SENTINEL = "\x00\x01tpo-response\x01\x00"


def to_chat_messages(query: Query, response: str) -> list[dict[str, str]]:
    """The conversation of a pair as chat-template messages, ending with the response.

    Args:
        query: The user's request, or the chat messages that came before the response.
        response: The response to score; it becomes the final assistant turn.

    Returns:
        `[{"role": ..., "content": ...}, ...]` with LangChain message types mapped to the
        usual roles (human -> user, ai -> assistant).
    """
    messages: list[dict[str, str]] = []
    if isinstance(query, str):
        messages.append({"role": "user", "content": query})
    else:
        for message in query:
            messages.append({"role": _role(message), "content": message.text})
    messages.append({"role": "assistant", "content": response})
    return messages


def _role(message: BaseMessage) -> str:
    role = getattr(message, "role", None)  # ChatMessage carries an explicit role
    if isinstance(role, str) and role:
        return role
    return _ROLES.get(message.type, message.type)


@dataclass(frozen=True)
class EncodedPair:
    """The token ids of one pair and whether they had to be truncated."""

    input_ids: list[int]
    truncated: bool


class RewardInputFormatter:
    """Renders pairs with a chat template and tokenizes them within a length budget.

    Over-long inputs are cut from the end of the response, keeping the template's closing
    tokens (the end-of-turn marker a reward model pools on). If the conversation before the
    response leaves less than half of the budget, the response keeps up to half of it and the
    conversation loses its oldest tokens instead (a leading BOS token is kept).

    Args:
        tokenizer: A Hugging Face tokenizer.
        chat_template: A Jinja chat template overriding the tokenizer's own.
        max_length: The most tokens one scored sequence may have.
    """

    def __init__(self, tokenizer: Any, chat_template: str | None, max_length: int) -> None:
        """Check that a chat template is available."""
        self.tokenizer = tokenizer
        self.chat_template = chat_template or getattr(tokenizer, "chat_template", None)
        if not self.chat_template:
            name = getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__
            msg = (
                f"The reward model's tokenizer ({name}) has no chat template, so there is no "
                "defined way to present a (query, response) pair to it. Pass the template the "
                "reward model was trained with as `chat_template=` (a Jinja string)."
            )
            raise ValueError(msg)
        if max_length < 8:
            msg = f"max_length must be at least 8 tokens, got {max_length}."
            raise ValueError(msg)
        self.max_length = max_length

    def render(self, query: Query, response: str) -> str:
        """The chat-templated text of a pair (no generation prompt)."""
        text = self.tokenizer.apply_chat_template(
            to_chat_messages(query, response),
            chat_template=self.chat_template,
            tokenize=False,
            add_generation_prompt=False,
        )
        return str(text)

    def _tokenize(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def encode(self, query: Query, response: str) -> EncodedPair:
        """Token ids of one pair, truncated to `max_length` if needed."""
        ids = self._tokenize(self.render(query, response))
        if len(ids) <= self.max_length:
            return EncodedPair(ids, truncated=False)
        return EncodedPair(self._truncate(query, response, ids), truncated=True)

    def encode_all(self, pairs: Sequence[Pair]) -> list[EncodedPair]:
        """Token ids of every pair, in order."""
        return [self.encode(query, response) for query, response in pairs]

    def _truncate(self, query: Query, response: str, ids: list[int]) -> list[int]:
        text = self.render(query, _SENTINEL)
        if text.count(_SENTINEL) != 1:
            # The template rewrote the response; the best we can do is keep the beginning.
            return ids[: self.max_length]
        prefix_text, suffix_text = text.split(_SENTINEL)
        prefix = self._tokenize(prefix_text)
        body = self._tokenize(response)
        suffix = self._tokenize(suffix_text)
        budget = self.max_length - len(suffix)
        keep_body = min(len(body), max(budget - len(prefix), budget // 2))
        keep_prefix = max(budget - keep_body, 0)
        if keep_prefix < len(prefix):
            bos = getattr(self.tokenizer, "bos_token_id", None)
            if keep_prefix > 0 and bos is not None and prefix[0] == bos:
                prefix = [bos, *prefix[len(prefix) - keep_prefix + 1 :]]
            else:
                prefix = prefix[len(prefix) - keep_prefix :] if keep_prefix else []
        return [*prefix, *body[:keep_body], *suffix][-self.max_length :]


def count_truncated(model_name: str, encoded: Sequence[EncodedPair], max_length: int) -> int:
    """How many of `encoded` were truncated; logs a warning naming the model when any were."""
    truncated = sum(item.truncated for item in encoded)
    if truncated:
        logger.warning(
            "%s: %d of %d pair(s) exceeded max_length=%d tokens and were truncated from the "
            "end of the response; their scores only reflect the part that fits.",
            model_name,
            truncated,
            len(encoded),
            max_length,
        )
    return truncated
