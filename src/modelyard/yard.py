"""``Yard``: the one object that reaches every Modelyard service.

``modelyard.connect()`` builds a local Yard over the configured metadata store
and artifact store. A remote Yard (``client/``) implements the same attributes
over the REST API, so user code does not change between a laptop and a shared
server.

Who a Yard acts as is proven, not declared, once the store has users: a
token (``connect(token=...)``, ``MODELYARD_TOKEN`` or ``modelyard login``)
names the user. Without one, the Yard holds only a *claimed* name
(``MODELYARD_USER`` or the login name), which works on a store with no users
(open mode) and is refused on any other — by ``connect()`` at once, and by
every service call of a Yard built directly (``registry.users.ClaimedName``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from modelyard.artifacts import ArtifactStore, get_artifact_store
from modelyard.batch import BatchService
from modelyard.config import Settings, load_settings
from modelyard.credentials import resolve_token
from modelyard.data import DatasetService
from modelyard.errors import InvalidInput, Unauthenticated
from modelyard.registry.audit import AuditRecord, VerifyResult, record_pipeline_event
from modelyard.registry.audit import event_at as audit_event_at
from modelyard.registry.audit import events as audit_events
from modelyard.registry.audit import head as audit_head
from modelyard.registry.audit import verify as audit_verify
from modelyard.registry.checkpoint import Checkpoint
from modelyard.registry.checkpoint import check as _check
from modelyard.registry.checkpoint import read as _read_checkpoint
from modelyard.registry.checkpoint import write as _write_checkpoint
from modelyard.registry.checkpoint import writer as _checkpoint_writer
from modelyard.registry.deployments import DeploymentService
from modelyard.registry.models import ModelService
from modelyard.registry.tokens import TokenService
from modelyard.registry.users import ClaimedName, UserService, identity_required, resolve_actor
from modelyard.store import MetadataStore
from modelyard.tracking import ActiveRun, RunService
from modelyard.tracking.service import DatasetVersionRef

if TYPE_CHECKING:
    from modelyard.monitoring.service import MonitorService

__all__ = ["Yard", "is_server_url", "open_local"]


class Yard:
    """Local implementation: talks to the metadata store and artifact store directly."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: MetadataStore | None = None,
        artifacts: ArtifactStore | None = None,
        token: str | None = None,
    ) -> None:
        """Open ``settings``' stores acting as ``token``'s user, or as a claimed name without one.

        A claimed name (``settings.user``) acts only while the store has no
        users; ``connect()`` is the usual way in and refuses it at once.
        """
        # A view (``view_as``) shares its parent's store and leaves closing it to the parent.
        self._owns_store = store is None
        self.store = store or MetadataStore(
            settings.resolved_store_url, busy_timeout_s=settings.sqlite_busy_timeout_s
        )
        root = settings.resolved_artifact_root
        self.artifacts: ArtifactStore = artifacts or get_artifact_store(
            root, storage_options=settings.storage_options(root) or None
        )
        self._token = token
        user: str = ClaimedName(settings.user)
        if token is not None:
            try:
                user = TokenService(self.store, user=user).authenticate(token)
            except BaseException:
                self.close()
                raise
        self._build(settings.model_copy(update={"user": user}))

    def _build(self, settings: Settings) -> None:
        self.settings = settings
        self.datasets = DatasetService(self.store, self.artifacts, user=settings.user)
        self.runs = RunService(self.store, self.artifacts, user=settings.user)
        self.models = ModelService(
            self.store,
            self.artifacts,
            user=settings.user,
            home=settings.home,
            load_data=self.datasets.load,
            get_dataset=self.datasets.get,
            get_run=self.runs.get,
            trusted_types=settings.trusted_types,
        )
        self.users = UserService(self.store, user=settings.user)
        self.batch = BatchService(
            self.store,
            self.artifacts,
            models=self.models,
            datasets=self.datasets,
            settings=settings,
        )
        self.deployments = DeploymentService(self.store, user=settings.user)
        self.audit = AuditService(self.store, user=settings.user, sink=settings.audit_checkpoint)
        if self._owns_store and settings.audit_checkpoint:
            self.store.on_audit_commit(_checkpoint_writer(settings.audit_checkpoint))
        self.tokens = TokenService(self.store, user=settings.user)

    @property
    def user(self) -> str:
        """The acting user's name (a ``ClaimedName`` until a token proves it)."""
        return self.settings.user

    @property
    def proven(self) -> bool:
        """True when a token (or the platform server) proved who this Yard acts as."""
        return not isinstance(self.settings.user, ClaimedName)

    @property
    def token(self) -> str | None:
        """The token this Yard proved its user with, for child processes it starts."""
        return self._token

    @cached_property
    def monitors(self) -> MonitorService:
        """Monitoring: drift, quality, performance, reports and alerts (built on first use)."""
        from modelyard.monitoring.service import MonitorService

        return MonitorService(self)

    def start_run(
        self,
        experiment: str = "default",
        name: str | None = None,
        *,
        inputs: Sequence[DatasetVersionRef] = (),
        tags: Mapping[str, Any] | None = None,
        parent: ActiveRun | str | None = None,
    ) -> ActiveRun:
        """Start a run; use it as a context manager so it ends FINISHED, FAILED or KILLED."""
        parent_id = parent.id if isinstance(parent, ActiveRun) else parent
        run_id = self.runs.create(
            experiment=experiment, name=name, tags=tags, inputs=inputs, parent_run_id=parent_id
        )
        return ActiveRun(self.runs, run_id)

    def as_user(self, name: str) -> Yard:
        """The same store, claiming to be ``name``: works only while the store has no users.

        On a store with users, act as someone with their token instead
        (``with_token``); a claimed name is refused there.
        """
        return Yard(self.settings.model_copy(update={"user": name}))

    def with_token(self, token: str) -> Yard:
        """This Yard's store and artifacts acting as ``token``'s user (no new connection)."""
        return Yard(self.settings, store=self.store, artifacts=self.artifacts, token=token)

    def view_as(self, name: str) -> Yard:
        """This Yard's store and artifacts acting as ``name``, opening no new connection.

        For a process that has proven ``name`` itself: the platform server
        builds one per authenticated request. Closing a view leaves the shared
        store open.
        """
        view = Yard.__new__(Yard)
        view._owns_store = False
        view.store, view.artifacts, view._token = self.store, self.artifacts, None
        view._build(self.settings.model_copy(update={"user": str(name)}))
        return view

    def close(self) -> None:
        if self._owns_store:
            self.store.dispose()

    def __enter__(self) -> Yard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"Yard(store={self.settings.describe()['store_url']!r}, "
            f"artifacts={self.settings.resolved_artifact_root!r})"
        )


class AuditService:
    """``yard.audit``: read and verify the audit trail; record pipeline events."""

    def __init__(self, store: MetadataStore, *, user: str, sink: str | None = None) -> None:
        self._store = store
        self._user = user
        self._sink = sink

    def record(self, action: str, subject: str, detail: Mapping[str, Any]) -> AuditRecord:
        """Append a pipeline event (gate verdicts, approval requests, promotion decisions).

        Only ``registry.audit.RECORDABLE_ACTIONS`` may be written this way, by
        a user with ``run.write``: the registry's own events (registrations,
        sign-offs, alias moves) are written with the change itself.
        """
        with self._store.write_connection() as conn:
            actor = resolve_actor(conn, self._user)
            return record_pipeline_event(conn, actor, action, subject, dict(detail))

    def events(
        self,
        *,
        subject: str | None = None,
        action: str | None = None,
        after_seq: int = 0,
        limit: int = 100,
        newest_first: bool = True,
    ) -> list[AuditRecord]:
        with self._store.read() as session:
            return audit_events(
                session,
                subject=subject,
                action=action,
                after_seq=after_seq,
                limit=limit,
                newest_first=newest_first,
            )

    def verify(self, checkpoint: str | None = None) -> VerifyResult:
        """Walk the hash chain; the result names the first event that does not hold.

        With ``checkpoint`` (a path or URL written by ``checkpoint()`` or by the
        ``audit_checkpoint`` setting), a chain that lost its last events, or was
        rewritten up to the checkpointed head, is reported too.
        """
        mark = _read_checkpoint(checkpoint) if checkpoint else None
        with self._store.read() as session:
            result = audit_verify(session)
            if mark is None:
                return result
            return _check(result, mark, lambda seq: audit_event_at(session, seq), checkpoint)

    def checkpoint(self, to: str | None = None) -> Checkpoint:
        """Write the current head to ``to`` (default: the ``audit_checkpoint`` setting)."""
        target = to or self._sink
        if not target:
            raise InvalidInput(
                "no checkpoint sink: pass to=PATH_OR_URL (--to) or set MODELYARD_AUDIT_CHECKPOINT"
            )
        with self._store.read() as session:
            current = audit_head(session)
        if current is None:
            raise InvalidInput("the audit trail is empty: there is no head to checkpoint yet")
        return _write_checkpoint(target, *current)


def is_server_url(url: str | None) -> bool:
    """Whether a store URL names a Modelyard server (reached with the remote client)."""
    return url is not None and url.startswith(("http://", "https://"))


def open_local(**settings: Any) -> Yard:
    """A local Yard from the configuration; never the remote client.

    What a process that must not depend on the client (a serving worker) opens.

    Raises:
        InvalidInput: The configuration names a Modelyard server instead of a database.
    """
    from modelyard.errors import InvalidInput

    resolved = load_settings(**settings)
    if is_server_url(resolved.store_url):
        raise InvalidInput(
            f"store_url: {resolved.store_url!r} is a Modelyard server; this process reads "
            "the registry directly (a database URL and an artifact root), or is given a "
            "Yard opened with modelyard.connect()"
        )
    return open_local_yard(resolved, None)


def open_local_yard(settings: Settings, token: str | None) -> Yard:
    """A local Yard acting as the resolved token's user (refused without one once users exist)."""
    credential = resolve_token(token, settings.resolved_store_url)
    yard = Yard(settings)
    try:
        if credential is None:
            if not yard.users.is_open():
                raise Unauthenticated(identity_required(settings.user))
            return yard
        if credential.source == "login" and yard.users.is_open():
            # A login saved for an earlier store at this path (deleted since): not this one's.
            return yard
        try:
            proven = yard.with_token(credential.token)
            proven._owns_store, yard._owns_store = True, False
            return proven
        except Unauthenticated as exc:
            if credential.source != "login":
                given = "MODELYARD_TOKEN" if credential.source == "MODELYARD_TOKEN" else "token="
                raise Unauthenticated(f"{given} is refused: {exc.message}") from exc
            raise Unauthenticated(
                f"the token 'modelyard login' saved for this store is refused ({exc.message}); "
                "run 'modelyard login' again with a valid token"
            ) from exc
    except BaseException:
        yard.close()
        raise
