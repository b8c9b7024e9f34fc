"""RelevanceReward: how much the request, rather than any request, explains the response.

A causal language model reads the response twice: after the conversation, and after a neutral
request in its place. The reward is the response's log-likelihood gain from the real request,
summed over its first tokens (pointwise mutual information between request and response):

    score = sum_t [log p(r_t | request, r_<t) - log p(r_t | neutral request, r_<t)]

A response about the question gains a lot; one that would fit any request (a greeting, a
platitude, a persona ramble, an answer to another question) gains little, however fluent. It
is not a quality reward on its own (a restatement of the question gains too, and a wrong
answer about the right topic gains as much as a right one): combine it with one
(`CombinedReward`), as the default reward does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Self

from langchain_core.messages import BaseMessage
from pydantic import Field, model_validator

from langchain_tpo.reward_models._checkpoint import right_padded
from langchain_tpo.reward_models.base import Pair, Query, Reward
from langchain_tpo.reward_models.formatting import to_chat_messages
from langchain_tpo.reward_models.model_part import ModelPartReward

NEUTRAL_REQUEST = "Write something."
"""The request a response is compared against: asks for nothing in particular."""


class RelevanceReward(ModelPartReward):
    """Pointwise mutual information of request and response under a causal language model.

    Both readings of a pair use the model's chat template (system messages are kept in the
    neutral reading; the rest of the conversation is replaced by `neutral_request`). Only the
    first `max_response_tokens` tokens of the response count, so scores of long responses stay
    comparable with those of responses cut at a policy's token limit; a reading longer than
    `max_length` loses the oldest tokens of the conversation. An empty response scores 0.
    `from_model_id` loads an `AutoModelForCausalLM`; its tokenizer must have a chat template.

    Example:
        ```python
        from langchain_tpo.reward_models import RelevanceReward

        relevance = RelevanceReward.from_model_id("HuggingFaceTB/SmolLM2-135M-Instruct")
        relevance.score([
            ("How do I get a red wine stain out of a shirt?", "Blot it, then soak it in cold "
             "water with dish soap and a splash of white vinegar before washing."),
            ("How do I get a red wine stain out of a shirt?", "Every situation is unique."),
        ])  # the first gains far more from the question
        ```
    """

    model: Any
    """A loaded transformers causal language model."""
    tokenizer: Any
    """Its tokenizer, with a chat template."""
    neutral_request: str = Field(default=NEUTRAL_REQUEST, min_length=1)
    """The request each response is also read after."""
    max_response_tokens: int = Field(default=128, ge=1)
    """Tokens of the response that count."""
    max_length: int = Field(default=512, ge=16)
    """Most tokens per reading: a longer conversation loses its oldest tokens (both readings
    of a pair keep the same response tokens, so the gain stays comparable)."""
    batch_size: int = Field(default=8, ge=1)
    """Sequences per forward pass (each pair is two sequences)."""

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not getattr(self.tokenizer, "chat_template", None):
            msg = (
                f"RelevanceReward: the tokenizer of {self.model_name} has no chat template, so "
                "there is no defined way to put a request before a response. Set "
                "`tokenizer.chat_template` to the template the model was trained with."
            )
            raise ValueError(msg)
        return self

    auto_class: ClassVar[str] = "AutoModelForCausalLM"

    def _score(self, pairs: Sequence[Pair]) -> Sequence[float | Reward]:
        readings: list[tuple[list[int], int]] = []  # (token ids, where the response starts)
        for query, response in pairs:
            body = self._tokens(response)[: min(self.max_response_tokens, self.max_length // 2)]
            for context in (query, self._neutral(query)):
                prefix = self._prefix(context)[-(self.max_length - len(body)) :]
                readings.append(([*prefix, *body], len(prefix)))
        # Longest first: each batch pads its sequences to similar lengths.
        order = sorted(range(len(readings)), key=lambda i: -len(readings[i][0]))
        sums = [0.0] * len(readings)
        with self._lock:
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                values = self._forward([readings[i] for i in batch])
                for i, value in zip(batch, values, strict=True):
                    sums[i] = value
        return [sums[2 * k] - sums[2 * k + 1] for k in range(len(pairs))]

    def _neutral(self, query: Query) -> list[BaseMessage] | str:
        if isinstance(query, str):
            return self.neutral_request
        from langchain_core.messages import HumanMessage

        system = [m for m in query if m.type == "system"]
        return [*system, HumanMessage(self.neutral_request)]

    def _prefix(self, query: Query) -> list[int]:
        messages = to_chat_messages(query, "")[:-1]
        text = self.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
        return self._tokens(str(text))

    def _tokens(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _forward(self, readings: list[tuple[list[int], int]]) -> list[float]:
        """Summed log-probabilities of each reading's response tokens."""
        import torch

        ids, mask = right_padded([tokens for tokens, _ in readings], self.tokenizer.pad_token_id)
        device = self.model.device
        with torch.inference_mode():
            logits = self.model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
            sums = []
            for row, (tokens, start) in enumerate(readings):
                start = max(start, 1)
                if start >= len(tokens):
                    sums.append(0.0)
                    continue
                # The token at position t is predicted by the logits at position t - 1.
                targets = torch.tensor(tokens[start:], dtype=torch.long, device=device)
                predicted = logits[row, start - 1 : len(tokens) - 1].float().log_softmax(dim=-1)
                sums.append(float(predicted.gather(1, targets[:, None]).sum()))
        return sums
