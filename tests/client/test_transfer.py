"""Hashes are checked on both ends of a transfer; damaged bytes never pass silently."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import httpx
import pytest

import modelyard
from modelyard.errors import IntegrityError


@pytest.fixture
def remote(site, tmp_path):
    y = modelyard.connect(site.url, token=site.tokens["dev"], home=str(tmp_path))
    yield y
    y.close()


def test_the_server_refuses_a_body_that_does_not_match_its_hash(site):
    body = b"the bytes that left the client"
    wrong = hashlib.sha256(b"something else").hexdigest()
    with site.client("dev") as http:
        response = http.put(
            "/api/v1/artifacts/blobs", content=body, headers={"X-Content-SHA256": wrong}
        )
        assert response.status_code == 422
        assert "corrupted in transit" in response.json()["message"]
        right = hashlib.sha256(body).hexdigest()
        ok = http.put("/api/v1/artifacts/blobs", content=body, headers={"X-Content-SHA256": right})
        assert ok.status_code == 201 and ok.json() == {
            "digest": f"sha256:{right}",
            "size": len(body),
        }


def test_files_and_directories_round_trip_with_local_digests(site, remote, tmp_path):
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_bytes(b"alpha")
    (folder / "sub" / "b.bin").write_bytes(os.urandom(3 << 20))
    local = site.local("dev")
    try:
        expected = local.artifacts.put_dir(folder)
    finally:
        local.close()
    assert remote.artifacts.put_dir(folder) == expected
    back = remote.artifacts.get_dir(expected, tmp_path / "back")
    assert (back / "sub" / "b.bin").read_bytes() == (folder / "sub" / "b.bin").read_bytes()


def test_a_blob_corrupted_on_the_server_is_caught_by_the_client(site, remote, tmp_path):
    payload = os.urandom(3 << 20)
    digest = remote.artifacts.put_bytes(payload)
    hexdigest = digest.removeprefix("sha256:")
    stored = Path(site.artifact_root) / "blobs" / "sha256" / hexdigest[:2] / hexdigest[2:]
    stored.chmod(0o644)
    damaged = bytearray(stored.read_bytes())
    damaged[-1] ^= 0xFF
    stored.write_bytes(bytes(damaged))
    with pytest.raises((IntegrityError, httpx.HTTPError)):
        remote.artifacts.get_file(digest, tmp_path / "out.bin")
    assert not (tmp_path / "out.bin").exists()


def test_pagination_follows_opaque_cursors(site):
    with site.client("root") as http:
        for i in range(7):
            http.post("/api/v1/models", json={"name": f"paged-{i}"})
        seen, cursor = [], None
        while True:
            params = {"limit": 3, "name_like": "paged-*"}
            if cursor:
                params["cursor"] = cursor
            page = http.get("/api/v1/models", params=params).json()
            seen += [m["name"] for m in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == [f"paged-{i}" for i in range(7)]
        bad = http.get("/api/v1/models", params={"cursor": "not-a-cursor!"})
        assert bad.status_code == 422 and "cursor" in bad.json()["message"]
