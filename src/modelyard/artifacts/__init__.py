"""Content-addressed artifact storage: immutable blobs and directories on fsspec.

Use :func:`get_artifact_store` with a local path or an ``file://``,
``memory://``, ``s3://`` or ``gs://`` URL; every blob is addressed by its
``"sha256:<hex>"`` digest and verified on read.
"""

from modelyard.artifacts._digest import parse_digest
from modelyard.artifacts.store import ArtifactStore, get_artifact_store

__all__ = ["ArtifactStore", "get_artifact_store", "parse_digest"]
