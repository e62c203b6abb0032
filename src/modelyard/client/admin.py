"""Remote users, audit, tokens, deployments and batch jobs (the matching Yard attributes)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from itertools import islice
from pathlib import Path
from typing import Any

from modelyard.client import _decode
from modelyard.client._http import Transport
from modelyard.errors import InvalidInput
from modelyard.registry.audit import AuditRecord, VerifyResult
from modelyard.registry.checkpoint import Checkpoint
from modelyard.registry.checkpoint import check as check_checkpoint
from modelyard.registry.checkpoint import read as read_checkpoint
from modelyard.registry.checkpoint import write as write_checkpoint
from modelyard.registry.entities import UserInfo
from modelyard.registry.roles import Actor, check_roles
from modelyard.registry.tokens import DEFAULT_EXPIRY, NewToken, TokenInfo


class RemoteUsers:
    def __init__(self, transport: Transport) -> None:
        self._http = transport

    def actor(self) -> Actor:
        me = self._http.get("/me")
        return Actor(me["user"], frozenset(me["roles"]))

    def add(self, name: str, roles: list[str] | str, *, display_name: str = "") -> UserInfo:
        body = {"name": name, "roles": list(check_roles(roles)), "display_name": display_name}
        return _decode.user(self._http.post("/users", body))

    def set_roles(self, name: str, roles: list[str] | str) -> UserInfo:
        body = {"roles": list(check_roles(roles))}
        return _decode.user(self._http.put(f"/users/{name}/roles", body))

    def disable(self, name: str) -> UserInfo:
        return _decode.user(self._http.post(f"/users/{name}/disable"))

    def list(self) -> list[UserInfo]:
        return [_decode.user(u) for u in self._http.pages("/users")]

    def get(self, name: str) -> UserInfo:
        return _decode.user(self._http.get(f"/users/{name}"))


class RemoteAudit:
    def __init__(self, transport: Transport) -> None:
        self._http = transport

    def events(
        self,
        *,
        subject: str | None = None,
        action: str | None = None,
        after_seq: int = 0,
        limit: int = 100,
        newest_first: bool = True,
    ) -> list[AuditRecord]:
        found = self._http.pages(
            "/audit/events",
            limit=limit,
            subject=subject,
            action=action,
            after_seq=after_seq or None,
            order="newest" if newest_first else "oldest",
        )
        return [_decode.audit_record(e) for e in islice(found, limit)]

    def verify(self, checkpoint: str | None = None) -> VerifyResult:
        """The server's walk of the chain, checked here against ``checkpoint`` if given.

        The checkpoint is read by this process, never by the server: a reader
        cannot make the server open paths or URLs of their choosing.
        """
        mark = read_checkpoint(checkpoint) if checkpoint else None
        result = _decode.verify_result(self._http.get("/audit/verify"))
        if mark is None:
            return result
        return check_checkpoint(result, mark, self._event_at, checkpoint)

    def _event_at(self, seq: int) -> AuditRecord | None:
        found = self.events(after_seq=seq - 1, limit=1, newest_first=False)
        return found[0] if found and found[0].seq == seq else None

    def checkpoint(self, to: str) -> Checkpoint:
        """Write the server's current head to ``to`` (a path or URL this process can write)."""
        if not to:
            raise InvalidInput("pass to=PATH_OR_URL: where to write the checkpoint")
        head = self.events(limit=1)
        if not head:
            raise InvalidInput("the audit trail is empty: there is no head to checkpoint yet")
        return write_checkpoint(to, head[0].seq, head[0].hash)

    def record(self, action: str, subject: str, detail: Mapping[str, Any]) -> AuditRecord:
        """Record a pipeline event as the token's user."""
        body = {"action": action, "subject": subject, "detail": dict(detail)}
        return _decode.audit_record(self._http.post("/audit/events", body))


class RemoteTokens:
    def __init__(self, transport: Transport) -> None:
        self._http = transport

    def create(
        self,
        user: str | None = None,
        *,
        name: str = "",
        expires_in: str | int | timedelta | None = DEFAULT_EXPIRY,
    ) -> NewToken:
        if expires_in is None:
            text = "never"
        elif isinstance(expires_in, timedelta):
            text = f"{int(expires_in.total_seconds())}s"
        elif isinstance(expires_in, int):
            text = f"{expires_in}s"
        else:
            text = expires_in
        found = self._http.post("/tokens", {"user": user, "name": name, "expires_in": text})
        return NewToken(_decode.token(found), found["token"])

    def list(self, user: str | None = None, *, include_inactive: bool = True) -> list[TokenInfo]:
        params: dict[str, Any] = {"user": user} if user else {"all_users": True}
        tokens = [_decode.token(t) for t in self._http.pages("/tokens", **params)]
        return tokens if include_inactive else [t for t in tokens if t.status == "active"]

    def revoke(self, token_id: str) -> TokenInfo:
        return _decode.token(self._http.delete(f"/tokens/{token_id}"))


class RemoteDeployments:
    def __init__(self, transport: Transport) -> None:
        self._http = transport

    @staticmethod
    def _record(d: dict[str, Any]) -> Any:
        from modelyard.registry.deployments import DeploymentRecord, parse_deployment

        return DeploymentRecord(
            name=d["name"],
            spec=parse_deployment(d["spec"], f"deployment {d['name']!r}"),
            status=d["status"],
            created_by=d["created_by"],
            created_at=d["created_at"],
            updated_by=d["updated_by"],
            updated_at=d["updated_at"],
        )

    def apply(self, spec: Any) -> tuple[Any, str]:
        from modelyard.registry.deployments import DeploymentSpec, parse_deployment

        if not isinstance(spec, DeploymentSpec):
            spec = parse_deployment(dict(spec))
        found = self._http.put(f"/deployments/{spec.name}", spec.to_dict())
        return self._record(found["deployment"]), found["outcome"]

    def apply_file(self, path: str | Path) -> list[tuple[Any, str]]:
        from modelyard.registry.deployments import load_deployment_file

        return [self.apply(spec) for spec in load_deployment_file(path)]

    def get(self, name: str) -> Any:
        return self._record(self._http.get(f"/deployments/{name}"))

    def exists(self, name: str) -> bool:
        return any(d["name"] == name for d in self._http.pages("/deployments"))

    def list(self) -> list[Any]:
        return [self._record(d) for d in self._http.pages("/deployments")]

    def delete(self, name: str) -> None:
        self._http.delete(f"/deployments/{name}")


class RemoteBatch:
    """Batch jobs are read through the server; scoring runs where the data is."""

    def __init__(self, transport: Transport) -> None:
        self._http = transport

    def list(self, *, model: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        return list(self._http.pages("/batch/jobs", limit=limit, model=model))

    def status(self, job_id: str) -> dict[str, Any]:
        return self._http.get(f"/batch/jobs/{job_id}")

    def score(self, *args: Any, **kwargs: Any) -> Any:
        raise InvalidInput(
            "batch scoring runs next to the data: use a local Yard (modelyard.connect(store_url)) "
            "or `modelyard batch score` on a machine that can read the input"
        )


class RemoteMonitors:
    """Monitoring results and alerts read through the server; monitoring runs server-side."""

    def __init__(self, transport: Transport) -> None:
        self._http = transport

    def results(
        self,
        ref: str | None = None,
        *,
        model: str | None = None,
        kind: str | None = None,
        limit: int = 200,
    ) -> list[Any]:
        from modelyard.monitoring.service import MonitorResultInfo

        found = self._http.pages("/monitors/results", limit=limit, ref=ref, model=model, kind=kind)
        return [MonitorResultInfo(**{k: r[k] for k in _FIELDS_RESULT}) for r in found]

    def alerts(
        self,
        ref: str | None = None,
        *,
        model: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[Any]:
        from modelyard.monitoring.alerts import AlertInfo

        found = self._http.pages(
            "/monitors/alerts", limit=limit, ref=ref, model=model, status=status
        )
        return [AlertInfo(**{k: a[k] for k in _FIELDS_ALERT}) for a in found]

    def run(self, *args: Any, **kwargs: Any) -> Any:
        raise InvalidInput(
            "monitoring runs next to the prediction log: use `modelyard monitor run` on the "
            "server's side (or a local Yard); results and alerts are readable here"
        )


_FIELDS_RESULT = (
    "id",
    "model_name",
    "model_version",
    "kind",
    "window_start",
    "window_end",
    "rows",
    "summary",
    "report_digest",
    "created_at",
)
_FIELDS_ALERT = (
    "id",
    "fingerprint",
    "rule",
    "model_name",
    "model_version",
    "severity",
    "status",
    "message",
    "payload",
    "first_seen",
    "last_seen",
    "count",
    "notified_at",
)
