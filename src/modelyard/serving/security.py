"""API keys: only their SHA-256 is configured; a request shows the key itself.

A key arrives in ``X-API-Key`` or ``Authorization: Bearer <key>``. Hashes
are written ``sha256:<64 hex digits>``; :func:`hash_api_key` makes one
(``modelyard serve --api-key-hash $(python -c ...)``). Health probes stay
open so that an orchestrator needs no key.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from modelyard.errors import InvalidInput
from modelyard.serving.errors import Unauthorized

__all__ = ["OPEN_PATHS", "ApiKeyAuth", "generate_api_key", "hash_api_key", "normalise_hash"]

OPEN_PATHS = frozenset({"/v2/health/live", "/v2/health/ready", "/ping", "/health"})
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def hash_api_key(key: str) -> str:
    """``sha256:<hex>`` of an API key, the form the configuration holds."""
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def generate_api_key() -> str:
    return secrets.token_urlsafe(32)


def normalise_hash(value: str) -> str:
    text = value.strip().lower().removeprefix("sha256:")
    if not _HEX64.match(text):
        raise InvalidInput(
            "an API key hash must be 'sha256:' and 64 hex digits (see "
            "modelyard.serving.security.hash_api_key); got a value of "
            f"{len(value)} characters"
        )
    return "sha256:" + text


class ApiKeyAuth:
    """Checks a request's key against the configured hashes."""

    def __init__(self, hashes: tuple[str, ...]) -> None:
        self._digests = frozenset(normalise_hash(h).removeprefix("sha256:") for h in hashes)
        self.enabled = bool(self._digests)

    def check(self, headers: list[tuple[bytes, bytes]], path: str) -> None:
        """Raise Unauthorized unless the raw ASGI ``headers`` carry a configured key."""
        if not self.enabled or path in OPEN_PATHS:
            return
        key = None
        for name, value in headers:
            if name == b"x-api-key":
                key = value
                break
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                key = value[7:].strip()
                break
        if not key:
            raise Unauthorized("an API key is required: send it in X-API-Key or as a Bearer token")
        # A set lookup of the digest leaks nothing useful: finding a key from
        # timing would mean inverting SHA-256.
        if hashlib.sha256(key).hexdigest() not in self._digests:
            raise Unauthorized("the API key is not valid")
