"""Backend resolution by URL scheme, digest parsing and error translation."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from modelyard.artifacts import get_artifact_store, parse_digest
from modelyard.errors import BackendUnavailable, InvalidInput
from modelyard.testing.environment import require

HEX = "ab" + "0" * 62


def test_memory_root_is_normalised() -> None:
    assert get_artifact_store("memory://resolution/x/").root == "memory:///resolution/x"


def test_s3_root_is_normalised_without_contacting_s3() -> None:
    store = get_artifact_store("S3://bucket/prefix/", storage_options={"anon": True})
    assert store.root == "s3://bucket/prefix"
    assert store.location("sha256:" + HEX) == f"s3://bucket/prefix/blobs/sha256/ab/{HEX[2:]}"


def test_gs_selects_gcsfs() -> None:
    """gs:// cannot run here: there is no GCS emulator or credentials in this suite.

    We only check that the scheme (and its alias gcs://) resolves to gcsfs and a
    normalised gs:// root; ``token="anon"`` builds the filesystem offline. The
    behaviour of the store itself is covered by the S3 run of the same suite.
    """
    try:
        import gcsfs
    except ImportError as exc:
        require("gcsfs", "pip install -e '.[gcs]' (make test installs every extra)", exc)
    for url in ("gs://bucket/x", "gcs://bucket/x/"):
        store = get_artifact_store(url, storage_options={"token": "anon"})
        assert isinstance(store.fs, gcsfs.GCSFileSystem)
        assert store.root == "gs://bucket/x"


@pytest.mark.parametrize(
    "url", ["ftp://host/x", "hdfs://namenode/x", "simplecache::s3://bucket/x", "zip://a.zip"]
)
def test_unknown_scheme_lists_the_supported_ones(url: str) -> None:
    with pytest.raises(InvalidInput) as info:
        get_artifact_store(url)
    message = str(info.value)
    assert url in message
    for scheme in ("file://", "memory://", "s3://", "gs://"):
        assert scheme in message


@pytest.mark.parametrize("url", ["", "   ", None, 42, "s3://", "gs:///"])
def test_bad_roots(url: object) -> None:
    with pytest.raises(InvalidInput):
        get_artifact_store(url)  # type: ignore[arg-type]


def test_storage_options_must_be_a_mapping() -> None:
    with pytest.raises(InvalidInput, match="storage_options"):
        get_artifact_store("memory://x", storage_options=[("a", 1)])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("module", "url", "hint"),
    [
        ("s3fs", "s3://bucket/x", "install modelyard[s3] to use s3:// artifact roots"),
        ("gcsfs", "gs://bucket/x", "install modelyard[gcs] to use gs:// artifact roots"),
    ],
)
def test_missing_extra_gives_an_install_hint(
    module: str, url: str, hint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    with pytest.raises(BackendUnavailable, match=hint.replace("[", r"\[").replace("]", r"\]")):
        get_artifact_store(url)


def test_unreachable_s3_endpoint_is_backend_unavailable(tmp_path: Path) -> None:
    store = get_artifact_store(
        "s3://bucket/x",
        storage_options={
            "key": "k",
            "secret": "s",
            "client_kwargs": {"endpoint_url": "http://127.0.0.1:9", "region_name": "eu-west-1"},
            "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 1},
        },
    )
    started = time.monotonic()
    with pytest.raises(BackendUnavailable) as info:
        store.put_bytes(b"nowhere to go")
    assert info.value.__cause__ is not None
    assert time.monotonic() - started < 30


def test_parse_digest() -> None:
    assert parse_digest("sha256:" + HEX) == HEX


@pytest.mark.parametrize(
    "bad",
    ["", "sha256:", HEX, "SHA256:" + HEX, "sha256:" + HEX.upper(), "sha256:" + HEX + "\n", None],
)
def test_parse_digest_rejects_and_quotes(bad: object) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_digest(bad)  # type: ignore[arg-type]
    assert repr(bad) in str(info.value)
