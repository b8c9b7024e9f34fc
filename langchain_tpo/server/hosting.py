"""Run the app on uvicorn: in the foreground (`tpo serve`) or in a thread (tests, benchmarks)."""

from __future__ import annotations

import socket
import threading
from types import TracebackType

import uvicorn
from starlette.applications import Starlette

from langchain_tpo.server.routes import ServerState
from langchain_tpo.server.shutdown import DrainingServer


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to `host:port` (port 0: a free one), not yet listening: connections are
    refused until the server starts, so nobody waits on a server still loading models.

    Raises:
        OSError: The address is taken or cannot be used.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def server_for(
    app: Starlette, *, log_level: str = "warning", access_log: bool = False
) -> DrainingServer:
    """A uvicorn server for `app` that drains on SIGTERM (see `shutdown.DrainingServer`)."""
    state: ServerState = app.state.tpo
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=access_log,
        lifespan="off",
        timeout_keep_alive=30,  # longer than clients keep idle connections (httpx: 5 s)
        server_header=False,
    )
    return DrainingServer(config, state.lifecycle, state.admission, state.settings.drain_limit_s)


class ServerThread:
    """The app served on 127.0.0.1 in a background thread, for tests and benchmarks.

    Example:
        ```python
        with ServerThread(create_app(chain)) as server:
            OpenAI(base_url=f"{server.url}/v1", api_key="x").models.list()
        ```
    """

    def __init__(self, app: Starlette, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.socket = bind(host, port)
        self.server = server_for(app)
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT` (the OpenAI API is under `/v1`)."""
        host, port = self.socket.getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self, timeout: float = 30.0) -> ServerThread:
        self._thread.start()
        started = threading.Event()
        while not self.server.started and self._thread.is_alive():
            started.wait(0.01)
            timeout -= 0.01
            if timeout <= 0:
                msg = "the server did not start"
                raise TimeoutError(msg)
        return self

    def drain(self) -> None:
        """What SIGTERM does: stop taking requests, finish those in flight, then stop."""
        import signal

        self.server.handle_exit(signal.SIGTERM, None)

    def stop(self, timeout: float = 30.0) -> None:
        self.server.should_exit = True
        self._thread.join(timeout)
        self.socket.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def stopped(self) -> bool:
        """Whether the server has stopped (after a drain, say)."""
        return not self._thread.is_alive()
