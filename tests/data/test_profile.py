"""Tests for the streaming column profiler, checked against numpy and pandas."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from modelyard.data.profile import (
    CATEGORY_CAP,
    ColumnProfile,
    DatasetProfile,
    Histogram,
    profile_batches,
    profile_table,
)
from modelyard.errors import InvalidInput


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240601)


@pytest.fixture
def mixed(rng: np.random.Generator) -> pa.Table:
    n = 2_000
    x = rng.normal(50.0, 10.0, n)
    x[rng.choice(n, 100, replace=False)] = np.nan
    ints = rng.integers(-1_000, 1_000, n)
    int_mask = rng.random(n) < 0.1
    cities = rng.choice(
        ["paris", "lyon", "nice", "lille", "metz"], n, p=[0.4, 0.3, 0.15, 0.1, 0.05]
    )
    city_mask = rng.random(n) < 0.05
    return pa.table(
        {
            "x": pa.array(x, pa.float64()),  # NaN, not null: NaN must count as null
            "i": pa.array(ints, mask=int_mask),
            "city": pa.array(cities, mask=city_mask),
            "flag": pa.array(rng.random(n) < 0.3),
        }
    )


def split(table: pa.Table, size: int):
    """A batches() callable yielding `table` in record batches of `size` rows."""
    return lambda: table.to_batches(max_chunksize=size)


def assert_same_profile(a: DatasetProfile, b: DatasetProfile) -> None:
    """Equal except mean/std, whose rounding depends on how the batches combine."""
    assert a.rows == b.rows
    assert a.columns.keys() == b.columns.keys()
    for name, ca in a.columns.items():
        cb = b.columns[name]
        for stat in ("mean", "std"):
            x, y = getattr(ca, stat), getattr(cb, stat)
            assert x == y or x == pytest.approx(y, rel=1e-12, abs=1e-12)
        assert dataclasses.replace(ca, mean=None, std=None) == dataclasses.replace(
            cb, mean=None, std=None
        )


def test_numeric_matches_numpy(mixed: pa.Table) -> None:
    profile = profile_table(mixed, bins=15)
    assert profile.rows == mixed.num_rows
    for name in ("x", "i"):
        col = profile.columns[name]
        series = mixed.column(name).to_pandas()
        values = series.dropna().to_numpy()
        assert col.kind == "numeric"
        assert col.count == len(values)
        assert col.null_count == int(series.isna().sum())
        assert col.null_rate == series.isna().sum() / len(series)
        assert col.min == values.min() and col.max == values.max()
        assert col.mean == pytest.approx(np.mean(values), rel=1e-12)
        assert col.std == pytest.approx(np.std(values, ddof=0), rel=1e-12)  # population std
        assert col.quantiles_exact is True
        expected = np.quantile(values, [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99], method="linear")
        assert list(col.quantiles) == ["0.01", "0.05", "0.25", "0.5", "0.75", "0.95", "0.99"]
        assert list(col.quantiles.values()) == expected.tolist()  # exact below sample_size
        assert len(col.histogram.bin_edges) == 16
        assert col.histogram.bin_edges[0] == values.min()
        assert col.histogram.bin_edges[-1] == values.max()
        assert sum(col.histogram.counts) == col.count
        counts, _ = np.histogram(values, bins=np.array(col.histogram.bin_edges))
        assert col.histogram.counts == counts.tolist()
        assert col.distinct_estimate == len(np.unique(values))
        assert col.top is None and col.true_count is None
    assert isinstance(profile.columns["i"].min, int)


def test_categorical_matches_pandas_value_counts(mixed: pa.Table) -> None:
    col = profile_table(mixed, top_k=3).columns["city"]
    expected = mixed.column("city").to_pandas().value_counts()
    assert col.kind == "categorical"
    assert col.count == expected.sum()
    assert col.distinct == 5 and col.high_cardinality is False
    assert col.top == list(expected.head(3).items())
    assert col.other_count == expected.iloc[3:].sum()
    assert col.categories_truncated is True
    assert col.min is None and col.histogram is None

    everything = profile_table(mixed, top_k=20).columns["city"]
    assert dict(everything.top) == expected.to_dict()
    assert everything.other_count == 0 and everything.categories_truncated is False


def test_boolean_is_not_numeric(mixed: pa.Table) -> None:
    col = profile_table(mixed).columns["flag"]
    flags = mixed.column("flag").to_numpy()
    assert col.kind == "boolean"
    assert col.true_count == int(flags.sum()) and col.count == len(flags)
    assert col.mean is None and col.histogram is None and col.quantiles is None


def test_high_cardinality_stops_adding_keys() -> None:
    # "hot" first appears after the cap: it is not counted but lands in other_count.
    values = ["first"] * 5 + [f"v{i}" for i in range(CATEGORY_CAP + 500)] + ["hot"] * 50
    table = pa.table({"id": values})
    col = profile_batches(split(table, 1_000), table.schema, top_k=2).columns["id"]
    assert col.high_cardinality is True and col.distinct is None
    assert col.categories_truncated is True
    assert col.top == [("first", 5), ("v0", 1)]
    assert col.count == len(values) and col.other_count == len(values) - 6


def test_all_null_columns() -> None:
    table = pa.table(
        {
            "f": pa.array([None, np.nan, None], pa.float64()),
            "s": pa.array([None, None, None], pa.string()),
            "t": pa.array([None, None, None], pa.timestamp("us")),
            "n": pa.nulls(3),
        }
    )
    profile = profile_table(table)
    f = profile.columns["f"]
    assert (f.count, f.null_count, f.null_rate) == (0, 3, 1.0)
    assert f.min is f.max is f.mean is f.std is f.quantiles is None
    assert f.histogram == Histogram([], [])
    s = profile.columns["s"]
    assert s.top == [] and s.distinct == 0 and s.other_count == 0
    assert profile.columns["t"].min is None
    assert profile.columns["n"].kind == "other" and profile.columns["n"].null_count == 3
    json.dumps(profile.to_dict(), allow_nan=False)


def test_empty_table_gives_valid_profile(mixed: pa.Table) -> None:
    profile = profile_table(mixed.slice(0, 0))
    assert profile.rows == 0 and list(profile.columns) == mixed.column_names
    for col in profile.columns.values():
        assert col.count == col.null_count == 0 and col.null_rate is None
    assert DatasetProfile.from_dict(json.loads(json.dumps(profile.to_dict()))) == profile


def test_to_dict_is_strict_json_and_round_trips(mixed: pa.Table) -> None:
    table = mixed.append_column("inf", pa.array([np.inf, -np.inf, 1.0, 3.0] * 500))
    profile = profile_table(table)
    inf = profile.columns["inf"]
    assert (inf.count, inf.inf_count, inf.min, inf.max) == (2_000, 1_000, 1.0, 3.0)
    assert sum(inf.histogram.counts) == inf.count - inf.inf_count
    text = json.dumps(profile.to_dict(), allow_nan=False)
    assert DatasetProfile.from_dict(json.loads(text)) == profile
    assert DatasetProfile.from_dict(profile.to_dict()) == profile


def test_from_dict_rejects_garbage() -> None:
    with pytest.raises(InvalidInput, match="format"):
        DatasetProfile.from_dict({"rows": 1})
    with pytest.raises(InvalidInput, match="kind"):
        DatasetProfile.from_dict({"format": 1, "rows": 1, "columns": {"a": {"kind": "x"}}})
    with pytest.raises(InvalidInput, match="malformed"):
        DatasetProfile.from_dict({"format": 1, "rows": 1, "columns": [1]})
    with pytest.raises(InvalidInput, match="kind"):
        ColumnProfile.from_dict({"name": "a", "kind": "x", "arrow_type": "int64", "count": 1})


@pytest.mark.parametrize("size", [1, 7, 333])
def test_batching_does_not_change_the_profile(mixed: pa.Table, size: int) -> None:
    one = profile_batches(split(mixed, 10**9), mixed.schema, sample_size=500)
    many = profile_batches(split(mixed, size), mixed.schema, sample_size=500)
    assert one.columns["x"].quantiles_exact is False  # sampled, yet batch-invariant
    assert_same_profile(one, many)


def test_sampled_quantiles_are_close(rng: np.random.Generator) -> None:
    values = rng.uniform(0.0, 1.0, 200_000)
    table = pa.table({"u": values})
    col = profile_table(table, sample_size=20_000).columns["u"]
    assert col.quantiles_exact is False and col.distinct_estimate is None
    for q, got in col.quantiles.items():
        assert got == pytest.approx(np.quantile(values, float(q)), abs=0.02)
    assert sum(col.histogram.counts) == len(values)  # the histogram is never sampled


def test_seed_makes_profiles_deterministic(mixed: pa.Table) -> None:
    a = profile_table(mixed, sample_size=100, seed=1)
    assert a == profile_table(mixed, sample_size=100, seed=1)
    b = profile_table(mixed, sample_size=100, seed=2)
    assert a.columns["x"].quantiles != b.columns["x"].quantiles


def test_pandas_input_with_object_strings_and_datetimes() -> None:
    df = pd.DataFrame(
        {
            "name": np.array(["a", "b", None, "a"], dtype=object),
            "when": pd.to_datetime(
                ["2024-01-02", None, "2023-05-06 07:08:09", "2024-03-01"], format="ISO8601"
            ),
            "utc": pd.to_datetime(["2024-01-01T00:00:00Z"] * 4),
            "day": [dt.date(2024, 1, 3), dt.date(2021, 2, 1), None, dt.date(2022, 1, 1)],
            "amount": pd.array([1, None, 3, 4], dtype="Int64"),
            "grade": pd.Categorical(["A", "B", "A", None]),
        },
        index=[10, 11, 12, 13],
    )
    profile = profile_table(df)
    assert list(profile.columns) == list(df.columns)  # the index is not profiled
    assert profile.columns["name"].top == [("a", 2), ("b", 1)]
    when = profile.columns["when"]
    assert when.kind == "datetime" and when.null_count == 1
    assert (when.min, when.max) == ("2023-05-06T07:08:09", "2024-03-01T00:00:00")
    assert profile.columns["utc"].max == "2024-01-01T00:00:00+00:00"
    assert (profile.columns["day"].min, profile.columns["day"].max) == ("2021-02-01", "2024-01-03")
    assert profile.columns["amount"].mean == pytest.approx(8 / 3)
    assert profile.columns["grade"].kind == "categorical"
    assert profile.columns["grade"].top == [("A", 2), ("B", 1)]
    json.dumps(profile.to_dict(), allow_nan=False)


def test_datetime_beyond_python_range_does_not_crash() -> None:
    far = pa.array([0, 2**40], pa.int64()).view(pa.timestamp("s"))
    col = profile_table(pa.table({"t": far})).columns["t"]
    assert col.min == "1970-01-01T00:00:00" and isinstance(col.max, str)


def test_constant_column_uses_numpy_default_edges() -> None:
    col = profile_table(pa.table({"c": [7, 7, 7]}), bins=4).columns["c"]
    assert col.histogram.bin_edges == np.histogram_bin_edges([7, 7, 7], bins=4).tolist()
    assert sum(col.histogram.counts) == 3 and col.std == 0.0


def test_generator_of_many_batches_is_read_twice(rng: np.random.Generator) -> None:
    schema = pa.schema([("v", pa.float64()), ("k", pa.string())])
    calls = []

    def batches():
        calls.append(1)
        gen = np.random.default_rng(7)  # the same data on every call
        for _ in range(300):
            v = gen.normal(size=1_000)
            k = gen.choice(["a", "b", "c"], size=1_000)
            yield pa.record_batch([pa.array(v), pa.array(k)], schema=schema)

    profile = profile_batches(batches, schema, sample_size=5_000)
    assert len(calls) == 2
    assert profile.rows == 300_000 and profile.columns["v"].count == 300_000
    assert sum(profile.columns["v"].histogram.counts) == 300_000
    assert sum(n for _, n in profile.columns["k"].top) == 300_000


def test_second_pass_must_see_the_same_data() -> None:
    schema = pa.schema([("v", pa.int64())])
    calls = []

    def batches():
        calls.append(1)
        yield pa.record_batch([pa.array(range(10 * len(calls)))], schema=schema)

    with pytest.raises(InvalidInput, match="same data"):
        profile_batches(batches, schema)


@pytest.mark.parametrize(
    ("kw", "param"),
    [
        ({"bins": 0}, "bins"),
        ({"bins": True}, "bins"),
        ({"bins": 2.5}, "bins"),
        ({"top_k": -1}, "top_k"),
        ({"sample_size": 0}, "sample_size"),
        ({"seed": -1}, "seed"),
        ({"quantiles": [0.5, 1.5]}, "quantiles"),
        ({"quantiles": "0.5"}, "quantiles"),
    ],
)
def test_bad_parameters_name_the_parameter(mixed: pa.Table, kw: dict, param: str) -> None:
    with pytest.raises(InvalidInput, match=f"'{param}'"):
        profile_table(mixed, **kw)


def test_bad_inputs_raise_invalid_input(mixed: pa.Table) -> None:
    with pytest.raises(InvalidInput, match="'table'"):
        profile_table([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="'table'"):
        profile_table(pd.DataFrame({"mixed": [1, "a"]}))
    with pytest.raises(InvalidInput, match="'batches'"):
        profile_batches(mixed.to_batches(), mixed.schema)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="'schema'"):
        profile_batches(split(mixed, 100), "schema")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="'batches'"):
        profile_batches(lambda: [mixed], mixed.schema)
    with pytest.raises(InvalidInput, match="every column of 'schema'"):
        profile_batches(split(mixed, 100), pa.schema([("nope", pa.float64())]))
    with pytest.raises(InvalidInput, match="'city' castable to double"):
        profile_batches(split(mixed, 100), pa.schema([("city", pa.float64())]))


def test_schema_selects_and_casts_columns(mixed: pa.Table) -> None:
    # Only the schema's columns are profiled; a batch type that differs is cast safely,
    # e.g. a CSV's timestamp[s] that comes back from Parquet as timestamp[ms].
    stamps = pa.array([0, 86_400_000, None], pa.timestamp("ms"))
    table = pa.table({"t": stamps, "x": [1.0, 2.0, 3.0]})
    schema = pa.schema([("t", pa.timestamp("s"))])
    profile = profile_batches(split(table, 2), schema)
    assert list(profile.columns) == ["t"]
    t = profile.columns["t"]
    assert (t.arrow_type, t.min, t.max) == (
        "timestamp[s]",
        "1970-01-01T00:00:00",
        "1970-01-02T00:00:00",
    )
    with pytest.raises(InvalidInput, match="castable"):  # sub-second values would be lost
        profile_batches(lambda: [pa.record_batch({"t": pa.array([1], pa.timestamp("ms"))})], schema)


def test_column_profile_round_trip_keeps_types() -> None:
    col = ColumnProfile("c", "categorical", "string", 3, 0, 0.0, top=[("a", 2), ("b", 1)])
    assert ColumnProfile.from_dict(json.loads(json.dumps(col.to_dict()))) == col
