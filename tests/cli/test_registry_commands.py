"""models, users and audit from the command line."""

from __future__ import annotations

import pickle
from pathlib import Path

from sqlalchemy import text

from modelyard.config import load_settings
from modelyard.data.synthetic import FEATURES, generate
from modelyard.demo.credit_models import logistic_pipeline, split_xy
from modelyard.store import MetadataStore


def _model_files(tmp_path: Path) -> tuple[Path, Path]:
    frame = generate(1_500, seed=3)
    x, y = split_xy(frame)
    model = logistic_pipeline().fit(x, y)
    pkl = tmp_path / "model.pkl"
    pkl.write_bytes(pickle.dumps(model))
    example = tmp_path / "example.parquet"
    frame[list(FEATURES)].head(200).to_parquet(example, index=False)
    frame.to_parquet(tmp_path / "holdout.parquet", index=False)
    return pkl, example


def test_create_register_sign_off_promote(cli, tmp_path: Path) -> None:
    pkl, example = _model_files(tmp_path)
    assert cli("models", "create", "credit-risk", "--risk-tier", "1").code == 0
    reg = cli("models", "register", "credit-risk", str(pkl), "--example", str(example), "--json")
    assert reg.code == 0 and reg.json()["ref"] == "credit-risk/1"
    refused = cli("models", "alias", "credit-risk", "champion", "1")
    assert refused.code == 5 and "validator and approver" in refused.err
    own = cli("models", "approve", "credit-risk/1")
    assert own.code == 5 and "four-eyes" in own.err
    assert cli("models", "approve", "credit-risk/1", "--role", "validator", user="vera").code == 0
    ok = cli("models", "approve", "credit-risk/1", "--role", "approver", "-m", "go", user="aaron")
    assert ok.code == 0 and "still needed for champion: nothing" in ok.out
    promoted = cli("models", "alias", "credit-risk", "champion", "1", user="alice")
    assert promoted.code == 0 and "champion → 1" in promoted.out
    listed = cli("models", "list", "--json").json()
    assert listed[0]["aliases"] == {"champion": 1}
    shown = cli("models", "get", "credit-risk@champion")
    assert "vera" in shown.out and "aaron" in shown.out
    lineage = cli("models", "lineage", "credit-risk/1")
    assert lineage.code == 0 and "credit-risk/1" in lineage.out


def test_validate_card_compile(cli, tmp_path: Path) -> None:
    pkl, example = _model_files(tmp_path)
    cli("models", "register", "credit-risk", str(pkl), "--example", str(example))
    cli("datasets", "register", "holdout", str(tmp_path / "holdout.parquet"))
    result = cli(
        "models", "validate", "credit-risk/1", "--data", "holdout/1", "--target", "default"
    )
    assert result.code == 0 and "report:" in result.out
    assert cli("models", "card", "credit-risk/1").code == 0
    compiled = cli("models", "compile", "credit-risk/1", "--data", "holdout/1")
    assert compiled.code == 0 and "passed" in compiled.out
    bad = cli("models", "validate", "credit-risk/1", "--data", "holdout/1")
    assert bad.code == 2 and "target" in bad.err


def test_users_and_audit_verify(cli, tmp_path: Path) -> None:
    assert cli("users", "list").out.startswith("no users")
    first = cli("users", "add", "carol", "--role", "viewer")
    assert first.code == 2 and "admin" in first.err
    assert cli("users", "add", "root", "--role", "admin").code == 0
    assert cli("users", "add", "vic", "--role", "viewer", user="root").code == 0
    denied = cli("models", "create", "x", user="vic")
    assert denied.code == 5 and "developer" in denied.err
    log = cli("audit", "log", "--json", user="root").json()
    assert [e["action"] for e in log if e["action"] == "user.add"] == ["user.add", "user.add"]
    assert cli("audit", "verify", user="root").code == 0
    store = MetadataStore(load_settings().resolved_store_url)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 1"))
    store.dispose()
    broken = cli("audit", "verify", user="root")
    assert broken.code == 6 and "event 1" in broken.err


def test_register_with_an_input_policy(cli, tmp_path: Path) -> None:
    pkl, example = _model_files(tmp_path)
    reg = cli(
        "models", "register", "credit-risk", str(pkl), "--example", str(example),
        "--unseen", "reject", "--json",
    )  # fmt: skip
    assert reg.code == 0, reg.err
    manifest = reg.json()["manifest"]
    assert manifest["policy"]["unseen"] == "reject" and manifest["probe"]["columns"]
    assert manifest["domain"]["source"] == "example"
    bad = cli(
        "models", "register", "credit-risk", str(pkl), "--example", str(example),
        "--nulls", "drop",
    )  # fmt: skip
    assert bad.code == 2 and "'nulls' policy must be one of" in bad.err


def test_models_get_and_show_print_the_scorer_and_why_not_compiled(cli, tmp_path: Path) -> None:
    """The scorer is chosen at first load for serving and recorded with the version."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import KBinsDiscretizer

    import modelyard
    from modelyard.serving.config import ServingConfig
    from modelyard.serving.models import load_version

    pkl, example = _model_files(tmp_path)
    frame = generate(1_500, seed=3)
    x, y = split_xy(frame)
    numeric = [c for c in x.columns if str(x[c].dtype) in ("float64", "int64")]
    binned = Pipeline(
        [
            ("encode", ColumnTransformer([("num", KBinsDiscretizer(strategy="uniform"), numeric)])),
            ("model", RandomForestClassifier(n_estimators=3, random_state=0)),
        ]
    ).fit(x, y)
    binned_pkl = tmp_path / "binned.pkl"
    binned_pkl.write_bytes(pickle.dumps(binned))
    assert cli("models", "register", "credit-risk", str(pkl), "--example", str(example)).code == 0
    assert cli("models", "register", "binned", str(binned_pkl), "--example", str(example)).code == 0
    before = cli("models", "get", "credit-risk/1")
    assert "scorer not chosen yet (chosen when the version is first served)" in before.out

    yard = modelyard.connect()
    try:
        for ref in ("credit-risk/1", "binned/1"):
            load_version(yard, ref, ServingConfig())
    finally:
        yard.close()
    compiled = " ".join(cli("models", "get", "credit-risk/1").out.split())
    assert "scorer linear-compiled: compiled, within 1e-12 (relative) of the native model on" in (
        compiled
    )
    native = " ".join(cli("models", "get", "binned/1").out.split())
    assert (
        "scorer native: not compiled — KBinsDiscretizer in transformer 'num' has no compiled form"
        in native
    )
    shown = cli("models", "show", "credit-risk")
    assert shown.code == 0 and "scorer" in shown.out  # a column of the versions table
    reports = [
        a["details"]
        for a in cli("models", "show", "credit-risk", "--json").json()["versions"][0]["artifacts"]
        if a["name"] == "serving-compile-report"
    ]
    assert [r["scorer"] for r in reports] == ["linear-compiled"]
