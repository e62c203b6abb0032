"""Validation reports, model cards and ONNX compilation of registered versions.

Each operation reads the version's verified files, does its work, stores the
result in the artifact store, attaches it to the version (an audited change)
and writes a copy under ``<home>/reports/`` for people to open.
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
from modelyard.registry.entities import ModelVersionInfo

VALIDATION_REPORT = "validation_report.html"
CARD_MARKDOWN = "model_card.md"
CARD_HTML = "model_card.html"
COMPILED_ONNX = "onnx"
TRAINING_ROLES = ("training", "train")
PARITY_ROWS = 2000


@dataclass(frozen=True)
class ValidationOutcome:
    ref: str
    metrics: dict[str, float]
    report_path: Path
    report_digest: str


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


def validate_version(
    models: Any,
    info: ModelVersionInfo,
    data: pd.DataFrame,
    *,
    target: str | None,
    reference: pd.DataFrame | None,
    segment_by: Sequence[str],
    fairness_attribute: str | None,
    threshold: float,
    home: Path,
    dataset_ref: str | None,
) -> ValidationOutcome:
    from modelyard.reports.validation import validate_model

    loaded = models.load(info.ref)
    features = features_of(loaded, info)
    column = target_column(info, target)
    result = validate_model(
        lambda frame: loaded.predict_proba(frame)[:, -1],
        data,
        target=column,
        features=features,
        model_name=info.name,
        version=info.version,
        reference_data=reference,
        segment_by=segment_by,
        fairness_attribute=fairness_attribute,
        threshold=threshold,
        model_for_importance=loaded.native,
    )
    html = result.html.encode()
    digest = models._artifacts.put_bytes(html)
    path = report_path(home, info, VALIDATION_REPORT)
    path.write_bytes(html)
    headline = {k: float(v) for k, v in result.metrics.items()}
    models.log_metrics(info.ref, headline, source="validation")
    models.attach(
        info.ref,
        VALIDATION_REPORT,
        digest,
        kind="report",
        details={"dataset": dataset_ref, "target": column, "metrics": headline},
        state="validated",
    )
    return ValidationOutcome(info.ref, headline, path, digest)


def compile_version(
    models: Any, info: ModelVersionInfo, sample: pd.DataFrame, *, tolerance: float
) -> Any:
    """Convert to ONNX, check parity on ``sample``, store the compiled form with its verdict."""
    from modelyard.flavors import check_parity, compile_onnx, save_compiled

    loaded = models.load(info.ref)
    features = features_of(loaded, info)
    missing = [f for f in features if f not in sample.columns]
    if missing:
        raise InvalidInput(f"the parity sample lacks column(s) {missing}")
    sample = sample[features].head(PARITY_ROWS)
    onnx_bytes = compile_onnx(loaded.native, sample)
    parity = check_parity(loaded, onnx_bytes, sample, tolerance=tolerance)
    with tempfile.TemporaryDirectory(prefix="modelyard-onnx-") as tmp:
        target = Path(tmp) / "compiled"
        save_compiled(
            target, onnx_bytes, parity, signature=loaded.signature, classes=loaded.classes
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
