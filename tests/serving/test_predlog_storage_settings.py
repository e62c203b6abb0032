"""The serving prediction log reaches an object store through the object-store settings.

A served model writes its log to an S3 bucket served for real by moto (an S3
HTTP API on 127.0.0.1, a custom endpoint like MinIO's). Only the settings
(``MODELYARD_ARTIFACT_ENDPOINT_URL``, region and keys) say how to reach it: no
``AWS_*`` variable, no AWS config file. The write-ahead file stays on the
local disk; only the Parquet parts go to the bucket. Monitoring, the serving
readers and the promotion pipeline's labelled window then read the log back
from the bucket. A control shows that without the settings it is not reached.
GCS (no emulator here) is checked with a stand-in that stops gcsfs at its
constructor and compares its arguments with the settings.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest
from serving_support import open_yard, records, serving_config, start_server

import modelyard
from modelyard.serving import create_app, read_feedback, read_predictions
from modelyard.serving.config import PredictionLogConfig
from modelyard.serving.predlog import ParquetSink, make_sink
from modelyard.testing.object_stores import (
    GcsReached,
    moto_s3,
    no_machine_credentials,
    settings_environment,
    stop_gcsfs,
)

BUCKET = "modelyard-serving-log"
REQUESTS = 40
ROWS_EACH = 5


@pytest.fixture(scope="module")
def s3_options() -> Iterator[dict[str, Any]]:
    with moto_s3(BUCKET) as options:
        yield options


def _only_the_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, options: dict[str, Any] | None
) -> None:
    """No machine credentials; the bucket's endpoint and keys in the settings (if given)."""
    for key in [k for k in os.environ if k.startswith(("AWS_", "BOTO"))]:
        monkeypatch.delenv(key)
    for key, value in no_machine_credentials({}, str(tmp_path)).items():
        monkeypatch.setenv(key, value)
    for key, value in settings_environment(options).items() if options else ():
        monkeypatch.setenv(key, value)


def test_a_served_model_logs_to_a_bucket_named_only_by_the_settings(
    yard_root: Path,
    holdout: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    s3_options: dict[str, Any],
) -> None:
    import s3fs

    _only_the_settings(monkeypatch, tmp_path, s3_options)
    root = f"s3://{BUCKET}/served"
    wal_dir = tmp_path / "wal"
    yard = open_yard(yard_root)
    try:
        options = yard.settings.storage_options(root)
        assert options["key"] == "testing" and "endpoint_url" in options["client_kwargs"]
        app = create_app(
            "credit-risk@champion",
            yard=yard,
            config=serving_config(
                prediction_log={"root": root, "wal_dir": str(wal_dir), "flush_interval_s": 0.2}
            ),
        )
        server = start_server(app)
        answered: list[str] = []
        try:
            with httpx.Client(base_url=server.url, timeout=120) as client:
                for i in range(REQUESTS):
                    start = (i * ROWS_EACH) % (len(holdout) - ROWS_EACH)
                    response = client.post(
                        "/v1/models/credit-risk/predict",
                        json={"records": records(holdout.iloc[start : start + ROWS_EACH])},
                        headers={"x-request-id": f"bucket-{i:04d}"},
                    )
                    assert response.status_code == 200, response.text
                    answered.append(response.json()["request_id"])
                labels = [
                    {"request_id": r, "row": row, "label": (i + row) % 2}
                    for i, r in enumerate(answered)
                    for row in range(ROWS_EACH)
                ]
                response = client.post("/v1/feedback", json={"labels": labels})
                assert response.status_code == 200, response.text
            # The write-ahead file is on the local disk while the server runs.
            assert list(wal_dir.glob("*/seg-*.wal"))
        finally:
            server.stop()  # drains the queue to the sink
        # Everything reached the bucket; the clean shutdown left no write-ahead file.
        assert list(wal_dir.iterdir()) == []
        bucket = s3fs.S3FileSystem(
            key="testing", secret="testing", client_kwargs=dict(s3_options["client_kwargs"])
        )
        parts = bucket.glob(
            f"{BUCKET}/served/predictions/endpoint=credit-risk/date=*/part-*.parquet"
        )
        assert parts and not bucket.glob(f"{BUCKET}/served/**/.*.tmp")

        # The serving readers, with the same settings.
        table = read_predictions(root, "credit-risk", storage_options=options)
        assert table.num_rows == REQUESTS * ROWS_EACH
        assert set(table["_request_id"].to_pylist()) == set(answered)
        feedback = read_feedback(root, "credit-risk", storage_options=options)
        assert feedback.num_rows == REQUESTS * ROWS_EACH

        # Monitoring reads the same log from the bucket.
        today = datetime.now(UTC).date().isoformat()
        result = yard.monitors.run(
            "credit-risk@champion", log_root=root, since=today, window="1d", rules=False
        )
        assert result.rows == REQUESTS * ROWS_EACH
        assert result.source["endpoints"] == ["credit-risk"]
    finally:
        yard.close()

    # The promotion pipeline's labelled window: a yard whose artifact root is the bucket
    # (the log's default root) reads it through its settings too.
    from modelyard.pipelines.actions import labelled_window

    pipeline_yard = modelyard.connect(
        f"sqlite:///{tmp_path / 'pipeline.db'}", artifact_root=root, user="alice"
    )
    try:
        window = labelled_window(pipeline_yard, "credit-risk")
    finally:
        pipeline_yard.close()
    assert len(window) == REQUESTS * ROWS_EACH  # every labelled row
    assert set(window["request_id"]) == set(answered)


def test_without_the_settings_the_bucket_is_not_reached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, s3_options: dict[str, Any]
) -> None:
    """The control: the sink and the readers use what they are given, and nothing else."""
    from botocore.exceptions import NoCredentialsError

    from modelyard.config import Settings

    _only_the_settings(monkeypatch, tmp_path, None)
    root = f"s3://{BUCKET}/control"
    nothing = Settings().storage_options(root)
    assert nothing == {}  # no endpoint, no keys in the settings
    table = pa.table({"_ts": pa.array([0], pa.timestamp("ms", tz="UTC")), "x": [1.0]})
    sink = make_sink(PredictionLogConfig(root=root), "unused", storage_options=lambda _: s3_options)
    sink.write("predictions", "credit-risk", "2026-03-01", table)
    assert read_predictions(root, "credit-risk", storage_options=s3_options).num_rows == 1
    with pytest.raises(NoCredentialsError):  # nothing from the machine either
        ParquetSink(root, storage_options=nothing).write(
            "predictions", "credit-risk", "2026-03-01", table
        )
    with pytest.raises(NoCredentialsError):  # the same for the readers
        read_predictions(root, "credit-risk", storage_options=nothing)


def test_gcs_settings_reach_gcsfs_for_the_sink_and_the_readers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stand-in: GCS cannot run here, so gcsfs is stopped at its constructor.
    from modelyard.config import Settings

    seen = stop_gcsfs(monkeypatch)
    settings = Settings(gcs_project="bank-risk", gcs_credentials=str(tmp_path / "sa.json"))
    root = "gs://bank-log/serving"
    with pytest.raises(GcsReached):
        make_sink(PredictionLogConfig(root=root), "unused", settings.storage_options)
    with pytest.raises(GcsReached):
        read_predictions(root, "credit-risk", storage_options=settings.storage_options(root))
    with pytest.raises(GcsReached):
        read_feedback(root, "credit-risk", storage_options=settings.storage_options(root))
    expected = {"project": "bank-risk", "token": str(tmp_path / "sa.json")}
    assert [{k: kw.get(k) for k in expected} for kw in seen] == [expected] * 3
