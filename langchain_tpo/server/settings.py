"""ServerSettings: what one `tpo serve` process allows, and how long it waits."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pydantic import SecretStr


@dataclass(frozen=True)
class ServerSettings:
    """Limits, caps and names of an OpenAI-compatible TPO server.

    The TPO defaults themselves (N, D, tokens, temperature...) live in the chain's `TPOConfig`;
    these settings bound what a request may ask for and how many requests run at once.
    """

    model_ids: tuple[str, ...] = ("tpo",)
    """Names the server answers to in `model` (listed by `GET /v1/models`, the first one
    first); a request naming another model gets a 404."""
    api_key: SecretStr | None = None
    """The key clients present as `Authorization: Bearer KEY` on `/v1/*`; None: no check."""
    max_concurrency: int = 8
    """TPO runs at once; further requests wait in the queue."""
    max_queue: int = 64
    """Requests that may wait for a free run; beyond it a request gets 429 with Retry-After."""
    request_timeout_s: float = 600.0
    """Seconds a request may take, queue included; then the best answer so far is returned
    (`finish_reason: "length"`, `tpo.stop_reason: "timeout"`)."""
    max_samples: int = 16
    """Most `tpo.num_samples` (N) and `n` a request may ask for."""
    max_iterations: int = 5
    """Most `tpo.max_iterations` (D) a request may ask for."""
    max_tokens: int = 4096
    """Most `max_tokens` (per generated text) a request may ask for."""
    max_retries: int = 5
    """Most `tpo.max_retries` a request may ask for."""
    max_body_bytes: int = 1_000_000
    """Largest request body read; a larger one gets 413 before it is read."""
    max_messages: int = 256
    """Most messages in a conversation."""
    max_chars: int = 200_000
    """Most characters of text in a request (messages, tool arguments, drafts, tools)."""
    keep_alive_s: float = 15.0
    """Seconds a stream may stay silent before a keep-alive comment is sent."""
    drain_timeout_s: float | None = None
    """After SIGTERM, seconds to wait for runs in flight before exiting anyway; None: the
    request timeout plus 30 s."""
    secrets: tuple[str, ...] = field(default=(), repr=False)
    """Credentials (model-server keys, keys in URLs) scrubbed from every error message."""

    def __post_init__(self) -> None:
        if not self.model_ids or not all(isinstance(m, str) and m for m in self.model_ids):
            msg = "model_ids must name at least one model (non-empty strings)."
            raise ValueError(msg)
        for name in ("max_concurrency", "max_samples", "max_iterations", "max_tokens"):
            if getattr(self, name) < 1:
                msg = f"{name} must be at least 1; got {getattr(self, name)!r}."
                raise ValueError(msg)
        for name in ("max_queue", "max_retries", "max_body_bytes", "max_messages", "max_chars"):
            if getattr(self, name) < 0:
                msg = f"{name} must not be negative; got {getattr(self, name)!r}."
                raise ValueError(msg)
        for name in ("request_timeout_s", "keep_alive_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                msg = f"{name} must be a positive number of seconds; got {value!r}."
                raise ValueError(msg)

    @property
    def drain_limit_s(self) -> float:
        """Seconds a drain waits for runs in flight."""
        if self.drain_timeout_s is not None:
            return self.drain_timeout_s
        return self.request_timeout_s + 30.0
