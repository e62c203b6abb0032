"""A 2 GiB artifact through the server, both ways, in bounded server memory."""

from __future__ import annotations

import hashlib
import time

import numpy as np
import pytest

import modelyard

SIZE = 2 << 30  # 2 GiB
CHUNK = 1 << 20
PEAK_RSS_LIMIT_MIB = 300


class _Generated:
    """2 GiB of incompressible bytes made on the fly (never held in memory)."""

    def __init__(self, size: int) -> None:
        self._block = bytearray(np.random.default_rng(2026).bytes(CHUNK))
        self._left = size
        self._index = 0
        self.sha256 = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        self._block[:8] = self._index.to_bytes(8, "little")
        self._index += 1
        chunk = bytes(self._block[: min(CHUNK, self._left)])
        self._left -= len(chunk)
        self.sha256.update(chunk)
        return chunk


@pytest.mark.slow
def test_two_gib_artifact_streams_through_the_server_in_bounded_memory(site, tmp_path):
    remote = modelyard.connect(site.url, token=site.tokens["dev"], home=str(tmp_path / "home"))
    try:
        baseline = site.server.peak_rss_mib()
        source = _Generated(SIZE)
        started = time.perf_counter()
        digest = remote.artifacts.put_stream(source)
        upload_s = time.perf_counter() - started
        assert digest == "sha256:" + source.sha256.hexdigest()
        assert remote.artifacts.size(digest) == SIZE
        started = time.perf_counter()
        out = remote.artifacts.get_file(digest, tmp_path / "back.bin")  # verified by the client
        download_s = time.perf_counter() - started
        assert out.stat().st_size == SIZE
        out.unlink()
        peak = site.server.peak_rss_mib()
        print(
            f"\n2 GiB: upload {upload_s:.1f} s, download {download_s:.1f} s, "
            f"server peak RSS {peak:.0f} MiB (at start {baseline:.0f} MiB)"
        )
        assert peak < PEAK_RSS_LIMIT_MIB, f"server peak RSS {peak:.0f} MiB"
    finally:
        remote.close()
