"""Deployments: endpoints with weighted routes, stored, validated and audited.

A deployment names one endpoint — what clients call — and the model
versions behind it::

    name: credit-risk                # the endpoint: /v1/models/credit-risk/predict
    description: Loan default risk
    routes:                          # weights are percentages and add up to 100
      - {name: champion, model: credit-risk@champion, weight: 90}
      - {name: challenger, model: credit-risk@challenger, weight: 10}
    sticky:                          # optional: one entity always gets the same route
      key: customer_id
    shadows:                         # optional: a copy of the traffic, answers only logged
      - {name: candidate, model: credit-risk/7, sample: 1.0}
    mlflow_output: probabilities     # or labels: what /invocations returns
    input_policy:                    # optional: out-of-domain input, over each version's
      unseen: score                  # score (with a warning) or reject (422)
      nulls: reject
      columns: {postcode: {unseen: reject}}

A route may carry its own ``input_policy`` too (it wins over the endpoint's);
see :mod:`modelyard.flavors.policy` for what the actions mean.

A file may hold several endpoints as several YAML documents (``---``).
Every problem is reported with the path of the field, for example
``routes[1].weight: must be between 0 and 100 (got 120)``.

:class:`DeploymentService` (``yard.deployments``) stores specs in the
``deployments`` table: ``apply`` creates or updates, checks that every model
reference resolves, needs the ``deployment.manage`` role and writes an audit
event in the same transaction. ``modelyard serve NAME`` serves a stored
deployment and follows later changes to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard._util.clock import now_ms
from modelyard._util.names import ALIAS_PATTERN, check_name, parse_ref
from modelyard.errors import InvalidInput, ModelyardError, NotFound
from modelyard.registry import _rows, audit
from modelyard.registry.users import resolve_actor
from modelyard.store import MetadataStore
from modelyard.store.models import Deployment

__all__ = [
    "DeploymentRecord",
    "DeploymentService",
    "DeploymentSpec",
    "RouteSpec",
    "ShadowSpec",
    "StickySpec",
    "load_deployment_file",
    "parse_deployment",
    "spec_for_ref",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_route_name(value: str) -> str:
    if not ALIAS_PATTERN.match(value):
        raise ValueError(
            f"must be 1-64 letters, digits, '_' or '-', starting with a letter (got {value!r})"
        )
    return value


def _check_model_ref(value: str) -> str:
    try:
        return str(parse_ref(value, "model"))
    except InvalidInput as exc:
        raise ValueError(exc.message) from None


Action = Literal["score", "reject"]


class ColumnPolicySpec(_Strict):
    unseen: Action | None = None
    nulls: Action | None = None


class InputPolicySpec(_Strict):
    """Out-of-domain input: ``score`` (flagged with a warning) or ``reject`` (a 422)."""

    unseen: Action | None = Field(default=None, description="Categories not seen in training.")
    nulls: Action | None = Field(default=None, description="Nulls in columns that had none.")
    columns: dict[str, ColumnPolicySpec] = Field(default_factory=dict)

    def to_policy(self) -> Any:
        from modelyard.flavors.policy import InputPolicy

        return InputPolicy.from_dict(self.model_dump(mode="json", exclude_none=True))


class RouteSpec(_Strict):
    name: str
    model: str = Field(description="A model reference: name@alias, name/3 or name@latest.")
    weight: float | None = Field(default=None, description="Percent of the traffic, 0 to 100.")
    input_policy: InputPolicySpec | None = None

    _name = field_validator("name")(_check_route_name)
    _model = field_validator("model")(_check_model_ref)

    @field_validator("weight")
    @classmethod
    def _weight(cls, value: float | None) -> float | None:
        if value is not None and not 0 <= value <= 100:
            raise ValueError(f"must be between 0 and 100 (got {value:g})")
        return value


class ShadowSpec(_Strict):
    name: str
    model: str
    sample: float = Field(default=1.0, description="Share of requests copied to the shadow.")

    _name = field_validator("name")(_check_route_name)
    _model = field_validator("model")(_check_model_ref)

    @field_validator("sample")
    @classmethod
    def _sample(cls, value: float) -> float:
        if not 0 < value <= 1:
            raise ValueError(f"must be greater than 0 and at most 1 (got {value:g})")
        return value


class StickySpec(_Strict):
    key: str = Field(
        description=(
            "Name of the entity key. Its value comes from the request's 'entity' field, "
            "the X-Entity-Key header, or the input column of that name (first row)."
        )
    )

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class DeploymentSpec(_Strict):
    """One endpoint. ``name`` is what clients call."""

    api_version: Literal["modelyard/v1"] = Field(default="modelyard/v1", alias="apiVersion")
    kind: Literal["Deployment"] = "Deployment"
    name: str
    description: str = ""
    routes: tuple[RouteSpec, ...]
    sticky: StickySpec | None = None
    shadows: tuple[ShadowSpec, ...] = ()
    mlflow_output: Literal["probabilities", "labels"] = "probabilities"
    target: str = Field(default="local", description="Where it runs; informational here.")
    input_policy: InputPolicySpec | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("name")
    @classmethod
    def _endpoint_name(cls, value: str) -> str:
        try:
            return check_name(value, "endpoint name")
        except InvalidInput as exc:
            raise ValueError(exc.message) from None

    @field_validator("routes")
    @classmethod
    def _some_routes(cls, value: tuple[RouteSpec, ...]) -> tuple[RouteSpec, ...]:
        if not value:
            raise ValueError("needs at least one route")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DeploymentSpec:
        names = [r.name for r in self.routes] + [s.name for s in self.shadows]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(
                f"routes: route and shadow names must be unique; repeated: {duplicated}"
            )
        weights = [r.weight for r in self.routes]
        if len(self.routes) == 1 and weights[0] is None:
            return self
        missing = [f"routes[{i}]" for i, w in enumerate(weights) if w is None]
        if missing:
            raise ValueError(
                f"routes: with several routes every route needs a weight; missing in "
                f"{', '.join(missing)}"
            )
        total = sum(w for w in weights if w is not None)
        if abs(total - 100.0) > 1e-9:
            raise ValueError(f"routes: weights must add up to 100 (got {total:g})")
        return self

    def weights(self) -> list[float]:
        return [100.0 if r.weight is None else float(r.weight) for r in self.routes]

    def policy_for(self, route: RouteSpec | None) -> Any:
        """The input policy of ``route`` (None: a shadow) over the endpoint's, or None."""
        policy = self.input_policy.to_policy() if self.input_policy is not None else None
        if route is not None and route.input_policy is not None:
            return route.input_policy.to_policy().over(policy)
        return policy

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def _loc(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _message(err: dict[str, Any]) -> str:
    msg = str(err["msg"])
    msg = msg.removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        return "unknown field"
    if err["type"] == "missing":
        return "is required"
    return msg


def parse_deployment(data: Any, source: str = "deployment") -> DeploymentSpec:
    """Validate one endpoint from decoded YAML/JSON; every problem named by its field path."""
    if not isinstance(data, dict):
        raise InvalidInput(f"{source}: a deployment must be a mapping (got {type(data).__name__})")
    try:
        return DeploymentSpec.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{_loc(tuple(err['loc']))}: {_message(dict(err))}"
            if err["loc"]
            else _message(dict(err))
            for err in exc.errors()
        ]
        raise InvalidInput(
            f"{source} is not a valid deployment: " + "; ".join(problems),
            details=[
                {"field": _loc(tuple(e["loc"])), "problem": _message(dict(e))} for e in exc.errors()
            ],
        ) from exc


def load_deployment_file(path: str | Path) -> list[DeploymentSpec]:
    """Every endpoint of a YAML file (one per YAML document)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read deployment file {str(path)!r}: {exc.strerror}") from exc
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{path} is not valid YAML: {exc}") from exc
    if not documents:
        raise InvalidInput(f"{path} holds no deployment")
    specs = [
        parse_deployment(doc, f"{path}" + (f" (document {i + 1})" if len(documents) > 1 else ""))
        for i, doc in enumerate(documents)
    ]
    names = [s.name for s in specs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InvalidInput(f"{path}: endpoint names must be unique; repeated: {repeated}")
    return specs


def spec_for_ref(ref: str) -> DeploymentSpec:
    """The one-route endpoint ``modelyard serve credit-risk@champion`` serves."""
    parsed = parse_ref(ref, "model reference")
    route = parsed.alias if parsed.alias is not None else f"v{parsed.version}"
    return DeploymentSpec(name=parsed.name, routes=(RouteSpec(name=route, model=str(parsed)),))


# ---------------------------------------------------------------- the stored form


@dataclass(frozen=True)
class DeploymentRecord:
    """A stored deployment."""

    name: str
    spec: DeploymentSpec
    status: str
    created_by: str
    created_at: int
    updated_by: str
    updated_at: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "spec": self.spec.to_dict(),
            "status": self.status,
            "created_by": self.created_by,
            "created_at": self.created_at,
            "updated_by": self.updated_by,
            "updated_at": self.updated_at,
        }


def _record(row: Deployment) -> DeploymentRecord:
    return DeploymentRecord(
        name=row.name,
        spec=parse_deployment(row.spec, f"stored deployment {row.name!r}"),
        status=row.status,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )


class DeploymentService:
    """``yard.deployments``: create, update, read and delete deployments."""

    def __init__(self, store: MetadataStore, *, user: str) -> None:
        self._store = store
        self._user = user

    def apply(self, spec: DeploymentSpec | Mapping[str, Any]) -> tuple[DeploymentRecord, str]:
        """Create or update the deployment; returns (record, "created"|"updated"|"unchanged")."""
        if not isinstance(spec, DeploymentSpec):
            spec = parse_deployment(dict(spec))
        with self._store.write() as session:
            resolve_actor(session, self._user).require("deployment.manage", "manage deployments")
            self._check_refs(session, spec)
            row = session.scalar(
                select(Deployment).where(Deployment.name == spec.name).with_for_update()
            )
            after = spec.to_dict()
            now = now_ms()
            if row is None:
                row = Deployment(
                    name=spec.name,
                    spec=after,
                    status="active",
                    created_by=self._user,
                    created_at=now,
                    updated_by=self._user,
                    updated_at=now,
                )
                session.add(row)
                outcome, before = "created", None
            elif row.spec == after:
                return _record(row), "unchanged"
            else:
                before = dict(row.spec)
                row.spec = after
                row.updated_by = self._user
                row.updated_at = max(now, row.updated_at + 1)
                outcome = "updated"
            session.flush()
            audit.append(
                session,
                self._user,
                f"deployment.{'create' if outcome == 'created' else 'update'}",
                f"deployment/{spec.name}",
                {"before": before, "after": after},
            )
            return _record(row), outcome

    def apply_file(self, path: str | Path) -> list[tuple[DeploymentRecord, str]]:
        """Apply every endpoint of a deployment file (each in its own transaction)."""
        return [self.apply(spec) for spec in load_deployment_file(path)]

    def get(self, name: str) -> DeploymentRecord:
        with self._store.read() as session:
            resolve_actor(session, self._user)
            return _record(self._row(session, name))

    def exists(self, name: str) -> bool:
        with self._store.read() as session:
            return session.scalar(select(Deployment.id).where(Deployment.name == name)) is not None

    def list(self) -> list[DeploymentRecord]:
        with self._store.read() as session:
            resolve_actor(session, self._user)
            rows = session.scalars(select(Deployment).order_by(Deployment.name)).all()
            return [_record(r) for r in rows]

    def delete(self, name: str) -> None:
        with self._store.write() as session:
            resolve_actor(session, self._user).require("deployment.manage", "manage deployments")
            row = self._row(session, name)
            before = dict(row.spec)
            session.delete(row)
            audit.append(
                session, self._user, "deployment.delete", f"deployment/{name}", {"before": before}
            )

    @staticmethod
    def _row(session: Session, name: str) -> Deployment:
        row = session.scalar(select(Deployment).where(Deployment.name == name))
        if row is None:
            raise NotFound(f"no deployment {name!r}; see 'modelyard deployments list'")
        return row

    @staticmethod
    def _check_refs(session: Session, spec: DeploymentSpec) -> None:
        problems = []
        missing_only = True
        for field, items in (("routes", spec.routes), ("shadows", spec.shadows)):
            for i, item in enumerate(items):
                try:
                    _rows.version_row(session, item.model)
                except ModelyardError as exc:
                    problems.append(f"{field}[{i}].model: {exc.message}")
                    missing_only = missing_only and isinstance(exc, NotFound)
        if problems:
            # A well-formed reference to a version that does not exist is a 404, as anywhere.
            raise (NotFound if missing_only else InvalidInput)(
                f"deployment {spec.name!r} refers to models that do not resolve: "
                + "; ".join(problems),
                details=problems,
            )
