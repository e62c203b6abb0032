"""A platform server in a child process, for tests and benchmarks of the REST API and UI.

    with PlatformServer(store_url, artifact_root, home=home) as server:
        remote = modelyard.connect(server.url, token=...)

The child runs ``modelyard server`` on a free localhost port against the
given store; ``peak_rss_mib()`` reads its high-water resident memory
(``VmHWM``) from ``/proc``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

__all__ = ["PlatformServer", "Site", "free_port", "make_site"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PlatformServer:
    """``modelyard server`` over one store, started on enter and stopped on exit."""

    def __init__(
        self,
        store_url: str,
        artifact_root: str,
        *,
        home: str | os.PathLike[str],
        port: int | None = None,
        log: str | os.PathLike[str] | None = None,
        startup_timeout_s: float = 300.0,
        env: dict[str, str] | None = None,
    ) -> None:
        self.store_url = store_url
        self.extra_env = dict(env or {})
        self.artifact_root = artifact_root
        self.home = Path(home)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log_path = Path(log) if log else self.home / "server.log"
        self._timeout = startup_timeout_s
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> PlatformServer:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
        env.update(
            MODELYARD_STORE_URL=self.store_url,
            MODELYARD_ARTIFACT_ROOT=self.artifact_root,
            MODELYARD_HOME=str(self.home),
            MODELYARD_USER="modelyard-server",
        )
        env.update(self.extra_env)
        self.home.mkdir(parents=True, exist_ok=True)
        log = open(self._log_path, "ab")  # noqa: SIM115 - handed to the child
        command = [sys.executable, "-m", "modelyard.cli.main", "server", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--log-level", "warning"]
        self.process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the server exited at start-up; see {self._log_path}:\n" + self.log()
                )
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the server did not answer within {self._timeout} s:\n" + self.log())

    def log(self) -> str:
        try:
            return self._log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def peak_rss_mib(self) -> float:
        """The child's peak resident memory so far (Linux ``VmHWM``), in MiB."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("VmHWM not found in /proc; peak RSS needs Linux")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)

    def __enter__(self) -> PlatformServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


USERS = {
    "root": ["admin", "developer"],
    "dev": ["developer"],
    "val": ["validator"],
    "appr": ["approver"],
    "viewer": ["viewer"],
}


@dataclass
class Site:
    """A running server, its store, and a token per user."""

    url: str
    root: Path
    store_url: str
    artifact_root: str
    tokens: dict[str, str]
    server: PlatformServer

    def local(self, user: str) -> Any:
        """The store opened directly (not through the server), acting with ``user``'s token."""
        import modelyard

        return modelyard.connect(
            self.store_url,
            artifact_root=self.artifact_root,
            home=str(self.root),
            token=self.tokens[user],
        )

    def client(self, user: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    @contextmanager
    def login(self, user: str) -> Iterator[httpx.Client]:
        """A browser-like client signed in to the UI as ``user``."""
        with httpx.Client(base_url=self.url, timeout=60) as client:
            response = client.post("/login", data={"user": user, "token": self.tokens[user]})
            assert response.status_code == 303, response.text
            yield client


def make_site(root: Path) -> Site:
    """A SQLite store with one user per role and a token each, and a server on it."""
    from modelyard.testing.identity import govern

    store_url = f"sqlite:///{root / 'yard.db'}"
    artifact_root = str(root / "artifacts")
    tokens = govern(store_url, USERS, artifact_root=artifact_root, home=str(root))
    server = PlatformServer(store_url, artifact_root, home=root / "server").start()
    return Site(server.url, root, store_url, artifact_root, tokens, server)
