"""The prediction log is read through the object-store settings, like artifacts and batch.

The log lives in an S3 bucket served for real by moto (an S3 HTTP API on
127.0.0.1, a custom endpoint like MinIO's). Only the settings
(``MODELYARD_ARTIFACT_ENDPOINT_URL``, region and keys) say how to reach it:
no ``AWS_*`` variable, no AWS config file. A monitoring run then reads the
day's predictions and joins its feedback labels from the bucket. The parts
are written with s3fs here, in the serving sink's layout.

GCS cannot run here (no emulator, no network): its check is a stand-in that
stops gcsfs at its constructor and compares the arguments with the settings.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import monitor_helpers
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from monitor_helpers import START, feedback_table, log_table, register_version

import modelyard
from modelyard.data import synthetic
from modelyard.data.synthetic import FEATURES, TARGET
from modelyard.monitoring.windows import Window, log_files
from modelyard.testing.object_stores import GcsReached, moto_s3, stop_gcsfs

train_frame = monitor_helpers.train_frame
holdout_frame = monitor_helpers.holdout_frame
credit_model = monitor_helpers.credit_model

BUCKET = "modelyard-monitoring"
SECRET = "testing-secret-never-shown"
ROWS = 800


@pytest.fixture(scope="module")
def s3_options() -> Iterator[dict[str, Any]]:
    with moto_s3(BUCKET) as options:
        yield options


def _no_machine_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Nothing from the machine may reach the bucket: only the settings do."""
    import os

    for key in [k for k in os.environ if k.startswith(("AWS_", "BOTO"))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))


def _write_part(fs: Any, path: str, table: pa.Table) -> None:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    fs.pipe_file(path, buffer.getvalue())


def test_a_monitor_run_reads_the_log_in_a_bucket_named_only_by_the_settings(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    s3_options: dict[str, Any],
    credit_model,
    train_frame,
    holdout_frame,
) -> None:
    import s3fs

    _no_machine_credentials(monkeypatch, tmp_path)
    client = s3_options["client_kwargs"]
    monkeypatch.setenv("MODELYARD_ARTIFACT_ENDPOINT_URL", client["endpoint_url"])
    monkeypatch.setenv("MODELYARD_ARTIFACT_REGION", client["region_name"])
    monkeypatch.setenv("MODELYARD_ARTIFACT_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("MODELYARD_ARTIFACT_SECRET_ACCESS_KEY", SECRET)
    root = f"s3://{BUCKET}/log"
    bucket = s3fs.S3FileSystem(key="testing", secret=SECRET, client_kwargs=dict(client))
    frame = synthetic.generate(ROWS, seed=901)
    scores = credit_model.predict_proba(frame[list(FEATURES)])[:, 1]
    log = log_table(frame, scores, model="credit-risk", version=1, start=START, seconds=30)
    _write_part(
        bucket, f"{root}/predictions/endpoint=credit-risk/date=2026-03-01/part-1.parquet", log
    )
    later = START + timedelta(days=1)
    feedback = feedback_table(log, frame[TARGET], later)
    _write_part(
        bucket, f"{root}/feedback/endpoint=credit-risk/date=2026-03-02/part-1.parquet", feedback
    )

    yard = modelyard.connect(
        f"sqlite:///{tmp_path / 'yard.db'}",
        artifact_root=str(tmp_path / "artifacts"),
        user="alice",
        home=str(tmp_path / "home"),
    )
    try:
        assert yard.settings.storage_options(root)["key"] == "testing"
        version = register_version(yard, credit_model, train_frame, holdout_frame)
        result = yard.monitors.run(
            version.ref, log_root=root, since="2026-03-01", window="1d", rules=False
        )
    finally:
        yard.close()
    assert result.rows == ROWS and result.source["endpoints"] == ["credit-risk"]
    assert result.performance["labels"]["labelled"] == ROWS  # feedback read from the bucket


def test_without_the_settings_the_bucket_is_not_reached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, s3_options: dict[str, Any]
) -> None:
    """The control: the readers do use what they are given, and nothing else."""
    _no_machine_credentials(monkeypatch, tmp_path)
    root = f"s3://{BUCKET}/log"
    assert log_files(root, "predictions", "credit-risk", None, storage_options=s3_options)
    with pytest.raises(Exception):  # noqa: B017 - no endpoint, no keys: botocore's own error
        log_files(root, "predictions", "credit-risk", None, storage_options={"anon": True})


def test_gcs_settings_reach_gcsfs_for_the_log_readers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stand-in: GCS cannot run here, so gcsfs is stopped at its constructor.
    from modelyard.config import Settings
    from modelyard.monitoring.windows import read_feedback, read_log

    seen = stop_gcsfs(monkeypatch)
    settings = Settings(gcs_project="bank-risk", gcs_credentials=str(tmp_path / "sa.json"))
    root = "gs://bank-log/predictions-log"
    options = settings.storage_options(root)
    window = Window.from_ms(0, 86_400_000)
    with pytest.raises(GcsReached):
        list(read_log(root, ["credit-risk"], "credit-risk", 1, window, storage_options=options))
    with pytest.raises(GcsReached):
        read_feedback(root, ["credit-risk"], None, storage_options=options)
    expected = {"project": "bank-risk", "token": str(tmp_path / "sa.json")}
    assert [{k: kw.get(k) for k in expected} for kw in seen] == [expected, expected]
