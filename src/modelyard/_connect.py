"""``modelyard.connect``: a local Yard or the remote client, chosen by the store URL.

It lives apart from :mod:`modelyard.yard` so that what needs only the local
Yard (a serving worker) imports nothing of :mod:`modelyard.client`; the
import-linter contract in ``pyproject.toml`` holds that line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelyard.config import load_settings
from modelyard.yard import Yard, is_server_url, open_local_yard

if TYPE_CHECKING:
    from modelyard.client import RemoteYard

__all__ = ["connect"]


def connect(
    store_url: str | None = None,
    *,
    artifact_root: str | None = None,
    user: str | None = None,
    home: str | None = None,
    token: str | None = None,
) -> Yard | RemoteYard:
    """Open a Yard. With no arguments: the configuration, else ``./.modelyard`` on SQLite.

    Who acts: the user of ``token``, else of ``MODELYARD_TOKEN``, else of the
    token ``modelyard login`` saved for this store. On a store with no users
    (the embedded default, before anyone ran ``modelyard users add``) no
    token is needed and ``user`` (or ``MODELYARD_USER``, or the login name)
    acts; on a store with users ``Unauthenticated`` says how to log in.

    ``connect("https://yard.internal", token="myd_...")`` returns a remote Yard
    (``modelyard.client.RemoteYard``) with the same services over the REST API.
    The same holds when the configuration names the server
    (``MODELYARD_STORE_URL=https://...`` and ``MODELYARD_TOKEN``), which is how
    CI jobs and the generated workflows reach the shared platform: the code and
    the CLI commands stay the same, only the environment changes.
    """
    server = store_url if is_server_url(store_url) else None
    if server is None:
        settings = load_settings(
            store_url=store_url, artifact_root=artifact_root, user=user, home=home
        )
        if not is_server_url(settings.store_url):
            return open_local_yard(settings, token)
        server, home = settings.store_url, str(settings.home)
    from modelyard.client import RemoteYard

    return RemoteYard(server, token=token, home=home)
