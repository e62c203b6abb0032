"""Names and references, validated and parsed in exactly one place.

A reference names a version of a dataset or a model:

    credit-risk/3        version 3
    credit-risk@champion the version an alias points at
    credit-risk@latest   the highest version number
    credit-risk          the same as @latest
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from modelyard.errors import InvalidInput

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
ALIAS_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


def check_name(name: object, what: str = "name") -> str:
    """Validate a dataset or model name: letters, digits, '.', '_', '-', at most 128."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise InvalidInput(
            f"{what} {name!r} is not valid: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def check_alias(alias: object) -> str:
    if not isinstance(alias, str) or not ALIAS_PATTERN.match(alias):
        raise InvalidInput(
            f"alias {alias!r} is not valid: use 1-64 letters, digits, '_' or '-', "
            "starting with a letter"
        )
    if alias.isdigit():
        raise InvalidInput(f"alias {alias!r} must not be a number")
    return alias


@dataclass(frozen=True, slots=True)
class Ref:
    """A parsed reference: exactly one of ``version`` and ``alias`` is set."""

    name: str
    version: int | None = None
    alias: str | None = None

    @property
    def is_latest(self) -> bool:
        return self.alias == "latest"

    def __str__(self) -> str:
        return (
            f"{self.name}/{self.version}"
            if self.version is not None
            else f"{self.name}@{self.alias}"
        )


def parse_ref(text: object, what: str = "reference") -> Ref:
    """Parse ``name/3``, ``name@alias``, ``name@latest`` or ``name``."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(f"{what} must be a string such as 'credit-risk@champion'; got {text!r}")
    text = text.strip()
    if "@" in text:
        name, _, alias = text.partition("@")
        return Ref(
            check_name(name, what), alias=check_alias(alias) if alias != "latest" else "latest"
        )
    if "/" in text:
        name, _, number = text.rpartition("/")
        if not number.isdigit() or int(number) < 1:
            raise InvalidInput(f"{what} {text!r}: the version after '/' must be a number >= 1")
        return Ref(check_name(name, what), version=int(number))
    return Ref(check_name(text, what), alias="latest")
