"""``modelyard models document`` against a platform server (a RemoteYard).

The server has no route for attaching arbitrary files, so the pack is written
under the remote Yard's home and the command says it was not attached.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from modelyard.data import synthetic
from modelyard.documentation import DOCUMENT_HTML, DOCUMENT_MARKDOWN


def _register(site: Any) -> str:
    from modelyard.demo.credit_models import logistic_pipeline, split_xy

    frame = synthetic.generate(1_000, seed=3)
    x, y = split_xy(frame)
    dev = site.local("dev")
    try:
        info = dev.models.register(
            "documented-remotely", logistic_pipeline().fit(x, y), example=x.head(50)
        )
    finally:
        dev.close()
    return info.ref


def test_document_through_the_server_writes_locally_and_says_it_is_not_attached(
    site: Any, tmp_path: Path
) -> None:
    ref = _register(site)
    home = tmp_path / "home"
    env = {
        **os.environ,
        "MODELYARD_STORE_URL": site.url,
        "MODELYARD_TOKEN": site.tokens["dev"],
        "MODELYARD_HOME": str(home),
    }
    done = subprocess.run(
        [sys.executable, "-m", "modelyard.cli.main", "models", "document", ref],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    folder = home / "reports" / "documented-remotely" / "v1"
    assert (folder / DOCUMENT_HTML).exists() and (folder / DOCUMENT_MARKDOWN).exists()
    assert ref in (folder / DOCUMENT_MARKDOWN).read_text()
    assert "not attached" in done.stdout
    admin = site.local("root")
    try:
        names = {a.name for a in admin.models.get(ref).artifacts}
    finally:
        admin.close()
    assert DOCUMENT_HTML not in names
