"""Resolve an artifact root URL to an fsspec filesystem, and translate its errors.

This module is the one place that knows which URL schemes Modelyard supports,
which optional extra provides each, and how a backend's exceptions map onto
``modelyard.errors``. ``get_artifact_store`` and ``ArtifactStore`` both go
through :func:`resolve_root`, so a new backend is one row in ``_BACKENDS``.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import fsspec
from fsspec import AbstractFileSystem

from modelyard.errors import BackendUnavailable, InvalidInput, ModelyardError, NotFound


@dataclass(frozen=True)
class _Backend:
    """How one URL scheme is served."""

    protocol: str  # the fsspec protocol and the scheme of normalised root URLs
    module: str | None  # the optional package the backend needs, if any
    extra: str | None  # the modelyard extra that installs ``module``
    object_store: bool  # remote objects: a bucket is required, listings must not be cached


_BACKENDS: dict[str, _Backend] = {
    "file": _Backend("file", None, None, object_store=False),
    "memory": _Backend("memory", None, None, object_store=False),
    "s3": _Backend("s3", "s3fs", "s3", object_store=True),
    "gs": _Backend("gs", "gcsfs", "gcs", object_store=True),
    "gcs": _Backend("gs", "gcsfs", "gcs", object_store=True),
}
SUPPORTED_SCHEMES = "file:// (or a plain local path), memory://, s3://, gs:// (alias gcs://)"

# A scheme needs two letters at least, so a Windows drive ("C:/...") stays a path.
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]+)://(.*)$", re.DOTALL)


@dataclass(frozen=True)
class ResolvedRoot:
    """An artifact root, resolved.

    Attributes:
        fs: The filesystem serving the root.
        path: The root as ``fs`` spells paths, without a trailing slash.
        url: The normalised root URL (``<protocol>://<path>``), used in locations.
        local: Whether ``fs`` is the local filesystem (and ``path`` an OS path).
    """

    fs: AbstractFileSystem
    path: str
    url: str
    local: bool


def resolve_root(
    url: str | os.PathLike[str], storage_options: Mapping[str, Any] | None
) -> ResolvedRoot:
    """Pick the filesystem for ``url`` by its scheme and normalise the root.

    Raises:
        InvalidInput: ``url`` is empty, has an unsupported scheme or no bucket,
            or ``storage_options`` is not a mapping the backend accepts.
        BackendUnavailable: the extra that provides the backend is not installed.
    """
    if not isinstance(url, str | os.PathLike):
        raise InvalidInput(
            f"The 'root' of an artifact store must be a path or URL string. Got {url!r} instead."
        )
    url = os.fspath(url)
    if not url.strip():
        raise InvalidInput("The 'root' of an artifact store must not be empty.")
    if storage_options is not None and not isinstance(storage_options, Mapping):
        raise InvalidInput(
            "The 'storage_options' of an artifact store must be a dict. "
            f"Got {type(storage_options).__name__} instead."
        )
    match = _SCHEME.match(url)
    # Anything with "://" that is not a plain scheme (fsspec chains such as
    # "simplecache::s3://...") is refused rather than taken for a local path.
    if match:
        scheme = match.group(1).lower()
        url = f"{scheme}://{match.group(2)}"
    elif "://" in url:
        scheme = url.split("://", 1)[0]
    else:
        scheme = "file"
    backend = _BACKENDS.get(scheme)
    if backend is None:
        raise InvalidInput(
            f"Unsupported artifact root scheme {scheme + '://'!r} in {url!r}. "
            f"Supported: {SUPPORTED_SCHEMES}.",
            details={"url": url, "scheme": scheme},
        )
    if backend.module is not None:
        _require(backend.module, backend.extra or backend.module, scheme)
    # The path is checked before the filesystem is built: building one may
    # probe for credentials (gcsfs asks the GCE metadata server), which is slow.
    fs_class = fsspec.get_filesystem_class(backend.protocol)
    local_path = os.path.abspath(os.path.expanduser(url)) if match is None else url
    path = fs_class._strip_protocol(local_path).rstrip("/")
    if backend.object_store and not path:
        raise InvalidInput(
            f"The artifact root {url!r} names no bucket; use {scheme}://BUCKET/PREFIX."
        )
    options = dict(storage_options or {})
    if backend.object_store:
        # Many processes write blobs; a cached listing would make exists() lie
        # (s3fs even reports a missing key as a directory from its cache).
        options.setdefault("use_listings_cache", False)
    with backend_errors(f"connect to the {scheme}:// artifact backend"):
        try:
            fs = fsspec.filesystem(backend.protocol, **options)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(
                f"The 'storage_options' are not valid for {scheme}:// roots: {exc}",
                details={"url": url},
            ) from exc
    return ResolvedRoot(
        fs=fs,
        path=path,
        url=f"{backend.protocol}://{path}",
        local=backend.protocol == "file",
    )


def _require(module: str, extra: str, scheme: str) -> None:
    """Import the backend's package, or explain which extra to install."""
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise BackendUnavailable(
            f"install modelyard[{extra}] to use {scheme}:// artifact roots "
            f"({module} cannot be imported: {exc})",
            details={"scheme": scheme, "extra": extra},
        ) from exc


def _error_types() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "the backend failed", for the backends loaded so far.

    fsspec backends raise ``OSError`` subclasses mostly, but botocore and gcsfs
    let some of their own through (no credentials, endpoint unreachable). Only
    modules already imported are consulted, so no backend is imported here.
    """
    types: list[type[BaseException]] = [OSError]
    botocore = sys.modules.get("botocore.exceptions")
    if botocore is not None:
        types += [botocore.BotoCoreError, botocore.ClientError]
    gcs_retry = sys.modules.get("gcsfs.retry")
    if gcs_retry is not None:
        types.append(gcs_retry.HttpError)
    google_auth = sys.modules.get("google.auth.exceptions")
    if google_auth is not None:
        types.append(google_auth.GoogleAuthError)
    return tuple(types)


@contextlib.contextmanager
def backend_errors(action: str, *, missing: str | None = None) -> Iterator[None]:
    """Translate backend exceptions raised inside the block.

    Args:
        action: What was being done, completing "Could not ..." in the message.
        missing: The message for a ``NotFound`` when the backend reports a missing
            file; when None, a missing file is a backend failure like any other.
    """
    try:
        yield
    except ModelyardError:
        raise
    except FileNotFoundError as exc:
        if missing is None:
            raise BackendUnavailable(f"Could not {action}: {exc}") from exc
        raise NotFound(missing) from exc
    except _error_types() as exc:
        raise BackendUnavailable(
            f"Could not {action}: {type(exc).__name__}: {exc}",
            details={"cause": type(exc).__name__},
        ) from exc
