"""The Dask scheduler and Spark master come from the configuration when the call names none."""

from __future__ import annotations

from pathlib import Path

import modelyard


def test_cluster_addresses_from_modelyard_toml_and_the_environment(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "modelyard.toml").write_text(
        'dask_scheduler = "tcp://10.0.0.5:8786"\nspark_master = "yarn"\n'
    )
    with modelyard.connect() as yard:
        assert yard.batch._engine_options("dask", 2, None) == {
            "workers": 2,
            "scheduler": "tcp://10.0.0.5:8786",
        }
        assert yard.batch._engine_options("spark", None, None) == {"master": "yarn"}
        # What the call names wins over the configuration.
        chosen = yard.batch._engine_options("spark", None, {"master": "local[1]"})
        assert chosen == {"master": "local[1]"}
    monkeypatch.setenv("MODELYARD_SPARK_MASTER", "spark://head:7077")
    with modelyard.connect() as yard:  # the environment beats the file
        assert yard.batch._engine_options("spark", None, None) == {"master": "spark://head:7077"}


def test_local_spark_sessions_get_lean_jvm_defaults_that_the_caller_can_replace() -> None:
    from modelyard.batch.engines.spark import LOCAL_DEFAULTS, session_settings

    options = LOCAL_DEFAULTS["spark.driver.extraJavaOptions"]
    assert session_settings("local[2]")["spark.driver.extraJavaOptions"] == options
    mine = {"spark.driver.extraJavaOptions": "-Xmx2g", "spark.jars": "a.jar"}
    assert session_settings("local[*]", mine) == mine
    assert session_settings("yarn", {"spark.jars": "a.jar"}) == {"spark.jars": "a.jar"}
