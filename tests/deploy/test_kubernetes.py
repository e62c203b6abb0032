"""The Kustomize tree: both overlays render, validate against the Kubernetes schemas, and are safe.

``kubectl kustomize`` renders the overlays offline. kubernetes-validate has no
schemas for the Prometheus Operator's CRDs (ServiceMonitor, PrometheusRule);
the core kinds are validated against the schemas, and the CRDs' structure is
checked here field by field.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelyard.registry.deployments import parse_deployment
from modelyard.testing.environment import require_tool

KUBE_VERSIONS = ("1.30.0", "1.37.0")
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}
CORE_KINDS = {
    "Namespace",
    "ServiceAccount",
    "ConfigMap",
    "Service",
    "Deployment",
    "CronJob",
    "PodDisruptionBudget",
    "HorizontalPodAutoscaler",
}


def render(overlay: Path) -> list[dict[str, Any]]:
    kubectl = require_tool("kubectl", "install kubectl (it runs 'kubectl kustomize')")
    result = subprocess.run(
        [kubectl, "kustomize", str(overlay)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


@pytest.fixture(scope="module", params=["staging", "prod"])
def rendered(request: pytest.FixtureRequest, generated: Path) -> tuple[str, list[dict]]:
    return request.param, render(generated / "kubernetes" / "overlays" / request.param)


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def test_overlays_render_every_kind(rendered) -> None:
    _, docs = rendered
    assert {d["kind"] for d in docs} == CORE_KINDS | CRD_KINDS
    assert len(by_kind(docs, "CronJob")) == 2


@pytest.mark.parametrize("version", KUBE_VERSIONS)
def test_core_kinds_validate_against_the_kubernetes_schemas(rendered, version: str) -> None:
    import kubernetes_validate

    _, docs = rendered
    for doc in docs:
        if doc["kind"] in CRD_KINDS:
            continue
        kubernetes_validate.validate(doc, version, strict=True)


def test_pods_are_locked_down(rendered) -> None:
    _, docs = rendered
    pods = [d["spec"]["template"]["spec"] for d in by_kind(docs, "Deployment")]
    pods += [d["spec"]["jobTemplate"]["spec"]["template"]["spec"] for d in by_kind(docs, "CronJob")]
    for pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        mounted = {v["name"]: v for v in pod["volumes"]}
        for container in pod["containers"]:
            sc = container["securityContext"]
            assert sc["runAsNonRoot"] is True and sc["runAsUser"] == 10001
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"] == {"drop": ["ALL"]}
            paths = {m["mountPath"]: mounted[m["name"]] for m in container["volumeMounts"]}
            assert "emptyDir" in paths["/tmp"] and "emptyDir" in paths["/var/lib/modelyard"]
            assert container["resources"]["requests"] and container["resources"]["limits"]


def test_deployment_probes_drain_and_spread(rendered) -> None:
    _, docs = rendered
    (deployment,) = by_kind(docs, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert container["startupProbe"]["httpGet"]["path"] == "/v2/health/live"
    pause = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pause[0] == "sleep" and int(pause[1]) > 0
    # SIGTERM comes after preStop; uvicorn then drains for up to 30 s.
    assert pod["terminationGracePeriodSeconds"] >= int(pause[1]) + 30
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    keys = {c["topologyKey"] for c in pod["topologySpreadConstraints"]}
    assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    assert container["args"][:2] == ["serve", "/etc/modelyard/deployment.yaml"]


def test_selectors_match_the_pods(rendered) -> None:
    _, docs = rendered
    (deployment,) = by_kind(docs, "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    selectors = [
        deployment["spec"]["selector"]["matchLabels"],
        by_kind(docs, "Service")[0]["spec"]["selector"],
        by_kind(docs, "PodDisruptionBudget")[0]["spec"]["selector"]["matchLabels"],
        by_kind(docs, "ServiceMonitor")[0]["spec"]["selector"]["matchLabels"],
    ]
    for selector in selectors:
        assert selector.items() <= labels.items()
    service_labels = by_kind(docs, "Service")[0]["metadata"]["labels"]
    assert selectors[-1].items() <= service_labels.items(), "the ServiceMonitor finds the Service"
    hpa = by_kind(docs, "HorizontalPodAutoscaler")[0]["spec"]
    assert hpa["scaleTargetRef"]["name"] == deployment["metadata"]["name"]


def test_configmap_holds_the_deployments_routes(rendered) -> None:
    overlay, docs = rendered
    (deployment,) = by_kind(docs, "Deployment")
    volume = next(
        v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "deployment"
    )
    config = next(
        d
        for d in by_kind(docs, "ConfigMap")
        if d["metadata"]["name"] == volume["configMap"]["name"]
    )
    spec = parse_deployment(yaml.safe_load(config["data"]["deployment.yaml"]))
    expected = "credit-risk@staging" if overlay == "staging" else "credit-risk@champion"
    assert [r.model for r in spec.routes] == [expected]


def test_cronjobs_score_nightly_and_monitor_hourly(rendered) -> None:
    _, docs = rendered
    jobs = {d["metadata"]["name"]: d for d in by_kind(docs, "CronJob")}
    batch, monitor = jobs["credit-risk-batch"], jobs["credit-risk-monitor"]
    assert batch["spec"]["schedule"] == "0 2 * * *"
    assert monitor["spec"]["schedule"] == "0 * * * *"
    for job in (batch, monitor):
        assert job["spec"]["concurrencyPolicy"] == "Forbid"
    script = batch["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"][0]
    assert "modelyard batch score" in script and "--engine local" in script
    script = monitor["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"][0]
    assert "modelyard monitor run" in script and "--window 1d" in script


def test_prometheus_operator_resources_are_well_formed(rendered) -> None:
    _, docs = rendered
    (monitor,) = by_kind(docs, "ServiceMonitor")
    (rule,) = by_kind(docs, "PrometheusRule")
    for doc in (monitor, rule):
        assert doc["apiVersion"] == "monitoring.coreos.com/v1"
        assert doc["metadata"]["name"] and doc["metadata"]["namespace"]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint == {"port": "http", "path": "/metrics", "interval": "15s"}
    alerts = {}
    for group in rule["spec"]["groups"]:
        assert set(group) == {"name", "rules"}
        for r in group["rules"]:
            assert set(r) == {"alert", "expr", "for", "labels", "annotations"}
            assert r["expr"].count("(") == r["expr"].count(")")
            assert r["labels"]["severity"] in {"warning", "critical"}
            alerts[r["alert"]] = r
    assert {
        "ModelyardHighErrorRate",
        "ModelyardHighLatencyP95",
        "ModelyardFeatureDrift",
        "ModelyardPerformanceDegraded",
    } <= set(alerts)


def test_overlays_differ_in_replicas_resources_image_and_routes(generated: Path) -> None:
    staging = render(generated / "kubernetes" / "overlays" / "staging")
    prod = render(generated / "kubernetes" / "overlays" / "prod")

    def deployment(docs: list[dict]) -> dict:
        return by_kind(docs, "Deployment")[0]

    s, p = deployment(staging), deployment(prod)
    assert (s["metadata"]["namespace"], p["metadata"]["namespace"]) == (
        "modelyard-staging",
        "modelyard-prod",
    )
    assert s["spec"]["replicas"] < p["spec"]["replicas"]
    image = s["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.endswith(":staging")
    assert p["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":prod")
    s_res = s["spec"]["template"]["spec"]["containers"][0]["resources"]
    p_res = p["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert s_res != p_res
    s_hpa, p_hpa = (by_kind(d, "HorizontalPodAutoscaler")[0]["spec"] for d in (staging, prod))
    assert s_hpa["maxReplicas"] < p_hpa["maxReplicas"]


def test_platform_overlays_render_and_validate(platform_tree: Path) -> None:
    import kubernetes_validate

    for overlay in ("staging", "prod"):
        docs = render(platform_tree / "kubernetes" / "overlays" / overlay)
        kinds = {d["kind"] for d in docs}
        assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"} <= kinds
        assert "CronJob" not in kinds
        for doc in docs:
            kubernetes_validate.validate(doc, KUBE_VERSIONS[-1], strict=True)
        (container,) = by_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"]
        assert container["args"][0] == "server"
        assert container["readinessProbe"]["httpGet"]["path"] == "/api/v1/health"


def test_workload_identity_matches_the_terraform_accounts(rendered, generated: Path) -> None:
    overlay, docs = rendered
    accounts = {
        d["metadata"]["name"]: d["metadata"]["annotations"]["iam.gke.io/gcp-service-account"]
        for d in by_kind(docs, "ServiceAccount")
    }
    env = overlay[:4]
    assert accounts == {
        "credit-risk": f"{env}-credit-risk-ep@my-gcp-project.iam.gserviceaccount.com",
        "credit-risk-jobs": f"{env}-credit-risk-jobs@my-gcp-project.iam.gserviceaccount.com",
    }
    for job in by_kind(docs, "CronJob"):
        pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == "credit-risk-jobs"
    # Terraform names the same accounts.
    iam = (generated / "terraform" / "iam.tf").read_text()
    main_tf = (generated / "terraform" / "main.tf").read_text()
    assert 'sa_prefix     = "${substr(var.environment, 0, 4)}-credit-risk"' in main_tf
    assert 'account_id   = "${local.sa_prefix}-ep"' in iam
    assert 'account_id   = "${local.sa_prefix}-jobs"' in iam
    for account in accounts.values():
        assert re.fullmatch(r"[a-z][-a-z0-9]{4,28}[a-z0-9]", account.split("@")[0]), account
    assert "svc.id.goog[${var.gke_namespace}/${each.key}]" in iam
    assert '"credit-risk-jobs" = google_service_account.jobs.name' in iam


def test_service_account_ids_stay_unique_and_short() -> None:
    from modelyard.deploy.spec import short_name

    names = ["credit-risk", "credit-risk-limit-increase-v2", "credit-risk-limit-increase-v3"]
    short = [short_name(n) for n in names]
    assert short[0] == "credit-risk" and len(set(short)) == 3
    for name in short:
        for kind in ("ep", "jobs", "sched"):
            account = f"stag-{name}-{kind}"
            assert re.fullmatch(r"[a-z][-a-z0-9]{4,28}[a-z0-9]", account), account
