"""``modelyard models``: the registry from the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.tree import Tree

from modelyard.cli import _output as out
from modelyard.cli._context import yard
from modelyard.cli.policy import policy_app
from modelyard.errors import InvalidInput

models_app = typer.Typer(
    help="Registered models, versions, aliases and sign-offs.", no_args_is_help=True
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _split_ref(ref: str) -> tuple[str, str]:
    if "/" not in ref:
        raise InvalidInput(f"give a version such as credit-risk/3; got {ref!r}")
    name, _, number = ref.rpartition("/")
    return name, number


@models_app.command("create")
def create(
    name: str,
    description: Annotated[str, typer.Option(help="What the model decides.")] = "",
    owner: Annotated[str | None, typer.Option(help="Accountable owner (default: you).")] = None,
    risk_tier: Annotated[int, typer.Option("--risk-tier", help="1 high, 2 medium, 3 low.")] = 1,
    as_json: JsonOption = False,
) -> None:
    """Create a model (risk tier 1, the strictest policy, unless told)."""
    info = yard().models.create(name, description=description, owner=owner, risk_tier=risk_tier)
    if as_json:
        out.print_json(info.to_dict())
        return
    out.console.print(f"created model {info.name} (tier {info.risk_tier}, owner {info.owner})")


@models_app.command("list")
def list_models(as_json: JsonOption = False) -> None:
    """List models with their latest version and aliases."""
    models = yard().models.list()
    if as_json:
        out.print_json([m.to_dict() for m in models])
        return
    out.table(
        "Models",
        ["name", "tier", "owner", "latest", "aliases", "description"],
        (
            (
                m.name,
                m.risk_tier,
                m.owner,
                m.latest_version,
                ", ".join(f"{a}→{v}" for a, v in m.aliases.items()),
                m.description,
            )
            for m in models
        ),
    )


@models_app.command("show")
def show(name: str, as_json: JsonOption = False) -> None:
    """Show a model, its policy and its versions."""
    y = yard()
    model = y.models.get_model(name)
    versions = y.models.versions(name, limit=20)
    policy = y.models.policy(name)
    if as_json:
        out.print_json(
            {
                **model.to_dict(),
                "effective_policy": policy.to_dict(),
                "versions": [v.to_dict() for v in versions],
            }
        )
        return
    out.console.print(
        f"[bold]{model.name}[/bold]  tier {model.risk_tier}  owner {model.owner}\n"
        f"{model.description}\n"
        f"protected aliases: {', '.join(policy.protected_aliases)}; "
        f"sign-offs needed: {', '.join(policy.required_roles) or 'none'}"
    )
    _versions_table(versions)


def _scorer(v: Any, *, short: bool = False) -> str:
    """The version's scorer as its compile report records it (see modelyard.compiled.report)."""
    from modelyard.compiled.report import COMPILE_REPORT, describe_scorer

    report = v.artifact(COMPILE_REPORT)
    if short:
        return str(report.details.get("scorer") or "-") if report is not None else "-"
    return describe_scorer(report.details if report is not None else None)


def _versions_table(versions: list[Any]) -> None:
    out.table(
        "Versions",
        ["version", "state", "aliases", "flavor", "scorer", "auc", "by", "registered"],
        (
            (
                v.version,
                v.state,
                ", ".join(v.aliases),
                v.flavor,
                _scorer(v, short=True),
                (
                    v.metrics.get("validation")
                    or v.metrics.get("evaluation")
                    or v.metrics.get("training")
                    or {}
                ).get("auc"),
                v.created_by,
                out.when(v.created_at),
            )
            for v in versions
        ),
    )


@models_app.command("versions")
def versions(name: str, as_json: JsonOption = False) -> None:
    """List a model's versions, newest first."""
    found = yard().models.versions(name)
    if as_json:
        out.print_json([v.to_dict() for v in found])
        return
    _versions_table(found)


@models_app.command("get")
def get(
    ref: Annotated[str, typer.Argument(help="name/3, name@alias or name@latest")],
    as_json: JsonOption = False,
) -> None:
    """Show one version: metrics, datasets, sign-offs, files."""
    v = yard().models.get(ref)
    if as_json:
        out.print_json(v.to_dict())
        return
    out.console.print(
        f"[bold]{v.ref}[/bold]  {v.state}  aliases: {', '.join(v.aliases) or '-'}  "
        f"flavor {v.flavor} ({v.task})\n"
        f"registered by {v.created_by} at {out.when(v.created_at)}  run {v.run_id or '-'}\n"
        f"artifact {v.artifact_digest}\n{_format_text(v)}"
    )
    out.console.print(f"scorer {_scorer(v)}", soft_wrap=True, markup=False)
    rows = [
        (src, k, val)
        for src, metrics in sorted(v.metrics.items())
        for k, val in sorted(metrics.items())
    ]
    out.table("Metrics", ["source", "metric", "value"], rows)
    out.table("Datasets", ["dataset", "role"], v.datasets)
    out.table(
        "Sign-offs",
        ["role", "user", "decision", "comment", "when"],
        ((a.role, a.user, a.decision, a.comment, out.when(a.created_at)) for a in v.approvals),
    )
    out.table(
        "Files", ["name", "kind", "digest"], ((a.name, a.kind, a.digest[7:19]) for a in v.artifacts)
    )


@models_app.command("register")
def register(
    name: str,
    path: Annotated[
        Path, typer.Argument(help="A pickled model (.pkl) or a saved model directory.")
    ],
    example: Annotated[
        Path | None, typer.Option(help="Parquet/CSV of training inputs (signature).")
    ] = None,
    run: Annotated[str | None, typer.Option(help="The training run's id.")] = None,
    description: Annotated[str, typer.Option()] = "",
    unseen: Annotated[
        str | None,
        typer.Option(
            help="Categories not seen in training: score (with a warning) or reject. "
            "Default: as the registration probe shows the model copes."
        ),
    ] = None,
    nulls: Annotated[
        str | None,
        typer.Option(help="Nulls in columns that had none in training: score or reject."),
    ] = None,
    trusted_code: Annotated[
        bool,
        typer.Option(
            "--trusted-code",
            help="Store the model as a pickle (code): only you may load it until it has "
            "its sign-offs. Default: a data format (skops, LightGBM text, XGBoost JSON, ONNX).",
        ),
    ] = False,
    reasons: Annotated[
        Path | None, typer.Option(help="The reviewed reason table (JSON or YAML).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Register a model file as the next version of NAME (stored as data unless --trusted-code).

    The version's domain (categories, ranges, nulls) comes from the run's input
    datasets when --run is given, else from --example.
    """
    import pickle

    import pandas as pd

    if not path.exists():
        raise InvalidInput(f"model path {str(path)!r} does not exist")
    frame = None
    if example is not None:
        if not example.exists():
            raise InvalidInput(f"--example {str(example)!r} does not exist")
        frame = pd.read_csv(example) if example.suffix == ".csv" else pd.read_parquet(example)
    if path.is_dir():
        from modelyard.flavors import load_model

        model = load_model(path, trusted_code=True).native  # the operator's own directory
    else:
        # The operator names a local file they trust; it is hashed on registration.
        model = pickle.loads(path.read_bytes())
    y = yard()
    run_id = y.runs.resolve_id(run) if run else None
    policy = {k: v for k, v in (("unseen", unseen), ("nulls", nulls)) if v is not None}
    table = None
    if reasons is not None:
        from modelyard.explain import read_table_file

        table = read_table_file(reasons)
    v = y.models.register(
        name,
        model,
        example=frame,
        run=run_id,
        description=description,
        input_policy=policy or None,
        trusted_code=trusted_code,
        reasons=table,
    )
    if as_json:
        out.print_json(v.to_dict())
        return
    out.console.print(f"registered {v.ref} ({v.flavor}, {v.task}) digest {v.artifact_digest[7:19]}")


@models_app.command("alias")
def alias(
    name: str,
    alias_name: Annotated[str, typer.Argument(metavar="ALIAS")],
    version: Annotated[
        int | None, typer.Argument(help="Version number; omit with --delete.")
    ] = None,
    delete: Annotated[bool, typer.Option("--delete", help="Remove the alias.")] = False,
) -> None:
    """Point NAME@ALIAS at a version (protected aliases need the policy's sign-offs)."""
    y = yard()
    if delete:
        y.models.delete_alias(name, alias_name)
        out.console.print(f"deleted {name}@{alias_name}")
        return
    if version is None:
        raise InvalidInput(
            "give the version number, e.g. 'modelyard models alias credit-risk champion 3'"
        )
    v = y.models.set_alias(name, alias_name, version)
    out.console.print(f"{name}@{alias_name} → {v.version} ({v.state})")


@models_app.command("approve")
def approve(
    ref: str,
    comment: Annotated[str, typer.Option("--comment", "-m")] = "",
    role: Annotated[
        str | None, typer.Option(help="validator or approver (default: your pending one).")
    ] = None,
) -> None:
    """Sign a version off as the user your token proves; four-eyes enforced."""
    v = yard().models.approve(ref, comment=comment, role=role)
    missing = yard().models.missing_sign_offs(v.ref)
    last = v.approvals[-1]
    out.console.print(
        f"{v.ref} signed off by {last.user} as {last.role}; state {v.state}; "
        f"still needed for champion: {', '.join(missing) or 'nothing'}\n{_format_text(v)}"
    )


def _format_text(v: Any) -> str:
    """How the model is stored — what a signer vouches for when it is trusted code."""
    from rich.markup import escape

    from modelyard.registry.trusted_code import format_facts

    facts = format_facts(v)
    text = f"model stored as {facts['label']}"
    if facts["model_format"] == "skops":
        text += f"\nskops types beyond skops' own: {', '.join(facts['skops_types']) or 'none'}"
    return escape(text)


@models_app.command("reject")
def reject(
    ref: str,
    comment: Annotated[str, typer.Option("--comment", "-m", help="Why (required).")],
    role: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Record a rejection; it withdraws the role's earlier sign-off."""
    v = yard().models.reject(ref, comment=comment, role=role)
    out.console.print(f"{v.ref} rejected by {v.approvals[-1].user}; state {v.state}")


@models_app.command("archive")
def archive(ref: str) -> None:
    """Archive a version (it can no longer take aliases)."""
    v = yard().models.archive(ref)
    out.console.print(f"{v.ref} archived")


def _dataset_tree(parent: Tree, node: dict[str, Any]) -> None:
    label = f"dataset [bold]{node['ref']}[/bold] {node['num_rows']:,} rows {node['digest'][7:19]}"
    if node.get("role"):
        label += f" ({node['role']})"
    branch = parent.add(label)
    for p in node["parents"]:
        _dataset_tree(branch, p)


@models_app.command("lineage")
def lineage(ref: str, as_json: JsonOption = False) -> None:
    """Print the lineage tree: version → run → datasets → their parents."""
    tree = yard().models.lineage(ref)
    if as_json:
        out.print_json(tree)
        return
    root = Tree(f"model [bold]{tree['ref']}[/bold] {tree['state']} {', '.join(tree['aliases'])}")
    parent = root
    if tree["run"]:
        r = tree["run"]
        code = (
            f" code {r['git_commit'][:10]}{'+dirty' if r['git_dirty'] else ''}"
            if r["git_commit"]
            else ""
        )
        parent = root.add(f"run [bold]{r['name']}[/bold] {r['id'][:8]} {r['status']}{code}")
    for node in tree["datasets"]:
        _dataset_tree(parent, node)
    out.console.print(root)


@models_app.command("validate")
def validate(
    ref: str,
    data: Annotated[str, typer.Option("--data", help="Labelled dataset, e.g. loans-holdout/1.")],
    target: Annotated[str | None, typer.Option(help="Label column (default: recorded).")] = None,
    fairness: Annotated[str | None, typer.Option(help="Attribute for the fairness view.")] = None,
    segment: Annotated[
        list[str] | None, typer.Option(help="Column to break performance by.")
    ] = None,
    threshold: Annotated[float, typer.Option(help="Decision threshold.")] = 0.5,
    reference: Annotated[
        str | None,
        typer.Option(help="Training data for the score PSI (default: the version's)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Validate a version on a dataset; writes a self-contained HTML report."""
    outcome = yard().models.validate(
        ref,
        data,
        target=target,
        reference=reference,
        fairness_attribute=fairness,
        segment_by=segment or (),
        threshold=threshold,
    )
    if as_json:
        out.print_json(
            {
                "ref": outcome.ref,
                "metrics": outcome.metrics,
                "report": str(outcome.report_path),
                "reference": outcome.reference,
            }
        )
        return
    keys = ("auc", "gini", "ks", "brier", "psi_scores", "approval_rate_ratio", "tpr_gap")
    out.table(
        f"Validation of {outcome.ref}",
        ["metric", "value"],
        ((k, outcome.metrics.get(k)) for k in keys if k in outcome.metrics),
    )
    if outcome.reference:
        out.console.print(
            f"score PSI against the {outcome.reference}", highlight=False, markup=False
        )
    else:
        out.console.print(
            "score PSI: not measured (no training data recorded; pass --reference)",
            highlight=False,
        )
    out.console.print(f"report: {outcome.report_path}")


@models_app.command("card")
def card(ref: str) -> None:
    """Render the model card (Markdown and HTML) from the registry."""
    outcome = yard().models.card(ref)
    out.console.print(f"model card: {outcome.markdown_path}\n            {outcome.html_path}")


@models_app.command("compile")
def compile_(
    ref: str,
    target: Annotated[str, typer.Option(help="Only 'onnx' today.")] = "onnx",
    data: Annotated[str | None, typer.Option(help="Held-out dataset for the parity check.")] = None,
    tolerance: Annotated[
        float, typer.Option(help="Largest allowed probability difference.")
    ] = 1e-5,
) -> None:
    """Compile to ONNX and check parity; a failed check leaves the native model in use."""
    parity = yard().models.compile(ref, target, data=data, tolerance=tolerance)
    verdict = "[green]passed[/green]" if parity.passed else "[red]FAILED (not usable)[/red]"
    out.console.print(
        f"{ref}: ONNX parity {verdict}: max |Δp| {parity.max_abs_diff:.2e} "
        f"(tolerance {parity.tolerance:g}) over {parity.rows} rows, "
        f"labels equal: {parity.labels_equal}"
    )
    if not parity.passed:
        raise typer.Exit(1)


@models_app.command("import-mlflow")
def import_mlflow(
    path: Annotated[Path, typer.Argument(help="An MLflow model directory (with MLmodel).")],
    name: Annotated[str, typer.Option("--name", help="Model to register it under.")],
    description: Annotated[str, typer.Option()] = "",
) -> None:
    """Import an MLflow model directory (sklearn or LightGBM flavor) as a new version."""
    v = yard().models.import_mlflow(name, path, description=description)
    out.console.print(f"imported {path} as {v.ref} ({v.flavor})")


models_app.add_typer(policy_app, name="policy")


@models_app.command("reasons")
def reasons(
    ref: str,
    path: Annotated[
        Path | None,
        typer.Argument(help="The reason table (JSON or YAML); leave out to show the current one."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Register a version's reason table (every input column a reason or excluded), or show it."""
    from modelyard.explain import read_table_file

    models = yard().models
    if path is not None:
        models.set_reasons(ref, read_table_file(path))
    table = models.reason_table(ref)
    if as_json:
        out.print_json(table.to_dict() if table is not None else None)
        return
    if table is None:
        out.console.print(
            f"{ref} has no reviewed reason table: explanations give column names as codes"
        )
        return
    if path is not None:
        out.console.print(f"registered the reason table of {ref}")
    out.table(
        f"Reasons (adverse outcome: {table.adverse_outcome} score)",
        ["column", "code", "text", "direction"],
        [(c, r["code"], r["text"], r["direction"]) for c, r in table.reasons.items()]
        + [(c, "excluded", note, "") for c, note in table.excluded.items()],
    )


@models_app.command("document")
def document(
    ref: str,
    output: Annotated[
        Path | None, typer.Option(help="Folder to write to (default: <home>/reports/...).")
    ] = None,
) -> None:
    """Write the version's technical documentation (HTML and Markdown) from the platform."""
    from modelyard.documentation import document as write_document

    outcome = write_document(yard(), ref, output)
    out.console.print(f"documentation: {outcome.html_path}\n               {outcome.markdown_path}")
    if not outcome.attached:
        out.console.print(
            f"not attached to {outcome.ref}: the platform server takes no attachments; "
            "the files above are local only"
        )
    if outcome.not_recorded:
        out.console.print(f"not recorded: {', '.join(outcome.not_recorded)}")
