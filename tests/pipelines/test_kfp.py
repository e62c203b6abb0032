"""Kubeflow Pipelines export: the kfp SDK loads it, and its task graph is the pipeline's."""

from __future__ import annotations

from pathlib import Path

import yaml
from pipelines_helpers import EXAMPLE_REF, use_store

from modelyard.pipelines import load_pipeline
from modelyard.pipelines.kfp import START_TASK, compile_kfp, task_graph

IN_IMAGE = "examples/credit_risk/pipeline.py:train"


def test_example_export_loads_in_kfp_and_matches_the_task_graph(tmp_path: Path) -> None:
    from kfp import components

    pipeline = load_pipeline(EXAMPLE_REF)
    graph = pipeline.graph()
    path = tmp_path / "pipeline.yaml"

    export = compile_kfp(pipeline, path, reference=IN_IMAGE, image="registry/modelyard:1")

    loaded = components.load_component_from_file(str(path))  # kfp's own loader
    assert loaded.name == "credit-risk-train"
    assert set(loaded.component_spec.inputs) == set(graph.params)
    assert loaded.component_spec.inputs["rows"].default == 20_000
    expected = {name: graph.dependencies(name) for name in graph.nodes}
    assert task_graph(path) == expected == export.tasks

    spec = yaml.safe_load(path.read_text())
    executors = spec["deploymentSpec"]["executors"]
    fit = executors["exec-fit"]["container"]
    assert fit["image"] == "registry/modelyard:1" and fit["command"] == ["modelyard"]
    assert fit["args"][:4] == ["pipeline", "step", IN_IMAGE, "fit"]
    assert any("num_leaves=" in str(a) for a in fit["args"])  # only the parameters fit reads
    assert not any("rows=" in str(a) for a in fit["args"])
    tasks = spec["root"]["dag"]["tasks"]
    assert all(
        START_TASK in t.get("dependentTasks", []) for n, t in tasks.items() if n != START_TASK
    )
    assert all(t["cachingOptions"].get("enableCache") is not True for t in tasks.values())


def test_cli_compile_writes_env_from_configuration(tmp_path: Path, cli, monkeypatch) -> None:
    monkeypatch.setenv("MODELYARD_STORE_URL", "postgresql+psycopg://ml@db.internal/yard")
    monkeypatch.setenv("MODELYARD_ARTIFACT_ROOT", "gs://bank-ml/artifacts")
    out = tmp_path / "kfp.yaml"
    result = cli(
        "pipeline",
        "compile",
        EXAMPLE_REF,
        "--target",
        "kfp",
        "-o",
        str(out),
        "--image",
        "europe-docker.pkg.dev/bank/ml/modelyard:0.1",
        "--ref-in-image",
        IN_IMAGE,
    )
    assert result.code == 0, result.err
    assert "10 steps" in result.out and result.err == ""
    env = yaml.safe_load(out.read_text())["deploymentSpec"]["executors"]["exec-gates"]["container"]
    assert {
        "name": "MODELYARD_STORE_URL",
        "value": "postgresql+psycopg://ml@db.internal/yard",
    } in env["env"]
    assert {"name": "MODELYARD_ARTIFACT_ROOT", "value": "gs://bank-ml/artifacts"} in env["env"]


def test_store_password_never_reaches_the_yaml(tmp_path: Path, cli, monkeypatch) -> None:
    monkeypatch.setenv("MODELYARD_STORE_URL", "postgresql+psycopg://ml:s3cret@db/yard")
    out = tmp_path / "kfp.yaml"
    result = cli("pipeline", "compile", EXAMPLE_REF, "-o", str(out))
    assert result.code == 0
    assert "s3cret" not in out.read_text()
    assert "password" in result.err and "no --image given" in result.err


def test_tasks_run_as_kfp_would_run_them(tmp_path: Path, cli, monkeypatch) -> None:
    """start, then each step in the compiled order, each a separate CLI call like a KFP pod."""
    use_store(monkeypatch, tmp_path)
    ref = f"{Path(__file__).parent / 'sample_pipelines.py'}:numbers"
    id_file = tmp_path / "outputs" / "run_id"
    started = cli(
        "pipeline", "start", ref, "-p", "n=4", "-p", "factor=2.0", "--run-id-file", str(id_file)
    )
    assert started.code == 0, started.err
    run_id = id_file.read_text()
    graph = load_pipeline(ref).graph()
    for name in graph.order():
        params = sorted(graph.node(name).params())
        given = [x for p in params for x in ("--param", f"{p}={ {'n': 4, 'factor': 2.0}[p] }")]
        done = cli("pipeline", "step", ref, name, "--run-id", run_id, *given)
        assert done.code == 0, done.err
    import modelyard

    with modelyard.connect() as yard:
        parent = yard.runs.get(run_id)
        assert parent.status == "FINISHED" and parent.tags["modelyard.orchestrator"] == "kfp"
        combine = next(
            r
            for r in yard.runs.search(f"tags.`modelyard.parent_run` = '{run_id}'")
            if r.tags["modelyard.step"] == "combine"
        )
        assert combine.metrics["result"] == 6.0 * 4.0
    mismatch = cli("pipeline", "step", ref, "count", "--run-id", run_id, "-p", "n=9")
    assert mismatch.code == 2 and "differ" in mismatch.err
