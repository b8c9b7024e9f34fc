"""`tpo serve`: TPO behind an OpenAI-compatible chat-completions endpoint.

Point any OpenAI client at it (`base_url="http://127.0.0.1:8100/v1"`) and every answer comes
back refined by TPO. One idea per module:

| module | one idea |
|---|---|
| `app.py` | assemble the Starlette app: routes, middleware, error handlers |
| `routes.py` | the endpoints |
| `body.py` | read a JSON body within the byte limit |
| `chat_request.py` | check a chat-completion request, within the server's caps |
| `messages.py` | OpenAI chat messages as LangChain messages |
| `admission.py` | concurrency, a bounded queue, 429 with Retry-After |
| `runs.py` | one request's TPO run: slot, run, progress, cancel, time limit |
| `responses.py` | a finished run as a `chat.completion` with a `tpo` object |
| `streaming.py` | a run as Server-Sent Events of `chat.completion.chunk`s |
| `progress.py` | progress events as lines of `reasoning_content` |
| `auth.py` | the bearer-key check, in constant time |
| `errors.py` | OpenAI-shaped error bodies |
| `metrics.py` | Prometheus metrics, fed by a callback handler on every run |
| `shutdown.py` | SIGTERM: drain, then exit 0 |
| `hosting.py` | run the app on uvicorn (foreground or a thread) |
| `settings.py` | the server's limits and caps |

Needs the `serve` extra: `pip install "langchain-tpo[serve]"`.
"""

from __future__ import annotations

from langchain_tpo.server.app import create_app
from langchain_tpo.server.hosting import ServerThread, bind, server_for
from langchain_tpo.server.settings import ServerSettings

__all__ = ["ServerSettings", "ServerThread", "bind", "create_app", "server_for"]
