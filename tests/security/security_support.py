"""Helpers of the security tests: a crafted pickle, and a real uvicorn serving server.

(A module name no other test folder uses, so ``from security_support import ...``
is never another folder's helper.)
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


class Trojan:
    """A model that scores like a real one in memory, and whose pickle runs a payload.

    ``__reduce__`` makes ``pickle.dumps`` record a call of the builtin ``exec``
    with code that writes this process id into ``marker`` — what a developer
    could hide in a model file. Unpickling runs it; the object it leaves behind
    is irrelevant, the side effect is the attack.
    """

    def __init__(self, model: Any, marker: Path) -> None:
        self.model = model
        self.marker = str(marker)
        self.classes_ = model.classes_

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return self.model.predict(frame)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self.model.predict_proba(frame)

    def __reduce__(self) -> tuple[Any, ...]:
        code = f"import os, pathlib; pathlib.Path({self.marker!r}).write_text(str(os.getpid()))"
        return (exec, (code,))


@dataclass
class LiveServer:
    """A uvicorn server running an ASGI app in a background thread."""

    server: Any
    thread: threading.Thread
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(60)
        assert not self.thread.is_alive(), "the server did not stop"


def start_server(app: Any) -> LiveServer:
    """Serve ``app`` on a free localhost port; wait (minutes at most) until it listens."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, lifespan="on", access_log=False, log_config=None, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 300
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    return LiveServer(server, thread, port)


def serving_config() -> Any:
    from modelyard.serving import ServingConfig

    return ServingConfig.build(poll_interval_s=0, gc_freeze=False, warm_rows=50)
