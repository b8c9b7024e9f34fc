"""RemoteRewardModel: a reward checkpoint served by a vLLM server, scored over HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import ConfigDict, Field, PrivateAttr, SecretStr

from langchain_tpo._redact import redact_text, redact_url
from langchain_tpo.reward_models._checkpoint import (
    DECLARED_COMBINATION,
    default_max_length,
    require,
    reward_columns,
)
from langchain_tpo.reward_models.base import Pair, Reward, RewardModel, RewardModelError
from langchain_tpo.reward_models.checkpoint_reward import rewards_of_rows
from langchain_tpo.reward_models.combination import Combination
from langchain_tpo.reward_models.formatting import RewardInputFormatter, count_truncated

_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class RewardServerError(RewardModelError):
    """The reward model server could not be reached, or answered with an error."""

    is_retryable = False
    """True when the server was unreachable, timed out or answered 5xx/429 (after this model's
    own retries): trying the whole call again later may work. Read the same way as
    `langchain_core.exceptions.ModelError.is_retryable`."""


class RemoteRewardModel(RewardModel):
    """A reward checkpoint served by `vllm serve MODEL --runner pooling`, over HTTP.

    Pairs are formatted and tokenized locally with the checkpoint's tokenizer, exactly as
    `HuggingFaceRewardModel` and `VLLMRewardModel` do, and all pairs of a call are sent as token
    ids in one request to the server's `/classify` (or `/pooling`) endpoint with
    `use_activation=false`, so the scores are the raw logits. Connection failures, timeouts
    and 5xx/429 answers are retried with exponential backoff; then a `RewardServerError` says
    what went wrong.

    Example:
        ```python
        from langchain_tpo.reward_models import RemoteRewardModel

        # vllm serve Skywork/Skywork-Reward-V2-Qwen3-0.6B --runner pooling --port 8001
        reward = RemoteRewardModel(
            "http://127.0.0.1:8001", model="Skywork/Skywork-Reward-V2-Qwen3-0.6B"
        )
        await reward.ascore([("How do I boil an egg?", "Simmer it for 9 minutes.")])
        ```
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    base_url: str
    """The server's address, e.g. `http://127.0.0.1:8001` (a trailing `/v1` is accepted).
    Credentials in it are used for requests but never shown (`repr`, messages)."""
    model: str
    """The served model name (by default vLLM serves a model under its id or path)."""
    tokenizer: Any = None
    """A Hugging Face tokenizer, or its id/path; by default loaded from `model`."""
    endpoint: Literal["classify", "pooling"] = "classify"
    """Which pooling endpoint of the server to call."""
    chat_template: str | None = None
    """A Jinja chat template to use instead of the tokenizer's own."""
    max_length: int | None = None
    """Most tokens per scored sequence; by default the tokenizer's limit (keep it within the
    server's `--max-model-len`)."""
    label_index: int | None = None
    """Output column holding the reward, for checkpoints with several labels (column 0 when
    nothing else says)."""
    combination: Combination | None = None
    """Read several output columns as a `Combination` (labels by name need the checkpoint's
    config next to its tokenizer; columns by number do not); each column's raw score is kept
    as a component. By default, the combination the checkpoint's config declares
    (`reward_combination`), when that config can be read locally."""
    api_key: SecretStr | None = None
    """Sent as a bearer token when the server was started with `--api-key` (a `SecretStr`:
    `repr` and `to_json` do not show it)."""
    timeout: float = Field(default=120.0, gt=0)
    """Seconds to wait for one request (connecting, sending, each read)."""
    max_retries: int = Field(default=3, ge=0)
    """Retries after a connection failure, a timeout or a 5xx/429 answer."""
    retry_backoff: float = Field(default=0.5, ge=0)
    """Seconds before the first retry; doubled for each further one."""
    client_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra arguments of `httpx.Client`/`httpx.AsyncClient` (e.g. `transport`, `verify`)."""
    truncated: int = 0
    """How many pairs were truncated to `max_length` so far."""
    batch_window_ms: float | None = Field(default=5.0, ge=0)
    """Milliseconds an async score call waits for concurrent calls, so that they go to the
    server in one request (see `RewardModel`); None sends every call alone."""

    _formatter: RewardInputFormatter | None = PrivateAttr(default=None)
    _columns: dict[str, int] | None = PrivateAttr(default=None)
    _rule: Combination | None = PrivateAttr(default=None)
    _label: int = PrivateAttr(default=0)

    def __init__(self, base_url: str | None = None, **kwargs: Any) -> None:
        """Create from the server's address, positionally or as `base_url=`."""
        if base_url is not None:
            kwargs["base_url"] = base_url
        super().__init__(**kwargs)

    def __repr_args__(self) -> Any:
        for field, value in super().__repr_args__():
            yield field, redact_url(value) if field == "base_url" else value

    def get_name(self, suffix: str | None = None, *, name: str | None = None) -> str:
        """`RemoteRewardModel(<model> at <url>)`, so messages say which server it is."""
        if name is None and self.name is None:
            name = f"{type(self).__name__}({self.model} at {redact_url(self.base_url)})"
        return super().get_name(suffix, name=name)

    @property
    def url(self) -> str:
        """The endpoint's full address (with any credentials of `base_url`: not for messages)."""
        base, query = _split_query(self.base_url)
        base = base.rstrip("/").removesuffix("/v1")
        return f"{base}/{self.endpoint}{query}"

    @property
    def shown_url(self) -> str:
        """The endpoint's address as messages show it, credentials hidden."""
        return redact_url(self.url)

    def check_tokenizer(self) -> None:
        """Load the tokenizer (and the labels) now, so a wrong name fails before any request."""
        self._get_formatter()
        self._get_columns()

    def _get_columns(self) -> dict[str, int]:
        """The named columns the combination reads ({} when the reward is one column)."""
        if self._columns is None:
            source = self.tokenizer if isinstance(self.tokenizer, str) else self.model
            config = _local_config(source)
            declared = getattr(config, DECLARED_COMBINATION, None)
            if config is not None and (self.combination is not None or declared):
                self._label, self._rule, self._columns = reward_columns(
                    config, self.label_index, self.combination, self.get_name()
                )
            elif self.combination is not None:
                named = [p for p in self.combination.parts if not p.isdigit()]
                if named:
                    msg = (
                        f"{self.get_name()}: the combination names labels {named}, but the "
                        f"checkpoint's config could not be read from {source!r}; name the "
                        "columns by number instead."
                    )
                    raise ValueError(msg)
                self._rule = self.combination
                self._columns = {part: int(part) for part in self.combination.parts}
            else:
                self._label, self._columns = self.label_index or 0, {}
        return self._columns

    def _get_formatter(self) -> RewardInputFormatter:
        if self._formatter is None:
            tokenizer = self.tokenizer
            if tokenizer is None or isinstance(tokenizer, str):
                require(("transformers",), "RemoteRewardModel (to tokenize pairs)", "hf")
                from transformers import AutoTokenizer

                tokenizer = AutoTokenizer.from_pretrained(tokenizer or self.model)
            max_length = self.max_length or default_max_length(None, tokenizer)
            self._formatter = RewardInputFormatter(tokenizer, self.chat_template, max_length)
        return self._formatter

    def _body(self, pairs: Sequence[Pair]) -> dict[str, Any]:
        formatter = self._get_formatter()
        encoded = formatter.encode_all(pairs)
        self.truncated += count_truncated(self.get_name(), encoded, formatter.max_length)
        body: dict[str, Any] = {
            "model": self.model,
            "input": [item.input_ids for item in encoded],
            "use_activation": False,  # the raw logit, not its sigmoid
            "add_special_tokens": False,  # the ids already hold what the template puts
        }
        if self.endpoint == "pooling":
            body["task"] = "classify"
        return body

    def _headers(self) -> dict[str, str]:
        if self.api_key is None or not self.api_key.get_secret_value():
            return {}
        return {"Authorization": f"Bearer {self.api_key.get_secret_value()}"}

    def _score(self, pairs: Sequence[Pair]) -> Sequence[float | Reward]:
        import httpx

        body = self._body(pairs)
        with httpx.Client(timeout=self.timeout, **self.client_kwargs) as client:
            for attempt in range(self.max_retries + 1):
                try:
                    response = client.post(self.url, json=body, headers=self._headers())
                except httpx.TransportError as error:
                    failure: str | httpx.Response = _describe(error)
                else:
                    if response.status_code not in _RETRY_STATUS:
                        return self._parse(response, len(pairs))
                    failure = response
                if attempt < self.max_retries:
                    time.sleep(self.retry_backoff * 2**attempt)
        raise self._give_up(failure)

    async def _ascore(self, pairs: Sequence[Pair]) -> Sequence[float | Reward]:
        import httpx

        body = self._body(pairs)
        async with httpx.AsyncClient(timeout=self.timeout, **self.client_kwargs) as client:
            for attempt in range(self.max_retries + 1):
                try:
                    response = await client.post(self.url, json=body, headers=self._headers())
                except httpx.TransportError as error:
                    failure: str | httpx.Response = _describe(error)
                else:
                    if response.status_code not in _RETRY_STATUS:
                        return self._parse(response, len(pairs))
                    failure = response
                if attempt < self.max_retries:
                    await asyncio.sleep(self.retry_backoff * 2**attempt)
        raise self._give_up(failure)

    def _give_up(self, failure: Any) -> RewardServerError:
        attempts = self.max_retries + 1
        if isinstance(failure, str):
            msg = (
                f"{self.get_name()}: could not reach {self.shown_url} after {attempts} attempt(s): "
                f"{failure}. Is the server running (vllm serve {self.model} --runner pooling)?"
            )
        else:
            msg = (
                f"{self.get_name()}: {self.shown_url} answered HTTP {failure.status_code} "
                f"{_error_text(failure)} after {attempts} attempt(s)."
            )
        error = RewardServerError(msg)
        error.is_retryable = True
        return error

    def _parse(self, response: Any, expected: int) -> list[float | Reward]:
        if response.status_code != 200:
            msg = (
                f"{self.get_name()}: {self.shown_url} answered HTTP {response.status_code} "
                f"{_error_text(response)}"
            )
            raise RewardServerError(msg)
        try:
            items = sorted(response.json()["data"], key=lambda item: item["index"])
            key = "probs" if self.endpoint == "classify" else "data"
            rows = [item[key] if isinstance(item[key], list) else [item[key]] for item in items]
            columns = self._get_columns()
            scores = rewards_of_rows(rows, self._label, self._rule, columns)
        except (ValueError, KeyError, TypeError, IndexError) as error:
            msg = (
                f"{self.get_name()}: unexpected answer from {self.shown_url} ({error!r}): "
                f"{response.text[:200]!r}"
            )
            raise RewardServerError(msg) from None
        if len(scores) != expected:
            msg = (
                f"{self.get_name()}: {self.shown_url} returned {len(scores)} scores for {expected} "
                "pairs."
            )
            raise RewardServerError(msg)
        return scores


def _local_config(source: str) -> Any:
    """The checkpoint's config when it can be read offline (a local directory), else None."""
    try:
        from transformers import AutoConfig

        return AutoConfig.from_pretrained(source, local_files_only=True)
    except (ImportError, OSError, ValueError):
        return None


def _split_query(url: str) -> tuple[str, str]:
    """`("http://host/v1", "?key=...")`: the endpoint goes before the query, not after it."""
    base, mark, query = url.partition("?")
    return base, f"{mark}{query}"


def _describe(error: Exception) -> str:
    text = redact_text(str(error))
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _error_text(response: Any) -> str:
    """The server's error message (vLLM's `{"error": {"message": ...}}`), or the raw body."""
    try:
        payload = response.json()
        error = payload.get("error", payload) if isinstance(payload, dict) else payload
        message = error.get("message", error) if isinstance(error, dict) else error
        return str(message)[:500]
    except ValueError:
        return str(response.text)[:500]
