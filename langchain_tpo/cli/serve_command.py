"""`tpo serve`: TPO behind an OpenAI-compatible endpoint, for any app and many users at once.

    tpo serve                                      # the embedded models on 127.0.0.1:8100
    tpo serve --server-url http://127.0.0.1:8000/v1 --api-key "$TPO_API_KEY"

Models load once, before the port opens; every request runs TPO on them. SIGTERM (or Ctrl-C)
stops taking requests, lets those in flight finish, and exits 0.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import PurePath
from typing import Any

from langchain_tpo.cli import models
from langchain_tpo.cli.errors import CLIError
from langchain_tpo.cli.run_command import config_from_args
from langchain_tpo.concurrent_runs import runs_at_once

DEFAULT_PORT = 8100
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "serve",
        help="serve TPO behind an OpenAI-compatible chat-completions endpoint",
        description="Serve TPO as an OpenAI-compatible API (POST /v1/chat/completions, "
        "GET /v1/models, /health, /ready, /metrics). Point any OpenAI client or chat "
        "front-end at http://HOST:PORT/v1; per-request TPO settings go in a `tpo` object "
        '(extra_body={"tpo": {"num_samples": 3, "max_iterations": 1}}).',
        epilog="SIGTERM or Ctrl-C: no new requests (503), runs in flight finish, exit 0; a "
        "second signal stops at once.",
    )
    parser.add_argument(
        "--mode",
        choices=("tpo", "revision", "bon"),
        default="tpo",
        help="default mode of a run (a request may set tpo.mode)",
    )
    models.add_sampling_arguments(parser, max_tokens=96, seed=None, run_timeout=False)
    models.add_model_arguments(parser, api_key_alias=False)
    http = parser.add_argument_group("server")
    http.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    http.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port ({DEFAULT_PORT}; 0: a free one)"
    )
    http.add_argument(
        "--api-key",
        dest="client_api_key",
        metavar="KEY",
        type=_secret,
        help=f"the key clients must send (Authorization: Bearer KEY); default "
        f"${models.CLIENT_KEY_VARIABLE}; without one, anyone who reaches the port may use it",
    )
    http.add_argument(
        "--served-model-name",
        metavar="NAME",
        action="append",
        help="a model name clients may ask for (repeatable; default: tpo, and the policy's "
        "own name)",
    )
    limits = parser.add_argument_group("limits")
    limits.add_argument(
        "--max-concurrency",
        type=int,
        metavar="N",
        help="TPO runs at once (default: 8, or as many as an in-process transformers policy "
        "serves well: 1 on a CPU; the others wait in the queue)",
    )
    limits.add_argument(
        "--max-queue",
        type=int,
        default=64,
        metavar="N",
        help="requests waiting for a run; beyond it, 429 with Retry-After (64)",
    )
    limits.add_argument(
        "--request-timeout",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="seconds a request may take, queue included; then the best answer so far is "
        "returned with finish_reason 'length' (600)",
    )
    limits.add_argument(
        "--max-samples", type=int, default=16, metavar="N", help="most tpo.num_samples and n (16)"
    )
    limits.add_argument(
        "--max-iterations", type=int, default=5, metavar="D", help="most tpo.max_iterations (5)"
    )
    limits.add_argument(
        "--max-tokens-cap",
        type=int,
        default=4096,
        metavar="N",
        help="most max_tokens a request may ask for (4096)",
    )
    limits.add_argument(
        "--max-body-bytes",
        type=int,
        default=1_000_000,
        metavar="N",
        help="largest request body; larger ones get 413 unread (1000000)",
    )
    limits.add_argument(
        "--max-messages", type=int, default=256, metavar="N", help="messages per request (256)"
    )
    limits.add_argument(
        "--max-chars",
        type=int,
        default=200_000,
        metavar="N",
        help="characters of text per request (200000)",
    )
    limits.add_argument(
        "--keep-alive",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="seconds of silence before a stream sends a keep-alive comment (15)",
    )
    parser.add_argument(
        "--log-level",
        choices=("critical", "error", "warning", "info", "debug"),
        default="warning",
        help="server log level (warning); 'info' also logs each request line",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    parser.set_defaults(handler=serve)


def _secret(value: str) -> Any:
    from pydantic import SecretStr

    return SecretStr(value)


def serve(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    say = _sayer(args.quiet)
    try:
        from langchain_tpo.server import ServerSettings, bind, create_app, server_for
    except ImportError as e:
        msg = f'tpo serve needs the serve extra: pip install "langchain-tpo[serve]" ({e})'
        raise CLIError(msg, exit_code=1) from e
    key = models.client_api_key(args)
    if key is None and args.host not in _LOOPBACK:
        say(
            f"warning: listening on {args.host} without an API key: anyone who can reach the "
            f"port can use the models (--api-key or ${models.CLIENT_KEY_VARIABLE})."
        )
    try:
        sock = bind(args.host, args.port)
    except OSError as e:
        raise CLIError(f"cannot listen on {args.host}:{args.port}: {e}", exit_code=1) from e
    from langchain_tpo.chain import TPOChain

    with sock, models.loaded_models(args, say) as (policy, reward):
        chain = TPOChain(policy=policy, reward=reward, config=config)
        if args.max_concurrency is None:
            args.max_concurrency, why = runs_at_once(policy, usual=8)
            if why:
                say(f"{args.max_concurrency} run(s) at once: {why} (--max-concurrency to change).")
        try:
            settings = ServerSettings(
                model_ids=tuple(args.served_model_name or _default_names(policy)),
                api_key=key,
                max_concurrency=args.max_concurrency,
                max_queue=args.max_queue,
                request_timeout_s=args.request_timeout,
                max_samples=args.max_samples,
                max_iterations=args.max_iterations,
                max_tokens=args.max_tokens_cap,
                max_retries=args.retries,
                max_body_bytes=args.max_body_bytes,
                max_messages=args.max_messages,
                max_chars=args.max_chars,
                keep_alive_s=args.keep_alive,
                secrets=tuple(models.secrets_of(args)),
            )
        except ValueError as e:
            raise CLIError(str(e)) from None
        app = create_app(chain, settings)
        verbose = args.log_level in ("info", "debug")
        server = server_for(app, log_level=args.log_level, access_log=verbose)
        lifecycle = app.state.tpo.lifecycle
        admission = app.state.tpo.admission
        lifecycle.on_drain.append(
            lambda: say(
                f"Stopping: no new requests; waiting for {admission.in_flight} in flight "
                "(a second signal stops at once)."
            )
        )
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in str(host) else host
        server.on_started.append(
            lambda: say(
                f"Serving TPO on http://{shown}:{port}/v1 as {', '.join(settings.model_ids)} "
                f"(N={config.num_samples}, D={config.max_iterations}, "
                f"{settings.max_concurrency} runs at once, "
                f"{'API key required' if key else 'no API key'})."
            )
        )
        server.run(sockets=[sock])
    say("Stopped.")
    return 0


def _default_names(policy: Any) -> list[str]:
    """`tpo`, then the policy's own name (a local directory by its last part), so an app
    that named the model server's model keeps working when pointed here."""
    names = ["tpo"]
    for attr in ("model_name", "model", "model_id"):
        value = getattr(policy, attr, None)
        if isinstance(value, str) and value:
            name = PurePath(value).name if os.path.isabs(value) else value
            if name and name not in names:
                names.append(name)
            break
    return names


def _sayer(quiet: bool) -> Any:
    start = time.perf_counter()

    def say(text: str) -> None:
        if not quiet:
            print(f"[{time.perf_counter() - start:6.1f}s] {text}", file=sys.stderr, flush=True)

    return say
