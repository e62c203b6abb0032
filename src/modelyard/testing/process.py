"""A server in a child process that tests wait for on readiness, never on a fixed delay.

The platform server and the single sign-on tests' OpenID Connect provider
both start a child, poll one URL until it answers 200 (failing at once if the
child died, with the tail of its log), and stop it on exit; this is that part.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

__all__ = ["ChildServer", "free_port"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ChildServer(ABC):
    """A child process serving HTTP; subclasses say how to start it (``start``)."""

    name = "the server"

    def __init__(self, log_path: Path, startup_timeout_s: float) -> None:
        self._log_path = log_path
        self._timeout = startup_timeout_s
        self.process: subprocess.Popen[bytes] | None = None

    @abstractmethod
    def start(self) -> Self:
        """Launch the child (``_launch``) and return once it is ready."""

    def _launch(
        self,
        command: list[str],
        *,
        env: dict[str, str],
        ready_url: str,
        cwd: str | os.PathLike[str] | None = None,
        new_session: bool = False,
    ) -> None:
        """Start ``command`` with its output in the log; return once ``ready_url`` answers 200.

        A loaded machine may take minutes, so the ceiling is generous; a child
        that exits meanwhile fails at once with its log. ``new_session``: the
        child leads a process group of its own (a server with worker processes),
        which :meth:`send` can signal as a whole.
        """
        log = open(self._log_path, "ab")  # noqa: SIM115 - handed to the child
        self.process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=log, stderr=log, start_new_session=new_session
        )
        log.close()
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited at start-up; see {self._log_path}:\n" + self.log()
                )
            try:
                if httpx.get(ready_url, timeout=2.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)  # not up, or up but still loading (a 503): ask again shortly
        self.stop()
        raise RuntimeError(f"{self.name} did not answer within {self._timeout} s:\n" + self.log())

    def log(self) -> str:
        try:
            return self._log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def send(self, sig: int, *, group: bool = False, timeout_s: float = 300.0) -> int:
        """Send ``sig`` to the child (``group``: to the process group it leads, when it
        was launched in a new session), wait for the child to exit; its return code."""
        if self.process is None:
            raise RuntimeError(f"{self.name} was never started")
        if self.process.poll() is None:
            if group:
                os.killpg(self.process.pid, sig)
            else:
                self.process.send_signal(sig)
        return self.process.wait(timeout=timeout_s)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
