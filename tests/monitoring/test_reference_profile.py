"""Reference profiles: the same from every kind of input, exact counts, strict JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modelyard.errors import InvalidInput
from modelyard.monitoring import ReferenceProfile, build_reference
from modelyard.monitoring.reference import CATEGORY_CAP


def _close(a: object, b: object) -> bool:
    """Equal, but floats to 1e-12: mean and std depend on how rows are batched."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9)
    return a == b


def _dicts_equal(a: ReferenceProfile, b: ReferenceProfile) -> None:
    assert _close(a.to_dict(), b.to_dict())


def test_profile_kinds_of_the_synthetic_frame(reference_frame: pd.DataFrame) -> None:
    ref = build_reference(reference_frame)
    kinds = {name: col.kind for name, col in ref.columns.items()}
    assert kinds["application_id"] == "identifier"
    assert kinds["application_date"] == "datetime"
    assert kinds["income"] == kinds["age"] == "numeric"
    assert kinds["region"] == "categorical"
    assert ref.rows == len(reference_frame)
    income = ref["income"]
    assert income.min == reference_frame["income"].min()
    assert income.mean == pytest.approx(reference_frame["income"].mean(), rel=1e-12)
    assert income.std == pytest.approx(reference_frame["income"].std(ddof=0), rel=1e-9)
    assert int(income.counts.sum()) == len(reference_frame)
    assert ref["age"].grid_exact and ref["age"].grid.tolist() == sorted(
        reference_frame["age"].unique().astype(float)
    )
    assert not ref["income"].grid_exact and ref["income"].grid.size <= ref.grid_size + 2
    counts = dict(ref["region"].categories)
    assert counts == reference_frame["region"].value_counts().to_dict()


def test_every_input_kind_gives_the_same_profile(
    reference_frame: pd.DataFrame, tmp_path: Path
) -> None:
    frame = reference_frame.head(5000)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    path = tmp_path / "ref.parquet"
    pq.write_table(table, path, row_group_size=1200)
    folder = tmp_path / "parts"
    folder.mkdir()
    pq.write_table(table.slice(0, 2000), folder / "a.parquet")
    pq.write_table(table.slice(2000), folder / "b.parquet")
    base = build_reference(frame)
    for data in (
        table,
        path,
        str(folder),
        lambda: table.to_batches(max_chunksize=777),
        table.to_batches(max_chunksize=1000),
    ):
        _dicts_equal(build_reference(data), base)


def test_to_dict_is_strict_json_and_round_trips(reference_frame: pd.DataFrame) -> None:
    frame = reference_frame.head(3000).copy()
    frame.loc[::7, "employment_years"] = np.nan
    frame.loc[5, "income"] = np.inf
    frame["flag"] = frame["term"] == 60
    ref = build_reference(frame, metadata={"dataset": "loans@3"})
    text = json.dumps(ref.to_dict(), allow_nan=False)
    back = ReferenceProfile.from_dict(json.loads(text))
    assert json.dumps(back.to_dict()) == text
    assert back.metadata == {"dataset": "loans@3"}
    np.testing.assert_array_equal(back["income"].offsets, ref["income"].offsets)
    assert back["flag"].kind == "boolean" and dict(back["flag"].categories).keys() == {True, False}
    emp = back["employment_years"]
    assert emp.null_count == len(frame[::7]) and emp.null_rate == pytest.approx(
        emp.null_count / 3000
    )
    assert back["income"].inf_count == 1 and back["income"].finite_count == 2999


def test_from_dict_rejects_other_data() -> None:
    with pytest.raises(InvalidInput, match="format"):
        ReferenceProfile.from_dict({"rows": 3})
    with pytest.raises(InvalidInput, match="malformed"):
        ReferenceProfile.from_dict({"format": "modelyard.monitoring.reference/1", "rows": 1})


def test_large_reference_is_sampled_but_counted_exactly(rng: np.random.Generator) -> None:
    x = rng.lognormal(0, 1, 300_000)
    ref = build_reference(pd.DataFrame({"x": x}), sample_size=10_000, grid_size=200)
    col = ref["x"]
    assert int(col.counts.sum()) == x.size
    assert col.min == x.min() and col.max == x.max()
    assert col.grid.size <= 202
    # the grid comes from a sample, so reference gap masses are about 1/200 each
    assert col.counts[0::2].max() / x.size < 2.5 / 200
    assert col.quantiles["0.5"] == pytest.approx(np.median(x), rel=0.02)


def test_identifier_and_high_cardinality_columns() -> None:
    n = 200
    frame = pd.DataFrame({"id": [f"c{i}" for i in range(n)], "cat": ["a", "b"] * (n // 2)})
    ref = build_reference(frame)
    assert ref["id"].kind == "identifier" and ref["id"].distinct == n
    assert ref["cat"].kind == "categorical"
    many = pd.DataFrame({"v": [str(i % (CATEGORY_CAP + 5)) for i in range(3 * CATEGORY_CAP)]})
    col = build_reference(many)["v"]
    assert col.kind == "identifier" and col.distinct is None


def test_edge_columns() -> None:
    frame = pd.DataFrame(
        {
            "empty": pd.Series([np.nan] * 4, dtype=float),
            "const": [5.0] * 4,
            "when": pd.to_datetime(["2026-01-01", "2026-01-03", None, "2026-01-02"]),
            "blob": [b"a", b"b", b"c", None],
        }
    )
    ref = build_reference(frame)
    assert ref["empty"].grid is None and ref["empty"].null_count == 4
    assert ref["const"].grid.tolist() == [5.0] and ref["const"].std == 0.0
    assert ref["when"].kind == "datetime" and ref["when"].min.startswith("2026-01-01")
    assert ref["blob"].kind == "other" and ref["blob"].null_count == 1
    json.dumps(ref.to_dict(), allow_nan=False)
    assert math.isclose(ref["const"].mean, 5.0)


def test_bad_arguments_are_refused(reference_frame: pd.DataFrame) -> None:
    table = pa.Table.from_pandas(reference_frame.head(10), preserve_index=False)
    with pytest.raises(InvalidInput, match="twice"):
        build_reference(iter(table.to_batches()))
    with pytest.raises(InvalidInput, match="grid_size"):
        build_reference(table, grid_size=1)
    with pytest.raises(InvalidInput, match="no column"):
        build_reference(table, columns=["nope"])
    with pytest.raises(InvalidInput, match="pandas DataFrame"):
        build_reference(42)
    with pytest.raises(InvalidInput, match="No such file"):
        build_reference("/nonexistent/file.parquet")
    with pytest.raises(InvalidInput, match="one type per column"):
        build_reference(pd.DataFrame({"mixed": [1, "a"]}))


def test_rare_values_missed_by_the_sample_still_become_grid_points(
    rng: np.random.Generator,
) -> None:
    x = rng.poisson(3, 200_000).astype(float)
    x[[17, 90_001, 150_003]] = [0.5, 77.0, 77.0]  # values a 5,000-value sample will miss
    ref = build_reference(pd.DataFrame({"x": x}), sample_size=5_000)
    col = ref["x"]
    assert col.grid_exact and {0.5, 77.0} <= set(col.grid.tolist())
    values, counts = np.unique(x, return_counts=True)
    np.testing.assert_array_equal(col.grid, values)
    np.testing.assert_array_equal(col.counts[1::2], counts)
    assert not col.counts[0::2].any() and not col.offsets.any()
