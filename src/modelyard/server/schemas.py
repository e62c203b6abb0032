"""The API's public shapes (pydantic), separate from the services' entities.

``*Public`` models are what the API returns, ``*Create``/``*Update`` models
what it accepts. Converters from entities live next to the models so that a
field added to an entity is a conscious API change.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

T = TypeVar("T")

# Integers a client sends are stored as 64-bit: a larger one is a 422 naming the field,
# never an OverflowError in the database driver. The bound is 2**53, the largest integer
# every JSON reader (a browser, a validator comparing in float64) reads exactly.
INT_MAX = 2**53


def _json_int(value: object) -> object:
    """JSON's integers: 3 and 3.0 (the same number in JSON), never true or "3"."""
    if type(value) is float and value.is_integer():
        return int(value)
    return value


JsonInt = Annotated[int, BeforeValidator(_json_int)]
# Constraints before the validator: the other order publishes them as "ge"/"le".
Int64 = Annotated[int, Field(ge=-INT_MAX, le=INT_MAX), BeforeValidator(_json_int)]
RowId = Annotated[
    int, Field(ge=1, le=INT_MAX, description="A dataset version id."), BeforeValidator(_json_int)
]
DIGEST = r"^sha256:[0-9a-f]{64}$"
ALIAS = r"^[A-Za-z][A-Za-z0-9_-]{0,63}$"
REF = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}(@[A-Za-z][A-Za-z0-9_-]{0,63}|/[1-9][0-9]{0,8})?$"

# A run's keys (params, metrics, tags, experiment, role) are 1-255 characters, not all
# whitespace (as str.isspace reads it): the class spells that whitespace out, so that the
# validator, a JSON Schema reader and Python agree on what it matches.
NOT_BLANK = r"[^\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
Key = Annotated[str, Field(min_length=1, max_length=255, pattern=NOT_BLANK)]
# pydantic publishes a key pattern as patternProperties, which leaves other keys allowed;
# the server refuses them, so the schema says so.
KEYED = {"additionalProperties": False}

Name = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class _In(BaseModel):
    # Strict: a JSON boolean is no integer or number, a number no string (as the schema says).
    model_config = ConfigDict(extra="forbid", strict=True)


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= to get the next page; null on the last page."
    )


# -- meta ---------------------------------------------------------------------


class Health(BaseModel):
    status: Literal["ok"]
    version: str


class Me(BaseModel):
    user: str
    roles: list[str]
    permissions: list[str]


# -- datasets -----------------------------------------------------------------


class DatasetSummaryPublic(BaseModel):
    name: str
    description: str
    latest_version: int
    versions: int
    latest_rows: int
    updated_at: int


class ColumnPublic(BaseModel):
    name: str
    type: str


class DatasetVersionPublic(BaseModel):
    id: int
    name: str
    version: int
    ref: str
    digest: str
    short_digest: str
    uris: list[str]
    stored_digest: str | None
    format: str
    arrow_schema: str = Field(description="The Arrow schema, IPC-serialised, hex.")
    columns: list[ColumnPublic]
    num_rows: int
    num_bytes: int | None
    parents: list[str]
    producing_run_id: str | None
    created_by: str
    created_at: int
    description: str
    profile: dict[str, Any]


class DatasetVersionCreate(_In):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["blob"],
                    "properties": {"blob": {"type": "string"}, "uris": {"maxItems": 0}},
                },
                {
                    "required": ["uris"],
                    "properties": {"uris": {"minItems": 1}, "blob": {"type": "null"}},
                },
            ]
        },
    )
    blob: str | None = Field(
        default=None,
        description="Digest of an uploaded Parquet or CSV file (PUT /api/v1/artifacts/blobs).",
        pattern=DIGEST,
    )
    format: Literal["parquet", "csv"] = "parquet"
    uris: list[str] = Field(
        default_factory=list, description="Instead of a blob: URIs the server reads itself."
    )
    description: str = ""
    parents: list[str] = Field(default_factory=list, description="Parent refs, e.g. 'loans/2'.")
    run_id: str | None = None
    keep_copy: bool = True


def dataset_version_public(info: Any) -> dict[str, Any]:
    body = info.to_dict(with_profile=True)
    body["arrow_schema"] = info.arrow_schema
    return body


# -- runs ---------------------------------------------------------------------


class RunInputPublic(BaseModel):
    dataset: str
    version: int
    digest: str
    role: str


class RunArtifactPublic(BaseModel):
    path: str
    digest: str
    size: int
    is_dir: bool


class RunArtifactFile(BaseModel):
    """One file of a run's artifacts (a directory artifact lists each of its files)."""

    path: str
    digest: str
    size: int
    kind: Literal["json", "text", "image", "parquet", "binary"]


class RunPublic(BaseModel):
    id: str
    experiment: str
    name: str
    status: str
    user: str
    start_time: int
    end_time: int | None
    duration_s: float | None
    parent_run_id: str | None
    git_commit: str | None
    git_dirty: bool | None
    python_version: str | None
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]
    inputs: list[RunInputPublic]
    artifacts: list[RunArtifactPublic]
    error: str | None


class RunCreate(_In):
    experiment: str = Field(default="default", min_length=1, max_length=255, pattern=NOT_BLANK)
    name: str | None = Field(default=None, max_length=255)
    tags: dict[Key, str] = Field(default_factory=dict, json_schema_extra=KEYED)
    inputs: list[RowId] = Field(default_factory=list, description="Dataset version ids.")
    parent_run_id: str | None = None
    environment: dict[str, Any] | None = Field(
        default=None, description="Reserved: the client's environment is captured server-side."
    )


class RunCreated(BaseModel):
    id: str


class RunEnd(_In):
    status: Literal["FINISHED", "FAILED", "KILLED"] = "FINISHED"
    error: str | None = None


class ParamsIn(_In):
    params: dict[Key, str] = Field(json_schema_extra=KEYED)


class MetricPointIn(_In):
    key: Key
    value: float
    step: Int64 | None = None
    timestamp: Int64 | None = Field(default=None, description="Milliseconds since the epoch.")


class MetricsIn(_In):
    points: list[MetricPointIn] = Field(max_length=100_000)


class Written(BaseModel):
    written: int


class TagsIn(_In):
    tags: dict[Key, str] = Field(json_schema_extra=KEYED)


class InputsIn(_In):
    inputs: list[RowId] = Field(description="Dataset version ids.")
    role: str = Field(default="input", min_length=1, max_length=64, pattern=NOT_BLANK)


class RunArtifactIn(_In):
    name: str = Field(min_length=1, max_length=255, pattern=NOT_BLANK)
    digest: str = Field(pattern=DIGEST)
    is_dir: bool = False


class MetricPointPublic(BaseModel):
    key: str
    value: float
    step: int
    timestamp: int


class RunComparison(BaseModel):
    runs: list[dict[str, Any]]
    params: dict[str, list[str | None]]
    metrics: dict[str, list[float | None]]


class Count(BaseModel):
    count: int


# -- artifacts ----------------------------------------------------------------


class BlobPublic(BaseModel):
    digest: str
    size: int


class BlobExists(BaseModel):
    digest: str
    exists: bool
    size: int | None


# -- models -------------------------------------------------------------------


class ModelPublic(BaseModel):
    id: int
    name: str
    description: str
    owner: str
    risk_tier: int
    policy: dict[str, Any]
    created_by: str
    created_at: int
    updated_at: int
    latest_version: int | None
    aliases: dict[str, int]


def model_public(info: Any) -> dict[str, Any]:
    return {"id": info.id, **info.to_dict()}


class PolicyIn(_In):
    """A model's policy overrides; a key left out keeps the risk tier's default."""

    required_roles: list[Literal["validator", "approver"]] | None = Field(
        default=None, max_length=2, description="Sign-off roles a promotion needs."
    )
    protected_aliases: list[Annotated[str, Field(pattern=ALIAS)]] | None = Field(
        default=None, max_length=64, description="Aliases only a signed-off version may hold."
    )


def policy_dict(policy: PolicyIn | None) -> dict[str, Any] | None:
    return None if policy is None else policy.model_dump(exclude_none=True)


class ModelCreate(_In):
    name: str = Name
    description: str = ""
    owner: str | None = None
    risk_tier: JsonInt = Field(default=1, ge=1, le=3)
    policy: PolicyIn | None = None


class ModelUpdate(_In):
    description: str | None = None
    owner: str | None = None
    risk_tier: Annotated[int, Field(ge=1, le=3), BeforeValidator(_json_int)] | None = None
    policy: PolicyIn | None = None
    detach_unqualified: bool | None = None


class PolicyChangeIn(_In):
    # At least one of the two changes something: the schema says so, as the service does.
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "anyOf": [
                {"required": ["risk_tier"], "properties": {"risk_tier": {"type": "integer"}}},
                {"required": ["policy"], "properties": {"policy": {"type": "object"}}},
            ]
        },
    )
    risk_tier: Annotated[int, Field(ge=1, le=3), BeforeValidator(_json_int)] | None = None
    policy: PolicyIn | None = None
    comment: str = Field(default="", max_length=4000)


class PolicySignOffIn(_In):
    comment: str = Field(default="", max_length=4000)
    role: Literal["validator", "approver"] | None = None
    detach_unqualified: bool = False


class PolicyRejectIn(_In):
    comment: str = Field(min_length=1, max_length=4000)


class PolicyChangePublic(BaseModel):
    id: int
    model: str
    before: dict[str, Any]
    after: dict[str, Any]
    required_roles: list[str]
    status: str
    comment: str
    requested_by: str
    requested_at: int
    decided_by: str | None
    decided_at: int | None
    sign_offs: list[dict[str, Any]]


class ApprovalPublic(BaseModel):
    role: str
    user: str
    decision: str
    comment: str
    created_at: int


class VersionArtifactPublic(BaseModel):
    name: str
    digest: str
    kind: str
    details: dict[str, Any]
    created_at: int


class DatasetRolePublic(BaseModel):
    ref: str
    role: str


class VersionPublic(BaseModel):
    id: int
    name: str
    version: int
    ref: str
    artifact_digest: str
    flavor: str
    task: str
    run_id: str | None
    state: str
    description: str
    created_by: str
    created_at: int
    updated_at: int
    aliases: list[str]
    metrics: dict[str, dict[str, float]]
    tags: dict[str, str]
    datasets: list[DatasetRolePublic]
    approvals: list[ApprovalPublic]
    artifacts: list[VersionArtifactPublic]
    signature: dict[str, Any] | None
    manifest: dict[str, Any]
    model_format: str = Field(
        description="skops, lightgbm-text, xgboost-json, onnx (data) or pickle (trusted code)."
    )
    skops_types: list[str] = Field(
        description="Types the skops file needs beyond skops' own set (checked on load)."
    )


def version_public(info: Any) -> dict[str, Any]:
    from modelyard.registry.trusted_code import format_facts

    body = info.to_dict()
    body["id"] = info.id
    facts = format_facts(info)
    body["model_format"] = facts["model_format"]
    body["skops_types"] = facts["skops_types"]
    body["artifacts"] = [
        {
            "name": a.name,
            "digest": a.digest,
            "kind": a.kind,
            "details": a.details,
            "created_at": a.created_at,
        }
        for a in info.artifacts
    ]
    return body


class VersionCreate(_In):
    artifact_digest: str = Field(
        pattern=DIGEST, description="Manifest digest of a model directory saved by save_model."
    )
    run_id: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    reasons: dict[str, Any] | None = Field(
        default=None,
        description="The reviewed reason table: 'reasons' (column -> code, text, direction), "
        "'excluded' and 'adverse_outcome'; checked against the signature.",
    )


class ReasonsIn(_In):
    reasons: dict[str, Any] = Field(description="The reason table (see VersionCreate.reasons).")


class AliasSet(_In):
    version: JsonInt = Field(ge=1, le=2_147_483_647)


class Decision(_In):
    comment: str = ""
    role: Literal["validator", "approver"] | None = None


class VersionMetricsIn(_In):
    metrics: dict[str, float]
    source: str = Field(min_length=1, max_length=32)


class ValidateIn(_In):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["dataset"],
                    "properties": {"dataset": {"type": "string"}, "data_blob": {"type": "null"}},
                },
                {
                    "required": ["data_blob"],
                    "properties": {"data_blob": {"type": "string"}, "dataset": {"type": "null"}},
                },
            ],
            # A reference dataset by name or by upload, not both.
            "not": {
                "required": ["reference", "reference_blob"],
                "properties": {
                    "reference": {"type": "string"},
                    "reference_blob": {"type": "string"},
                },
            },
        },
    )
    dataset: str | None = Field(
        default=None, description="A dataset reference, e.g. 'holdout/1'.", pattern=REF
    )
    data_blob: str | None = Field(
        default=None, description="Digest of an uploaded Parquet file.", pattern=DIGEST
    )
    target: str | None = None
    reference: str | None = Field(default=None, description="A dataset reference.", pattern=REF)
    reference_blob: str | None = Field(
        default=None, description="Instead of reference: an uploaded file.", pattern=DIGEST
    )
    segment_by: list[str] = Field(default_factory=list)
    fairness_attribute: str | None = None
    threshold: float = Field(default=0.5, gt=0, lt=1)


class ValidationPublic(BaseModel):
    ref: str
    metrics: dict[str, float]
    report_digest: str


class CardPublic(BaseModel):
    ref: str
    markdown_digest: str
    html_digest: str


class CompileIn(_In):
    target: Literal["onnx"] = "onnx"
    data_blob: str | None = Field(default=None, pattern=DIGEST)
    tolerance: float = Field(default=1e-5, gt=0)


class ParityPublic(BaseModel):
    max_abs_diff: float | None
    labels_equal: bool
    rows: int
    passed: bool
    tolerance: float
    measure: str


class MissingSignOffs(BaseModel):
    ref: str
    alias: str
    missing: list[str]


# -- audit, users, tokens, deployments, batch -------------------------------------


class AuditEventPublic(BaseModel):
    seq: int
    time: int
    actor: str
    action: str
    subject: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str


class VerifyPublic(BaseModel):
    ok: bool
    events: int
    head: str
    first_bad_seq: int | None
    problem: str | None
    checkpoint_seq: int | None = None


class UserPublic(BaseModel):
    name: str
    display_name: str
    roles: list[str]
    disabled: bool
    created_at: int
    created_by: str


class UserCreate(_In):
    name: str = Name
    roles: list[Literal["viewer", "developer", "validator", "approver", "admin"]] = Field(
        min_length=1
    )
    display_name: str = ""


class RolesIn(_In):
    roles: list[Literal["viewer", "developer", "validator", "approver", "admin"]] = Field(
        min_length=1
    )


class TokenPublic(BaseModel):
    id: str
    user: str
    name: str
    created_at: int
    expires_at: int | None
    revoked_at: int | None
    last_used_at: int | None
    status: str


class AuditEventIn(_In):
    action: Literal[
        "approval.request", "gate.pass", "gate.fail", "promotion.decide", "pipeline.trigger"
    ] = Field(description="One of the pipeline events a caller may record.")
    subject: str = Field(min_length=1, max_length=512, description="e.g. model/credit-risk")
    detail: dict[str, Any] = Field(default_factory=dict)


class TokenCreate(_In):
    user: str | None = Field(default=None, description="Default: the caller.")
    name: str = Field(default="", max_length=255)
    expires_in: str = Field(
        default="90d",
        description="'90d', '12h', '2w' or 'never'.",
        pattern=r"^(never|[1-9][0-9]{0,4}(\.[0-9]{1,3})?[smhdw])$",
    )


class TokenCreated(TokenPublic):
    token: str = Field(description="The secret: shown once, never stored.")


class DeploymentPublic(BaseModel):
    name: str
    spec: dict[str, Any]
    status: str
    created_by: str
    created_at: int
    updated_by: str
    updated_at: int


Action = Literal["score", "reject"]
ROUTE_NAME = Field(pattern=ALIAS, description="1-64 letters, digits, '_' or '-', a letter first.")
MODEL_REF = Field(pattern=REF, description="A model reference: name@alias, name/3 or name.")


class ColumnPolicyIn(_In):
    unseen: Action | None = None
    nulls: Action | None = None


class InputPolicyIn(_In):
    unseen: Action | None = Field(default=None, description="Categories not seen in training.")
    nulls: Action | None = Field(default=None, description="Nulls in columns that had none.")
    columns: dict[str, ColumnPolicyIn] = Field(default_factory=dict)


class RouteIn(_In):
    name: str = ROUTE_NAME
    model: str = MODEL_REF
    weight: float | None = Field(
        default=None,
        ge=0,
        le=100,
        description="Percent of the traffic. With several routes every route has one and they "
        "add up to 100; a lone route may leave it out.",
    )
    input_policy: InputPolicyIn | None = None


class ShadowIn(_In):
    name: str = ROUTE_NAME
    model: str = MODEL_REF
    sample: float = Field(default=1.0, gt=0, le=1, description="Share of requests copied.")


class StickyIn(_In):
    key: str = Field(
        min_length=1, max_length=255, pattern=r"[!-~]", description="Name of the entity key."
    )


class DeploymentIn(_In):
    """A deployment spec as PUT takes it; the endpoint's name comes from the path.

    Two rules of the spec are beyond a JSON schema and named in the descriptions: route and
    shadow names are unique together, and several routes' weights add up to 100.
    """

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=False)
    api_version: Literal["modelyard/v1"] = Field(default="modelyard/v1", alias="apiVersion")
    kind: Literal["Deployment"] = "Deployment"
    name: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$",
        description="Ignored: the name in the path wins.",
    )
    description: str = Field(default="", max_length=4000)
    routes: list[RouteIn] = Field(
        min_length=1, max_length=16, description="Route names unique (with the shadows')."
    )
    sticky: StickyIn | None = None
    shadows: list[ShadowIn] = Field(default_factory=list, max_length=16)
    mlflow_output: Literal["probabilities", "labels"] = "probabilities"
    target: str = Field(default="local", max_length=255)
    input_policy: InputPolicyIn | None = None


class DeploymentApplied(BaseModel):
    deployment: DeploymentPublic
    outcome: str


class BatchJobPublic(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    model: str
    input: str
    output: str
    engine: str
    status: str
    rows_in: int
    rows_out: int
    rows_rejected: int
    error: str | None
    created_by: str
