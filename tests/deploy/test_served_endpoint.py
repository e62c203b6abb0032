"""The Dockerfile's command, run here, serves the demo registry and passes ``modelyard smoke``.

No Docker engine runs on these machines, so the image is not built: the test
reads the generated Dockerfile's ENTRYPOINT, CMD and ENV, replaces the
image's paths with local ones (the deployment file, the home folder) and the
listen address with a free loopback port, and runs that command against a
demo registry. The same server's ``/metrics`` scrape is the ground truth for
the metric names the Grafana dashboards and the alert rules use.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from test_docker import exec_form, instructions

from modelyard.cli.main import main
from modelyard.deploy import alerts


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def dockerfile_command(generated: Path, port: int, home: Path) -> tuple[list[str], dict[str, str]]:
    steps = instructions((generated / "Dockerfile").read_text())
    runtime = steps[[i for i, (kw, _) in enumerate(steps) if kw == "FROM"][-1] :]
    command = exec_form(next(a for kw, a in runtime if kw == "ENTRYPOINT"))
    command += exec_form(next(a for kw, a in runtime if kw == "CMD"))
    env: dict[str, str] = {}
    for kw, args in runtime:
        if kw == "ENV":
            env.update(dict(re.findall(r"(\w+)=(\S+)", args)))
    local = {
        "/etc/modelyard/deployment.yaml": str(generated / "deployment.yaml"),
        "/var/lib/modelyard": str(home),
        "0.0.0.0": "127.0.0.1",
        "8080": str(port),
    }
    command = [local.get(word, word) for word in command]
    env = {k: local.get(v, v) for k, v in env.items() if k != "PATH"}
    # The image's venv is this interpreter's environment here.
    command[0] = str(Path(sys.executable).with_name(command[0]))
    return command, env


@pytest.fixture(scope="module")
def endpoint(generated: Path, demo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("image-home")
    port = _free_port()
    command, image_env = dockerfile_command(generated, port, home)
    assert command[1:3] == ["serve", str(generated / "deployment.yaml")]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        # A source tree put first on the path (a worktree) is the image's code here too.
        **({"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}),
        **image_env,
        # What the platform injects at run time (a Secret and a ConfigMap in Kubernetes).
        **demo.env(user="serving", home=home),
    }
    log = (home / "serve.log").open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=home)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None:
                pytest.fail(f"the Dockerfile's CMD exited: {(home / 'serve.log').read_text()}")
            try:
                if httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"not ready after 300 s: {(home / 'serve.log').read_text()}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="module")
def known_answer_file(demo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from modelyard.deploy.smoke import known_answer_from_registry, write_known_answer

    yard = demo.connect()
    try:
        answer = known_answer_from_registry(yard, "credit-risk@champion")
    finally:
        yard.close()
    return write_known_answer(answer, tmp_path_factory.mktemp("ka") / "known-answer.json")


def smoke(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["smoke", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cmd_serves_and_passes_smoke(endpoint: str, known_answer_file: Path, capsys) -> None:
    code, out, err = smoke(
        capsys,
        endpoint,
        "--model",
        "credit-risk",
        "--expect-known-answer",
        str(known_answer_file),
        "--latency-budget-ms",
        "200",
        "--json",
    )
    report = json.loads(out)
    assert code == 0, err
    assert report["ok"] and report["version"] == "1"
    assert [c["name"] for c in report["checks"]] == ["ready", "metadata", "known answer", "latency"]


def test_smoke_builds_the_known_answer_from_the_registry(endpoint: str, demo) -> None:
    from modelyard.deploy.smoke import run_smoke

    yard = demo.connect()
    try:
        report = run_smoke(endpoint, "credit-risk", yard=yard, requests=10)
    finally:
        yard.close()
    assert report.ok, report.failure
    assert any(c.name == "known answer source" for c in report.checks)


def test_smoke_fails_on_a_wrong_model_name(endpoint: str, known_answer_file, capsys) -> None:
    code, _, err = smoke(
        capsys, endpoint, "--model", "fraud", "--expect-known-answer", str(known_answer_file)
    )
    assert code == 1
    assert err.strip().startswith(
        "smoke failed: metadata: the endpoint does not serve model 'fraud'"
    )
    assert len(err.strip().splitlines()) == 1


def test_smoke_fails_when_nothing_listens(known_answer_file, capsys) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    code, _, err = smoke(
        capsys, url, "--model", "credit-risk", "--expect-known-answer", str(known_answer_file)
    )
    assert code == 1
    assert err.startswith(f"smoke failed: ready: cannot reach {url}/v2/health/ready")


def test_smoke_fails_on_a_wrong_answer(
    endpoint: str, known_answer_file: Path, tmp_path, capsys
) -> None:
    data = json.loads(known_answer_file.read_text())
    data["probabilities"][0] = [p + 1e-3 for p in data["probabilities"][0]]
    tampered = tmp_path / "wrong.json"
    tampered.write_text(json.dumps(data))
    code, _, err = smoke(
        capsys, endpoint, "--model", "credit-risk", "--expect-known-answer", str(tampered)
    )
    assert code == 1
    assert "smoke failed: known answer: row 0 output 0: expected" in err
    assert "> tolerance 1e-06" in err


def test_smoke_fails_on_a_version_the_endpoint_does_not_serve(
    endpoint: str, known_answer_file: Path, tmp_path, capsys
) -> None:
    data = json.loads(known_answer_file.read_text())
    data["version"] = 9
    other = tmp_path / "v9.json"
    other.write_text(json.dumps(data))
    code, _, err = smoke(
        capsys, endpoint, "--model", "credit-risk", "--expect-known-answer", str(other)
    )
    assert code == 1
    assert "does not serve version 9 of 'credit-risk'" in err


def test_smoke_fails_over_the_latency_budget(endpoint: str, known_answer_file, capsys) -> None:
    code, _, err = smoke(
        capsys,
        endpoint,
        "--model",
        "credit-risk",
        "--expect-known-answer",
        str(known_answer_file),
        "--latency-budget-ms",
        "0.001",
        "--requests",
        "5",
    )
    assert code == 1
    assert re.search(r"smoke failed: latency: p95 [\d.]+ ms.* exceeds the budget", err)


def test_bad_known_answer_file_is_a_clear_error(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    code, _, err = smoke(
        capsys, "http://127.0.0.1:1", "--model", "m", "--expect-known-answer", str(bad)
    )
    assert code == 2
    assert "is not a known-answer file" in err


# ---------------------------------------------------------------- metrics


def _scrape(url: str) -> dict[str, set[str]]:
    """Series name -> label names seen, from the server's /metrics.

    A labelled family with no sample yet (a counter of version switches before
    the first switch) is declared by its HELP/TYPE lines: its series names
    count as exported, with the labels unknown.
    """
    from prometheus_client.parser import text_string_to_metric_families

    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}
    text = httpx.get(f"{url}/metrics", timeout=5).text
    found: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for suffix in suffixes.get(family.type, ("",)):
            found.setdefault(family.name + suffix, set())
        for sample in family.samples:
            found.setdefault(sample.name, set()).update(sample.labels)
    return found


_SELECTOR = re.compile(r"(modelyard_[a-zA-Z0-9_:]+)\{([^}]*)\}")


def _expressions(generated: Path) -> list[str]:
    exprs = []
    for name in ("serving.json", "monitoring.json"):
        board = json.loads((generated / "grafana" / name).read_text())
        exprs += [t["expr"] for panel in board["panels"] for t in panel["targets"]]
    rule = yaml.safe_load((generated / "kubernetes" / "base" / "prometheusrule.yaml").read_text())
    exprs += [r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]]
    return exprs


def test_dashboards_and_alerts_read_metrics_the_server_exports(
    endpoint: str, generated: Path, known_answer_file, capsys
) -> None:
    # Traffic first, so labelled series and histogram buckets exist.
    smoke(
        capsys, endpoint, "--model", "credit-risk", "--expect-known-answer", str(known_answer_file)
    )
    scraped = _scrape(endpoint)
    assert set(alerts.SERVING_METRICS) <= set(scraped), set(alerts.SERVING_METRICS) - set(scraped)
    used: set[str] = set()
    for expr in _expressions(generated):
        used |= alerts.metric_names(expr)
        for metric, matchers in _SELECTOR.findall(expr):
            if metric in alerts.MONITORING_METRICS:
                continue
            labels = {m.split("=")[0].rstrip("!~").strip() for m in matchers.split(",") if m}
            if not scraped[metric]:
                continue  # declared, no series yet
            assert labels <= scraped[metric], f"{metric} has no label(s) {labels - scraped[metric]}"
    serving = used - set(alerts.MONITORING_METRICS)
    assert serving <= set(scraped), f"not exported by the server: {serving - set(scraped)}"
    # Drift and performance come from monitoring results, not from serving: the
    # names are pinned in one list until the platform exports them.
    assert used & set(alerts.MONITORING_METRICS)
    assert used - serving <= set(alerts.MONITORING_METRICS)


def test_dashboards_are_grafana_dashboard_models(generated: Path) -> None:
    for name in ("serving.json", "monitoring.json"):
        board = json.loads((generated / "grafana" / name).read_text())
        assert board["schemaVersion"] >= 36 and board["uid"] and board["title"]
        assert board["templating"]["list"][0]["type"] == "datasource"
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids))
        for panel in board["panels"]:
            assert set(panel["gridPos"]) == {"x", "y", "w", "h"}
            assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
            assert panel["targets"]
            for target in panel["targets"]:
                assert target["expr"].count("(") == target["expr"].count(")")
                assert target["datasource"]["uid"] == "${datasource}"
    serving = json.loads((generated / "grafana" / "serving.json").read_text())
    titles = " ".join(p["title"].lower() for p in serving["panels"])
    for topic in ("requests", "latency", "error", "batch", "versions"):
        assert topic in titles
    monitoring = json.loads((generated / "grafana" / "monitoring.json").read_text())
    titles = " ".join(p["title"].lower() for p in monitoring["panels"])
    assert "drift" in titles and "performance" in titles
