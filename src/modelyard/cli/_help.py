"""Readable ``--help``: placeholders people understand, and every command's Examples.

Typer labels each parameter with its Python type (``--json <bool>``,
``--role <list[str]>``, a required argument ``{ref}`` in the usage line).
``polish`` walks the built command tree once and gives each parameter a
placeholder instead: nothing for a flag, ``TEXT``, ``INTEGER``, ``NUMBER``,
``PATH`` or the choices for an option (``TEXT (repeatable)`` when it may be
given several times), and the upper-case name for an argument (``REF``,
``RUN_IDS...``). It also attaches each command's examples from
``cli.examples`` as its epilog, so commands added anywhere get both without
touching their decorators.
"""

from __future__ import annotations

import re
from types import MethodType
from typing import Any

from rich.markup import escape

from modelyard.cli.examples import examples_for

# What Typer's type labels become (anything else: the label upper-cased).
WORDS = {
    "str": "TEXT",
    "int": "INTEGER",
    "float": "NUMBER",
    "path": "PATH",
    "file": "PATH",
    "directory": "PATH",
    "datetime": "DATETIME",
    "uuid": "UUID",
}
RAW_LABEL = re.compile(r"^<(.*)>$")


def _word(label: str) -> str:
    inner = RAW_LABEL.sub(r"\1", label.strip())
    listed = re.fullmatch(r"list\[(.*)\]", inner)
    if listed:
        inner = listed[1]
    if "|" in inner:  # choices: shown as they are typed
        return inner
    return WORDS.get(inner.lower(), inner.upper())


def _option_placeholder(param: Any, ctx: Any) -> str:
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return ""
    word = _word(param.display_type(ctx))
    return f"{word} (repeatable)" if getattr(param, "multiple", False) else word


def _argument_usage(self: Any) -> str:
    """The usage line's ``REF`` (``[REF]`` when optional, ``RUN_IDS...`` for several)."""
    name = self.metavar
    if not self.required:
        name = f"[{name}]"
    return name


def _polish_params(command: Any, ctx: Any) -> None:
    params = list(command.params)
    help_option = command.get_help_option(ctx)  # built per context, then cached
    if help_option is not None:
        params.append(help_option)
    for param in params:
        if param.param_type_name == "argument":
            if param.metavar is None:
                many = param.nargs != 1
                param.metavar = param.name.upper() + ("..." if many else "")
                param._usage_display_name = MethodType(_argument_usage, param)
            word = _word(param.display_type(ctx))
            param.display_type_rich = MethodType(
                lambda self, ctx, word=word: "" if word == "TEXT" else word, param
            )
        elif param.metavar is None:
            param.metavar = _option_placeholder(param, ctx)


def epilog(path: str) -> str | None:
    """The Examples section for the command at ``path``, as Rich markup (or None)."""
    lines = examples_for(path)
    if not lines:
        return None
    body = "\n".join(f"  [bold]$[/bold] {escape(line)}" for line in lines)
    return f"[bold]Examples[/bold]\n{body}"


def polish(command: Any, path: str = "") -> None:
    """Readable placeholders and Examples for ``command`` and every command below it."""
    ctx = command.context_class(command, info_name=path.rsplit(" ", 1)[-1] or "modelyard")
    _polish_params(command, ctx)
    if command.epilog is None:
        command.epilog = epilog(path)
    for name, sub in (getattr(command, "commands", None) or {}).items():
        polish(sub, f"{path} {name}".strip())
