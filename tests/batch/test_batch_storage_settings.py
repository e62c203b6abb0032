"""Object-store settings: one endpoint, region and credentials for artifacts and batch files.

S3 runs for real against moto's server (an S3 HTTP API on 127.0.0.1, a custom
endpoint like MinIO's): ``modelyard.toml`` names the endpoint, region and
keys, nothing else does (no ``AWS_*`` variable, no ``storage_options``), and
the model's artifacts, the batch input and the batch output all live in the
bucket. GCS cannot run here: its test is a stand-in that checks the settings
reach gcsfs's constructor, for the artifact store and for a batch output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from batch_helpers import ID, MODEL, expected_scores

from modelyard.config import Settings, load_settings
from modelyard.errors import InvalidInput
from modelyard.testing.object_stores import GcsReached, stop_gcsfs

SECRET = "testing-secret-never-shown"


def _settings(**values: Any) -> Settings:
    return Settings(**values)


def test_settings_build_fsspec_options_per_scheme() -> None:
    settings = _settings(
        artifact_endpoint_url="http://minio.internal:9000/",
        artifact_region="eu-west-1",
        artifact_access_key_id="AKIA1",
        artifact_secret_access_key="s3cr3t",
        gcs_project="bank-risk",
        gcs_credentials="/etc/keys/scorer.json",
    )
    assert settings.storage_options("s3://b/k") == {
        "client_kwargs": {"endpoint_url": "http://minio.internal:9000", "region_name": "eu-west-1"},
        "key": "AKIA1",
        "secret": "s3cr3t",
    }
    assert settings.storage_options("gs://b/k") == {
        "project": "bank-risk",
        "token": "/etc/keys/scorer.json",
    }
    assert settings.storage_options("/data/loans") == {}
    # A caller's options win key by key; client_kwargs are merged.
    merged = settings.storage_options(
        "s3://b/k", {"client_kwargs": {"endpoint_url": "http://other:1"}, "anon": False}
    )
    assert merged["client_kwargs"] == {"endpoint_url": "http://other:1", "region_name": "eu-west-1"}
    assert merged["anon"] is False and merged["key"] == "AKIA1"
    described = settings.describe()
    assert described["artifact_secret_access_key"] == "***"
    assert described["artifact_endpoint_url"] == "http://minio.internal:9000"
    assert "s3cr3t" not in json.dumps(described)
    # A password written into the endpoint itself is masked too.
    inline = _settings(artifact_endpoint_url="https://scorer:pa55@minio.internal:9000").describe()
    assert inline["artifact_endpoint_url"] == "https://scorer:***@minio.internal:9000"


def test_bad_storage_settings_name_the_field(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MODELYARD_CONFIG", raising=False)
    monkeypatch.setenv("MODELYARD_ARTIFACT_ENDPOINT_URL", "minio:9000")
    with pytest.raises(InvalidInput, match=r"artifact_endpoint_url.*http"):
        load_settings()
    monkeypatch.delenv("MODELYARD_ARTIFACT_ENDPOINT_URL")
    monkeypatch.setenv("MODELYARD_ARTIFACT_ACCESS_KEY_ID", "AKIA1")
    with pytest.raises(InvalidInput, match="artifact_secret_access_key must be set together"):
        load_settings()


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MODELYARD_", "AWS_", "BOTO"))}
    # No credentials or endpoint from the machine: only the settings reach the store.
    env["AWS_CONFIG_FILE"] = str(tmp_path / "no-aws-config")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path / "no-aws-credentials")
    env["COLUMNS"] = "200"
    return env


def test_s3_compatible_endpoint_from_the_settings_alone(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fitted,
    loans: pd.DataFrame,
    s3_options: dict[str, Any],
    s3_bucket: str,
) -> None:
    import s3fs

    import modelyard

    endpoint = s3_options["client_kwargs"]["endpoint_url"]
    region = s3_options["client_kwargs"]["region_name"]
    prefix = f"s3://{s3_bucket}/settings-test"
    (tmp_path / "modelyard.toml").write_text(
        "[modelyard]\n"
        f'store_url = "sqlite:///{tmp_path / "yard.db"}"\n'
        f'home = "{tmp_path / "home"}"\n'
        f'artifact_root = "{prefix}/artifacts"\n'
        f'artifact_endpoint_url = "{endpoint}"\n'
        f'artifact_region = "{region}"\n'
        'artifact_access_key_id = "testing"\n'
        f'artifact_secret_access_key = "{SECRET}"\n'
        'user = "alice"\n'
    )
    env = _clean_env(tmp_path)
    for key in [k for k in os.environ if k.startswith(("MODELYARD_", "AWS_", "BOTO"))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_CONFIG_FILE", env["AWS_CONFIG_FILE"])
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", env["AWS_SHARED_CREDENTIALS_FILE"])
    monkeypatch.chdir(tmp_path)

    # moto accepts any key pair; the bucket is reached only through the settings' endpoint.
    bucket = s3fs.S3FileSystem(
        key="testing", secret=SECRET, client_kwargs=dict(s3_options["client_kwargs"])
    )
    rows = loans.head(6_000)
    with bucket.open(f"{prefix}/in/loans.parquet", "wb") as fh:
        rows.to_parquet(fh, index=False, row_group_size=1_500)

    model, X = fitted
    with modelyard.connect() as yard:
        assert yard.settings.artifact_endpoint_url == endpoint
        version = yard.models.register(MODEL, model, example=X)
        assert version.version == 1
    # The artifact store wrote its blobs to the bucket.
    assert bucket.find(f"{prefix}/artifacts/blobs")

    score = subprocess.run(
        [
            sys.executable,
            "-m",
            "modelyard.cli.main",
            "batch",
            "score",
            f"{MODEL}/1",
            "--input",
            f"{prefix}/in/",
            "--output",
            f"{prefix}/out",
            "--id-column",
            ID,
            "--part-rows",
            "3000",
            "--workers",
            "1",
            "--quiet",
            "--json",
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert score.returncode == 0, score.stderr
    record = json.loads(score.stdout)
    assert record["status"] == "FINISHED" and record["rows_out"] == len(rows)
    bucket.invalidate_cache()
    outputs = sorted(
        p
        for p in bucket.find(f"{prefix}/out")
        if p.rsplit("/", 1)[1].startswith("part-") and p.endswith(".parquet")
    )
    assert len(outputs) == 2
    scored = pd.concat([pd.read_parquet(bucket.open(p, "rb")) for p in outputs])
    expected = expected_scores(fitted, rows)
    got = scored.set_index(ID)["score"]
    assert got.index.is_unique and len(got) == len(rows)
    pd.testing.assert_series_equal(
        got.sort_index(), expected.sort_index(), check_names=False, check_index_type=False
    )

    info = subprocess.run(
        [sys.executable, "-m", "modelyard.cli.main", "info", "--json"],
        env={**env, "MODELYARD_ARTIFACT_REGION": "us-east-2"},  # the environment beats the file
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert info.returncode == 0, info.stderr
    shown = json.loads(info.stdout)
    assert shown["artifact_endpoint_url"] == endpoint
    assert shown["artifact_region"] == "us-east-2"
    assert shown["artifact_access_key_id"] == "testing"
    assert shown["artifact_secret_access_key"] == "***"
    assert SECRET not in info.stdout and SECRET not in info.stderr


def test_gcs_settings_reach_gcsfs_for_artifacts_and_batch_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, by, loans_dir: Path
) -> None:
    # A stand-in: GCS cannot run here (no emulator, no network), so the test stops
    # gcsfs at its constructor and checks the arguments the settings produced.
    from modelyard.artifacts.store import get_artifact_store

    seen = stop_gcsfs(monkeypatch)
    settings = by.settings.model_copy(
        update={"gcs_project": "bank-risk", "gcs_credentials": str(tmp_path / "sa.json")}
    )
    with pytest.raises(GcsReached):
        get_artifact_store(
            "gs://bank-models/yard",
            storage_options=settings.storage_options("gs://bank-models/yard"),
        )
    assert seen[-1]["project"] == "bank-risk"
    assert seen[-1]["token"] == str(tmp_path / "sa.json")

    seen.clear()
    monkeypatch.setattr(by.batch, "_settings", settings)
    with pytest.raises(GcsReached):
        by.batch.score(f"{MODEL}/1", loans_dir, "gs://bank-scores/run-1", id_column=ID, quiet=True)
    assert seen and seen[-1]["project"] == "bank-risk"
    assert seen[-1]["token"] == str(tmp_path / "sa.json")
