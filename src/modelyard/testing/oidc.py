"""A real OpenID Connect provider in a child process, for the single sign-on tests.

    with OidcProvider(folder, jwks=private_jwks, redirect_uris=[...]) as idp:
        idp.issuer          # http://127.0.0.1:PORT, discovery at /.well-known/...

``folder`` holds a Node.js provider script (``provider.mjs``) with its
``package.json`` and lockfile; its ``node_modules`` is installed with
``npm ci`` the first time (under a file lock, so parallel test workers
install once). Node.js and npm must be on the PATH: a test that needs them
skips with a hint on a laptop and fails under ``CI=true``
(``modelyard.testing.environment``).
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from pathlib import Path
from typing import Any

from modelyard.testing.environment import require, require_tool
from modelyard.testing.process import ChildServer, free_port

__all__ = ["OidcProvider", "install_provider"]

HINT = "install Node.js 20.19+ and npm (e.g. 'apt-get install nodejs npm')"


def install_provider(folder: Path, *, timeout_s: float = 600.0) -> None:
    """``npm ci`` in ``folder`` unless its node_modules is there already."""
    require_tool("node", HINT)
    npm = require_tool("npm", HINT)
    marker = folder / "node_modules" / ".package-lock.json"
    if marker.exists():
        return
    with open(folder / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        if done.returncode != 0:
            require(f"the OIDC test provider's packages ({folder})", HINT + "\n" + done.stderr)


class OidcProvider(ChildServer):
    """``node provider.mjs`` on a free localhost port, started on enter, stopped on exit."""

    name = "the OIDC provider"

    def __init__(
        self,
        folder: str | os.PathLike[str],
        *,
        jwks: dict[str, Any],
        redirect_uris: list[str],
        workdir: str | os.PathLike[str],
        port: int | None = None,
        startup_timeout_s: float = 300.0,
    ) -> None:
        self.folder = Path(folder)
        self.workdir = Path(workdir)
        self.jwks = jwks
        self.redirect_uris = redirect_uris
        self.port = port or free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        super().__init__(self.workdir / "oidc-provider.log", startup_timeout_s)

    def start(self) -> OidcProvider:
        install_provider(self.folder)
        node = require_tool("node", HINT)
        self.workdir.mkdir(parents=True, exist_ok=True)
        keys = self.workdir / "provider-jwks.json"
        keys.write_text(json.dumps(self.jwks))
        keys.chmod(0o600)
        env = dict(os.environ)
        env.update(
            OIDC_PORT=str(self.port),
            OIDC_JWKS_FILE=str(keys),
            OIDC_REDIRECT_URIS=",".join(self.redirect_uris),
            NODE_ENV="test",
        )
        ready = f"{self.issuer}/.well-known/openid-configuration"
        self._launch([node, "provider.mjs"], cwd=self.folder, env=env, ready_url=ready)
        return self

    def restart(self, jwks: dict[str, Any]) -> OidcProvider:
        """Stop, then start again on the same port with other signing keys (key rotation)."""
        self.stop()
        self.jwks = jwks
        return self.start()
