"""``RemoteYard``: the Yard interface over a Modelyard server's REST API.

    remote = modelyard.connect("https://yard.internal", token="myd_...")
    with remote.start_run(experiment="credit-risk") as run:
        run.log_metrics({"auc": 0.81})

The same attributes as a local ``Yard`` (``datasets``, ``runs``, ``models``,
``users``, ``audit``, ``tokens``, ``deployments``, ``batch``, ``monitors``) return the same
entities and raise the same errors. The caller is the token's user: roles are
enforced by the server, and the audit trail records that user. Artifacts
stream through the server, so no bucket credentials are needed here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from modelyard.client._artifacts import RemoteArtifacts
from modelyard.client._http import Transport
from modelyard.client.admin import (
    RemoteAudit,
    RemoteBatch,
    RemoteDeployments,
    RemoteMonitors,
    RemoteTokens,
    RemoteUsers,
)
from modelyard.client.datasets import RemoteDatasets
from modelyard.client.models import RemoteModels
from modelyard.client.runs import RemoteRuns
from modelyard.errors import InvalidInput
from modelyard.tracking.active import ActiveRun

__all__ = ["RemoteYard"]


class RemoteYard:
    """A Yard whose services are calls to a Modelyard server."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        home: str | os.PathLike[str] | None = None,
        timeout: float = 300.0,
    ) -> None:
        from modelyard.credentials import resolve_token

        # The same order as a local store: argument, MODELYARD_TOKEN, 'modelyard login'.
        credential = resolve_token(token, url)
        token = credential.token if credential is not None else None
        self.url = url.rstrip("/")
        self.home = Path(home or os.environ.get("MODELYARD_HOME") or ".modelyard")
        self._http = Transport(self.url, token, timeout=timeout)
        self.artifacts = RemoteArtifacts(self._http)
        self.datasets = RemoteDatasets(self._http, self.artifacts)
        self.runs = RemoteRuns(self._http, self.artifacts)
        self.audit = RemoteAudit(self._http)
        self.models = RemoteModels(self._http, self.artifacts, self.home, self.audit)
        self.users = RemoteUsers(self._http)
        self.tokens = RemoteTokens(self._http)
        self.deployments = RemoteDeployments(self._http)
        self.batch = RemoteBatch(self._http)
        self.monitors = RemoteMonitors(self._http)
        self._user: str | None = None

    @property
    def user(self) -> str:
        """The token's user (asked of the server once)."""
        if self._user is None:
            self._user = self._http.get("/me")["user"]
        return self._user

    def start_run(
        self,
        experiment: str = "default",
        name: str | None = None,
        *,
        inputs: Sequence[Any] = (),
        tags: Mapping[str, Any] | None = None,
        parent: ActiveRun | str | None = None,
    ) -> ActiveRun:
        """Start a run; use it as a context manager so it ends FINISHED, FAILED or KILLED."""
        parent_id = parent.id if isinstance(parent, ActiveRun) else parent
        run_id = self.runs.create(
            experiment=experiment, name=name, tags=tags, inputs=inputs, parent_run_id=parent_id
        )
        return ActiveRun(self.runs, run_id)  # type: ignore[arg-type]

    def as_user(self, name: str) -> RemoteYard:
        raise InvalidInput(
            "a remote Yard acts as its token's user; to act as "
            f"{name!r}, connect with a token of theirs ('modelyard tokens create --user {name}')"
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RemoteYard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RemoteYard({self.url!r})"
