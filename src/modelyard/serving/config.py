"""Server options of one serving process: limits, batching, logging, security.

What is served (endpoints, routes, weights) is the deployment spec's business
(:mod:`modelyard.serving.deployment_spec`); how the process serves it is
this object's. It is immutable, validated at the edge (CLI flags, the
environment, an embedding application's arguments), and passed down.
"""

from __future__ import annotations

import os
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from modelyard.errors import InvalidInput

__all__ = ["BatchingConfig", "PredictionLogConfig", "ServingConfig"]

ENV_PREFIX = "MODELYARD_SERVING_"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BatchingConfig(_Frozen):
    """Adaptive micro-batching of concurrent requests for the same model version.

    ``max_wait_ms`` is how long the first request of a batch may wait for
    others. With 0 (the default) a batch takes every request that is ready in
    the same turn of the event loop: no latency is added, and under load the
    batches grow by themselves to the number of requests in flight, because
    requests arrive while the previous batch is being scored.
    """

    enabled: bool = True
    max_batch_rows: int = Field(default=512, ge=1, le=1_000_000)
    max_wait_ms: float = Field(default=0.0, ge=0.0, le=1_000.0)


class PredictionLogConfig(_Frozen):
    """Where prediction records go, and how much may queue before records are dropped."""

    sink: Literal["parquet", "redis", "none"] = "parquet"
    root: str | None = Field(
        default=None, description="Folder or fsspec URL; default: the yard's artifact root."
    )
    queue_max_rows: int = Field(default=1_000_000, ge=1)
    flush_interval_s: float = Field(
        default=1.0,
        gt=0.0,
        le=3600.0,
        description="How often queued records reach the write-ahead file (fsync): at most "
        "this much is lost when the process is killed.",
    )
    flush_rows: int = Field(default=100_000, ge=1, description="Queued rows that wake it early.")
    file_interval_s: float = Field(
        default=30.0, ge=0.0, le=3600.0, description="Oldest a converted record waits for its file."
    )
    file_rows: int = Field(default=200_000, ge=1, description="Rows that make a file due at once.")
    wal: bool = Field(
        default=True, description="Keep a local write-ahead file (off: a crash loses the queue)."
    )
    wal_dir: str | None = Field(
        default=None, description="Local folder of write-ahead files; default: <home>/predlog-wal."
    )
    wal_segment_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_stream: str = "modelyard:predictions"
    redis_maxlen: int | None = Field(default=10_000_000, ge=1)


class ServingConfig(_Frozen):
    """Options of a serving process. Every field has a safe default."""

    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1_024)
    max_rows: int = Field(default=10_000, ge=1, description="Rows accepted in one request.")
    batching: BatchingConfig = BatchingConfig()
    prediction_log: PredictionLogConfig = PredictionLogConfig()
    api_key_hashes: tuple[str, ...] = Field(
        default=(), description="'sha256:<hex>' of each accepted API key; empty = no auth."
    )
    cors_origins: tuple[str, ...] = Field(default=(), description="Empty = CORS off.")
    poll_interval_s: float = Field(
        default=2.0, ge=0.0, description="Alias and deployment polling; 0 = never."
    )
    access_log_sample: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Share of successful requests logged."
    )
    warm_rows: int = Field(default=1_000, ge=0, description="Example rows scored when loading.")
    max_loaded_versions: int = Field(default=6, ge=1)
    max_shadow_backlog: int = Field(default=1_000, ge=0)
    native_threads: int = Field(
        default=1,
        ge=1,
        le=1024,
        description="OpenMP/BLAS threads and model n_jobs in this process; more come from workers.",
    )
    gc_freeze: bool = Field(
        default=True, description="Exempt what is loaded at start-up from garbage collection."
    )

    @field_validator("api_key_hashes")
    @classmethod
    def _hashes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from modelyard.serving.security import normalise_hash

        return tuple(normalise_hash(v) for v in value)

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def build(cls, **values: Any) -> ServingConfig:
        """Validate ``values`` (nested dicts allowed) and name each bad field in one error."""
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise InvalidInput(f"invalid serving options: {_problems(exc)}") from exc

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> ServingConfig:
        """Options from ``MODELYARD_SERVING_*`` variables, then ``overrides``.

        ``MODELYARD_SERVING_CONFIG`` may hold the whole configuration as JSON
        (how ``--workers`` hands it to each worker process);
        ``MODELYARD_SERVING_API_KEY_HASHES`` a comma-separated list of hashes.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        if env.get(f"{ENV_PREFIX}CONFIG"):
            try:
                values.update(orjson.loads(env[f"{ENV_PREFIX}CONFIG"]))
            except orjson.JSONDecodeError as exc:
                raise InvalidInput(f"{ENV_PREFIX}CONFIG is not valid JSON: {exc}") from exc
        hashes = env.get(f"{ENV_PREFIX}API_KEY_HASHES")
        if hashes:
            values["api_key_hashes"] = [h.strip() for h in hashes.split(",") if h.strip()]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.build(**values)


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'options'}: {err['msg']}" for err in exc.errors()
    )
