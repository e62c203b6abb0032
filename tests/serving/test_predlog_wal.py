"""The write-ahead file on its own: what a recovery writes, skips, keeps and counts."""

from __future__ import annotations

import os
import uuid

import pytest
from test_predlog import _feed

from modelyard.serving.config import PredictionLogConfig
from modelyard.serving.metrics import ServingMetrics
from modelyard.serving.predlog import (
    ParquetSink,
    PredictionLog,
    open_write_ahead_log,
    read_predictions,
    read_stream,
)
from modelyard.serving.predlog_wal import recover
from modelyard.testing.environment import require


def _config(tmp_path, **values) -> PredictionLogConfig:
    return PredictionLogConfig(
        root=str(tmp_path / "log"), wal_dir=str(tmp_path / "wal"), file_interval_s=3600, **values
    )


def _abandon(log: PredictionLog) -> None:
    """What a SIGKILL leaves: the files as they are, the directory's lock released."""
    wal = log._wal
    assert wal is not None
    wal._file.flush()
    wal._lock.close()


def test_a_crashed_log_is_recovered_once_and_its_unflushed_rows_counted(tmp_path) -> None:
    config = _config(tmp_path)
    sink = ParquetSink(config.root)
    log = PredictionLog(sink, config, None, open_write_ahead_log(config, "", tmp_path))
    _feed(log, 1_000)
    log._drain(force=False)  # one flush: 1,000 rows in the write-ahead file, no Parquet yet
    _feed(log, 300)  # still in memory when the process dies
    _abandon(log)
    assert read_predictions(config.root, "ep").num_rows == 0

    metrics = ServingMetrics()
    second = open_write_ahead_log(config, "", tmp_path, metrics)
    assert second is not None
    assert read_predictions(config.root, "ep").num_rows == 1_000
    assert metrics.log_recovered._value.get() == 1_000
    assert metrics.log_lost._value.get() == 300
    # Recovered once: the next start finds nothing more.
    third = open_write_ahead_log(config, "", tmp_path, ServingMetrics())
    assert third is not None and read_predictions(config.root, "ep").num_rows == 1_000
    second.close()
    third.close()
    assert os.listdir(tmp_path / "wal") == []


def test_rows_already_in_parquet_are_not_recovered_twice(tmp_path) -> None:
    config = _config(tmp_path, file_rows=500)
    log = PredictionLog(
        ParquetSink(config.root), config, None, open_write_ahead_log(config, "", tmp_path)
    )
    _feed(log, 600)
    log._drain(force=False)  # 600 >= file_rows: written to Parquet, marked done
    _feed(log, 100)
    log._drain(force=False)  # flushed, not yet a file
    _abandon(log)
    metrics = ServingMetrics()
    open_write_ahead_log(config, "", tmp_path, metrics).close()
    assert read_predictions(config.root, "ep").num_rows == 700
    assert metrics.log_recovered._value.get() == 100
    assert metrics.log_lost._value.get() == 0


def test_a_live_process_directory_is_left_alone(tmp_path) -> None:
    config = _config(tmp_path)
    alive = PredictionLog(
        ParquetSink(config.root), config, None, open_write_ahead_log(config, "", tmp_path)
    )
    _feed(alive, 100)
    alive._drain(force=False)
    metrics = ServingMetrics()
    other = open_write_ahead_log(config, "", tmp_path, metrics)
    assert metrics.log_recovered._value.get() == 0
    assert read_predictions(config.root, "ep").num_rows == 0
    alive.close()  # writes its own rows and removes its directory
    other.close()
    assert read_predictions(config.root, "ep").num_rows == 100
    assert os.listdir(tmp_path / "wal") == []


@pytest.mark.parametrize(("cut", "recovered", "lost"), [(10, 250, 0), (60, 200, 50)])
def test_a_torn_last_record_ends_the_segment(tmp_path, cut, recovered, lost) -> None:
    config = _config(tmp_path)
    log = PredictionLog(
        ParquetSink(config.root), config, None, open_write_ahead_log(config, "", tmp_path)
    )
    _feed(log, 200)
    log._drain(force=False)
    _feed(log, 50)
    log._drain(force=False)
    _abandon(log)
    segment = next((tmp_path / "wal").glob("*/seg-*.wal"))
    data = segment.read_bytes()
    # A crash in the middle of the second flush: its mark (the last record) torn, or its
    # table too. A whole table is recovered; rows of a torn one are counted as lost.
    segment.write_bytes(data[:-cut])
    metrics = ServingMetrics()
    open_write_ahead_log(config, "", tmp_path, metrics).close()
    assert read_predictions(config.root, "ep").num_rows == recovered
    assert metrics.log_lost._value.get() == lost


def test_a_sink_that_is_down_keeps_the_directory_for_the_next_start(tmp_path, caplog) -> None:
    config = _config(tmp_path)
    log = PredictionLog(
        ParquetSink(config.root), config, None, open_write_ahead_log(config, "", tmp_path)
    )
    _feed(log, 100)
    log._drain(force=False)
    _abandon(log)

    def broken(meta):
        raise OSError("the bucket is unreachable")

    result = recover(tmp_path / "wal", broken)
    assert result.recovered == 0 and "kept for the next start" in caplog.text
    assert len(os.listdir(tmp_path / "wal")) == 1
    open_write_ahead_log(config, "", tmp_path, ServingMetrics()).close()
    assert read_predictions(config.root, "ep").num_rows == 100


def test_the_redis_sink_gets_every_flush_at_once(tmp_path) -> None:
    url = "redis://127.0.0.1:6379/0"
    stream = f"modelyard-test:{uuid.uuid4().hex}"
    config = _config(tmp_path, sink="redis", redis_url=url, redis_stream=stream)
    from modelyard.serving.predlog import make_sink

    try:
        sink = make_sink(config, "")
    except Exception as exc:
        require("Redis at 127.0.0.1:6379", "start redis-server", exc)
    log = PredictionLog(sink, config, None, open_write_ahead_log(config, "", tmp_path))
    try:
        _feed(log, 120)
        log._drain(force=False)  # no file interval for a stream: there now
        assert read_stream(url, stream).num_rows == 120
        log.close()
        assert os.listdir(tmp_path / "wal") == []
    finally:
        import redis

        client = redis.Redis.from_url(url)
        client.delete(stream)
        client.close()


def test_write_ahead_settings_are_validated() -> None:
    from modelyard.errors import InvalidInput
    from modelyard.serving import ServingConfig

    with pytest.raises(InvalidInput, match=r"prediction_log\.flush_interval_s"):
        ServingConfig.build(prediction_log={"flush_interval_s": 0})
    assert PredictionLogConfig().flush_interval_s == 1.0
    assert PredictionLogConfig().wal is True
    off = PredictionLogConfig(wal=False)
    assert open_write_ahead_log(off, "", "/nonexistent") is None
