"""Where a user's token comes from: an explicit argument, ``MODELYARD_TOKEN``, or a login.

``modelyard login`` saves one token per store in the user's configuration
directory — ``$XDG_CONFIG_HOME/modelyard/credentials`` (``~/.config/...``
by default, ``%APPDATA%\\modelyard\\credentials`` on Windows) — a JSON file
written atomically with mode 0600 in a 0700 folder. Like ``ssh`` with a
private key, a credentials file that others may read is refused rather than
used. The key of a store is its canonical address: an absolute SQLite path,
a database URL without its password, or a server URL.

This module sits at the bottom of the layers: it imports nothing of Modelyard
but its errors, so the CLI, ``connect()`` and the remote client share it.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelyard.errors import InvalidInput

__all__ = [
    "Credential",
    "credentials_path",
    "forget",
    "load",
    "resolve_token",
    "save",
    "store_key",
]

TOKEN_ENV = "MODELYARD_TOKEN"
_FORMAT = 1


@dataclass(frozen=True)
class Credential:
    """A token saved by ``modelyard login`` for one store, and where it came from."""

    token: str
    source: str  # "argument", "MODELYARD_TOKEN" or "login"
    user: str | None = None


def credentials_path() -> Path:
    """The credentials file of the current user (it may not exist yet)."""
    if sys.platform == "win32" and os.environ.get("APPDATA"):
        base = Path(os.environ["APPDATA"])
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "modelyard" / "credentials"


def store_key(url: str) -> str:
    """The canonical address a saved token is filed under.

    ``sqlite:///rel/yard.db`` becomes the absolute path; a password in a
    database URL is dropped (it is not part of the identity of the store and
    must not be written next to a token); a server URL loses its trailing slash.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    if scheme.startswith("sqlite"):
        path = rest[1:] if rest.startswith("/") else rest
        if path in ("", ":memory:"):
            return url
        return f"sqlite:///{Path(path).expanduser().resolve().as_posix()}"
    if scheme in ("http", "https"):
        return f"{scheme}://{rest.rstrip('/')}"
    if "@" in rest:
        creds, host = rest.rsplit("@", 1)
        rest = f"{creds.split(':', 1)[0]}@{host}"
    return f"{scheme}://{rest}"


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {"format": _FORMAT, "stores": {}}
    if os.name == "posix" and path.stat().st_mode & 0o077:
        raise InvalidInput(
            f"the credentials file {path} may be read by other users; it holds tokens, so "
            f"Modelyard refuses it: run 'chmod 600 {path}' (and consider revoking its tokens)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(
            f"the credentials file {path} cannot be read ({exc}); delete it and log in again"
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("stores"), dict):
        raise InvalidInput(
            f"the credentials file {path} is not a Modelyard credentials file; "
            "delete it and log in again"
        )
    return data


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".credentials-")
    try:
        # mkstemp creates the file 0600 already; chmod keeps it so on odd umasks.
        os.chmod(temp, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def load(url: str) -> Credential | None:
    """The token saved for the store at ``url``, if any."""
    entry = _read(credentials_path())["stores"].get(store_key(url))
    if not isinstance(entry, dict) or not isinstance(entry.get("token"), str):
        return None
    return Credential(entry["token"], "login", entry.get("user"))


def save(url: str, token: str, *, user: str) -> Path:
    """Save ``token`` (of ``user``) for the store at ``url``; returns the file written."""
    path = credentials_path()
    data = _read(path)
    data["format"] = _FORMAT
    data["stores"][store_key(url)] = {"token": token, "user": user}
    _write(path, data)
    return path


def forget(url: str) -> str | None:
    """Remove the token saved for ``url``; returns whose it was (None when there was none)."""
    path = credentials_path()
    data = _read(path)
    entry = data["stores"].pop(store_key(url), None)
    if entry is None:
        return None
    _write(path, data)
    return entry.get("user") if isinstance(entry, dict) else None


def resolve_token(explicit: str | None, url: str) -> Credential | None:
    """The token to act with: ``explicit``, else ``MODELYARD_TOKEN``, else the saved login."""
    if explicit:
        return Credential(explicit.strip(), "argument")
    from_env = os.environ.get(TOKEN_ENV, "").strip()
    if from_env:
        return Credential(from_env, TOKEN_ENV)
    return load(url)
