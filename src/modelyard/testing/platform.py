"""A platform server in a child process, for tests and benchmarks of the REST API and UI.

    with PlatformServer(store_url, artifact_root, home=home) as server:
        remote = modelyard.connect(server.url, token=...)

The child runs ``modelyard server`` on a free localhost port against the
given store; ``peak_rss_mib()`` reads its high-water resident memory
(``VmHWM``) from ``/proc``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from modelyard.testing.process import ChildServer, free_port

__all__ = ["PlatformServer", "Site", "free_port", "make_site"]


class PlatformServer(ChildServer):
    """``modelyard server`` over one store, started on enter and stopped on exit."""

    name = "the server"

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
        super().__init__(Path(log) if log else self.home / "server.log", startup_timeout_s)

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
        command = [sys.executable, "-m", "modelyard.cli.main", "server", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--log-level", "warning"]
        self._launch(command, env=env, ready_url=f"{self.url}/api/v1/health")
        return self

    def peak_rss_mib(self) -> float:
        """The child's peak resident memory so far (Linux ``VmHWM``), in MiB."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("VmHWM not found in /proc; peak RSS needs Linux")


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
