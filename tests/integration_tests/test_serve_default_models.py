"""`tpo serve` on the real embedded default models (transformers), driven by the openai client.

Tiny on purpose (N=2, D=1, a few tokens): it checks that the command loads the defaults,
answers a chat completion and a stream with real token usage, and stops cleanly on SIGTERM.
"""

from __future__ import annotations

import signal

import openai
import pytest

from tests.integration_tests.default_models import require_default_models
from tests.server_tests.conftest import ServeProcess

pytestmark = [pytest.mark.integration, pytest.mark.requires("transformers")]

pytest.importorskip("transformers")
require_default_models()


def test_serve_answers_on_the_default_models() -> None:
    server = ServeProcess("-n", "2", "-d", "1", "--max-tokens", "8", "--seed", "0")
    try:
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="none", timeout=600)
        assert client.models.list().data[0].id == "tpo"
        raw = client.chat.completions.with_raw_response.create(
            model="tpo", messages=[{"role": "user", "content": "Name a fruit."}]
        )
        completion = raw.parse()
        assert (completion.choices[0].message.content or "").strip()
        assert completion.choices[0].finish_reason == "stop"
        assert completion.usage is not None and completion.usage.completion_tokens > 0
        tpo = raw.http_response.json()["tpo"]
        assert tpo["stop_reason"] == "max_iterations" and tpo["model_calls"] == 4
        assert isinstance(tpo["score"], float) and len(tpo["best_scores"]) == 2
        chunks = list(
            client.chat.completions.create(
                model="tpo",
                messages=[{"role": "user", "content": "Name a colour."}],
                stream=True,
                extra_body={"tpo": {"max_iterations": 0, "mode": "bon"}},
            )
        )
        assert chunks[-1].choices[0].finish_reason == "stop"
        assert "".join(c.choices[0].delta.content or "" for c in chunks).strip()
        server.process.send_signal(signal.SIGTERM)
        assert server.wait(120) == 0, server.stderr
        assert "Traceback" not in server.stderr
    finally:
        server.stop()
