"""One typed Settings object, read once and passed down.

Precedence (highest first): explicit keyword arguments, ``MODELYARD_*``
environment variables, a ``modelyard.toml`` file (``MODELYARD_CONFIG`` names
another path), then defaults. With nothing set, everything lives in
``./.modelyard``: the SQLite store ``yard.db`` and the ``artifacts`` folder.
"""

from __future__ import annotations

import getpass
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from modelyard.errors import InvalidInput

__all__ = ["Settings", "load_settings"]

CONFIG_FILE_NAME = "modelyard.toml"

# Asymmetric JWS algorithms only: "none" and the HMAC family (whose key would be a
# secret the issuer shares with every relying party) are never accepted for OIDC.
OIDC_ALGORITHMS = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
)  # fmt: skip


def _default_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry inside some containers
        return "local"


class Settings(BaseSettings):
    """Resolved configuration of one Modelyard process."""

    model_config = SettingsConfigDict(env_prefix="MODELYARD_", extra="forbid", frozen=True)

    home: Path = Field(
        default=Path(".modelyard"), description="Folder of the embedded store and artifacts."
    )
    store_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the metadata store (default: SQLite in home)."
    )
    artifact_root: str | None = Field(
        default=None,
        description="fsspec URL or path of the artifact store (default: home/artifacts).",
    )
    user: str = Field(default_factory=_default_user, description="The acting user's name.")
    # Single sign-on (OpenID Connect) for the platform server: off unless oidc_issuer is set.
    oidc_issuer: str | None = Field(
        default=None,
        description="OpenID Connect issuer URL (https); enables SSO on the platform server.",
    )
    oidc_client_id: str | None = Field(
        default=None, description="The platform server's client id at the issuer."
    )
    oidc_client_secret: SecretStr | None = Field(
        default=None, description="The client secret (confidential client, client_secret_basic)."
    )
    oidc_audiences: list[str] = Field(
        default_factory=list,
        description="Audiences an API bearer JWT may carry (default: the client id).",
    )
    oidc_scopes: str = Field(
        default="openid profile email groups", description="Scopes asked for at browser sign-in."
    )
    oidc_user_claim: str = Field(
        default="preferred_username", description="The claim that names the Modelyard user."
    )
    oidc_roles_claim: str = Field(
        default="groups",
        description="The claim holding groups or roles (a dotted path reaches nested claims).",
    )
    oidc_role_map: dict[str, list[str]] = Field(
        default_factory=dict, description="Group (claim value) -> Modelyard roles."
    )
    oidc_default_roles: list[str] = Field(
        default_factory=list, description="Roles every SSO user holds (default: none)."
    )
    oidc_algorithms: list[str] = Field(
        default_factory=lambda: list(OIDC_ALGORITHMS),
        description="JWS algorithms accepted on ID tokens and bearer JWTs.",
    )
    oidc_redirect_url: str | None = Field(
        default=None,
        description="Public URL of /auth/oidc/callback (default: derived from the request).",
    )
    oidc_leeway_s: int = Field(
        default=60, ge=0, le=300, description="Clock skew tolerated on exp/nbf/iat."
    )

    @field_validator("oidc_issuer")
    @classmethod
    def _issuer_is_https(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        scheme, _, rest = value.partition("://")
        host = rest.split("/", 1)[0].rsplit(":", 1)[0]
        if scheme == "https" or (scheme == "http" and host in ("127.0.0.1", "localhost", "[::1]")):
            return value
        raise ValueError(f"must be an https:// URL (http only for localhost); got {value!r}")

    @field_validator("batch_kernel_after_rows", mode="before")
    @classmethod
    def _whole_rows(cls, value: Any) -> Any:
        text = str(value).strip()
        if value is None or text == "":
            return None
        if isinstance(value, bool) or not text.isdigit():
            raise ValueError(
                "MODELYARD_BATCH_KERNEL_AFTER_ROWS: must be a whole number of rows >= 0; "
                f"got {value!r}"
            )
        return int(text)

    @field_validator("oidc_algorithms")
    @classmethod
    def _asymmetric_only(cls, value: list[str]) -> list[str]:
        refused = [a for a in value if a not in OIDC_ALGORITHMS]
        if refused or not value:
            raise ValueError(
                f"must be a non-empty list drawn from {', '.join(OIDC_ALGORITHMS)}; "
                f"refused {refused} ('none' and HS* are never accepted)"
            )
        return value

    @model_validator(mode="after")
    def _oidc_complete(self) -> Settings:
        if self.oidc_issuer and not self.oidc_client_id:
            raise ValueError("oidc_client_id is required when oidc_issuer is set")
        return self

    # Object stores: used by the artifact store and by batch inputs and outputs alike.
    artifact_endpoint_url: str | None = Field(
        default=None,
        description=(
            "Endpoint of an S3-compatible store (MinIO, Ceph, R2, ...) for s3:// artifact "
            "roots and batch inputs and outputs (default: AWS)."
        ),
    )
    artifact_region: str | None = Field(
        default=None, description="Region of the S3 or S3-compatible store."
    )
    artifact_access_key_id: str | None = Field(
        default=None,
        description="Access key id for s3:// (default: the AWS credential chain).",
    )
    artifact_secret_access_key: SecretStr | None = Field(
        default=None, description="Secret access key for s3:// (with artifact_access_key_id)."
    )
    artifact_session_token: SecretStr | None = Field(
        default=None, description="Session token for temporary s3:// credentials."
    )
    gcs_project: str | None = Field(
        default=None, description="Google Cloud project for gs:// (billing and bucket listing)."
    )
    gcs_credentials: str | None = Field(
        default=None,
        description=(
            "Credentials for gs://: a service-account JSON file, or 'google_default', "
            "'cloud' or 'anon' (default: Application Default Credentials)."
        ),
    )

    @field_validator("artifact_endpoint_url")
    @classmethod
    def _endpoint_is_http(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        scheme, sep, host = value.partition("://")
        if not sep or scheme not in ("http", "https") or not host:
            raise ValueError(f"must be an http:// or https:// URL; got {value!r}")
        return value

    @model_validator(mode="after")
    def _s3_keys_paired(self) -> Settings:
        if bool(self.artifact_access_key_id) != bool(self.artifact_secret_access_key):
            raise ValueError(
                "artifact_access_key_id and artifact_secret_access_key must be set together"
            )
        return self

    def storage_options(
        self, url: str | os.PathLike[str], explicit: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """fsspec options for ``url`` from the object-store settings, under ``explicit``.

        One place decides how an ``s3://`` or ``gs://`` URL is reached, so the
        artifact store and batch jobs read and write through the same endpoint
        and credentials. ``explicit`` (options a caller passed) wins key by key;
        ``client_kwargs`` are merged.
        """
        text = str(url)
        scheme = text.split("://", 1)[0].lower() if "://" in text else "file"
        options: dict[str, Any] = {}
        if scheme in ("s3", "s3a"):
            # In client_kwargs, so that a caller's client_kwargs may replace them.
            client = {
                "endpoint_url": self.artifact_endpoint_url,
                "region_name": self.artifact_region,
            }
            if any(client.values()):
                options["client_kwargs"] = {k: v for k, v in client.items() if v}
            if self.artifact_access_key_id and self.artifact_secret_access_key:
                options["key"] = self.artifact_access_key_id
                options["secret"] = self.artifact_secret_access_key.get_secret_value()
            if self.artifact_session_token:
                options["token"] = self.artifact_session_token.get_secret_value()
        elif scheme in ("gs", "gcs"):
            if self.gcs_project:
                options["project"] = self.gcs_project
            if self.gcs_credentials:
                options["token"] = self.gcs_credentials
        for key, value in (explicit or {}).items():
            if key == "client_kwargs" and isinstance(value, Mapping):
                options["client_kwargs"] = {**options.get("client_kwargs", {}), **value}
            else:
                options[key] = value
        return options

    dataset_sources: list[str] = Field(
        default_factory=list,
        description=(
            "URI prefixes (e.g. s3://bucket/data/) the platform server may read datasets from "
            "when a client registers by URI; empty: the server reads none (clients upload)."
        ),
    )
    config_file: Path | None = Field(
        default=None, description="The TOML file that was read, if any."
    )
    sqlite_busy_timeout_s: float = Field(default=60.0, gt=0)
    dask_scheduler: str | None = Field(
        default=None,
        description="Dask scheduler address for batch jobs (default: a LocalCluster).",
    )
    spark_master: str | None = Field(
        default=None, description="Spark master for batch jobs (default: local[2])."
    )
    audit_checkpoint: str | None = Field(
        default=None,
        description=(
            "Path or fsspec URL where the audit chain's head is checkpointed after every "
            "audited change (a URL ending in '/' keeps write-once objects, for buckets "
            "with retention); 'modelyard audit verify --checkpoint' detects deleted tail "
            "events against it."
        ),
    )
    batch_kernel_after_rows: int | None = Field(
        default=None,
        description="The batch tree kernel's break-even: rows on the tree library's own "
        "evaluator that cost one compilation of the kernel. A job in which each worker's share "
        "reaches it compiles the kernel at load, else after that many rows (0: always at load; "
        "default modelyard.compiled.BATCH_KERNEL_AFTER_ROWS, 300,000).",
    )
    monitor_min_rows: int = Field(
        default=500,
        ge=1,
        description="Rows a monitoring window (and its reference) needs for a verdict; "
        "fewer give 'insufficient data' and raise no alert.",
    )
    trusted_types: list[str] = Field(
        default_factory=list,
        description=(
            "Types a skops model file may hold beyond the built-in allow-list of "
            "scikit-learn, numpy, scipy, LightGBM and XGBoost types (exact names or "
            "fnmatch patterns; MODELYARD_TRUSTED_TYPES as a JSON list)."
        ),
    )

    @field_validator("user")
    @classmethod
    def _user_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @property
    def resolved_store_url(self) -> str:
        if self.store_url:
            return self.store_url
        return f"sqlite:///{(self.home / 'yard.db').as_posix()}"

    @property
    def resolved_artifact_root(self) -> str:
        if self.artifact_root:
            return self.artifact_root
        return (self.home / "artifacts").as_posix()

    def describe(self) -> dict[str, Any]:
        """The resolved values, for `modelyard info` (secrets masked)."""
        return {
            "home": str(self.home),
            "store_url": _mask_password(self.resolved_store_url),
            "artifact_root": self.resolved_artifact_root,
            "user": self.user,
            "config_file": str(self.config_file) if self.config_file else None,
            "artifact_endpoint_url": self.artifact_endpoint_url
            and _mask_password(self.artifact_endpoint_url),
            "artifact_region": self.artifact_region,
            "artifact_access_key_id": self.artifact_access_key_id,
            "artifact_secret_access_key": _mask_secret(self.artifact_secret_access_key),
            "artifact_session_token": _mask_secret(self.artifact_session_token),
            "gcs_project": self.gcs_project,
            "gcs_credentials": _mask_inline_key(self.gcs_credentials),
            "dask_scheduler": self.dask_scheduler,
            "spark_master": self.spark_master,
            "audit_checkpoint": self.audit_checkpoint,
            "batch_kernel_after_rows": self.batch_kernel_after_rows,
            "monitor_min_rows": self.monitor_min_rows,
            "trusted_types": list(self.trusted_types),
        }

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML file is read by load_settings() and passed as init values
        # below the environment, so no source reads a file behind our back.
        return (init_settings, env_settings)


def _mask_inline_key(value: str | None) -> str | None:
    # A path or a keyword is shown; a key pasted inline (JSON) is not.
    return "***" if value is not None and value.lstrip().startswith("{") else value


def _mask_secret(value: SecretStr | None) -> str | None:
    return None if value is None else "***"


def _mask_password(url: str) -> str:
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    if ":" in creds:
        creds = creds.split(":", 1)[0] + ":***"
    return f"{scheme}://{creds}@{host}"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"config file {path} is not valid TOML: {exc}") from exc
    section = data.get("modelyard", data)
    if not isinstance(section, dict):
        raise InvalidInput(f"config file {path}: [modelyard] must be a table")
    return section


def load_settings(**overrides: Any) -> Settings:
    """Build Settings from overrides, the environment, the config file and defaults."""
    explicit = os.environ.get("MODELYARD_CONFIG")
    path = Path(explicit) if explicit else Path.cwd() / CONFIG_FILE_NAME
    file_values: dict[str, Any] = {}
    if path.is_file():
        file_values = _read_toml(path)
        file_values["config_file"] = path
    elif explicit:
        raise InvalidInput(f"MODELYARD_CONFIG names {path}, which does not exist")
    env_keys = {k[len("MODELYARD_") :].lower() for k in os.environ if k.startswith("MODELYARD_")}
    # Environment beats the file: drop file values the environment sets.
    values = {k: v for k, v in file_values.items() if k not in env_keys}
    values.update({k: v for k, v in overrides.items() if v is not None})
    values.pop("config", None)
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise InvalidInput(f"invalid configuration: {problems}") from exc
