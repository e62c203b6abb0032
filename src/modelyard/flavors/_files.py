"""Writing a model directory all at once: stage in a hidden sibling, then rename.

A reader (or a crash) never sees a half-written model or compiled form: the
directory appears complete or not at all.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from modelyard.errors import Conflict


@contextmanager
def staged_directory(path: str | Path, what: str) -> Iterator[Path]:
    """Yield an empty staging directory that becomes ``path`` when the block succeeds.

    Raises:
        Conflict: ``path`` exists and is not an empty directory.
    """
    target = Path(path)
    _check_target(target, what)
    staging = target.parent / f".{target.name}.saving-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    try:
        yield staging
        if target.is_dir():
            target.rmdir()  # empty, checked above; fails loudly if something appeared since
        os.rename(staging, target)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise Conflict(f"cannot save {what} at {str(target)!r}: {exc}") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _check_target(target: Path, what: str) -> None:
    if target.is_dir():
        if any(target.iterdir()):
            raise Conflict(f"cannot save {what} into {str(target)!r}: the directory is not empty")
    elif target.exists():
        raise Conflict(f"cannot save {what} at {str(target)!r}: a file is in the way")
