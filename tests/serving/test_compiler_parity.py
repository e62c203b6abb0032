"""Compiled pipelines give the native pipeline's answers on 10,000 random rows per shape.

Trees (LightGBM, XGBoost, RandomForest, ExtraTrees, GradientBoosting,
HistGradientBoosting) must be bit-identical; linear models within
``LINEAR_TOLERANCE`` (the native pipeline multiplies a sparse one-hot matrix, a
different summation order). Rows come from the out-of-time generator's months
after the regime change — categories and ranges training never saw — with nulls
and unseen strings injected where the pipeline handles them. The expected
answers come from the canonical path: the signature's enforcement, a frame,
the native ``predict_proba``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    KBinsDiscretizer,
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    RobustScaler,
    StandardScaler,
)

from modelyard.compiled import LINEAR_TOLERANCE, compile_pipeline
from modelyard.data.out_of_time import (
    CATEGORICAL,
    FEATURES,
    NUMERIC,
    TARGET,
    generate_out_of_time,
    split_at_change,
)
from modelyard.flavors.signature import Signature
from modelyard.serving.inputs import Payload

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "realistic"))
import realistic_pipelines

ROWS = 10_000
TRAIN_ROWS = 4_000


def _ct(*parts: tuple[str, Any, Any]) -> ColumnTransformer:
    return ColumnTransformer(list(parts))


def imputer_onehot_hgb() -> Pipeline:
    encode = _ct(
        ("num", SimpleImputer(strategy="mean"), list(NUMERIC)),
        (
            "cat",
            make_pipeline(
                SimpleImputer(strategy="most_frequent"),
                OneHotEncoder(
                    handle_unknown="infrequent_if_exist", min_frequency=40, sparse_output=False
                ),
            ),
            list(CATEGORICAL),
        ),
    )
    model = HistGradientBoostingClassifier(max_iter=60, random_state=3)
    return Pipeline([("encode", encode), ("model", model)])


def onehot_lightgbm() -> Pipeline:
    from lightgbm import LGBMClassifier

    encode = _ct(
        ("num", "passthrough", list(NUMERIC)),
        ("cat", OneHotEncoder(handle_unknown="ignore", drop="if_binary"), list(CATEGORICAL)),
    )
    model = LGBMClassifier(n_estimators=60, num_leaves=15, n_jobs=1, verbose=-1, random_state=3)
    return Pipeline([("encode", encode), ("model", model)])


def scaler_forest() -> Pipeline:
    encode = _ct(
        (
            "num",
            make_pipeline(SimpleImputer(strategy="constant", fill_value=0.0), RobustScaler()),
            list(NUMERIC),
        ),
        (
            "cat",
            OrdinalEncoder(
                handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-2
            ),
            list(CATEGORICAL),
        ),
    )
    model = RandomForestClassifier(n_estimators=40, max_depth=10, random_state=3)
    return Pipeline([("encode", encode), ("model", model)])


def extra_trees() -> Pipeline:
    encode = _ct(
        (
            "num",
            make_pipeline(SimpleImputer(strategy="median"), MinMaxScaler(clip=True)),
            list(NUMERIC),
        ),
        (
            "cat",
            make_pipeline(
                SimpleImputer(strategy="constant", fill_value="missing"),
                OneHotEncoder(
                    handle_unknown="infrequent_if_exist",
                    max_categories=5,
                    drop="first",
                    sparse_output=False,
                ),
            ),
            list(CATEGORICAL),
        ),
    )
    model = ExtraTreesClassifier(n_estimators=40, min_samples_leaf=3, random_state=3)
    return Pipeline([("encode", encode), ("model", model)])


def gradient_boosting() -> Pipeline:
    encode = _ct(
        (
            "num",
            make_pipeline(SimpleImputer(strategy="most_frequent"), StandardScaler()),
            list(NUMERIC),
        ),
        (
            "cat",
            make_pipeline(
                SimpleImputer(strategy="most_frequent"),
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
            ),
            list(CATEGORICAL),
        ),
    )
    model = GradientBoostingClassifier(n_estimators=50, max_depth=3, random_state=3)
    return Pipeline([("encode", encode), ("model", model)])


def forest_regressor() -> Pipeline:
    """A regressor: the income from the other numbers (a scaler/imputer variant)."""
    encode = _ct(
        ("num", make_pipeline(SimpleImputer(), StandardScaler()), list(NUMERIC)),
        ("cat", "drop", list(CATEGORICAL)),
    )
    return Pipeline(
        [("encode", encode), ("model", RandomForestRegressor(n_estimators=20, max_depth=8))]
    )


def ridge_regressor() -> Pipeline:
    encode = _ct(
        ("num", make_pipeline(SimpleImputer(), MinMaxScaler()), list(NUMERIC)),
        ("cat", OneHotEncoder(handle_unknown="ignore"), list(CATEGORICAL)),
    )
    return Pipeline([("encode", encode), ("model", Ridge(alpha=1.0))])


def onehot_xgboost() -> Pipeline:
    """Sparse one-hot output: XGBoost reads its absent entries (every 0.0) as missing."""
    from xgboost import XGBClassifier

    encode = _ct(
        ("num", "passthrough", list(NUMERIC)),
        ("cat", OneHotEncoder(handle_unknown="ignore"), list(CATEGORICAL)),
    )
    model = XGBClassifier(n_estimators=60, max_depth=4, n_jobs=1, random_state=3)
    return Pipeline([("encode", encode), ("model", model)])


def lightgbm_regressor() -> Pipeline:
    from lightgbm import LGBMRegressor

    encode = _ct(
        ("num", "passthrough", [n for n in NUMERIC if n != "income"]),
        (
            "cat",
            OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
            list(CATEGORICAL),
        ),
    )
    model = LGBMRegressor(n_estimators=60, num_leaves=15, n_jobs=1, verbose=-1, random_state=3)
    return Pipeline([("encode", encode), ("model", model)])


def xgboost_regressor() -> Pipeline:
    from xgboost import XGBRegressor

    encode = _ct(
        ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["age", "loan_amount"]),
        (
            "cat",
            OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=40),
            list(CATEGORICAL),
        ),
    )
    model = XGBRegressor(n_estimators=60, max_depth=4, n_jobs=1, random_state=3)
    return Pipeline([("encode", encode), ("model", model)])


def gradient_boosting_regressor() -> Pipeline:
    from sklearn.ensemble import GradientBoostingRegressor

    encode = _ct(
        ("num", SimpleImputer(strategy="median"), ["age", "loan_amount", "interest_rate"]),
        ("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), ["region"]),
    )
    model = GradientBoostingRegressor(n_estimators=40, max_depth=3, random_state=3)
    return Pipeline([("encode", encode), ("model", model)])


def categorical_hgb_regressor() -> Pipeline:
    """Native categorical features after one-hot-free ordinal codes, as a regressor."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    encode = _ct(
        ("num", SimpleImputer(strategy="median"), ["age", "loan_amount", "interest_rate"]),
        (
            "cat",
            OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
            list(CATEGORICAL),
        ),
    )
    model = HistGradientBoostingRegressor(
        max_iter=40, categorical_features=list(range(3, 3 + len(CATEGORICAL))), random_state=3
    )
    return Pipeline([("encode", encode), ("model", model)])


def hgb_on_categorical_frame() -> HistGradientBoostingClassifier:
    """No ColumnTransformer: the model is fitted on a frame whose string columns are
    ``category`` dtype, so it ordinal-encodes them itself (``categorical_features="from_dtype"``).
    """
    return HistGradientBoostingClassifier(max_iter=40, random_state=3)


@dataclasses.dataclass(frozen=True)
class Shape:
    build: Callable[[], Any]
    scorer: str
    numeric_nulls: bool  # the pipeline imputes (or the model routes) numeric nulls
    categorical_nulls: bool
    regression: bool = False
    category_dtype: bool = False  # fit on a frame whose string columns are `category`
    categorical_splits: bool = False  # the model must split on native categories


SHAPES = {
    "onehot_logistic": Shape(realistic_pipelines.onehot_logistic, "linear-compiled", True, True),
    "imputer_onehot_hgb": Shape(imputer_onehot_hgb, "hgb-compiled", True, True),
    "onehot_lightgbm": Shape(onehot_lightgbm, "lightgbm-compiled", True, True),
    "ordinal_lightgbm": Shape(
        realistic_pipelines.ordinal_lightgbm, "lightgbm-compiled", True, True
    ),
    "scaler_forest": Shape(scaler_forest, "forest-compiled", True, True),
    "extra_trees": Shape(extra_trees, "forest-compiled", True, True),
    "gradient_boosting": Shape(gradient_boosting, "gbdt-compiled", True, True),
    "ordinal_xgboost": Shape(realistic_pipelines.ordinal_xgboost, "xgboost-compiled", True, True),
    "forest_regressor": Shape(forest_regressor, "forest-compiled", True, True, regression=True),
    "ridge_regressor": Shape(ridge_regressor, "linear-compiled", True, True, regression=True),
    "onehot_xgboost": Shape(onehot_xgboost, "xgboost-compiled", True, True),
    "lightgbm_regressor": Shape(
        lightgbm_regressor, "lightgbm-compiled", True, True, regression=True
    ),
    "xgboost_regressor": Shape(xgboost_regressor, "xgboost-compiled", True, True, regression=True),
    "gradient_boosting_regressor": Shape(
        gradient_boosting_regressor, "gbdt-compiled", True, True, regression=True
    ),
    "native_categorical_hgb": Shape(
        realistic_pipelines.native_categorical_hgb,
        "hgb-compiled",
        True,
        True,
        categorical_splits=True,
    ),
    "native_categorical_hgb_regressor": Shape(
        categorical_hgb_regressor,
        "hgb-compiled",
        True,
        True,
        regression=True,
        categorical_splits=True,
    ),
    "hgb_on_categorical_frame": Shape(
        hgb_on_categorical_frame,
        "hgb-compiled",
        True,
        True,
        category_dtype=True,
        categorical_splits=True,
    ),
}


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, rows): early months to fit on; 10,000 late-month rows with nulls and unseen."""
    early, late = split_at_change(generate_out_of_time(TRAIN_ROWS + ROWS + 2_000, seed=23))
    train = early.head(TRAIN_ROWS).reset_index(drop=True)
    rows = pd.concat([late, early.iloc[TRAIN_ROWS:]]).head(ROWS).reset_index(drop=True)
    assert len(rows) == ROWS
    return train, rows


def _features(train: pd.DataFrame, shape: Shape) -> pd.DataFrame:
    x = train[list(FEATURES)]
    if not shape.category_dtype:
        return x
    strings = [c for c in CATEGORICAL if not pd.api.types.is_numeric_dtype(x[c])]
    return x.astype({c: "category" for c in strings})


def _categorical_splits(model: Any) -> int:
    """How many nodes of a HistGradientBoosting model split on a native category."""
    final = model.steps[-1][1] if isinstance(model, Pipeline) else model
    return sum(int(p.nodes["is_categorical"].sum()) for ps in final._predictors for p in ps)


def _signature(train: pd.DataFrame) -> Signature:
    """The training signature with every column nullable and strings of any value allowed."""
    inferred = Signature.infer(train[list(FEATURES)])
    specs = [
        dataclasses.replace(s, nullable=True, categories=None)
        if s.type in ("string", "category")
        else dataclasses.replace(s, nullable=True)
        for s in inferred.inputs
    ]
    return Signature(tuple(specs), inferred.outputs)


def _with_gaps(rows: pd.DataFrame, shape: Shape, seed: int) -> list[dict[str, Any]]:
    """Records with ~3% nulls per column (where handled) and ~3% unseen strings."""
    rng = np.random.default_rng(seed)
    numbers = {n for n in CATEGORICAL if pd.api.types.is_numeric_dtype(rows[n])}
    integers = {n for n in FEATURES if pd.api.types.is_integer_dtype(rows[n])}
    records = rows[list(FEATURES)].astype(object).where(rows[list(FEATURES)].notna(), None)
    out = records.to_dict(orient="records")
    for record in out:
        for name in FEATURES:
            value = record[name]
            if isinstance(value, np.generic):
                record[name] = value.item()
            draw = rng.random()
            categorical = name in CATEGORICAL
            # Null integers are left out: the canonical path makes them pandas.NA, which the
            # native pipelines refuse (so the compiled path sends them that way too).
            nullable = name not in integers and (
                shape.categorical_nulls if categorical else shape.numeric_nulls
            )
            if draw < 0.03 and nullable:
                record[name] = None
            elif categorical and draw < 0.06:
                unseen = int(rng.integers(5))
                # An integer-coded category (branch_code) gets a number it never saw.
                record[name] = 90_000 + unseen if name in numbers else f"unseen-{unseen}"
    return out


def _native(pipeline: Pipeline, signature: Signature, payload: Payload, shape: Shape) -> Any:
    frame = pd.DataFrame(signature.enforce_columns(payload.as_columns()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "unknown categories ... encoded as all zeros"
        if shape.regression:
            return np.asarray(pipeline.predict(frame), dtype=np.float64)
        return pipeline.predict_proba(frame)


@pytest.mark.parametrize("shape_name", list(SHAPES))
def test_compiled_answers_equal_the_native_pipeline(
    shape_name: str, data: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    shape = SHAPES[shape_name]
    train, rows = data
    x = _features(train, shape)
    y = train["income"] if shape.regression else train[TARGET]
    pipeline = shape.build().fit(x, y)
    if shape.categorical_splits:
        assert _categorical_splits(pipeline) > 0, "the model never split on a category"
    signature = _signature(x)
    scorer, reason = compile_pipeline(
        pipeline, signature, "regression" if shape.regression else "classification"
    )
    assert scorer is not None, reason
    assert scorer.kind == shape.scorer

    payload = Payload.from_records(_with_gaps(rows, shape, seed=len(shape_name)))
    matrix = scorer.encode(payload)
    assert matrix is not None, "the compiled path refused valid rows"
    got = scorer.predict(matrix)
    expected = _native(pipeline, signature, payload, shape)
    assert got.shape == expected.shape
    if scorer.tolerance == 0.0:
        mismatched = (
            int((got != expected).any(axis=-1).sum())
            if got.ndim > 1
            else int((got != expected).sum())
        )
        assert mismatched == 0, f"{mismatched} rows differ (max {np.abs(got - expected).max()})"
    else:
        assert scorer.tolerance == LINEAR_TOLERANCE
        relative = np.abs(got - expected) / np.maximum(1.0, np.abs(expected))
        assert relative.max() <= scorer.tolerance
    assert scorer.matches(got, expected)

    # One row at a time (the 1-row request path) gives the same answers.
    for i in range(0, ROWS, ROWS // 50):
        one = Payload.from_records([payload.data[i]])
        single = scorer.predict(scorer.encode(one))
        if scorer.tolerance == 0.0:
            assert np.array_equal(single[0], _native(pipeline, signature, one, shape)[0])
        else:
            assert scorer.matches(single[:1], expected[i : i + 1])


def test_an_unsupported_step_is_not_compiled_and_says_why(
    data: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    train, _ = data
    encode = _ct(
        (
            "num",
            make_pipeline(SimpleImputer(), KBinsDiscretizer(n_bins=4, strategy="uniform")),
            ["income", "loan_amount"],
        ),
        ("cat", OneHotEncoder(handle_unknown="ignore"), list(CATEGORICAL)),
    )
    pipeline = Pipeline([("encode", encode), ("model", RandomForestClassifier(n_estimators=3))])
    pipeline.fit(train[list(FEATURES)], train[TARGET])
    scorer, reason = compile_pipeline(pipeline, _signature(train), "classification")
    assert scorer is None
    assert reason == "KBinsDiscretizer in transformer 'num' has no compiled form"


def test_an_encoder_that_raises_on_unseen_values_leaves_them_to_the_canonical_path(
    data: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    train, _ = data
    encode = _ct(
        ("num", SimpleImputer(), list(NUMERIC)),
        ("cat", OrdinalEncoder(), list(CATEGORICAL)),  # handle_unknown="error"
    )
    pipeline = Pipeline([("encode", encode), ("model", RandomForestClassifier(n_estimators=3))])
    pipeline.fit(train[list(FEATURES)], train[TARGET])
    scorer, reason = compile_pipeline(pipeline, _signature(train), "classification")
    assert scorer is not None, reason
    first = train[list(FEATURES)].iloc[0]
    record = {
        k: None if pd.isna(v) else getattr(v, "item", lambda v=v: v)() for k, v in first.items()
    }
    assert scorer.encode(Payload.from_records([record])) is not None
    assert scorer.encode(Payload.from_records([{**record, "channel": "never-seen"}])) is None
    assert scorer.encode(Payload.from_records([{**record, "age": "old"}])) is None
    assert scorer.encode(Payload.from_records([{**record, "age": True}])) is None
    assert scorer.encode(Payload.from_records([{**record, "extra": 1}])) is None


def test_the_served_app_picks_the_compiled_scorer_and_reports_it(
    tmp_path: Path, data: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    """Real uvicorn: a forest is served compiled, a k-NN natively, both with a stored report."""
    import httpx
    from serving_support import open_yard, serving_config, start_server
    from sklearn.neighbors import KNeighborsClassifier

    from modelyard.serving import create_app

    train, _ = data
    x, y = train[list(FEATURES)], train[TARGET]
    forest = scaler_forest().fit(x, y)
    knn = Pipeline(
        [
            ("encode", _ct(("num", SimpleImputer(), list(NUMERIC)))),
            ("model", KNeighborsClassifier()),
        ]
    ).fit(x, y)
    root = tmp_path / "yard"
    root.mkdir()
    with open_yard(root) as alice:
        for name, model in (("forest", forest), ("knn", knn)):
            alice.models.create(name, risk_tier=3)
            # k-NN keeps a KDTree, which the skops allow-list does not hold: trusted code.
            trusted = name == "knn"
            alice.models.register(name, model, example=x.head(500), trusted_code=trusted)
            alice.models.set_alias(name, "champion", 1)
    yard = open_yard(root)
    server = start_server(
        create_app(["forest@champion", "knn@champion"], yard=yard, config=serving_config())
    )
    try:
        scorers = {}
        for name in ("forest", "knn"):
            meta = httpx.get(f"{server.url}/v2/models/{name}", timeout=120).json()
            scorers[name] = meta["parameters"]["scorer"]
        assert scorers == {"forest": "forest-compiled", "knn": "native"}

        # Rows of the training domain (the signature's allowed categories) score exactly.
        body = x.iloc[500:600]
        response = httpx.post(
            f"{server.url}/v1/models/forest/predict",
            json={"records": json.loads(body.to_json(orient="records"))},
            timeout=120,
        )
        assert response.status_code == 200, response.text
        got = [p["score"] for p in response.json()["predictions"]]
        assert got == forest.predict_proba(body)[:, 1].tolist()
    finally:
        server.stop()
    with open_yard(root) as reader:
        forest_report = reader.models.get("forest/1").artifact("serving-compile-report")
        knn_report = reader.models.get("knn/1").artifact("serving-compile-report")
    yard.close()
    assert forest_report.details["scorer"] == "forest-compiled"
    assert forest_report.details["verified_rows"] > 0
    assert forest_report.details["tolerance"] == 0.0
    assert knn_report.details == {
        **knn_report.details,
        "scorer": "native",
        "compiled": False,
        "reason": "KNeighborsClassifier has no compiled form",
    }


def test_the_batch_engine_uses_the_same_compiled_form(
    tmp_path: Path, data: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    from serving_support import open_yard

    from modelyard.batch.scoring import ScoringModel

    train, _ = data
    x, y = train[list(FEATURES)], train[TARGET]
    pipeline = gradient_boosting().fit(x, y)
    with open_yard(tmp_path) as yard:
        yard.models.create("gbdt", risk_tier=3)
        yard.models.register("gbdt", pipeline, example=x.head(500))
        model_dir = yard.models.local_path("gbdt/1")
        model = ScoringModel.load(model_dir)
        assert model.form == "gbdt-compiled"
        frame = x.iloc[1_000:3_000].reset_index(drop=True)
        assert np.array_equal(model.predict(frame), pipeline.predict_proba(frame))
        assert ScoringModel.load(model_dir, form="native").form == "native"


def _out_of_range_records(
    x: pd.DataFrame, rules: dict[str, Any], n: int = 100
) -> list[dict[str, Any]]:
    """``n`` training-domain rows as JSON records, with numbers beyond the training range
    in two columns (one float, one integer) of two rows."""
    rows = x.iloc[500 : 500 + n].reset_index(drop=True)
    records = json.loads(rows.to_json(orient="records"))
    records[3]["income"] = rules["income"].maximum * 10 + 0.5
    records[7]["age"] = int(rules["age"].minimum) - 5
    records[8]["age"] = int(rules["age"].minimum) - 5
    return records


def test_an_exact_compiled_scorer_scores_out_of_range_numbers_with_the_contracts_warnings(
    tmp_path: Path, data: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    """Out-of-range numbers are always scored: a bit-identical compiled scorer scores them
    itself, with exactly the warnings the contract's canonical check gives; an unseen
    category in the same request is checked and flagged by the contract, then scored
    by the compiled scorer too."""
    from serving_support import open_yard, serving_config

    from modelyard.serving.models import MATRIX, load_version

    train, _ = data
    x, y = train[list(FEATURES)], train[TARGET]
    forest = scaler_forest().fit(x, y)
    with open_yard(tmp_path) as alice:
        alice.models.create("forest", risk_tier=3)
        alice.models.register("forest", forest, example=x.head(500))
        alice.models.set_alias("forest", "champion", 1)
        served = load_version(alice, "forest@champion", serving_config())
    assert served.scorer == "forest-compiled"
    records = _out_of_range_records(x, served.contract.rules)
    prepared = served.prepare(Payload.from_records(records))
    _, canonical = served.contract.check_columns(Payload.from_records(records).as_columns())
    assert prepared.kind == MATRIX
    assert {(w["column"], w["kind"]) for w in canonical} >= {
        ("income", "out_of_range"),
        ("age", "out_of_range"),
    }
    assert list(prepared.warnings) == list(canonical)
    assert prepared.warnings.totals == canonical.totals
    expected = forest.predict_proba(pd.DataFrame.from_records(records))
    assert np.array_equal(served.score([prepared]), expected)

    # An unseen category in the same request: the contract's canonical check decides and
    # flags, and the compiled scorer (checked on such rows at load) still scores it.
    unseen = [{**records[0], "channel": "never-seen"}, *records[1:]]
    mixed = served.prepare(Payload.from_records(unseen))
    columns, canonical = served.contract.check_columns(Payload.from_records(unseen).as_columns())
    assert mixed.kind == MATRIX
    assert list(mixed.warnings) == list(canonical)
    kinds = {(w["column"], w["kind"]) for w in mixed.warnings}
    assert {("channel", "unseen_category"), ("income", "out_of_range")} <= kinds
    assert np.array_equal(served.score([mixed]), forest.predict_proba(pd.DataFrame(columns)))


class _Recording:
    """A stand-in exact scorer whose encode takes ``ranges`` and records how it is called."""

    tolerance = 0.0
    kind = "recording"

    def __init__(self, real: Any, reports_ranges: bool) -> None:
        self._real = real
        self.reports_ranges = reports_ranges
        self.calls: list[bool] = []

    def encode(self, payload: Payload, ranges: list[Any] | None = None) -> Any:
        self.calls.append(ranges is not None)
        return self._real.encode(payload, ranges)


def test_the_scorer_class_says_whether_it_reports_ranges_not_its_encode_signature(
    tmp_path: Path, data: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    """Both stand-ins have ``ranges`` in their signature; only the declared one gets a list."""
    from serving_support import open_yard, serving_config

    from modelyard.serving.fastpath import FastScorer
    from modelyard.serving.models import load_version

    assert FastScorer.reports_ranges is False  # its encode(payload) takes no list
    train, _ = data
    x, y = train[list(FEATURES)], train[TARGET]
    with open_yard(tmp_path) as alice:
        alice.models.create("forest", risk_tier=3)
        alice.models.register("forest", scaler_forest().fit(x, y), example=x.head(500))
        served = load_version(alice, "forest@latest", serving_config())
    real = served.fast
    assert served.scorer == "forest-compiled" and not hasattr(real, "reports_ranges")
    records = _out_of_range_records(x, served.contract.rules)
    for declared in (True, False):
        served.fast = _Recording(real, reports_ranges=declared)
        served._set_bounds()
        served.prepare(Payload.from_records(records))
        assert served.fast.calls == [declared]


def test_a_linear_scorer_scores_out_of_domain_rows_within_its_tolerance(
    tmp_path: Path, data: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    """A linear model is as exact outside the training range as inside it: once its
    first-load parity check has passed on out-of-domain rows (numbers beyond the range,
    nulls where the pipeline imputes, unseen categories), the linear scorer answers
    realistic out-of-time requests itself — within ``LINEAR_TOLERANCE`` of the native
    pipeline on 10,000 rows, with exactly the contract's warnings."""
    from serving_support import open_yard, serving_config

    from modelyard.errors import InvalidInput
    from modelyard.serving.models import MATRIX, load_version

    train, rows = data
    x, y = train[list(FEATURES)], train[TARGET]
    linear = realistic_pipelines.onehot_logistic().fit(x, y)
    with open_yard(tmp_path) as alice:
        alice.models.create("linear", risk_tier=3)
        alice.models.register("linear", linear, example=x.head(500))
        alice.models.set_alias("linear", "champion", 1)
        served = load_version(alice, "linear@champion", serving_config())
    assert served.scorer == "linear-compiled"
    assert any("out-of-domain rows" in note for note in served.notes), served.notes

    # Numbers outside the training range in two rows of an otherwise in-domain request.
    ranged = _out_of_range_records(x, served.contract.rules)
    prepared = served.prepare(Payload.from_records(ranged))
    assert prepared.kind == MATRIX  # the compiled scorer, not the native pipeline
    assert ("income", "out_of_range") in {(w["column"], w["kind"]) for w in prepared.warnings}

    records = _with_gaps(rows, SHAPES["onehot_logistic"], seed=11)
    kinds: set[str] = set()
    compiled = refused = 0
    for start in range(0, ROWS, 100):
        chunk = records[start : start + 100]
        try:
            columns, canonical = served.contract.check_columns(
                Payload.from_records(chunk).as_columns()
            )
        except InvalidInput:
            with pytest.raises(InvalidInput):
                served.prepare(Payload.from_records(chunk))
            refused += 1
            continue
        prepared = served.prepare(Payload.from_records(chunk))
        assert prepared.kind == MATRIX, f"rows {start}-{start + 99} left the compiled scorer"
        compiled += len(chunk)
        assert list(prepared.warnings or []) == list(canonical)
        kinds |= {w["kind"] for w in canonical}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "unknown categories ... encoded as all zeros"
            expected = linear.predict_proba(pd.DataFrame(columns))
        got = served.score([prepared])
        relative = np.abs(got - expected) / np.maximum(1.0, np.abs(expected))
        assert relative.max() <= LINEAR_TOLERANCE
    assert compiled >= ROWS * 0.9, (compiled, refused)
    assert {"out_of_range", "unseen_category", "null"} <= kinds, kinds

    # One row at a time (the 1-row request path) too.
    for i in range(0, ROWS, ROWS // 40):
        one = Payload.from_records([records[i]])
        try:
            columns, _ = served.contract.check_columns(one.as_columns())
        except InvalidInput:
            continue
        prepared = served.prepare(one)
        assert prepared.kind == MATRIX
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = linear.predict_proba(pd.DataFrame(columns))
        assert served.fast.matches(served.score([prepared]), expected)


def test_the_xgboost_scorer_gives_the_same_bits_from_several_threads(
    data: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    """XGBoost is called through its C API with a proxy matrix per thread: scoring from
    several threads at once gives each caller exactly ``predict_proba``'s answers."""
    import threading

    train, rows = data
    x, y = train[list(FEATURES)], train[TARGET]
    pipeline = realistic_pipelines.ordinal_xgboost().fit(x, y)
    scorer, reason = compile_pipeline(pipeline, _signature(x), "classification")
    assert scorer is not None, reason
    records = _with_gaps(rows.head(2_000), SHAPES["ordinal_xgboost"], seed=3)
    payload = Payload.from_records(records)
    expected = _native(pipeline, _signature(x), payload, SHAPES["ordinal_xgboost"])
    matrix = scorer.encode(payload)
    assert matrix is not None
    failures: list[int] = []

    def work(offset: int) -> None:
        for i in range(offset, 2_000, 7):
            size = 1 + (i % 3) * 20
            got = scorer.predict(matrix[i : i + size])
            if not np.array_equal(got, expected[i : i + size]):
                failures.append(i)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_the_prediction_log_holds_the_request_values_from_the_compiled_columns(
    tmp_path: Path, data: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    """The compiled scorer hands its checked columns to the prediction log (no second walk
    over the JSON): the logged table equals the one built from the request itself —
    integers, floats, nulls, out-of-range numbers and unseen categories included."""
    from serving_support import open_yard, serving_config

    from modelyard.errors import InvalidInput
    from modelyard.serving.models import MATRIX, load_version
    from modelyard.serving.predlog import build_tables

    train, rows = data
    x, y = train[list(FEATURES)], train[TARGET]
    linear = realistic_pipelines.onehot_logistic().fit(x, y)
    with open_yard(tmp_path) as alice:
        alice.models.create("linear", risk_tier=3)
        alice.models.register("linear", linear, example=x.head(500))
        alice.models.set_alias("linear", "champion", 1)
        served = load_version(alice, "linear@champion", serving_config())
    records = _with_gaps(rows.head(3_000), SHAPES["onehot_logistic"], seed=5)
    kept, walked = [], []
    for start in range(0, len(records), 50):
        payload = Payload.from_records(records[start : start + 50])
        try:
            prepared = served.prepare(payload)
        except InvalidInput:
            continue
        assert prepared.kind == MATRIX and prepared.columns is not None
        outputs = served.score([prepared])
        entry = ("e", "r", False, served, f"q{start}", 0, 1.0, payload, outputs, None,
                 prepared.data, prepared.warnings)  # fmt: skip
        walked.append(entry)
        kept.append((*entry, prepared.columns))
    assert len(kept) > 40
    (from_kept,) = build_tables(kept).values()
    (from_json,) = build_tables(walked).values()
    assert from_kept.schema == from_json.schema
    assert from_kept.equals(from_json)


def test_a_compiled_scorer_that_differs_out_of_domain_leaves_those_rows_to_the_native_model(
    tmp_path: Path, data: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    """The load-time check on out-of-domain rows decides: a widened scorer whose answers
    there are off by more than its tolerance is not used, and out-of-range rows go back
    to the native model (the in-domain compiled path stays)."""
    from serving_support import open_yard, serving_config

    from modelyard.serving.models import FRAME, MATRIX, load_version

    train, _ = data
    x, y = train[list(FEATURES)], train[TARGET]
    linear = realistic_pipelines.onehot_logistic().fit(x, y)
    with open_yard(tmp_path) as alice:
        alice.models.create("linear", risk_tier=3)
        alice.models.register("linear", linear, example=x.head(500))
        served = load_version(alice, "linear@latest", serving_config())
    records = _out_of_range_records(x, served.contract.rules)
    assert served.prepare(Payload.from_records(records)).kind == MATRIX

    class _Off:
        """The widened scorer, 1e-6 away from the native answers."""

        def __init__(self, wide: Any) -> None:
            self._wide = wide

        def encode(self, *args: Any) -> Any:
            return self._wide.encode(*args)

        def predict(self, matrix: np.ndarray) -> np.ndarray:
            return self._wide.predict(matrix) + 1e-6

    widened = served.fast.widened
    served.fast.widened = lambda: _Off(widened())
    served._wide = None
    served._set_bounds()
    assert served._check_out_of_domain(x.head(500).dropna()) == 0
    assert any("not within its tolerance" in note for note in served.notes), served.notes
    assert served.prepare(Payload.from_records(records)).kind == FRAME
    assert served.prepare(Payload.from_records(records[:3])).kind == MATRIX  # in domain
