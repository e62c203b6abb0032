"""Fixtures for batch scoring: a small fitted model, seeded input files, one Dask and one Spark.

The model is small (30 trees, one thread) and trained once per worker; the
Dask cluster and the Spark session are session fixtures (Spark takes about
10 s to start), used by one test so that a parallel run starts each once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from batch_helpers import INPUT_SEED, MODEL, POSTGRES_JDBC_JAR, TRAIN_SEED, write_parts

from modelyard.data import synthetic
from modelyard.demo.credit_models import lightgbm_pipeline, split_xy

S3_BUCKET = "modelyard-batch"
S3_REGION = "eu-west-1"


@pytest.fixture(scope="session")
def fitted():
    X, y = split_xy(synthetic.generate(4_000, seed=TRAIN_SEED))
    return lightgbm_pipeline(n_estimators=30).fit(X, y), X


@pytest.fixture
def by(tmp_path: Path, fitted):
    """A SQLite yard (home in tmp_path) with version 1 of model ``credit`` registered.

    Version 1 rejects unseen categories and nulls (an explicit input policy): these
    tests exercise the rejects file. The default — out-of-domain values scored and
    counted as warnings — is tested in test_batch_scoring and tests/realistic.
    """
    import modelyard

    yard = modelyard.connect(
        f"sqlite:///{tmp_path / 'yard.db'}",
        artifact_root=str(tmp_path / "artifacts"),
        user="alice",
        home=str(tmp_path / "home"),
    )
    model, X = fitted
    yard.models.register(
        MODEL, model, example=X, input_policy={"unseen": "reject", "nulls": "reject"}
    )
    yield yard
    yard.close()


@pytest.fixture(scope="session")
def loans() -> pd.DataFrame:
    """20,000 seeded loan applications (the features, an id, a date and the target)."""
    return synthetic.generate(20_000, seed=INPUT_SEED)


@pytest.fixture(scope="session")
def loans_dir(tmp_path_factory: pytest.TempPathFactory, loans: pd.DataFrame) -> Path:
    """The 20,000 rows as 4 Parquet files of 5,000 rows, in row groups of 1,250."""
    folder = tmp_path_factory.mktemp("loans")
    write_parts(loans, folder, files=4, row_group=1_250)
    return folder


@pytest.fixture(scope="session")
def dask_scheduler() -> Iterator[str]:
    """The address of a session-wide LocalCluster: 2 single-threaded worker processes."""
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0"
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One local[2] Spark session for the whole run (start-up costs 10-50 s here).

    Managed tables go to a warehouse under tmp; the PostgreSQL JDBC driver
    (Debian's libpostgresql-jdbc-java) is on its class path when installed —
    the JDBC test itself requires it.
    """
    from modelyard.batch.engines.spark import spark_session

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    config = {"spark.sql.warehouse.dir": str(tmp_path_factory.mktemp("warehouse"))}
    if Path(POSTGRES_JDBC_JAR).exists():
        config["spark.jars"] = POSTGRES_JDBC_JAR
    session = spark_session("local[2]", app_name="modelyard-tests", config=config)
    try:
        yield session
    finally:
        session.stop()


@pytest.fixture(scope="session")
def s3_options() -> Iterator[dict[str, Any]]:
    """s3fs options for a session-wide moto server (a real S3 HTTP API on 127.0.0.1)."""
    from modelyard.testing.object_stores import moto_s3

    with moto_s3(S3_BUCKET, S3_REGION) as options:
        yield options


@pytest.fixture
def s3_bucket(s3_options: dict[str, Any]) -> str:
    return S3_BUCKET
