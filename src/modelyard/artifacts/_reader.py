"""A raw stream that hashes what it reads and checks the digest at the end."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any


class VerifyingReader(io.RawIOBase):
    """Wrap a blob's byte source; raise when the last byte read shows corruption.

    The check runs on the read that brings the byte count to the size the
    backend reported, not on a later empty read, so a consumer that reads
    exactly ``size`` bytes is covered. It runs again at EOF, which catches a
    blob that was truncated or grew after its size was taken.

    Args:
        source: A binary file-like of the stored bytes; closed with the reader.
        expected: The hex digest the content must hash to.
        size: The stored size reported when the blob was opened.
        on_mismatch: Builds the exception from (actual hex digest, bytes read).
        errors: Returns a context manager translating the source's exceptions.
    """

    def __init__(
        self,
        source: Any,
        *,
        expected: str,
        size: int,
        on_mismatch: Callable[[str, int], Exception],
        errors: Callable[[], AbstractContextManager[None]],
    ) -> None:
        super().__init__()
        self._source = source
        self._expected = expected
        self._size = size
        self._on_mismatch = on_mismatch
        self._errors = errors
        self._hasher = hashlib.sha256()
        self._count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        with self._errors():
            data = self._source.read(len(view))
        n = len(data)
        view[:n] = data
        self._hasher.update(data)
        self._count += n
        if (n == 0 and len(view) > 0) or self._count >= self._size:
            # hexdigest() does not finalise the hasher, so checking at the
            # size and again at EOF is safe.
            actual = self._hasher.hexdigest()
            if actual != self._expected:
                raise self._on_mismatch(actual, self._count)
        return n

    def close(self) -> None:
        if not self.closed:
            try:
                self._source.close()
            finally:
                super().close()
