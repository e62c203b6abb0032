"""Progress of a batch job: a Rich bar (rows, rows/s, ETA) on stderr, or nothing."""

from __future__ import annotations

import threading
from typing import Any, Protocol

__all__ = ["NullProgress", "Progress", "RichProgress", "make_progress"]


class Progress(Protocol):
    def start(self, total: int | None, done: int, description: str) -> None: ...
    def advance(self, rows: int) -> None: ...
    def stop(self) -> None: ...


class NullProgress:
    """For scripts (``--quiet``) and engines that run without a terminal."""

    def start(self, total: int | None, done: int, description: str) -> None:
        return None

    def advance(self, rows: int) -> None:
        return None

    def stop(self) -> None:
        return None


class RichProgress:
    """A Rich progress bar; ``advance`` may be called from any thread."""

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console

        self._console = console or Console(stderr=True)
        self._bar: Any = None
        self._task: Any = None
        self._total: int | None = None
        self._lock = threading.Lock()

    def start(self, total: int | None, done: int, description: str) -> None:
        from rich.progress import (
            BarColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[rows]}"),
            TextColumn("{task.fields[speed]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self._console,
            transient=False,
        )
        self._bar.start()
        self._total = total
        self._task = self._bar.add_task(
            description, total=total, completed=done, speed="", rows=self._rows(done)
        )

    def advance(self, rows: int) -> None:
        with self._lock:
            if self._bar is None:
                return
            self._bar.advance(self._task, rows)
            task = self._bar.tasks[0]
            speed = f"{task.speed:,.0f} rows/s" if task.speed else ""
            self._bar.update(self._task, speed=speed, rows=self._rows(int(task.completed)))

    def _rows(self, done: int) -> str:
        return f"{done:,}/{self._total:,} rows" if self._total else f"{done:,} rows"

    def stop(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.stop()
                self._bar = None


def make_progress(quiet: bool, console: Any = None) -> Progress:
    return NullProgress() if quiet else RichProgress(console)
