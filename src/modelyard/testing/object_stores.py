"""Object stores for tests: a real S3-compatible server, and a stand-in for GCS.

Tests of anything that reaches object storage (the artifact store, batch
input and output, the prediction log's readers) run against an S3 HTTP
server on 127.0.0.1 (moto's server mode), so requests go through s3fs,
aiobotocore and the network stack as they would against a real endpoint
such as MinIO's. moto is a development dependency, imported only here.

GCS cannot run here (no emulator, no network): :func:`stop_gcsfs` stops
gcsfs at its constructor and records the arguments the settings produced.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from modelyard.testing.process import free_port

__all__ = [
    "BUCKET",
    "REGION",
    "GcsReached",
    "moto_s3",
    "no_machine_credentials",
    "settings_environment",
    "stop_gcsfs",
]

BUCKET = "modelyard-test"
REGION = "eu-west-1"  # moto refuses a LocationConstraint of us-east-1


@contextmanager
def moto_s3(bucket: str = BUCKET, region: str = REGION) -> Iterator[dict[str, Any]]:
    """Start the server, create ``bucket``; yield the s3fs options that reach it.

    The keys are moto's test keys (it accepts any pair); the endpoint is only
    in the options, so nothing reaches the bucket without them.
    """
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        client.create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region}
        )
        yield {
            "key": "testing",
            "secret": "testing",
            "client_kwargs": {"endpoint_url": endpoint, "region_name": region},
        }
    finally:
        server.stop()


def settings_environment(options: dict[str, Any]) -> dict[str, str]:
    """The ``MODELYARD_ARTIFACT_*`` settings that reach the bucket of :func:`moto_s3`'s
    ``options``: how a process is pointed at the store through its settings alone."""
    client = options["client_kwargs"]
    return {
        "MODELYARD_ARTIFACT_ENDPOINT_URL": client["endpoint_url"],
        "MODELYARD_ARTIFACT_REGION": client["region_name"],
        "MODELYARD_ARTIFACT_ACCESS_KEY_ID": options["key"],
        "MODELYARD_ARTIFACT_SECRET_ACCESS_KEY": options["secret"],
    }


def no_machine_credentials(environ: dict[str, str], nowhere: str) -> dict[str, str]:
    """``environ`` without anything the machine could reach S3 with: no ``AWS_*`` or
    ``BOTO*`` variable, and AWS config and credential files pointed at ``nowhere``
    (a path that does not exist). Only the settings can then reach a bucket."""
    kept = {k: v for k, v in environ.items() if not k.startswith(("AWS_", "BOTO"))}
    kept["AWS_CONFIG_FILE"] = f"{nowhere}/no-aws-config"
    kept["AWS_SHARED_CREDENTIALS_FILE"] = f"{nowhere}/no-aws-credentials"
    return kept


class GcsReached(Exception):
    """Raised by the gcsfs stand-in once it has recorded a constructor's arguments."""


def stop_gcsfs(monkeypatch: Any) -> list[dict[str, Any]]:
    """Replace gcsfs's constructor (through pytest's ``monkeypatch``) with one that
    records its keyword arguments and raises :class:`GcsReached`; returns the record."""
    import gcsfs

    seen: list[dict[str, Any]] = []

    def constructor(self: Any, *args: Any, **kwargs: Any) -> None:
        seen.append(kwargs)
        raise GcsReached

    monkeypatch.setattr(gcsfs.GCSFileSystem, "__init__", constructor)
    gcsfs.GCSFileSystem.clear_instance_cache()
    return seen
