"""``modelyard deploy`` (image, Kubernetes, Terraform and CI files) and ``modelyard smoke``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from modelyard.cli import _output as out
from modelyard.errors import InvalidInput

deploy_app = typer.Typer(
    help="Deployment as code: Dockerfile, Kubernetes, Terraform (GCP), dashboards, CI/CD.",
    no_args_is_help=True,
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
OutOption = Annotated[Path, typer.Option("--output", "-o", help="Folder to write into.")]
ProjectOption = Annotated[str, typer.Option(help="GCP project id the files point at.")]
RegionOption = Annotated[str, typer.Option(help="GCP region.")]
NamespaceOption = Annotated[
    str, typer.Option(help="Kubernetes namespace prefix (overlays add -staging / -prod).")
]


def _yard():  # type: ignore[no-untyped-def]
    from modelyard.cli._context import yard

    return yard()


def _options(project: str, region: str, namespace: str, workers: int = 1):  # type: ignore[no-untyped-def]
    from modelyard.deploy.options import DeployOptions

    return DeployOptions(project=project, region=region, namespace=namespace, workers=workers)


def _default_target() -> str:
    if Path("deployment.yaml").is_file():
        return "deployment.yaml"
    records = _yard().deployments.list()
    if len(records) == 1:
        return records[0].name
    raise InvalidInput(
        "name the deployment: a YAML file, a stored deployment or a model reference "
        "(e.g. credit-risk@champion)"
    )


@deploy_app.command("generate")
def generate(
    deployment: Annotated[
        str,
        typer.Argument(
            help="A deployment YAML file, a stored deployment's name, or a model reference "
            "(credit-risk@champion: a one-route deployment)."
        ),
    ],
    target: Annotated[
        list[str],
        typer.Option(help="docker, kubernetes, cloudrun (Terraform), grafana or all; repeatable."),
    ],
    output: OutOption,
    project: ProjectOption = "my-gcp-project",
    region: RegionOption = "europe-west1",
    namespace: NamespaceOption = "modelyard",
    workers: Annotated[int, typer.Option(help="Serving worker processes per container.")] = 1,
    canary: Annotated[
        str | None, typer.Option(help="Add a 'canary' route to this model version.")
    ] = None,
    canary_weight: Annotated[float, typer.Option(help="Percent of traffic to --canary.")] = 10.0,
    as_json: JsonOption = False,
) -> None:
    """Write the files to deploy DEPLOYMENT, resolved against the registry."""
    from modelyard.deploy.generate import generate as run
    from modelyard.deploy.spec import describe

    tree = run(
        deployment,
        target,
        output,
        yard=_yard(),
        options=_options(project, region, namespace, workers),
        canary=canary,
        canary_weight=canary_weight,
    )
    if as_json:
        out.print_json({**describe(tree.workload), "files": sorted(tree.files)})
        return
    for m in tree.workload.models:
        out.console.print(
            f"  {m.ref} → {m.name}/{m.version} ({m.flavor}, Python {m.python_version})"
        )
    for path in sorted(tree.files):
        out.console.print(f"  wrote {output / path}")


@deploy_app.command("platform")
def platform(
    root: Annotated[
        Path, typer.Option(help="The repository root (files go to ROOT/deploy/server/).")
    ] = Path("."),
    project: ProjectOption = "my-gcp-project",
    region: RegionOption = "europe-west1",
    namespace: NamespaceOption = "modelyard",
) -> None:
    """Write the platform server's Dockerfile, Kubernetes and Terraform files (deploy/server/)."""
    from modelyard.deploy.generate import generate_platform

    tree = generate_platform(root, _options(project, region, namespace))
    for path in sorted(tree.files):
        out.console.print(f"  wrote {root / path}")


@deploy_app.command("ci")
def ci(
    provider: Annotated[str, typer.Option(help="github or cloudbuild.")],
    output: OutOption,
    deployment: Annotated[
        str | None,
        typer.Argument(
            help="The deployment released (default: ./deployment.yaml, or the only stored one)."
        ),
    ] = None,
    pipeline: Annotated[
        str, typer.Option(help="The training pipeline, FILE:FUNCTION.")
    ] = "pipelines/train.py:train",
    deploy_dir: Annotated[
        str, typer.Option(help="Where the generated deployment files are committed.")
    ] = "",
    project: ProjectOption = "my-gcp-project",
    region: RegionOption = "europe-west1",
    namespace: NamespaceOption = "modelyard",
    canary_weight: Annotated[int, typer.Option(help="Percent of production traffic.")] = 10,
    canary_minutes: Annotated[int, typer.Option(help="How long the canary is watched.")] = 15,
    latency_budget_ms: Annotated[int, typer.Option(help="p95 budget of smoke and canary.")] = 200,
) -> None:
    """Write CI/CD workflow templates: validate pull requests, release on merge."""
    from modelyard.deploy import ci as ci_templates
    from modelyard.deploy.options import write_tree
    from modelyard.deploy.spec import endpoint_workload, load_target, resolve_models

    target = deployment or _default_target()
    spec = load_target(target, _yard())
    workload = endpoint_workload(spec, resolve_models(spec, _yard()))
    files = ci_templates.render(
        workload,
        _options(project, region, namespace),
        provider,  # type: ignore[arg-type]
        target=target,
        pipeline=pipeline,
        deploy_dir=deploy_dir or f"deploy/{workload.name}",
        generated_by=f"modelyard deploy ci {target} --provider {provider}",
        canary_weight=canary_weight,
        canary_minutes=canary_minutes,
        latency_budget_ms=latency_budget_ms,
    )
    for path in write_tree(files, output):
        out.console.print(f"  wrote {path}")


@deploy_app.command("known-answer")
def known_answer(
    ref: Annotated[str, typer.Argument(help="Model version, e.g. credit-risk/3.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="JSON file to write.")],
    rows: Annotated[int, typer.Option(help="Rows of the stored input example.")] = 5,
) -> None:
    """Write a known-answer file for 'modelyard smoke': inputs and the version's own outputs."""
    from modelyard.deploy.smoke import known_answer_from_registry, write_known_answer

    if rows < 1:
        raise InvalidInput(f"--rows must be at least 1; got {rows}")
    answer = known_answer_from_registry(_yard(), ref, rows)
    write_known_answer(answer, output)
    out.console.print(
        f"wrote {output}: {len(answer.records)} rows of {answer.model}/{answer.version}"
    )


@deploy_app.command("wait-approvals")
def wait_approvals(
    ref: Annotated[str, typer.Argument(help="Model version, e.g. credit-risk/3.")],
    alias: Annotated[str, typer.Option(help="The alias the release will move.")] = "champion",
    timeout_s: Annotated[float, typer.Option(help="Give up after this many seconds.")] = 3600,
    interval_s: Annotated[float, typer.Option(help="Seconds between checks.")] = 30,
) -> None:
    """Wait until REF has every sign-off its policy requires (exit 1 when rejected or timed out)."""
    from modelyard.deploy.ci import wait_for_approvals

    roles = wait_for_approvals(
        _yard(),
        ref,
        alias=alias,
        timeout_s=timeout_s,
        interval_s=interval_s,
        report=lambda line: out.err_console.print(line),
    )
    out.console.print(f"{ref}: signed off ({', '.join(roles) or 'no sign-off required'})")


@deploy_app.command("canary-check")
def canary_check(
    prometheus: Annotated[str, typer.Option(help="Prometheus base URL.")],
    endpoint: Annotated[str, typer.Option(help="The endpoint's name.")],
    route: Annotated[str, typer.Option(help="The canary's route name.")] = "canary",
    duration_s: Annotated[float, typer.Option(help="How long to watch.")] = 900,
    interval_s: Annotated[float, typer.Option(help="Seconds between checks.")] = 30,
    max_error_rate: Annotated[float, typer.Option(help="Largest 5xx share allowed.")] = 0.01,
    latency_budget_ms: Annotated[float, typer.Option(help="Largest p95 allowed.")] = 200,
) -> None:
    """Watch a canary in Prometheus; exit non-zero at the first error, latency or alert breach."""
    from modelyard.deploy.canary import watch_canary

    result = watch_canary(
        prometheus,
        endpoint,
        route=route,
        duration_s=duration_s,
        interval_s=interval_s,
        max_error_rate=max_error_rate,
        latency_budget_ms=latency_budget_ms,
        report=lambda line: out.err_console.print(line),
    )
    out.console.print(
        f"canary healthy over {result.rounds} checks: worst error rate "
        f"{result.worst_error_rate:.2%}, worst p95 {result.worst_p95_ms:.0f} ms"
    )


@deploy_app.command("ci-summary")
def ci_summary(
    result: Annotated[Path, typer.Argument(help="The output of 'modelyard pipeline run --json'.")],
    title: Annotated[str, typer.Option(help="Heading of the summary.")] = "Model validation",
) -> None:
    """Print a pull request's validation summary (Markdown) from a pipeline result."""
    from modelyard.deploy.ci import pipeline_summary

    print(pipeline_summary(result, title), end="")


def _headers(items: list[str] | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            raise InvalidInput(f"--header takes 'Name: value'; got {item!r}")
        headers[name.strip()] = value.strip()
    return headers


def _registry_configured() -> bool:
    return bool(os.environ.get("MODELYARD_STORE_URL")) or Path(".modelyard").is_dir()


def smoke(
    url: Annotated[
        str, typer.Argument(help="Base URL of the endpoint, e.g. http://127.0.0.1:8080")
    ],
    model: Annotated[str, typer.Option(help="The endpoint (model) name to check.")],
    expect_known_answer: Annotated[
        Path | None,
        typer.Option(
            help="Known-answer JSON ('modelyard deploy known-answer'); default: built from "
            "the registry for the version the endpoint serves."
        ),
    ] = None,
    latency_budget_ms: Annotated[float, typer.Option(help="Largest p95 latency allowed.")] = 200,
    requests: Annotated[int, typer.Option(help="Requests timed for the latency check.")] = 50,
    tolerance: Annotated[float, typer.Option(help="Largest |difference| allowed.")] = 1e-6,
    timeout_s: Annotated[float, typer.Option(help="Timeout of each request.")] = 10,
    wait_s: Annotated[float, typer.Option(help="Wait this long for readiness.")] = 0,
    header: Annotated[
        list[str] | None, typer.Option(help="'Name: value' sent with every request (repeat).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check an endpoint: health, metadata, a known answer and a latency budget."""
    from modelyard.deploy.smoke import KnownAnswer, run_smoke

    answer = KnownAnswer.from_file(expect_known_answer) if expect_known_answer else None
    report = run_smoke(
        url,
        model,
        known_answer=answer,
        yard=_yard() if answer is None and _registry_configured() else None,
        latency_budget_ms=latency_budget_ms,
        requests=requests,
        tolerance=tolerance,
        timeout_s=timeout_s,
        wait_s=wait_s,
        headers=_headers(header),
    )
    if as_json:
        out.print_json(report.to_dict())
    else:
        for check in report.checks:
            mark = "[green]ok[/green]  " if check.ok else "[red]FAIL[/red]"
            out.console.print(f"{mark} {check.name}: {check.detail}", soft_wrap=True)
    if not report.ok:
        out.err_console.print(f"smoke failed: {report.failure}", soft_wrap=True, markup=False)
        raise typer.Exit(1)
