"""Spark as the engine: catalog tables and JDBC in, tables and partitioned Parquet out.

All tests share the session-wide ``local[2]`` Spark session (its start-up is
the slow part); the kill test starts one more in the process it kills.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from batch_helpers import (
    COMPARED,
    ID,
    MODEL,
    POSTGRES_JDBC_JAR,
    cli_yard,
    read_output,
    write_parts,
)

from modelyard.batch.spark_io import SparkSink, SparkSource, source_from_options
from modelyard.compiled import is_deferred
from modelyard.data.out_of_time import CATEGORICAL, FEATURES, NUMERIC, TARGET
from modelyard.errors import Conflict, InvalidInput
from modelyard.testing.environment import require

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:pyspark.*"),
    pytest.mark.filterwarnings("ignore::FutureWarning:pyspark.*"),
    pytest.mark.filterwarnings("ignore::UserWarning:pyspark.*"),
]

OOT_MODEL = "oot"
READY_CEILING_S = 900  # Spark start-up on a loaded 2-core machine: wait generously


def _by_id(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(ID, kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------- options, no Spark


def test_sources_and_sinks_refuse_bad_names_and_credentials_in_clear() -> None:
    with pytest.raises(InvalidInput, match="input_table"):
        SparkSource.table("db.loans; DROP TABLE x")
    with pytest.raises(InvalidInput, match="credential"):
        SparkSource.jdbc("jdbc:postgresql://h/db?user=u&password=secret", table="loans")
    with pytest.raises(InvalidInput, match="credential"):
        SparkSource.jdbc("jdbc:postgresql://u:pw@h/db", table="loans")
    with pytest.raises(InvalidInput, match="credential"):
        SparkSource.jdbc("jdbc:postgresql://h/db", table="t", options={"password": "x"})
    with pytest.raises(InvalidInput, match="credential"):  # Oracle's user/password@ form
        SparkSource.jdbc("jdbc:oracle:thin:scott/tiger@//db:1521/svc", table="loans")
    # A connector's service-account key itself, or any token, never travels as an option
    # (it would land in the job record, the audit trail and error messages).
    for name in ("credentials", "privateKey", "gcpAccessToken", "aws_secret_access_key"):
        with pytest.raises(InvalidInput, match="credential"):
            SparkSource.connector("bigquery", {"table": "p.d.t", name: "BASE64KEY"})
    with_file = SparkSource.connector("bigquery", {"table": "p.d.t", "credentialsFile": "/k"})
    assert "credentialsFile=/k" in with_file.describe()
    with pytest.raises(InvalidInput, match="jdbc_table"):
        SparkSource.jdbc("jdbc:postgresql://h/db")
    with pytest.raises(InvalidInput, match="input_jdbc"):
        SparkSource.jdbc("postgresql://h/db", table="t")
    with pytest.raises(InvalidInput, match="input: give one of"):
        source_from_options(input="x.parquet", input_table="db.loans")
    with pytest.raises(InvalidInput, match="buckets"):
        SparkSink.path("out", buckets=0)
    with pytest.raises(InvalidInput, match="partition_column"):
        SparkSink.path("out", partition_column="_part")
    with pytest.raises(InvalidInput, match="input_options"):
        SparkSource.connector("bigquery", {})
    bq = SparkSource.connector("bigquery", {"table": "proj.ds.loans"})
    assert bq.describe() == "bigquery:table=proj.ds.loans"
    assert SparkSink.table("bank.scores").rejects().location == "bank.scores_rejects"


def test_spark_sources_need_the_spark_engine(by) -> None:
    with pytest.raises(InvalidInput, match="engine"):
        by.batch.score(f"{MODEL}/1", SparkSource.table("bank.loans"), "out", quiet=True)
    # A bad number of reasons is refused by name before Spark starts.
    with pytest.raises(InvalidInput, match=r"^explain: "):
        by.batch.score(
            f"{MODEL}/1", SparkSource.table("bank.loans"), "out", engine="spark", explain=99
        )


# ---------------------------------------------------------------- catalog tables


def test_bad_spark_input_stops_before_anything_is_written(by, spark, loans, tmp_path) -> None:
    def run(source, sink, **kw):
        return by.batch.score(
            f"{MODEL}/1",
            source,
            sink,
            engine="spark",
            id_column=ID,
            engine_options={"session": spark},
            quiet=True,
            **kw,
        )

    out = tmp_path / "never"
    with pytest.raises(InvalidInput, match=r"bank\.no_such_table: not found"):
        run(SparkSource.table("bank.no_such_table"), SparkSink.path(out))
    spark.sql("CREATE DATABASE IF NOT EXISTS bank")
    spark.sql("DROP TABLE IF EXISTS bank.loans_without_income")
    spark.createDataFrame(loans.head(50).drop(columns=["income"])).write.saveAsTable(
        "bank.loans_without_income"
    )
    with pytest.raises(InvalidInput, match="income: missing column"):
        run(SparkSource.table("bank.loans_without_income"), SparkSink.path(out))
    with pytest.raises(InvalidInput, match="partition_column"):
        run(SparkSource.table("bank.loans_without_income"),
            SparkSink.path(out, partition_column="region"))  # fmt: skip
    with pytest.raises(InvalidInput, match="register_output_as"):
        run(SparkSource.table("bank.loans_without_income"), SparkSink.path(out),
            register_output_as="scores")  # fmt: skip
    assert not out.exists() and by.batch.list() == []


def test_catalog_table_scored_into_a_partitioned_table(by, spark, loans, tmp_path) -> None:
    frame = loans.head(6_000).copy()
    frame.loc[[10, 4_000], "region"] = "Atlantis"  # version 1 rejects unseen categories
    spark.sql("CREATE DATABASE IF NOT EXISTS bank")
    spark.sql("DROP TABLE IF EXISTS bank.loans")
    spark.createDataFrame(frame).write.format("parquet").saveAsTable("bank.loans")

    def run(**kw):
        return by.batch.score(
            f"{MODEL}/1",
            SparkSource.table("bank.loans"),
            SparkSink.table("bank.scores", buckets=2),
            engine="spark",
            id_column=ID,
            passthrough=["application_date"],
            engine_options={"session": spark},
            quiet=True,
            **kw,
        )

    job = run()
    assert job.status == "FINISHED" and job.engine == "spark"
    assert (job.rows_in, job.rows_out, job.rows_rejected) == (6_000, 5_998, 2)
    assert job.rejects_by_reason == {"region: unseen category": 2}
    lineage = job.params["input"]
    assert lineage["table"] == "bank.loans" and lineage["location"].endswith("loans")
    assert lineage["files"] >= 1 and lineage["last_modified_ms"] > 0
    # A Parquet table's rows are counted from its footers before the pass.
    assert job.params["rows_forecast"] == 6_000
    partitions = sorted(r[0] for r in spark.sql("SHOW PARTITIONS bank.scores").collect())
    assert partitions == ["batch_part=0", "batch_part=1"]

    scored = _by_id(spark.table("bank.scores").toPandas())
    assert scored[ID].is_unique and len(scored) == 5_998
    write_parts(frame, tmp_path / "files", files=2, row_group=1_000)
    local = by.batch.score(
        f"{MODEL}/1", tmp_path / "files", tmp_path / "local", id_column=ID, quiet=True
    )
    reference = read_output(tmp_path / "local")
    assert local.rows_out == 5_998
    assert np.array_equal(scored["score"].to_numpy(), reference["score"].to_numpy())
    assert scored[COMPARED[:-1]].equals(reference[COMPARED[:-1]])
    rejects = spark.table("bank.scores_rejects").toPandas().sort_values(ID)
    assert rejects["_reason"].tolist() == ["region: unseen category (got 'Atlantis')"] * 2
    assert set(FEATURES).isdisjoint(scored.columns) and "region" in rejects.columns

    # The same command again: the finished job, untouched.
    again = run()
    assert again.id == job.id and again.params == job.params
    assert spark.table("bank.scores").count() == 5_998

    # Another job into the same table is refused; overwrite replaces it.
    def other(**kw):
        return by.batch.score(
            f"{MODEL}/1",
            SparkSource.table("bank.loans"),
            SparkSink.table("bank.scores", buckets=1),
            engine="spark",
            id_column=ID,
            engine_options={"session": spark},
            quiet=True,
            **kw,
        )

    with pytest.raises(Conflict, match=r"bank\.scores"):
        other()
    replaced = other(overwrite=True)
    assert replaced.id != job.id and replaced.rows_out == 5_998
    partitions = sorted(r[0] for r in spark.sql("SHOW PARTITIONS bank.scores").collect())
    assert partitions == ["batch_part=0"]


def test_catalog_table_explained_with_the_local_engines_reasons(by, spark, loans, tmp_path) -> None:
    """Spark adds the reason columns inside mapInArrow: the same reasons, row for row, as
    the local engine gives the same rows from Parquet files."""
    frame = loans.head(3_000).copy()
    frame.loc[[7, 2_000], "region"] = "Atlantis"  # rejected by version 1: no reasons
    spark.sql("CREATE DATABASE IF NOT EXISTS bank")
    spark.sql("DROP TABLE IF EXISTS bank.loans_to_explain")
    spark.createDataFrame(frame).write.format("parquet").saveAsTable("bank.loans_to_explain")
    job = by.batch.score(
        f"{MODEL}/1",
        SparkSource.table("bank.loans_to_explain"),
        SparkSink.table("bank.explained", buckets=2),
        engine="spark",
        id_column=ID,
        engine_options={"session": spark},
        explain=3,
        quiet=True,
    )
    assert job.status == "FINISHED" and (job.rows_out, job.rows_rejected) == (2_998, 2)
    assert job.params["explain"] == 3
    scored = _by_id(spark.table("bank.explained").toPandas())

    write_parts(frame, tmp_path / "files", files=2, row_group=1_000)
    by.batch.score(
        f"{MODEL}/1", tmp_path / "files", tmp_path / "local", id_column=ID, explain=3, quiet=True
    )
    reference = read_output(tmp_path / "local")
    reasons = [f"reason_{r}_{k}" for r in (1, 2, 3) for k in
               ("code", "text", "column", "value", "contribution")]  # fmt: skip
    assert set(reasons) <= set(scored.columns)
    assert scored[ID].tolist() == reference[ID].tolist()
    assert np.array_equal(scored["score"].to_numpy(), reference["score"].to_numpy())
    pd.testing.assert_frame_equal(scored[reasons], reference[reasons], check_dtype=False)
    # Rows with an adverse contribution have a first reason (the others none, as locally).
    assert scored["reason_1_column"].notna().mean() > 0.5


def test_one_scoring_pass_commits_each_group_with_its_own_counts(by, spark, loans, tmp_path):
    """The source is scored in one pass; each committed group records its own rows,
    rejects and reasons (rows of a batch split by their bucket's group)."""
    frame = loans.head(4_000).copy()
    frame.loc[[3, 1_500, 2_200, 3_900], "region"] = "Atlantis"
    (tmp_path / "in").mkdir()
    # Microseconds: Spark's Parquet reader refuses the nanosecond timestamps pandas writes.
    frame.to_parquet(tmp_path / "in" / "loans.parquet", index=False, coerce_timestamps="us")
    job = by.batch.score(
        f"{MODEL}/1",
        SparkSource.path(tmp_path / "in"),
        SparkSink.path(tmp_path / "out", buckets=4),
        engine="spark",
        id_column=ID,
        engine_options={"session": spark, "buckets_per_commit": 1},
        batch_rows=4_000,  # one Arrow batch holds every bucket
        quiet=True,
    )
    assert (job.status, job.rows_out, job.rows_rejected) == ("FINISHED", 3_996, 4)
    groups = job.params["groups_done"]
    assert [g["buckets"] for g in groups] == [[0], [1], [2], [3]]
    for group in groups:
        rejected = sum(group["rows_rejected"].values())
        assert sum(group["rejects"].values()) == rejected
        assert group["rejects"] == ({"region: unseen category": rejected} if rejected else {})
    assert job.rejects_by_reason == {"region: unseen category": 4}
    assert sum(sum(g["rows_out"].values()) for g in groups) == 3_996
    assert job.params["worker_cpu_us_per_row"] > 0 and job.params["load_seconds"] >= 0
    scored = read_output(tmp_path / "out")
    assert scored[ID].is_unique and len(scored) == 3_996
    # Each rejected row comes back whole: its inputs travel in one struct column of the
    # scored rows (null on the rest) and are unpacked, with their types, for the rejects.
    rejects = _by_id(pd.read_parquet(tmp_path / "out" / "_rejects"))
    expected = _by_id(frame.loc[[3, 1_500, 2_200, 3_900]])
    assert rejects[ID].tolist() == expected[ID].tolist()
    inputs = [c for c in rejects.columns if c in frame.columns and c != ID]
    assert {"region", "income"} <= set(inputs)
    for name in inputs:
        assert rejects[name].dtype == expected[name].dtype, name
        pd.testing.assert_series_equal(rejects[name], expected[name], check_names=False)


def test_dotted_input_names_travel_through_scoring_and_rejects(spark, loans, tmp_path) -> None:
    """A column named like a struct field ("bureau.income") is a column, not a field:
    it is scored under its name, and a rejected row brings it back whole in its
    rejects row (out of the rejected-input struct, where it is a field name)."""
    from lightgbm import LGBMClassifier
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    from modelyard.demo import credit_models

    dotted = {"income": "bureau.income", "utilisation": "bureau.utilisation"}
    frame = loans.head(3_000).rename(columns=dotted)
    numeric = [dotted.get(c, c) for c in credit_models.NUMERIC]
    features = numeric + credit_models.CATEGORICAL
    encode = ColumnTransformer(
        [
            ("num", "passthrough", numeric),
            ("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
             credit_models.CATEGORICAL),
        ]
    )  # fmt: skip
    model = Pipeline(
        [("encode", encode), ("model", LGBMClassifier(n_estimators=20, n_jobs=1, verbose=-1))]
    ).fit(frame[features], frame[credit_models.TARGET])
    _, yard = cli_yard(tmp_path)
    yard.models.register("dotted", model, example=frame[features].head(200),
                         input_policy={"unseen": "reject"})  # fmt: skip
    bad = [7, 2_500]
    frame.loc[bad, "region"] = "Atlantis"
    (tmp_path / "in").mkdir()
    frame.to_parquet(tmp_path / "in" / "loans.parquet", index=False, coerce_timestamps="us")

    job = yard.batch.score(
        "dotted/1",
        SparkSource.path(tmp_path / "in"),
        SparkSink.path(tmp_path / "out", buckets=2),
        engine="spark",
        id_column=ID,
        engine_options={"session": spark},
        quiet=True,
    )
    assert (job.status, job.rows_out, job.rows_rejected) == ("FINISHED", 2_998, 2)
    rejects = _by_id(pd.read_parquet(tmp_path / "out" / "_rejects"))
    expected = _by_id(frame.loc[bad])
    assert rejects[ID].tolist() == expected[ID].tolist()
    for name in dotted.values():
        assert np.array_equal(rejects[name].to_numpy(), expected[name].to_numpy()), name
    scored = _by_id(pd.read_parquet(tmp_path / "out"))
    kept = _by_id(frame.drop(index=bad))
    assert np.array_equal(scored[ID].to_numpy(), kept[ID].to_numpy())
    assert np.allclose(
        scored["score"].to_numpy(), model.predict_proba(kept[features])[:, 1], rtol=0, atol=1e-12
    )
    yard.close()


# ---------------------------------------------------------------- JDBC, out of time, kill


@pytest.fixture(scope="module")
def oot_frames():
    from modelyard.data.out_of_time import generate_out_of_time, split_at_change

    early, late = split_at_change(generate_out_of_time(8_000, seed=16))
    return early, late.reset_index(drop=True)


@pytest.fixture(scope="module")
def oot_model(oot_frames):
    from lightgbm import LGBMClassifier
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    early, _ = oot_frames
    x, y = early[list(FEATURES)], early[TARGET]
    encode = ColumnTransformer(
        [
            ("num", "passthrough", list(NUMERIC)),
            (
                "cat",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                list(CATEGORICAL),
            ),
        ]
    )
    model = LGBMClassifier(n_estimators=30, num_leaves=15, n_jobs=1, verbose=-1, random_state=3)
    return Pipeline([("encode", encode), ("model", model)]).fit(x, y), x


def _jdbc_url(postgres_url: str) -> str:
    return "jdbc:postgresql://127.0.0.1:5432/" + postgres_url.rsplit("/", 1)[1]


_KILLED_JOB = """
import pathlib, sys, time
import modelyard
from modelyard.batch.spark_io import SparkSink, SparkSource

ready = pathlib.Path(sys.argv[1])


class StallAfterTwoCommits:
    # Blocks after the second commit, before the job records it: the kill then
    # leaves one recorded group and one committed but unrecorded.
    commits = 0

    def start(self, total, done, description):
        pass

    def advance(self, rows):
        self.commits += 1
        if self.commits == 2:
            ready.write_text("2")
            time.sleep(3600)

    def stop(self):
        pass


yard = modelyard.connect()
yard.batch.score(
    "{model}/1",
    SparkSource.jdbc("{url}", table="loans_late"),
    SparkSink.path("{out}", buckets=3),
    engine="spark",
    id_column="{id}",
    passthrough=["application_date"],
    engine_options={{"master": "local[2]", "buckets_per_commit": 1,
                     "conf": {{"spark.jars": "{jar}"}}}},
    progress=StallAfterTwoCommits(),
)
"""


def test_jdbc_out_of_time_into_partitioned_parquet_killed_and_resumed(
    spark, oot_frames, oot_model, postgres_url, tmp_path, monkeypatch
) -> None:
    from sqlalchemy import create_engine

    if not Path(POSTGRES_JDBC_JAR).exists():
        require(
            f"the PostgreSQL JDBC driver {POSTGRES_JDBC_JAR}",
            "install the Debian package libpostgresql-jdbc-java (.ci/run does)",
        )
    _, late = oot_frames
    engine = create_engine(postgres_url)
    late.drop(columns=[TARGET]).to_sql("loans_late", engine, index=False)
    engine.dispose()
    env, yard = cli_yard(tmp_path, MODELYARD_JDBC_USER="postgres")
    for key in ("MODELYARD_HOME", "MODELYARD_JDBC_USER"):
        monkeypatch.setenv(key, env[key])
    model, x = oot_model
    yard.models.register(OOT_MODEL, model, example=x)
    url, out = _jdbc_url(postgres_url), tmp_path / "scores"

    script = tmp_path / "killed_job.py"
    script.write_text(
        _KILLED_JOB.format(model=OOT_MODEL, url=url, out=out, id=ID, jar=POSTGRES_JDBC_JAR)
    )
    ready = tmp_path / "ready"
    process = subprocess.Popen(
        [sys.executable, str(script), str(ready)],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + READY_CEILING_S
        while not ready.exists():
            if process.poll() is not None:
                pytest.fail(f"the job ended before the kill: {process.stderr.read().decode()}")
            if time.monotonic() > deadline:
                pytest.fail("the job did not commit two groups in time")
            time.sleep(0.2)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the job, its JVM and its Python workers
        process.wait()
        process.stderr.close()
    committed = sorted(p.name for p in out.glob("batch_part=*"))
    assert len(committed) == 2  # two groups committed, the rest never started
    killed = yard.batch.list()[0]
    assert killed.status == "RUNNING" and len(killed.params["groups_done"]) == 1
    status = yard.batch.status(killed.id).progress
    assert (status["parts_done"], status["parts_total"]) == (1, 3) and status["rows_done"] > 0

    job = yard.batch.score(
        f"{OOT_MODEL}/1",
        SparkSource.jdbc(url, table="loans_late"),
        SparkSink.path(out, buckets=3),
        engine="spark",
        id_column=ID,
        passthrough=["application_date"],
        engine_options={"session": spark, "buckets_per_commit": 1},
        quiet=True,
    )
    assert job.id == killed.id and job.status == "FINISHED"
    assert job.params["attempts"] == 2 and job.params["rows_this_attempt"] < len(late)
    assert (job.rows_in, job.rows_out, job.rows_rejected) == (len(late), len(late), 0)
    # Unseen categories, new nulls and shifted incomes are scored and counted, not refused.
    assert job.warnings["channel: unseen_category"] > 0
    assert job.warnings["employment_years: null"] > 0
    assert job.params["input"]["url"] == url and job.params["input"]["table"] == "loans_late"
    # A JDBC table is not counted (that would be a query over it): the workers defer the
    # kernel; the warm-up stage still loaded the model in both before the pass.
    assert job.params["rows_forecast"] is None and is_deferred(job.evaluator)
    assert len(job.params["worker_load_seconds"]) == 2
    assert "password" not in str(job.params).lower()
    assert sorted(p.name for p in out.glob("batch_part=*")) == [f"batch_part={i}" for i in range(3)]

    scored = _by_id(pd.read_parquet(out))
    assert scored[ID].is_unique and len(scored) == len(late)
    _assert_scored_as_by_the_local_engine(yard, late, scored, tmp_path)
    yard.close()


def _assert_scored_as_by_the_local_engine(yard, late, scored, tmp_path) -> None:
    """``scored`` (sorted by id) holds the ids and scores the local engine gives ``late``."""
    write_parts(late, tmp_path / "late", files=2, row_group=1_000)
    yard.batch.score(f"{OOT_MODEL}/1", tmp_path / "late", tmp_path / "local", id_column=ID,
                     quiet=True)  # fmt: skip
    reference = read_output(tmp_path / "local")
    assert np.array_equal(scored[ID].to_numpy(), reference[ID].to_numpy())
    assert np.array_equal(scored["score"].to_numpy(), reference["score"].to_numpy())


def test_parquet_rows_counted_so_each_worker_compiles_the_kernel_at_load(
    spark, oot_frames, oot_model, tmp_path, monkeypatch
) -> None:
    """Spark counts a Parquet source's rows from its footers: each of the two Python
    workers is told its share of the remaining buckets and loads the model in the warm-up
    stage; with a share above the break-even it compiles the tree kernel there. The
    out-of-time rows score as the local engine scores them, whichever the evaluator."""
    _, late = oot_frames
    _, yard = cli_yard(tmp_path)
    model, x = oot_model
    yard.models.register(OOT_MODEL, model, example=x)
    (tmp_path / "in").mkdir()
    late.drop(columns=[TARGET]).to_parquet(
        tmp_path / "in" / "late.parquet", index=False, coerce_timestamps="us"
    )

    cache_setting = "spark.sql.inMemoryColumnarStorage.compressed"
    before = spark.conf.get(cache_setting)

    def run(out: str, break_even: int):
        monkeypatch.setenv("MODELYARD_BATCH_KERNEL_AFTER_ROWS", str(break_even))
        job = yard.batch.score(
            f"{OOT_MODEL}/1",
            SparkSource.path(tmp_path / "in"),
            SparkSink.path(tmp_path / out, buckets=4),
            engine="spark",
            id_column=ID,
            engine_options={"session": spark, "buckets_per_commit": 2},
            quiet=True,
        )
        assert job.status == "FINISHED" and job.rows_out == len(late) and job.rows_rejected == 0
        assert job.params["rows_forecast"] == len(late)
        assert len(job.params["worker_load_seconds"]) == 2
        # The pass ran in the Python workers the warm-up stage loaded: no task loaded it.
        assert job.params["model_loads_while_scoring"] == 0
        assert job.warnings["channel: unseen_category"] > 0  # scored and flagged, not refused
        return job, _by_id(pd.read_parquet(tmp_path / out))

    # A break-even above each worker's share (half the rows): the kernel is deferred.
    # (First: a worker that has compiled the kernel keeps it for later jobs.)
    deferred, rented = run("deferred", len(late))
    assert is_deferred(deferred.evaluator)
    job, scored = run("scores", len(late) // 4)
    # Compiled at load, in the warm-up (the pass loaded nothing), not after some rows.
    assert job.evaluator == "numba tree kernel"
    assert spark.conf.get(cache_setting) == before  # the job's own settings are undone
    assert np.array_equal(scored["score"].to_numpy(), rented["score"].to_numpy())
    _assert_scored_as_by_the_local_engine(yard, late, scored, tmp_path)
    yard.close()


# ---------------------------------------------------------------- the command line


def test_cli_scores_orc_files_read_by_spark_into_partitioned_parquet(
    spark, fitted, loans, tmp_path, monkeypatch, capsys
) -> None:
    import json

    import modelyard
    from modelyard.cli import _context
    from modelyard.cli.main import main

    monkeypatch.setenv("MODELYARD_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MODELYARD_USER", "alice")
    monkeypatch.setenv("COLUMNS", "200")
    with modelyard.connect() as yard:
        model, x = fitted
        yard.models.register(MODEL, model, example=x)
    frame = loans.head(3_000)
    spark.createDataFrame(frame).write.orc(str(tmp_path / "orc"))

    def run(*args: str) -> tuple[int, str, str]:
        _context.yard.cache_clear()
        code = main(["batch", "score", f"{MODEL}/1", "--engine", "spark", *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    code, out, err = run(
        "--input-jdbc", "jdbc:postgresql://alice:s3cret@127.0.0.1/test", "--jdbc-table", "t",
        "--output", str(tmp_path / "never"),
    )  # fmt: skip
    assert code != 0 and "credential" in err and "s3cret" not in err + out
    code, out, err = run("--input-table", "bank.loans", "--input", "x.parquet", "-o", "y")
    assert code != 0 and "give one of --input, --input-table" in err

    code, out, err = run(
        "--input", str(tmp_path / "orc"), "--input-format", "orc",
        "--output", str(tmp_path / "scores"), "--buckets", "3",
        "--id-column", ID, "--buckets-per-commit", "3", "--json",
    )  # fmt: skip
    assert code == 0, err
    job = json.loads(out)
    assert job["status"] == "FINISHED" and job["rows_out"] == 3_000
    assert job["params"]["input"]["files"] >= 1 and job["params"]["buckets"] == 3
    assert sorted(p.name for p in (tmp_path / "scores").glob("batch_part=*")) == [
        "batch_part=0", "batch_part=1", "batch_part=2",
    ]  # fmt: skip
    scored = _by_id(pd.read_parquet(tmp_path / "scores"))
    expected = model.predict_proba(frame[list(x.columns)])[:, 1]
    order = np.argsort(frame[ID].to_numpy(), kind="stable")
    assert np.array_equal(scored["score"].to_numpy(), expected[order])
    _context.yard.cache_clear()
