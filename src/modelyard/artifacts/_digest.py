"""Content digests: the one spelling of a blob's address.

A digest is ``"sha256:"`` followed by 64 lowercase hex characters. One
spelling only, because digests are compared as strings everywhere (registry
rows, manifests, audit events): ``SHA256:AB...`` and ``sha256:ab...`` would be
the same content under two identities.
"""

from __future__ import annotations

import re

from modelyard.errors import InvalidInput

ALGORITHM = "sha256"
PREFIX = f"{ALGORITHM}:"
_HEX = re.compile(r"[0-9a-f]{64}")


def parse_digest(digest: str) -> str:
    """Validate a digest and return its hex part.

    Raises:
        InvalidInput: ``digest`` is not ``"sha256:"`` plus 64 lowercase hex
            characters; the message quotes the value given.
    """
    if isinstance(digest, str) and digest.startswith(PREFIX):
        hexdigest = digest[len(PREFIX) :]
        if _HEX.fullmatch(hexdigest):
            return hexdigest
    raise InvalidInput(
        "A digest must be 'sha256:' followed by 64 lowercase hex characters. "
        f"Got {digest!r} instead.",
        details={"digest": repr(digest)},
    )


def format_digest(hexdigest: str) -> str:
    """Spell a sha256 hex digest as a digest string."""
    return PREFIX + hexdigest
