"""Windows: parsing, resolution, splitting; reading a version's rows from the prediction log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest
from monitor_helpers import START, T0, Clock, feedback_table, log_table, write_feedback, write_log

from modelyard.data import synthetic
from modelyard.errors import InvalidInput
from modelyard.monitoring.windows import (
    LogScan,
    Window,
    parse_duration,
    read_feedback,
    read_log,
    resolve_window,
    split,
)


def test_durations() -> None:
    assert parse_duration("1d") == timedelta(days=1)
    assert parse_duration("12h") == timedelta(hours=12)
    assert parse_duration(" 30m ") == timedelta(minutes=30)
    assert parse_duration("2w") == timedelta(days=14)
    assert parse_duration("1.5h") == timedelta(minutes=90)
    for bad in ("", "7", "0d", "-1d", "1y", "d", None):
        with pytest.raises(InvalidInput, match="positive duration"):
            parse_duration(bad)  # type: ignore[arg-type]


def test_windows_from_the_options() -> None:
    now = Clock(T0 + 36 * 3_600_000)  # 2026-03-02 12:00 UTC
    at = datetime(2026, 3, 2, 12, tzinfo=UTC)
    assert resolve_window("1d", now=now) == Window(at - timedelta(days=1), at)
    assert resolve_window(None, now=now) == Window(at - timedelta(days=1), at)  # the default
    assert resolve_window("12h", since="2026-03-01", now=now) == Window(
        START, START + timedelta(hours=12)
    )
    assert resolve_window("1d", until="2026-03-02", now=now) == Window(
        START, START + timedelta(days=1)
    )
    assert resolve_window(None, since="2026-03-01", now=now) == Window(START, at)
    assert resolve_window(None, since="2026-03-01", until="2026-03-01T06:00", now=now) == Window(
        START, START + timedelta(hours=6)
    )
    naive = datetime(2026, 3, 1, 6)
    assert resolve_window(None, since=START, until=naive).end == START + timedelta(hours=6)
    with pytest.raises(InvalidInput, match="not both"):
        resolve_window("1d", since="2026-03-01", until="2026-03-02")
    with pytest.raises(InvalidInput, match="empty"):
        resolve_window(None, since="2026-03-02", until="2026-03-01")
    with pytest.raises(InvalidInput, match="not an ISO date"):
        resolve_window(None, since="yesterday")


def test_split_and_labels() -> None:
    whole = Window(START, START + timedelta(days=2, hours=12))
    parts = split(whole, "1d")
    assert [p.label() for p in parts] == [
        "2026-03-01",
        "2026-03-02",
        "2026-03-03 00:00 → 12:00",
    ]
    assert parts[0].days() == [START.date()]
    assert Window(START, START + timedelta(days=7)).label() == "2026-03-01 → 2026-03-08"
    assert len(Window(START + timedelta(hours=23), START + timedelta(hours=25)).days()) == 2


@pytest.fixture
def log_root(tmp_path) -> str:
    """Three days on endpoint credit-risk: version 1 (with a shadow of version 2 on day 2),
    another model, and a later part with a column earlier parts lack."""
    root = str(tmp_path / "log")
    frame = synthetic.generate(3 * 240, seed=3)
    scores = np.linspace(0.01, 0.9, len(frame))
    # 240 rows a day, one every 6 minutes, from 2026-03-01 00:00
    main = log_table(frame, scores, model="credit-risk", version=1, start=START, seconds=360)
    write_log(root, main)
    day2 = START + timedelta(days=1)
    shadow = log_table(
        frame.head(50), scores[:50], model="credit-risk", version=1, start=day2, shadow=True
    )
    write_log(root, shadow)
    other = log_table(frame.head(30), scores[:30], model="credit-risk", version=2, start=day2)
    write_log(root, other)
    extra = log_table(frame.head(20), scores[:20], model="credit-risk", version=1, start=day2)
    extra = extra.append_column("new_input", pa.array([1.5] * 20))
    write_log(root, extra)
    write_feedback(
        root, "credit-risk", feedback_table(main, np.ones(main.num_rows), day2), "2026-03-02"
    )
    return root


def test_read_log_streams_one_version_in_one_window(log_root) -> None:
    day2 = Window(START + timedelta(days=1), START + timedelta(days=2))
    scan = LogScan()
    batches = list(
        read_log(log_root, ["credit-risk", "absent"], "credit-risk", 1, day2, scan=scan,
                 batch_rows=64)
    )  # fmt: skip
    assert len(batches) > 3  # streamed, not read whole
    table = pa.Table.from_batches(batches)
    assert table.num_rows == scan.rows == 240 + 20  # version 1, no shadow, no version 2
    assert scan.shadow_rows == 50
    assert scan.files == 4  # only day 2's parts were opened
    ts = table["_ts"].cast(pa.int64()).to_numpy()
    assert ts.min() >= day2.start_ms and ts.max() < day2.end_ms
    assert set(table["_version"].to_pylist()) == {1}
    assert table["new_input"].null_count == 240  # unified schema: null in older parts
    with_shadow = sum(
        b.num_rows
        for b in read_log(log_root, ["credit-risk"], "credit-risk", 1, day2, include_shadow=True)
    )
    assert with_shadow == 310
    only = list(
        read_log(log_root, ["credit-risk"], "credit-risk", 2, day2, columns=["_score", "age"])
    )
    assert sum(b.num_rows for b in only) == 30 and only[0].schema.names == ["_score", "age"]


def test_read_log_half_open_bounds(log_root) -> None:
    # 2026-03-01 00:00 .. 01:00 holds rows at :00, :06, ..., :54; the 01:00 row is next hour's
    hour = Window(START, START + timedelta(hours=1))
    rows = sum(b.num_rows for b in read_log(log_root, ["credit-risk"], "credit-risk", 1, hour))
    assert rows == 10


def test_feedback_from_the_window_start(log_root) -> None:
    assert read_feedback(log_root, ["credit-risk"], START).num_rows == 720
    assert read_feedback(log_root, ["credit-risk"], START + timedelta(days=2)).num_rows == 0
    assert read_feedback(log_root, ["nothing-here"], None).num_rows == 0
