"""Fixtures: one artifact store per backend, S3 served by a local moto server.

The S3 tests run against a real S3-compatible HTTP server (moto's server
mode on 127.0.0.1), so requests go through s3fs, aiobotocore and the network
stack exactly as they would against AWS. moto is a dev dependency, so these
tests are part of the normal suite.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelyard.artifacts import ArtifactStore

BUCKET = "modelyard-test"
REGION = "eu-west-1"  # moto rejects a LocationConstraint of us-east-1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def s3_options() -> Iterator[dict[str, Any]]:
    """Storage options for s3fs pointing at a session-wide moto server with a bucket."""
    # Imported here, not at the top, so local-only runs stay fast; moto is a dev
    # dependency, so a missing one fails loudly rather than skipping S3.
    import boto3
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    client = boto3.client("s3", endpoint_url=endpoint, region_name=REGION, **credentials)
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    try:
        yield {
            "key": "testing",
            "secret": "testing",
            "client_kwargs": {"endpoint_url": endpoint, "region_name": REGION},
        }
    finally:
        server.stop()


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
