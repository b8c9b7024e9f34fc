"""A stub OpenAI-compatible server on 127.0.0.1 that answers, or fails on purpose.

It serves `GET /v1/models`, `GET /health`, `POST /v1/chat/completions` (a policy) and
`POST /classify` (a reward, as `vllm serve --runner pooling` does). Each request either gets a
normal answer or the fault the test set:

- `hang`: read the request, then never answer (until the server stops);
- `500`: an HTTP 500 with an OpenAI-style error body;
- `close`: close the connection without a response;
- `garbage`: HTTP 200 whose body is not JSON;
- `nan` (reward only): a NaN score.

`fail_every=k` makes only every k-th chat request fail, and `fail_after=k` lets the first k
chat requests through before the fault starts (a server that dies mid-run). `chat_delay`
makes every chat answer take that long (a slow model), `honour_n=False` makes the stub answer
one choice whatever `n` asks (a server without `n`), and every answer names the last user
message it answers, so a test can tell whose question an answer belongs to.

`thinking` makes the policy a reasoning model: every answer comes after a thought, written into
the content (`"tags"`: `<think>...</think>`) or beside it in the message (`"reasoning"`, as vLLM
0.10+ with a reasoning parser sends it, or `"reasoning_content"`, as earlier vLLM and DeepSeek
do), with the thought's tokens in `usage.completion_tokens_details.reasoning_tokens`; a request
whose `chat_template_kwargs.enable_thinking` is false, or whose `reasoning_effort` is "none",
gets no thought. A `response_format` of type json_schema gets an object of that schema.
"""

from __future__ import annotations

import json
import math
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from langchain_tpo.parsing import RESPONSE_END, RESPONSE_START

HANG_LIMIT = 120.0
"""A hanging request is released after this long even if the test forgot to stop the server."""


@dataclass
class Recorded:
    """One request the stub received."""

    method: str
    path: str
    headers: dict[str, str]
    """Header names in lower case."""
    body: Any


@dataclass
class StubServer:
    """The server's behaviour, changed by tests between requests."""

    model: str = "stub-model"
    chat_fault: str | None = None
    reward_fault: str | None = None
    fail_every: int | None = None
    fail_after: int | None = None
    chat_delay: float = 0.0
    honour_n: bool = True
    thinking: str | None = None
    requests: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._chat_calls = 0
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Root address, `http://127.0.0.1:PORT` (the OpenAI API lives under `/v1`)."""
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def chat_requests(self) -> list[Recorded]:
        """The chat-completion requests received so far."""
        return [r for r in self.requests if urlsplit(r.path).path.endswith("/chat/completions")]

    @property
    def reward_requests(self) -> list[Recorded]:
        """The /classify requests received so far."""
        return [r for r in self.requests if urlsplit(r.path).path.endswith("/classify")]

    def start(self) -> StubServer:
        stub = self

        class Handler(_Handler):
            server_state = stub

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def chat_fault_now(self) -> str | None:
        """The fault of the chat request being served, counting it."""
        with self._lock:
            self._chat_calls += 1
            k = self._chat_calls
        if self.fail_after is not None and k <= self.fail_after:
            return None
        if self.fail_every is not None:
            return self.chat_fault if k % self.fail_every == 0 else None
        return self.chat_fault

    def hang(self) -> None:
        self._stopping.wait(HANG_LIMIT)

    def pause(self) -> None:
        """Wait `chat_delay` seconds (less if the server stops)."""
        if self.chat_delay:
            self._stopping.wait(self.chat_delay)


class _Handler(BaseHTTPRequestHandler):
    server_state: StubServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _record(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        self.server_state.requests.append(
            Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        )
        return body

    def _send(self, status: int, payload: Any) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _fault(self, fault: str) -> None:
        if fault == "hang":
            self.server_state.hang()
            self.close_connection = True
        elif fault == "500":
            self._send(500, {"error": {"message": "stub failure", "type": "InternalServerError"}})
        elif fault == "close":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif fault == "garbage":
            self._send(200, b"<html>this is not json")
        else:
            raise ValueError(f"unknown fault {fault!r}")

    @property
    def route(self) -> str:
        """The path without its query (a key may travel in the query)."""
        return urlsplit(self.path).path.rstrip("/")

    def do_GET(self) -> None:
        self._record()
        if self.route.endswith("/models"):
            self._send(200, {"object": "list", "data": [{"id": self.server_state.model}]})
        elif self.route == "/health":
            self._send(200, {})
        else:
            self._send(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        body = self._record()
        if self.route.endswith("/chat/completions"):
            fault = self.server_state.chat_fault_now()
            if fault:
                self._fault(fault)
            else:
                self.server_state.pause()
                self._send(200, _completion(body, self.server_state))
        elif self.route.endswith(("/classify", "/pooling")):
            fault = self.server_state.reward_fault
            if fault == "nan":
                data = [{"index": i, "probs": [math.nan]} for i in range(len(body["input"]))]
                # json.dumps writes NaN, which Python's json (and httpx) reads back
                self._send(200, {"data": data})
            elif fault:
                self._fault(fault)
            else:
                data = [
                    {"index": i, "probs": [float(len(ids) % 17)]}
                    for i, ids in enumerate(body["input"])
                ]
                self._send(200, {"data": data})
        else:
            self._send(404, {"error": {"message": f"no route {self.path}"}})


THOUGHT = "Stub thought: what does the message ask for?"
"""The thought of every reply of a thinking stub (a token per word)."""


def _completion(body: dict[str, Any], state: StubServer) -> dict[str, Any]:
    n = int(body.get("n") or 1) if state.honour_n else 1
    messages = body.get("messages", [])
    prompt = " ".join(str(m.get("content", "")) for m in messages)
    rewrite = RESPONSE_START in prompt
    asked = next((m.get("content") for m in reversed(messages) if m.get("role") == "user"), "")
    asked = str(asked)[:80]  # the question (a critique prompt, cut short)
    schema = _asked_schema(body)
    thinks = state.thinking is not None and _may_think(body)
    choices = []
    thought_tokens = len(THOUGHT.split()) if thinks else 0
    for i in range(n):
        text = f"Answer {len(state.requests)}-{i} to [{asked}]: " + "more " * (i % 5)
        if schema is not None:
            text = json.dumps(_instance(schema, len(state.requests) + i))
        elif rewrite:
            text = f"{RESPONSE_START}{text.strip()}{RESPONSE_END}"
        message: dict[str, Any] = {"role": "assistant", "content": text.strip()}
        if thinks and state.thinking == "tags":
            message["content"] = f"<think>{THOUGHT}</think>\n\n{text.strip()}"
        elif thinks:
            message[str(state.thinking)] = THOUGHT
        choices.append({"index": i, "message": message, "finish_reason": "stop"})
    completion = (5 + thought_tokens) * n
    usage: dict[str, Any] = {
        "prompt_tokens": 10,
        "completion_tokens": completion,
        "total_tokens": 10 + completion,
    }
    if state.thinking is not None:
        usage["completion_tokens_details"] = {"reasoning_tokens": thought_tokens * n}
    return {
        "id": f"chatcmpl-{len(state.requests)}",
        "object": "chat.completion",
        "created": 0,
        "model": state.model,
        "choices": choices,
        "usage": usage,
    }


def _may_think(body: dict[str, Any]) -> bool:
    template = body.get("chat_template_kwargs") or {}
    return template.get("enable_thinking") is not False and body.get("reasoning_effort") != "none"


def _asked_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    wanted = body.get("response_format") or {}
    if wanted.get("type") != "json_schema":
        return None
    return dict((wanted.get("json_schema") or {}).get("schema") or {})


def _instance(schema: dict[str, Any], k: int) -> dict[str, Any]:
    """An object of a flat schema: strings named after their field, numbers `k`."""
    values = {"integer": k, "number": float(k), "boolean": True}
    return {
        name: values.get(spec.get("type"), f"{name} {k}")
        for name, spec in (schema.get("properties") or {}).items()
    }
