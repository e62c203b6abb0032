"""Fixtures: one artifact store per backend, S3 served by a local moto server.

The S3 tests run against a real S3-compatible HTTP server (moto's server
mode on 127.0.0.1), so requests go through s3fs, aiobotocore and the network
stack exactly as they would against AWS. moto is a dev dependency, so these
tests are part of the normal suite.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelyard.artifacts import ArtifactStore
from modelyard.testing.object_stores import BUCKET, REGION, moto_s3


@pytest.fixture(scope="session")
def s3_options() -> Iterator[dict[str, Any]]:
    """Storage options for s3fs pointing at a session-wide moto server with a bucket."""
    with moto_s3(BUCKET, REGION) as options:
        yield options


@pytest.fixture(params=["local", "memory", "s3"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ArtifactStore]:
    """A fresh, empty store on ``backend`` (a unique root on the shared ones)."""
    name = f"modelyard-{uuid.uuid4().hex}"
    if backend == "local":
        yield ArtifactStore(str(tmp_path / "artifacts"))
    elif backend == "memory":
        store = ArtifactStore(f"memory://{name}")  # the memory fs is process-global
        yield store
        if store.fs.exists(store.root):
            store.fs.rm(store.root, recursive=True)
    else:
        options = request.getfixturevalue("s3_options")
        yield ArtifactStore(f"s3://{BUCKET}/{name}", storage_options=options)
