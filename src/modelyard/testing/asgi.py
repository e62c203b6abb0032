"""An ASGI app served by a real uvicorn server in a background thread, for tests.

:class:`~modelyard.testing.process.ChildServer` runs a server in a child
process; a test that must reach the app's objects in its own process (the
serving app's loaded models, its prediction log sink, a Yard it shares) serves
the app here instead: a free localhost port, real HTTP, and a wait on
readiness with a generous ceiling (a loaded machine can take minutes), never
a fixed delay.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

__all__ = ["LiveServer", "start_server"]

STARTUP_CEILING_S = 300.0


@dataclass
class LiveServer:
    """A uvicorn server running ``app`` in a daemon thread on ``port``."""

    app: Any
    server: Any
    thread: threading.Thread
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Ask the server to exit (its lifespan shutdown runs) and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(60)
        if self.thread.is_alive():
            raise RuntimeError("the test server did not stop within 60 s")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_server(app: Any, **options: Any) -> LiveServer:
    """Serve ``app`` on a free localhost port; return once it listens.

    ``options`` go to ``uvicorn.Config`` over quiet defaults (lifespan on, no
    access log); the serving tests pass ``loop="uvloop", http="httptools"``.
    The socket is bound here and handed to uvicorn, so no other process can
    take the port between choosing and listening.

    Raises:
        RuntimeError: The server thread died, or did not listen within the ceiling.
    """
    import uvicorn

    config_options: dict[str, Any] = {
        "lifespan": "on",
        "access_log": False,
        "log_config": None,
        "log_level": "warning",
        **options,
    }
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, **config_options))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_CEILING_S
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the test server's thread died at start-up")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the test server did not listen within {STARTUP_CEILING_S:.0f} s")
        time.sleep(0.01)
    return LiveServer(app, server, thread, port)
