"""The promotion decision: DeLong's test on labelled traffic, recorded and acted on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from modelyard.data import synthetic
from modelyard.demo.credit_models import logistic_pipeline, split_xy
from modelyard.demo.people import DemoCast, enrol
from modelyard.errors import InvalidInput
from modelyard.pipelines.actions import decide_promotion, set_routes
from modelyard.pipelines.stats import compare_aucs, delong_components


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(2026)


def _scores(rng: np.random.Generator, n: int, signal: float) -> tuple[np.ndarray, np.ndarray]:
    y = (rng.random(n) < 0.2).astype(int)
    return y, y * signal + rng.normal(size=n)


def test_delong_auc_matches_sklearn_and_its_variance_the_bootstrap(rng) -> None:
    y, s = _scores(rng, 2_000, 1.0)
    auc, v10, v01 = delong_components(y, s)
    assert auc == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    se = (np.var(v10, ddof=1) / len(v10) + np.var(v01, ddof=1) / len(v01)) ** 0.5
    boot = []
    for _ in range(300):
        i = rng.integers(0, len(y), len(y))
        boot.append(roc_auc_score(y[i], s[i]))
    assert se == pytest.approx(np.std(boot), rel=0.2)


def test_non_inferiority_decision(rng) -> None:
    y1, s1 = _scores(rng, 3_000, 1.0)
    y2, s2 = _scores(rng, 3_000, 1.4)
    better = compare_aucs(y1, s1, y2, s2, margin=0.01)
    assert better.not_worse and better.difference > 0 and better.p_value < 0.05
    worse = compare_aucs(y2, s2, y1, s1, margin=0.01)
    assert not worse.not_worse and worse.lower_bound < -0.01
    # Paired (a shadow): the same rows scored by both, far tighter than unpaired.
    y, s = _scores(rng, 3_000, 1.0)
    noisy = s + rng.normal(scale=0.05, size=len(s))
    paired = compare_aucs(y, s, y, noisy, paired=True, margin=0.005)
    unpaired = compare_aucs(y, s, y, noisy, paired=False, margin=0.005)
    assert paired.std_error < unpaired.std_error / 3 and paired.not_worse
    with pytest.raises(InvalidInput, match="same labelled rows"):
        compare_aucs(y1, s1, y2, s2, paired=True)


@pytest.fixture
def people(pyard) -> DemoCast:
    """alice (admin, developer) acting with her token; vera and aaron sign with theirs."""
    return enrol(pyard)


@pytest.fixture
def gyard(people: DemoCast):
    return people.yard


@pytest.fixture
def champion_and_challenger(gyard, people):
    frame = synthetic.generate(4_000, seed=1)
    x, y = split_xy(frame)
    weak = logistic_pipeline().fit(x, y.sample(frac=1, random_state=0).to_numpy())  # noise
    strong = logistic_pipeline().fit(x, y)
    example = x.head(50)
    for model in (weak, strong):
        version = gyard.models.register("credit-risk", model, example=example, target="default")
        assert people.sign_off(version.ref, comment="ok") == ["vera", "aaron"]
    gyard.models.set_alias("credit-risk", "champion", 1)
    gyard.models.set_alias("credit-risk", "challenger", 2)
    set_routes(gyard, "credit-risk", challenger="credit-risk@challenger", weight=10)
    traffic = synthetic.generate(4_000, seed=2)
    tx, ty = split_xy(traffic)
    arm = np.where(np.arange(len(traffic)) % 2 == 0, "champion", "challenger")
    scores = np.where(
        arm == "champion",
        gyard.models.load("credit-risk/1").predict_proba(tx)[:, 1],
        gyard.models.load("credit-risk/2").predict_proba(tx)[:, 1],
    )
    return pd.DataFrame({"arm": arm, "score": scores, "label": ty.to_numpy()})


def test_challenger_not_worse_is_promoted_and_recorded(gyard, champion_and_challenger) -> None:
    assert len(gyard.deployments.get("credit-risk").spec.routes) == 2
    with gyard.start_run(experiment="promotion") as run:
        figures = decide_promotion(gyard, "credit-risk", champion_and_challenger, run=run)
    assert figures["decision"] == "promote", figures["reason"]
    assert figures["auc_challenger"] > figures["auc_champion"]
    assert figures["method"] == "delong-unpaired" and figures["n_champion"] == 2_000
    assert gyard.models.get("credit-risk@champion").version == 2
    assert "challenger" not in gyard.models.get_model("credit-risk").aliases
    routes = gyard.deployments.get("credit-risk").spec.routes
    assert [(r.name, r.model) for r in routes] == [("champion", "credit-risk@champion")]
    recorded = gyard.runs.get(run.id)
    assert recorded.tags["promotion.decision"] == "promote"
    assert recorded.metrics["promotion.p_value"] == pytest.approx(figures["p_value"])
    event = gyard.audit.events(action="promotion.decide")[0]
    assert event.subject == "model/credit-risk" and event.payload["decision"] == "promote"
    assert event.payload["difference"] == pytest.approx(figures["difference"])


def test_worse_challenger_or_too_little_traffic_keeps_the_champion(
    gyard, champion_and_challenger
) -> None:
    swapped = champion_and_challenger.assign(
        arm=champion_and_challenger["arm"].map({"champion": "challenger", "challenger": "champion"})
    )
    kept = decide_promotion(gyard, "credit-risk", swapped)
    assert kept["decision"] == "keep" and "not shown to be not worse" in kept["reason"]
    few = decide_promotion(gyard, "credit-risk", champion_and_challenger.head(100))
    assert few["decision"] == "keep" and "not enough labelled traffic" in few["reason"]
    assert gyard.models.get("credit-risk@champion").version == 1
    assert len(gyard.audit.events(action="promotion.decide")) == 2


def test_shadow_routes(gyard, champion_and_challenger) -> None:
    applied = set_routes(gyard, "credit-risk", challenger="credit-risk@challenger", mode="shadow")
    spec = applied["spec"]
    assert [r["name"] for r in spec["routes"]] == ["champion"]
    assert spec["shadows"][0]["model"] == "credit-risk@challenger"
    with pytest.raises(InvalidInput, match="'mode'"):
        set_routes(gyard, "credit-risk", mode="blue-green")


def _write_logs(gyard, frame: pd.DataFrame, endpoint: str, labels: list[str] | None = None) -> None:
    """Shadow traffic as serving logs it: both models score every request; labels later."""
    import pyarrow as pa

    from modelyard.serving.predlog import ParquetSink

    x, y = split_xy(frame)
    n = len(frame)
    ids = [f"req-{i}" for i in range(n)]
    ts = pa.array([1_767_225_600_000 + i for i in range(n)], pa.int64()).cast(
        pa.timestamp("ms", tz="UTC")
    )
    sink = ParquetSink(gyard.settings.resolved_artifact_root)
    for version, route, shadow in ((1, "champion", False), (2, "challenger", True)):
        scores = gyard.models.load(f"credit-risk/{version}").predict_proba(x)[:, 1]
        table = pa.table(
            {
                "_request_id": ids,
                "_row": pa.array([0] * n, pa.int64()),
                "_ts": ts,
                "_endpoint": [endpoint] * n,
                "_route": [route] * n,
                "_shadow": [shadow] * n,
                "_model": ["credit-risk"] * n,
                "_version": pa.array([version] * n, pa.int64()),
                "_latency_ms": [1.0] * n,
                "_score": scores,
                "_label": ["1" if s >= 0.5 else "0" for s in scores],
                "_entity": pa.array([None] * n, pa.string()),
            }
        )
        sink.write("predictions", endpoint, "2026-01-01", table)
    feedback = pa.table(
        {
            "_request_id": ids,
            "_row": pa.array([0] * n, pa.int64()),
            "_entity": pa.array([None] * n, pa.string()),
            "_ts": ts,
            "label": labels if labels is not None else [str(v) for v in y],
        }
    )
    sink.write("feedback", endpoint, "2026-01-01", feedback)


def test_decision_from_the_prediction_log_is_paired_for_a_shadow(
    gyard, champion_and_challenger
) -> None:
    from modelyard.pipelines.actions import labelled_window

    _write_logs(gyard, synthetic.generate(1_500, seed=3), "credit-risk")
    window = labelled_window(gyard, "credit-risk")
    assert len(window) == 3_000 and set(window["arm"]) == {"champion", "challenger"}
    figures = decide_promotion(gyard, "credit-risk", endpoint="credit-risk")
    assert figures["method"] == "delong-paired" and figures["n_champion"] == 1_500
    assert figures["decision"] == "promote"


def test_the_window_reads_labels_as_monitoring_does(gyard, champion_and_challenger) -> None:
    from modelyard.pipelines.actions import labelled_window

    frame = synthetic.generate(200, seed=5)
    y = split_xy(frame)[1].tolist()
    labels = ["t" if v else "n" for v in y[:190]] + ["not sure"] * 10
    _write_logs(gyard, frame, "credit-risk", labels=labels)
    window = labelled_window(gyard, "credit-risk")
    # 'not sure' is dropped on both arms, never read as a negative; 't' is a default.
    assert len(window) == 2 * 190
    champion = window[window["arm"] == "champion"].sort_values(
        "request_id", key=lambda s: s.str[4:].astype(int)
    )
    assert champion["label"].tolist() == [int(v) for v in y[:190]]
