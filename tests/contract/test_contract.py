"""The service contract: the local Yard and a RemoteYard on a real server behave the same.

Every test runs four times: {local, remote} × {SQLite, PostgreSQL}. Names are
unique per test, since one store serves the whole session.
"""

from __future__ import annotations

import pandas as pd
import pytest

import modelyard
from modelyard.demo.credit_models import split_xy
from modelyard.errors import Conflict, InvalidInput, NotFound, PermissionDenied


def test_datasets_register_get_list_load(yard, credit_frame, unique):
    name = f"loans-{unique}"
    first = yard.datasets.register(name, credit_frame, description="all loans")
    assert (first.ref, first.num_rows) == (f"{name}/1", len(credit_frame))
    assert yard.datasets.register(name, credit_frame).ref == first.ref  # same content
    child = yard.datasets.register(f"{name}-train", credit_frame.head(500), parents=[first])
    assert child.parents == (first.ref,)
    assert yard.datasets.get(name) == first
    assert yard.datasets.get(f"{name}@latest").digest == first.digest
    assert [v.ref for v in yard.datasets.versions(name)] == [first.ref]
    assert [c.ref for c in yard.datasets.children(first)] == [child.ref]
    listed = {d.name: d for d in yard.datasets.list()}
    assert listed[name].latest_rows == len(credit_frame)
    loaded = yard.datasets.load(first)
    pd.testing.assert_frame_equal(loaded, credit_frame.reset_index(drop=True), check_dtype=False)
    assert yard.datasets.load(first, columns=["age"], as_="arrow").column_names == ["age"]


def test_run_lifecycle_search_compare_artifacts(yard, credit_frame, unique, tmp_path):
    data = yard.datasets.register(f"runs-{unique}", credit_frame.head(200))
    experiment = f"exp-{unique}"
    ids = []
    for i, auc in enumerate((0.71, 0.83)):
        with yard.start_run(experiment=experiment, name=f"r{i}", inputs=[data]) as run:
            run.log_params({"model": "lgbm", "num_leaves": 31 + i})
            run.log_metrics({"auc": auc})
            run.log_metric_series("loss", [0.9, 0.5, 0.3 - i / 10])
            run.set_tags({"team": "risk"})
            note = tmp_path / f"note{i}.txt"
            note.write_text(f"run {i}")
            run.log_artifact(note)
        ids.append(run.id)
    info = yard.runs.get(ids[1])
    assert (info.status, info.metrics["auc"], info.params["num_leaves"]) == ("FINISHED", 0.83, "32")
    assert info.tags["team"] == "risk" and info.inputs[0].dataset == f"runs-{unique}"
    assert [p.value for p in yard.runs.metric_history(ids[1], "loss")] == pytest.approx(
        [0.9, 0.5, 0.2]
    )
    found = yard.runs.search(
        "metrics.auc > 0.5 and params.model = 'lgbm'",
        experiment=experiment,
        order_by=["metrics.auc desc"],
    )
    assert [r.id for r in found] == [ids[1], ids[0]]
    assert yard.runs.search(experiment=experiment, max_results=1, offset=1)[0].id == ids[0]
    comparison = yard.runs.compare(ids)
    assert comparison["metrics"]["auc"] == [0.71, 0.83]
    assert comparison["params"]["num_leaves"] == ["31", "32"]
    out = yard.runs.download_artifact(ids[0], "note0.txt", tmp_path / "back.txt")
    assert out.read_text() == "run 0"
    assert yard.runs.get(ids[0][:10]).id == ids[0]


def test_failed_run_and_immutable_params(yard, unique):
    with pytest.raises(RuntimeError), yard.start_run(experiment=f"f-{unique}") as run:
        run.log_param("seed", 1)
        raise RuntimeError("boom")
    info = yard.runs.get(run.id)
    assert info.status == "FAILED" and "boom" in info.error
    with yard.start_run(experiment=f"f-{unique}") as other:
        other.log_param("seed", 1)
        with pytest.raises(Conflict, match="params cannot change"):
            other.log_param("seed", 2)


def test_models_register_alias_sign_offs_lineage_load(
    yard, yard_as, small_model, credit_frame, unique
):
    name = f"credit-{unique}"
    data = yard.datasets.register(f"train-{unique}", credit_frame)
    x, _ = split_xy(credit_frame)
    with yard.start_run(experiment=name, inputs=[data]) as run:
        run.log_metrics({"auc": 0.8})
    v1 = yard.models.register(name, small_model, run=run, example=x.head(20), target="default")
    assert (v1.ref, v1.state, v1.created_by) == (f"{name}/1", "registered", "dev")
    assert v1.metrics["training"]["auc"] == 0.8 and v1.tags["target"] == "default"
    v2 = yard.models.register(name, small_model, example=x.head(20))
    assert [v.version for v in yard.models.versions(name)] == [2, 1]
    assert yard.models.get_model(name).latest_version == 2
    assert yard.models.set_alias(name, "staging", 2).aliases == ("staging",)
    with pytest.raises(PermissionDenied, match="may not set alias 'champion'"):
        yard.models.set_alias(name, "champion", 1)  # a developer never moves champion
    with pytest.raises(PermissionDenied, match="sign-off"):
        yard_as("appr").models.set_alias(name, "champion", 1)
    assert yard.models.missing_sign_offs(v1.ref) == ["validator", "approver"]
    yard_as("val").models.approve(v1.ref, role="validator", comment="holdout ok")
    approved = yard_as("appr").models.approve(v1.ref, comment="go")
    assert approved.state == "approved"
    assert [(a.role, a.user) for a in approved.approvals] == [
        ("validator", "val"),
        ("approver", "appr"),
    ]
    champion = yard_as("appr").models.set_alias(name, "champion", v1)
    assert champion.state == "deployed"
    assert yard.models.get(f"{name}@champion").version == 1
    assert yard.models.get(f"{name}@latest").version == 2
    with pytest.raises(InvalidInput, match="needs a comment"):
        yard_as("val").models.reject(v2.ref, comment=" ")
    rejected = yard_as("val").models.reject(v2.ref, comment="unstable")
    assert rejected.approvals[-1].decision == "rejected"
    lineage = yard.models.lineage(f"{name}@champion")
    assert lineage["run"]["id"] == run.id
    assert lineage["datasets"][0]["ref"] == data.ref
    loaded = yard.models.load(f"{name}@champion")
    expected = small_model.predict_proba(x.head(5))[:, 1]
    assert loaded.predict_proba(x.head(5))[:, 1] == pytest.approx(expected)
    names = [m.name for m in yard.models.list(name_like=f"credit-{unique}*")]
    assert names == [name]


def test_audit_records_the_acting_user(yard, yard_as, small_model, credit_frame, unique):
    name = f"audited-{unique}"
    x, _ = split_xy(credit_frame)
    version = yard.models.register(name, small_model, example=x.head(10))
    yard_as("val").models.approve(version.ref, role="validator", comment="fine")
    events = yard.audit.events(subject=f"model/{name}", limit=10)
    assert [(e.actor, e.action) for e in events[:2]] == [
        ("val", "approval.approve"),
        ("dev", "version.register"),
    ]
    oldest = yard.audit.events(subject=f"model/{name}", newest_first=False, limit=1)
    assert oldest[0].action == "model.create"
    assert yard.audit.verify().ok


def test_users_and_roles_are_enforced(yard_as, small_model, credit_frame, unique):
    viewer, dev = yard_as("viewer"), yard_as("dev")
    assert {u.name for u in viewer.users.list()} >= {"root", "dev", "val", "appr", "viewer"}
    assert viewer.users.actor().roles == frozenset({"viewer"})
    with pytest.raises(PermissionDenied, match=r"model\.create|admin or developer"):
        viewer.models.create(f"nope-{unique}")
    x, _ = split_xy(credit_frame)
    version = dev.models.register(f"roles-{unique}", small_model, example=x.head(10))
    with pytest.raises(PermissionDenied):
        dev.models.approve(version.ref, comment="my own")
    with pytest.raises(PermissionDenied):
        viewer.models.approve(version.ref, comment="not mine to give")
    with pytest.raises(PermissionDenied):
        dev.users.add(f"u-{unique}", ["viewer"])


@pytest.mark.parametrize(
    "call",
    [
        lambda y: y.models.get("no-such-model/1"),
        lambda y: y.models.get_model("no-such-model"),
        lambda y: y.datasets.get("no-such-dataset"),
        lambda y: y.runs.get("0" * 32),
        lambda y: y.models.get("bad name!/1"),
        lambda y: y.datasets.get("loans@champion"),
        lambda y: y.runs.search("metrics.auc >>"),
        lambda y: y.runs.get("abc"),
    ],
    ids=[
        "model-version",
        "model",
        "dataset",
        "run",
        "bad-ref",
        "dataset-alias",
        "bad-filter",
        "short-run-id",
    ],
)
def test_errors_are_identical(platform, call):
    errors = []
    for yard in (platform.local("dev"), platform.remote("dev")):
        with pytest.raises(modelyard.ModelyardError) as caught:
            call(yard)
        errors.append((type(caught.value), caught.value.message))
    assert errors[0] == errors[1]
    assert errors[0][0] in (NotFound, InvalidInput)


def test_deployments_apply_list_delete(yard, yard_as, small_model, credit_frame, unique):
    name = f"served-{unique}"
    x, _ = split_xy(credit_frame)
    yard.models.register(name, small_model, example=x.head(5))
    yard.models.set_alias(name, "staging", 1)
    spec = {
        "name": f"{name}-endpoint",
        "routes": [
            {"name": "main", "model": f"{name}@staging", "weight": 90},
            {"name": "pinned", "model": f"{name}/1", "weight": 10},
        ],
    }
    record, outcome = yard.deployments.apply(spec)
    assert (outcome, record.spec.weights(), record.created_by) == ("created", [90.0, 10.0], "dev")
    assert yard.deployments.apply(record.spec)[1] == "unchanged"
    assert yard.deployments.get(spec["name"]) == record
    assert spec["name"] in {d.name for d in yard.deployments.list()}
    with pytest.raises(PermissionDenied):
        yard_as("viewer").deployments.delete(spec["name"])
    with pytest.raises(NotFound, match="do not resolve"):  # a reference to nothing: 404
        yard.deployments.apply({"name": f"bad-{unique}", "routes": [{"name": "a", "model": "x@y"}]})
    yard.deployments.delete(spec["name"])
    with pytest.raises(NotFound):
        yard.deployments.get(spec["name"])


def test_monitoring_reads(yard, unique):
    assert yard.monitors.results(model=f"unmonitored-{unique}") == []
    assert yard.monitors.alerts(model=f"unmonitored-{unique}") == []


def test_reason_tables_register_replace_and_refuse(
    yard, yard_as, small_model, credit_frame, unique
):
    from modelyard.data.synthetic import FEATURES

    name = f"reasons-{unique}"
    x, _ = split_xy(credit_frame)
    table = {
        "reasons": {
            c: {"code": c[:4].upper(), "text": f"{c} was adverse"} for c in FEATURES if c != "age"
        },
        "excluded": {"age": "protected"},
    }
    v1 = yard.models.register(name, small_model, example=x.head(20), reasons=table)
    assert yard.models.reason_table(v1.ref).excluded == {"age": "protected"}
    bad = {"reasons": {}, "excluded": ["income"]}
    with pytest.raises(InvalidInput, match="have no reason and are not excluded"):
        yard.models.register(name, small_model, example=x.head(20), reasons=bad)
    assert [v.version for v in yard.models.versions(name)] == [1]
    replaced = yard.models.set_reasons(v1.ref, {**table, "adverse_outcome": "low"})
    assert yard.models.reason_table(replaced).adverse_outcome == "low"
    with pytest.raises(InvalidInput, match=r"\['salary'\] are not inputs"):
        yard.models.set_reasons(v1.ref, {**table, "excluded": {"age": "", "salary": ""}})
    yard_as("val").models.approve(v1.ref, role="validator")
    yard_as("appr").models.approve(v1.ref)
    with pytest.raises(Conflict, match="register a new version"):
        yard.models.set_reasons(v1.ref, table)
