"""Validation reports, model cards and ONNX compilation of registered versions.

Each operation reads the version's verified files, does its work, stores the
result in the artifact store, attaches it to the version (an audited change)
and writes a copy under ``<home>/reports/`` for people to open. The work that
calls the model (:mod:`modelyard.registry.model_work`) runs in this process,
or — in the platform server, which never loads a model itself — in a worker
process (:mod:`modelyard.registry.isolation`) that answers with data.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from modelyard._util.clock import ms_to_iso
from modelyard.errors import InvalidInput
from modelyard.registry import model_work
from modelyard.registry.entities import ModelVersionInfo
from modelyard.registry.isolation import run_model_job
from modelyard.registry.training_data import TRAINING_ROLES  # noqa: F401  (re-exported)
from modelyard.registry.trusted_code import format_facts, is_trusted_code

VALIDATION_REPORT = "validation_report.html"
CARD_MARKDOWN = "model_card.md"
CARD_HTML = "model_card.html"
COMPILED_ONNX = "onnx"
PARITY_ROWS = model_work.PARITY_ROWS


@dataclass(frozen=True)
class ValidationOutcome:
    ref: str
    metrics: dict[str, float]
    report_path: Path
    report_digest: str
    reference: str | None = None  # what the score PSI compared with (None: no PSI)


@dataclass(frozen=True)
class CardOutcome:
    ref: str
    markdown_path: Path
    html_path: Path


def report_path(home: Path, info: ModelVersionInfo, name: str) -> Path:
    folder = home / "reports" / info.name / f"v{info.version}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def target_column(info: ModelVersionInfo, target: str | None) -> str:
    chosen = target or info.tags.get("target")
    if not chosen:
        raise InvalidInput(
            f"{info.ref} records no target column; pass target=... "
            "(or register the version with target=...)"
        )
    return chosen


def features_of(loaded: Any, info: ModelVersionInfo) -> list[str]:
    signature = getattr(loaded, "signature", None)
    if signature is None:
        raise InvalidInput(f"{info.ref} has no input signature; register it with example=...")
    return [c.name for c in signature.inputs]


def recorded_features(info: ModelVersionInfo) -> list[str]:
    """The input columns from the registry's copy of the manifest (no model loaded)."""
    signature = info.signature
    if not signature or not signature.get("inputs"):
        raise InvalidInput(f"{info.ref} has no input signature; register it with example=...")
    return [c["name"] for c in signature["inputs"]]


def _in_worker(models: Any, op: str, info: ModelVersionInfo, **job: Any) -> Any:
    """``run_model_job`` for ``info`` once the acting user may run its code at all."""
    models.require_loadable(info, worker=True)
    return run_model_job(
        op,
        models.local_path(info.ref),
        ref=info.ref,
        trusted_code=is_trusted_code(info),
        trusted_types=models.trusted_types,
        **job,
    )


def validate_version(
    models: Any,
    info: ModelVersionInfo,
    data: pd.DataFrame,
    *,
    target: str | None,
    reference: pd.DataFrame | None,
    reference_name: str | None = None,
    segment_by: Sequence[str] = (),
    fairness_attribute: str | None = None,
    threshold: float = 0.5,
    home: Path,
    dataset_ref: str | None = None,
) -> ValidationOutcome:
    """Score ``data`` (out-of-domain values too, see ``registry.scoring``), write and
    attach the validation report, record its headline figures."""
    column = target_column(info, target)
    params = {
        "name": info.name,
        "version": info.version,
        "target": column,
        "features": recorded_features(info),
        "segment_by": list(segment_by),
        "fairness_attribute": fairness_attribute,
        "threshold": threshold,
        "reference_name": reference_name,
    }
    if models.code_out_of_process:
        job = {"inputs": {"data": data, "reference": reference}, "params": params}
        with _in_worker(models, "validate", info, **job) as result:
            text = (result.out / "report.html").read_text("utf-8")
            headline = {k: float(v) for k, v in result.body["metrics"].items()}
    else:
        loaded = models.load(info.ref)
        work = model_work.validation_work(loaded, data, reference=reference, **params)
        text, headline = work.html, work.metrics
    html = text.encode()
    digest = models._artifacts.put_bytes(html)
    path = report_path(home, info, VALIDATION_REPORT)
    path.write_bytes(html)
    models.log_metrics(info.ref, headline, source="validation")
    models.attach(
        info.ref,
        VALIDATION_REPORT,
        digest,
        kind="report",
        details={
            "dataset": dataset_ref,
            "reference": reference_name,
            "target": column,
            "metrics": headline,
        },
        state="validated",
    )
    return ValidationOutcome(
        info.ref, headline, path, digest, reference_name if reference is not None else None
    )


def compile_version(
    models: Any, info: ModelVersionInfo, sample: pd.DataFrame, *, tolerance: float
) -> Any:
    """Convert to ONNX, check parity on ``sample``, store the compiled form with its verdict."""
    from modelyard.flavors import ModelManifest, ParityResult, save_compiled

    manifest = ModelManifest.from_dict(info.manifest)
    sample = model_work.parity_sample(sample, recorded_features(info))
    if models.code_out_of_process:
        job = {"inputs": {"data": sample}, "params": {"tolerance": tolerance}}
        with _in_worker(models, "compile", info, **job) as result:
            onnx_bytes = (result.out / "model.onnx").read_bytes()
            parity = ParityResult.from_dict(result.body["parity"])
    else:
        work = model_work.compile_work(models.load(info.ref), sample, tolerance=tolerance)
        onnx_bytes, parity = work.onnx_bytes, ParityResult.from_dict(work.parity)
    with tempfile.TemporaryDirectory(prefix="modelyard-onnx-") as tmp:
        target = Path(tmp) / "compiled"
        save_compiled(
            target, onnx_bytes, parity, signature=manifest.signature, classes=manifest.classes
        )
        digest = models._artifacts.put_dir(target)
    models.attach(
        info.ref,
        COMPILED_ONNX,
        digest,
        kind="compiled",
        details={"target": "onnx", "usable": parity.passed, "parity": parity.to_dict()},
    )
    return parity


def card_dict(
    models: Any,
    info: ModelVersionInfo,
    *,
    get_run: Callable[[str], Any],
    get_dataset: Callable[[str], Any],
) -> dict[str, Any]:
    """Assemble the model card's content from the registry, the run and the datasets."""
    model = models.get_model(info.name)
    run = None
    if info.run_id:
        r = get_run(info.run_id)
        run = {
            "id": r.id,
            "name": r.name,
            "params": r.params,
            "metrics": r.metrics,
            "git_commit": r.git_commit,
            "git_dirty": r.git_dirty,
            "python_version": r.python_version,
        }
    datasets = []
    for ref, role in info.datasets:
        d = get_dataset(ref)
        columns = [
            {
                "name": name,
                "kind": col.get("kind"),
                "null_rate": col.get("null_rate"),
                "min": col.get("min"),
                "max": col.get("max"),
                "top": [v for v, _ in (col.get("top") or [])[:5]],
            }
            for name, col in (d.profile.get("columns") or {}).items()
        ]
        datasets.append(
            {
                "ref": ref,
                "role": role,
                "num_rows": d.num_rows,
                "digest": d.digest,
                "columns": columns,
            }
        )
    validation = None
    report = info.artifact(VALIDATION_REPORT)
    if report is not None:
        validation = {
            "report_path": str(report_path(models._home, info, VALIDATION_REPORT)),
            "metrics": info.metrics.get("validation", {}),
        }
    compiled = info.artifact(COMPILED_ONNX)
    onnx = None
    if compiled is not None:
        parity = compiled.details.get("parity", {})
        onnx = {"passed": bool(parity.get("passed")), "max_abs_diff": parity.get("max_abs_diff")}
    lineage = [
        f"dataset {ref} ({role}) -> run {info.run_id[:8] if info.run_id else '-'} -> {info.ref}"
        for ref, role in info.datasets
    ]
    metrics = {**info.metrics.get("training", {}), **info.metrics.get("evaluation", {})}
    table = models.reason_table(info)
    return {
        "name": info.name,
        "version": info.version,
        "description": info.description or model.description or "(no description recorded)",
        "owner": model.owner,
        "risk_tier": f"tier {model.risk_tier}",
        "purpose": model.description,
        "created_by": info.created_by,
        "created_at": ms_to_iso(info.created_at),
        "lifecycle_state": info.state,
        "aliases": list(info.aliases),
        "flavor": info.flavor,
        "task": info.task,
        "model_format": format_facts(info),
        "signature": info.signature,
        "training_run": run,
        "datasets": datasets,
        "metrics": metrics,
        "validation": validation,
        "approvals": [
            {
                "stage": a.role,
                "user": a.user,
                "role": a.role,
                "decision": a.decision,
                "comment": a.comment,
                "time": ms_to_iso(a.created_at),
            }
            for a in info.approvals
        ],
        "lineage": lineage,
        "limitations": [],
        "onnx": onnx,
        "reason_table": table.to_dict() if table is not None else None,
    }


def render_card(
    models: Any, info: ModelVersionInfo, card: dict[str, Any], home: Path
) -> CardOutcome:
    from modelyard.reports.card import render_model_card

    markdown, html = render_model_card(card)
    md_path = report_path(home, info, CARD_MARKDOWN)
    html_path = report_path(home, info, CARD_HTML)
    md_path.write_text(markdown, encoding="utf-8")
    html_path.write_text(html, encoding="utf-8")
    models.attach(
        info.ref, CARD_MARKDOWN, models._artifacts.put_bytes(markdown.encode()), kind="card"
    )
    models.attach(info.ref, CARD_HTML, models._artifacts.put_bytes(html.encode()), kind="card")
    return CardOutcome(info.ref, md_path, html_path)
