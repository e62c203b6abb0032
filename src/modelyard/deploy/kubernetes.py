"""Kubernetes manifests: a Kustomize base and ``staging`` and ``prod`` overlays.

The base holds, for a model endpoint: a Deployment (probes on the KServe V2
health routes, a restricted security context, a preStop pause so endpoints
drain before SIGTERM), a ServiceAccount, a Service, a HorizontalPodAutoscaler,
a PodDisruptionBudget, the deployment spec as a ConfigMap (generated, so a
route change rolls the pods), CronJobs for nightly batch scoring and hourly
monitoring, and a ServiceMonitor and PrometheusRule for the Prometheus
Operator. The overlays set the namespace, image tag, replicas, resources and
routes. The platform server gets the same shape without the model's jobs
and alerts.

Manifests are built as data and dumped as YAML, so they are valid YAML by
construction; the tests validate them against the Kubernetes schemas.
"""

from __future__ import annotations

from typing import Any

import yaml

from modelyard.deploy import alerts
from modelyard.deploy.options import DeployOptions
from modelyard.deploy.spec import CONFIG_DIR, HOME_DIR, Workload, short_name

__all__ = ["OVERLAYS", "render"]

UID = 10001
OVERLAYS: dict[str, dict[str, Any]] = {
    "staging": {
        "replicas": 1,
        "hpa": (1, 3),
        "requests": {"cpu": "250m", "memory": "512Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    },
    "prod": {
        "replicas": 3,
        "hpa": (3, 20),
        "requests": {"cpu": "1", "memory": "2Gi"},
        "limits": {"cpu": "2", "memory": "4Gi"},
    },
}
# key store-url: the metadata store's SQLAlchemy URL; key token (optional): the workload's
# API token, which a store with users requires (identity is proven, not declared).
REGISTRY_SECRET = "modelyard-registry"


def _dump(obj: Any) -> str:
    return yaml.safe_dump(obj, sort_keys=False, width=100)


def _labels(workload: Workload, component: str | None = None) -> dict[str, str]:
    labels = {
        "app.kubernetes.io/name": workload.name,
        "app.kubernetes.io/part-of": "modelyard",
        "app.kubernetes.io/component": component
        or ("model-endpoint" if workload.kind == "endpoint" else "platform-server"),
    }
    if workload.endpoint is not None:
        labels["modelyard.io/endpoint"] = workload.endpoint
    return labels


def _selector(workload: Workload) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": workload.name,
        "app.kubernetes.io/component": _labels(workload)["app.kubernetes.io/component"],
    }


def _container_security() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": UID,
        "runAsGroup": UID,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _pod_security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": UID,
        "runAsGroup": UID,
        "fsGroup": UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _env(workload: Workload) -> list[dict[str, Any]]:
    settings = f"{workload.name}-settings"
    return [
        {"name": "MODELYARD_HOME", "value": HOME_DIR},
        {
            "name": "MODELYARD_STORE_URL",
            "valueFrom": {"secretKeyRef": {"name": REGISTRY_SECRET, "key": "store-url"}},
        },
        {
            "name": "MODELYARD_ARTIFACT_ROOT",
            "valueFrom": {"configMapKeyRef": {"name": settings, "key": "artifact-root"}},
        },
        {
            "name": "MODELYARD_USER",
            "valueFrom": {"configMapKeyRef": {"name": settings, "key": "user"}},
        },
        {
            "name": "MODELYARD_TOKEN",
            "valueFrom": {
                "secretKeyRef": {"name": REGISTRY_SECRET, "key": "token", "optional": True}
            },
        },
    ]


def _volumes(workload: Workload, with_config: bool) -> tuple[list[dict], list[dict]]:
    volumes: list[dict[str, Any]] = [
        {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
        {"name": "home", "emptyDir": {"sizeLimit": "4Gi"}},
    ]
    mounts: list[dict[str, Any]] = [
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "home", "mountPath": HOME_DIR},
    ]
    if with_config:
        volumes.append({"name": "deployment", "configMap": {"name": f"{workload.name}-deployment"}})
        mounts.append({"name": "deployment", "mountPath": CONFIG_DIR, "readOnly": True})
    return volumes, mounts


def _deployment(workload: Workload, image: str) -> dict[str, Any]:
    labels = _labels(workload)
    volumes, mounts = _volumes(workload, workload.spec is not None)
    probe = {"port": "http", "scheme": "HTTP"}
    container: dict[str, Any] = {
        "name": "serving" if workload.kind == "endpoint" else "server",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": list(workload.command[1:]),
        "ports": [{"name": "http", "containerPort": workload.port, "protocol": "TCP"}],
        "env": _env(workload),
        "resources": {
            "requests": {"cpu": "500m", "memory": "1Gi"},
            "limits": {"cpu": "2", "memory": "2Gi"},
        },
        # Loading and warming the models can take a while; liveness waits for it.
        "startupProbe": {
            "httpGet": {"path": workload.live_path, **probe},
            "periodSeconds": 5,
            "failureThreshold": 60,
        },
        "readinessProbe": {
            "httpGet": {"path": workload.ready_path, **probe},
            "periodSeconds": 5,
            "timeoutSeconds": 2,
            "failureThreshold": 3,
        },
        "livenessProbe": {
            "httpGet": {"path": workload.live_path, **probe},
            "periodSeconds": 10,
            "timeoutSeconds": 2,
            "failureThreshold": 3,
        },
        # Keep serving while the endpoint is removed from Services and load
        # balancers; then SIGTERM lets uvicorn finish in-flight requests.
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", "10"]}}},
        "securityContext": _container_security(),
        "volumeMounts": mounts,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": workload.name, "labels": labels},
        "spec": {
            "replicas": 2,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": _selector(workload)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": workload.name,
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    # preStop (10 s) + uvicorn's graceful shutdown (30 s) + margin
                    "terminationGracePeriodSeconds": 45,
                    "securityContext": _pod_security(),
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": key,
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": _selector(workload)},
                        }
                        for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
                    ],
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
    }


def _service_account(workload: Workload, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "labels": _labels(workload)},
        "automountServiceAccountToken": False,
    }


def jobs_account(workload: Workload) -> str:
    """The Kubernetes service account of the batch and monitoring CronJobs."""
    return f"{workload.name}-jobs"


def gcp_service_account(
    workload: Workload, options: DeployOptions, environment: str, *, jobs: bool = False
) -> str:
    """The GCP service account the Terraform stack of ``environment`` makes for ``workload``.

    Mirrors ``iam.tf``: ``PREFIX-ENV-server`` for the platform, and
    ``ENV4-NAME-ep`` / ``ENV4-NAME-jobs`` for an endpoint and its jobs.
    """
    if workload.kind == "server":
        account = f"{options.repository}-{environment}-server"
    else:
        account = f"{environment[:4]}-{short_name(workload.name)}-{'jobs' if jobs else 'ep'}"
    return f"{account}@{options.project}.iam.gserviceaccount.com"


def bucket(options: DeployOptions, environment: str) -> str:
    """The artifacts bucket of the Terraform stack of ``environment``."""
    return f"{options.project}-{options.repository}-{environment}-artifacts"


def _service(workload: Workload) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": workload.name, "labels": _labels(workload)},
        "spec": {
            "type": "ClusterIP",
            "selector": _selector(workload),
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def _hpa(workload: Workload, low: int = 2, high: int = 10) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": workload.name, "labels": _labels(workload)},
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": workload.name,
            },
            "minReplicas": low,
            "maxReplicas": high,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                }
            ],
            "behavior": {
                "scaleUp": {"stabilizationWindowSeconds": 0},
                "scaleDown": {
                    "stabilizationWindowSeconds": 300,
                    "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}],
                },
            },
        },
    }


def _pdb(workload: Workload) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": workload.name, "labels": _labels(workload)},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": _selector(workload)}},
    }


def _cronjob(
    workload: Workload, image: str, name: str, schedule: str, script: str, deadline_s: int
) -> dict[str, Any]:
    component = name.rsplit("-", 1)[-1]
    labels = _labels(workload, component=f"{component}-job")
    volumes, mounts = _volumes(workload, False)
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "schedule": schedule,
            "timeZone": "Etc/UTC",
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 600,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 5,
            "jobTemplate": {
                "metadata": {"labels": labels},
                "spec": {
                    "backoffLimit": 2,
                    "activeDeadlineSeconds": deadline_s,
                    "ttlSecondsAfterFinished": 86_400,
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {
                            # Its own account: batch scoring renames and deletes files,
                            # which the endpoint's may not.
                            "serviceAccountName": jobs_account(workload),
                            "automountServiceAccountToken": False,
                            "enableServiceLinks": False,
                            "restartPolicy": "Never",
                            "securityContext": _pod_security(),
                            "containers": [
                                {
                                    "name": component,
                                    "image": image,
                                    "imagePullPolicy": "IfNotPresent",
                                    "command": ["/bin/sh", "-c"],
                                    "args": [script],
                                    "env": [
                                        *_env(workload),
                                        {"name": "MODEL_REF", "value": workload.primary_ref},
                                        {
                                            "name": "BATCH_INPUT",
                                            "valueFrom": {
                                                "configMapKeyRef": {
                                                    "name": f"{workload.name}-settings",
                                                    "key": "batch-input",
                                                }
                                            },
                                        },
                                        {
                                            "name": "BATCH_OUTPUT",
                                            "valueFrom": {
                                                "configMapKeyRef": {
                                                    "name": f"{workload.name}-settings",
                                                    "key": "batch-output",
                                                }
                                            },
                                        },
                                    ],
                                    "resources": {
                                        "requests": {"cpu": "1", "memory": "2Gi"},
                                        "limits": {"cpu": "2", "memory": "4Gi"},
                                    },
                                    "securityContext": _container_security(),
                                    "volumeMounts": mounts,
                                }
                            ],
                            "volumes": volumes,
                        },
                    },
                },
            },
        },
    }


BATCH_SCRIPT = (
    'exec modelyard batch score "$MODEL_REF" --input "$BATCH_INPUT" '
    '--output "$BATCH_OUTPUT/date=$(date -u +%Y-%m-%d)" --engine local'
)


def monitor_script(window: str) -> str:
    return f'exec modelyard monitor run "$MODEL_REF" --window {window}'


def _service_monitor(workload: Workload) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": workload.name, "labels": _labels(workload)},
        "spec": {
            "selector": {"matchLabels": _selector(workload)},
            "endpoints": [
                {"port": "http", "path": workload.metrics_path, "interval": "15s"},
            ],
        },
    }


def _prometheus_rule(workload: Workload) -> dict[str, Any]:
    groups = alerts.rule_groups(workload)
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": workload.name, "labels": _labels(workload)},
        "spec": {"groups": groups},
    }


def _settings_literals(
    workload: Workload, options: DeployOptions, environment: str | None
) -> list[str]:
    root = f"gs://{bucket(options, environment or 'dev')}"
    values = [
        f"artifact-root={root}/artifacts",
        f"user={'serving' if workload.kind == 'endpoint' else 'modelyard-server'}",
    ]
    if workload.kind == "endpoint":
        values += [
            f"batch-input={root}/batch/{workload.name}/input/",
            f"batch-output={root}/batch/{workload.name}/scores",
        ]
    return values


def _overlay_routes(workload: Workload, overlay: str) -> str:
    """Staging serves each model's ``staging`` alias; prod serves the spec's routes."""
    if workload.spec is None or overlay == "prod":
        return workload.deployment_yaml()
    spec = workload.spec.model_copy(
        update={
            "routes": tuple(
                route.model_copy(
                    update={"model": route.model.split("@", 1)[0].split("/", 1)[0] + "@staging"}
                )
                for route in workload.spec.routes
            ),
            "shadows": (),
        }
    )
    return yaml.safe_dump(spec.to_dict(), sort_keys=False)


def render(
    workload: Workload, options: DeployOptions, *, prefix: str = "kubernetes/"
) -> dict[str, str]:
    """Every file of the Kustomize tree, keyed by path relative to the output folder."""
    image = options.image(workload.name)
    endpoint = workload.kind == "endpoint"
    base: dict[str, Any] = {
        "deployment.yaml": _deployment(workload, image),
        "serviceaccount.yaml": _service_account(workload, workload.name),
        "service.yaml": _service(workload),
        "hpa.yaml": _hpa(workload),
        "pdb.yaml": _pdb(workload),
    }
    if endpoint:
        base["serviceaccount-jobs.yaml"] = _service_account(workload, jobs_account(workload))
        base["cronjob-batch.yaml"] = _cronjob(
            workload,
            image,
            f"{workload.name}-batch",
            options.batch_schedule,
            BATCH_SCRIPT,
            6 * 3600,
        )
        base["cronjob-monitor.yaml"] = _cronjob(
            workload,
            image,
            f"{workload.name}-monitor",
            options.monitor_schedule,
            monitor_script(options.monitor_window),
            3000,
        )
        base["servicemonitor.yaml"] = _service_monitor(workload)
        base["prometheusrule.yaml"] = _prometheus_rule(workload)
    files = {f"{prefix}base/{name}": _dump(obj) for name, obj in base.items()}
    kustomization: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": list(base),
        "configMapGenerator": [
            {
                "name": f"{workload.name}-settings",
                "literals": _settings_literals(workload, options, None),
            }
        ],
    }
    if endpoint:
        files[f"{prefix}base/deployment-spec.yaml"] = workload.deployment_yaml()
        kustomization["configMapGenerator"].append(
            {
                "name": f"{workload.name}-deployment",
                "files": ["deployment.yaml=deployment-spec.yaml"],
            }
        )
    files[f"{prefix}base/kustomization.yaml"] = _dump(kustomization)
    for overlay, values in OVERLAYS.items():
        files.update(_overlay(workload, options, overlay, values, image, prefix))
    return files


def _overlay(
    workload: Workload,
    options: DeployOptions,
    overlay: str,
    values: dict[str, Any],
    image: str,
    prefix: str,
) -> dict[str, str]:
    folder = f"{prefix}overlays/{overlay}/"
    namespace = f"{options.namespace}-{overlay}"
    low, high = values["hpa"]
    resources_patch = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": workload.name},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "serving" if workload.kind == "endpoint" else "server",
                            "resources": {
                                "requests": values["requests"],
                                "limits": values["limits"],
                            },
                        }
                    ]
                }
            }
        },
    }

    # GKE Workload Identity: the pods act as the GCP service account Terraform
    # creates for this environment (bucket and secret access, nothing project-wide).
    def annotate(jobs: bool) -> str:
        account = gcp_service_account(workload, options, overlay, jobs=jobs)
        return _dump(
            [
                {
                    "op": "add",
                    "path": "/metadata/annotations",
                    "value": {"iam.gke.io/gcp-service-account": account},
                }
            ]
        )

    hpa_patch = [
        {"op": "replace", "path": "/spec/minReplicas", "value": low},
        {"op": "replace", "path": "/spec/maxReplicas", "value": high},
    ]
    config_maps: list[dict[str, Any]] = [
        {
            "name": f"{workload.name}-settings",
            "behavior": "replace",
            "literals": _settings_literals(workload, options, overlay),
        }
    ]
    files: dict[str, str] = {}
    if workload.kind == "endpoint":
        files[f"{folder}deployment-spec.yaml"] = _overlay_routes(workload, overlay)
        config_maps.append(
            {
                "name": f"{workload.name}-deployment",
                "behavior": "replace",
                "files": ["deployment.yaml=deployment-spec.yaml"],
            }
        )
    namespace_obj = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": namespace,
            "labels": {
                # The pods meet the "restricted" Pod Security Standard; enforce it.
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
            },
        },
    }
    files[f"{folder}namespace.yaml"] = _dump(namespace_obj)
    files[f"{folder}patch-resources.yaml"] = _dump(resources_patch)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": namespace,
        "resources": ["namespace.yaml", "../../base"],
        "labels": [{"pairs": {"modelyard.io/environment": overlay}, "includeSelectors": False}],
        # CI pins the tag to the release commit: kustomize edit set image IMAGE=IMAGE:SHA
        "images": [{"name": image, "newTag": overlay}],
        "replicas": [{"name": workload.name, "count": values["replicas"]}],
        "patches": [
            {"path": "patch-resources.yaml"},
            {
                "target": {"kind": "HorizontalPodAutoscaler", "name": workload.name},
                "patch": _dump(hpa_patch),
            },
            {
                "target": {"kind": "ServiceAccount", "name": workload.name},
                "patch": annotate(jobs=False),
            },
            *(
                [
                    {
                        "target": {"kind": "ServiceAccount", "name": jobs_account(workload)},
                        "patch": annotate(jobs=True),
                    }
                ]
                if workload.kind == "endpoint"
                else []
            ),
        ],
        "configMapGenerator": config_maps,
    }
    files[f"{folder}kustomization.yaml"] = _dump(kustomization)
    return files
