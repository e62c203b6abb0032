"""Output helpers shared by the CLI commands: JSON for scripts, Rich tables for people."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from rich import box
from rich.console import Console
from rich.table import Table

from modelyard._util.clock import ms_to_iso

# soft_wrap: messages are never broken mid-line (scripts grep them); tables still fit the width.
console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    sys.stdout.write(
        orjson.dumps(
            data, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY, default=str
        ).decode()
        + "\n"
    )


def table(
    title: str | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    wide: bool = False,
) -> None:
    """A table that fits the terminal by folding cells; ``wide``: as wide as its content."""
    grid = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        grid.add_column(column, overflow="fold", no_wrap=wide)
    count = 0
    for row in rows:
        grid.add_row(*(fmt(value) for value in row))
        count += 1
    if count == 0:
        console.print(f"[dim]{title or 'nothing'}: none yet[/dim]")
        return
    if wide:
        # As wide as the content, even past the terminal: the terminal may scroll or wrap.
        natural = Console(width=100_000).measure(grid).maximum
        Console(width=max(natural, console.width), highlight=False).print(grid)
        return
    console.print(grid)


def compact_table(
    title: str | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    flexible: Sequence[str] = (),
) -> None:
    """One line per row within the terminal's width: ``flexible`` columns are cut with '…'.

    For listings read at a glance in an 80-column terminal: the other columns
    (ids, states, times, figures) keep their full width, and what is left is
    shared by the flexible ones (names), each cut only if it must be.
    """
    cells = [[fmt(value) for value in row] for row in rows]
    if not cells:
        console.print(f"[dim]{title or 'nothing'}: none yet[/dim]")
        return
    natural = [max(len(columns[i]), *(len(row[i]) for row in cells)) for i in range(len(columns))]
    gap = 3  # between columns: a space each side of the (blank) rule; no edges
    fixed = sum(w for c, w in zip(columns, natural, strict=True) if c not in flexible)
    budget = console.width - fixed - gap * (len(columns) - 1)
    widths = dict(zip(columns, natural, strict=True))
    wanted = sorted((c for c in columns if c in flexible), key=lambda c: widths[c])
    for index, column in enumerate(wanted):  # narrowest first: what it leaves goes on
        share = max(budget // (len(wanted) - index), 4)
        widths[column] = min(widths[column], share)
        budget -= widths[column]
    grid = Table(
        title=title,
        title_justify="left",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1),
    )
    for column in columns:
        grid.add_column(column, no_wrap=True, overflow="ellipsis", width=widths[column])
    for row in cells:
        grid.add_row(*row)
    console.print(grid)


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def when(ms: int | None) -> str:
    text = ms_to_iso(ms)
    return text[:19].replace("T", " ") if text else "-"
