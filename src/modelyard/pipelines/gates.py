"""Gates: declarative checks between evaluation and promotion.

    gates = [
        threshold("auc", ">=", 0.75),                  # absolute
        non_inferior("auc", margin=0.005),              # auc >= champion.auc - 0.005, same holdout
        fairness("approval_rate_ratio", ">=", 0.8),     # four-fifths rule
        quality_pass(),                                 # no data-quality error on the holdout
        stability("psi_scores", "<=", 0.1),             # scores stable against training
    ]
    results = enforce_gates(yard, gates, gather_evidence(yard, version, holdout, gates=gates))

``parse_gate("auc >= champion.auc - 0.005")`` reads the same from text.
Each gate gives a ``GateResult(name, passed, observed, required, margin_by)``;
``margin_by`` is the slack (positive: passed with room; negative: failed by
that much). ``enforce_gates`` writes every result to the run (metrics
``gate.<name>.*`` and tags), tags the candidate version, appends a
``gate.pass`` or ``gate.fail`` audit event for ``model/<name>`` and raises
``GateFailed`` naming each failed gate and by how much.

Non-inferiority compares like with like: the champion is re-scored on the
candidate's holdout rather than trusting a figure measured on other data.
A gate whose figure was not measured fails: a gate that cannot be checked
must not let a model through.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from modelyard.errors import InvalidInput, NotFound
from modelyard.pipelines.errors import GateFailed

if TYPE_CHECKING:
    import pandas as pd

    from modelyard.yard import Yard

__all__ = [
    "Evidence",
    "Gate",
    "GateResult",
    "enforce_gates",
    "evaluate_gates",
    "fairness",
    "gather_evidence",
    "non_inferior",
    "parse_gate",
    "quality_pass",
    "stability",
    "threshold",
]

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}
# Metrics where lower is better; non-inferiority flips its direction for them.
LOWER_IS_BETTER = frozenset({"brier", "log_loss", "calibration_error", "psi_scores", "tpr_gap"})
KINDS = ("threshold", "non_inferior", "fairness", "quality", "stability")


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict. ``margin_by`` > 0: passed with that much room; < 0: failed by it."""

    name: str
    kind: str
    metric: str
    passed: bool
    observed: float | None
    required: float | None
    margin_by: float | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "metric": self.metric,
            "passed": self.passed,
            "observed": self.observed,
            "required": self.required,
            "margin_by": self.margin_by,
            "detail": self.detail,
        }


@dataclass
class Evidence:
    """What the gates look at, all measured on one holdout."""

    metrics: dict[str, float]
    candidate: str = "candidate"
    champion: str | None = None
    champion_metrics: dict[str, float] | None = None
    quality_errors: list[str] | None = None
    holdout: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate,
            "champion": self.champion,
            "holdout": self.holdout,
            "metrics": self.metrics,
            "champion_metrics": self.champion_metrics,
            "quality_errors": self.quality_errors,
        }


def _fmt(value: float | None) -> str:
    return "not measured" if value is None else f"{value:.4f}"


@dataclass(frozen=True)
class Gate:
    """One check; build it with ``threshold``, ``non_inferior``, ``fairness``,
    ``quality_pass`` or ``stability``."""

    kind: str
    metric: str
    op: str
    value: float | None = None
    margin: float = 0.0
    label: str = field(default="", compare=False)

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        if self.kind == "non_inferior":
            return f"non_inferior:{self.metric}"
        if self.kind == "quality":
            return "quality"
        return f"{self.kind}:{self.metric}"

    def describe(self) -> str:
        if self.kind == "non_inferior":
            sign = "-" if self.op in (">=", ">") else "+"
            return f"{self.metric} {self.op} champion.{self.metric} {sign} {self.margin:g}"
        if self.kind == "quality":
            return f"data-quality errors <= {self.value:g}"
        return f"{self.metric} {self.op} {self.value:g}"

    def evaluate(self, evidence: Evidence) -> GateResult:
        if self.kind == "quality":
            errors = evidence.quality_errors
            observed = None if errors is None else float(len(errors))
            return self._verdict(observed, float(self.value or 0), "", errors)
        observed = evidence.metrics.get(self.metric)
        if self.kind != "non_inferior":
            return self._verdict(observed, float(self.value), "")  # type: ignore[arg-type]
        if evidence.champion is None:
            return GateResult(
                name=self.name,
                kind=self.kind,
                metric=self.metric,
                passed=True,
                observed=observed,
                required=None,
                margin_by=None,
                detail=f"no champion yet: nothing to compare ({self.metric} {_fmt(observed)})",
            )
        base = (evidence.champion_metrics or {}).get(self.metric)
        if base is None:
            return self._verdict(None, None, f" (champion {evidence.champion} not measured)")
        lower_better = self.op in ("<=", "<")
        required = base + self.margin if lower_better else base - self.margin
        sign = "+" if lower_better else "-"
        note = f" (champion {evidence.champion} {base:.4f} {sign} {self.margin:g})"
        return self._verdict(observed, required, note)

    def _verdict(
        self,
        observed: float | None,
        required: float | None,
        note: str,
        problems: Sequence[str] | None = None,
    ) -> GateResult:
        if observed is None or required is None or not math.isfinite(observed):
            return GateResult(
                name=self.name,
                kind=self.kind,
                metric=self.metric,
                passed=False,
                observed=observed,
                required=required,
                margin_by=None,
                detail=f"{self.metric} {_fmt(observed)}: cannot check {self.describe()}{note}",
            )
        passed = _OPS[self.op](observed, required)
        margin = observed - required if self.op in (">=", ">") else required - observed
        shown = "{:.0f}" if self.kind == "quality" else "{:.4f}"
        seen, limit, slack = (shown.format(v) for v in (observed, required, abs(margin)))
        if passed:
            detail = f"{self.metric} {seen} {self.op} {limit}{note}: passed by {slack}"
        else:
            detail = f"{self.metric} {seen} is not {self.op} {limit}{note}: failed by {slack}"
        if problems:
            detail += "; " + "; ".join(problems[:5])
        return GateResult(
            self.name, self.kind, self.metric, passed, observed, required, margin, detail
        )


def _check(metric: Any, op: str, value: Any, what: str) -> None:
    if not isinstance(metric, str) or not metric.strip():
        raise InvalidInput(f"{what}: the metric must be a name such as 'auc'; got {metric!r}")
    if op not in _OPS:
        raise InvalidInput(f"{what}: the operator must be one of {', '.join(_OPS)}; got {op!r}")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{what}: the limit must be a finite number; got {value!r}")


def threshold(metric: str, op: str, value: float, *, label: str = "") -> Gate:
    """An absolute limit: ``threshold("auc", ">=", 0.75)``."""
    _check(metric, op, value, "threshold")
    return Gate("threshold", metric, op, float(value), label=label)


def non_inferior(
    metric: str, margin: float = 0.0, *, higher_is_better: bool | None = None, label: str = ""
) -> Gate:
    """Not worse than the current champion by more than ``margin``, on the same holdout."""
    _check(metric, ">=", margin, "non_inferior")
    if margin < 0:
        raise InvalidInput(f"non_inferior: the margin must be >= 0; got {margin!r}")
    if higher_is_better is None:
        higher_is_better = metric not in LOWER_IS_BETTER
    return Gate(
        "non_inferior", metric, ">=" if higher_is_better else "<=", None, float(margin), label
    )


def fairness(
    metric: str = "approval_rate_ratio", op: str = ">=", value: float = 0.8, *, label: str = ""
) -> Gate:
    """A fairness limit on a validation figure (default: the four-fifths rule)."""
    _check(metric, op, value, "fairness")
    return Gate("fairness", metric, op, float(value), label=label)


def quality_pass(max_errors: int = 0, *, label: str = "") -> Gate:
    """No more than ``max_errors`` data-quality errors in the holdout against the training data."""
    if isinstance(max_errors, bool) or not isinstance(max_errors, int) or max_errors < 0:
        raise InvalidInput(f"quality_pass: max_errors must be an int >= 0; got {max_errors!r}")
    return Gate("quality", "quality_errors", "<=", float(max_errors), label=label)


def stability(
    metric: str = "psi_scores", op: str = "<=", value: float = 0.1, *, label: str = ""
) -> Gate:
    """A stability limit, by default the PSI of holdout scores against training scores."""
    _check(metric, op, value, "stability")
    return Gate("stability", metric, op, float(value), label=label)


_TEXT = re.compile(
    r"^\s*(?P<metric>[A-Za-z_][\w.]*)\s*(?P<op>>=|<=|>|<)\s*"
    r"(?:(?P<champ>champion\.(?P<cmetric>[A-Za-z_][\w.]*))\s*(?:(?P<sign>[-+])\s*(?P<margin>[\d.eE+-]+))?"
    r"|(?P<value>[-+]?[\d.]+(?:[eE][-+]?\d+)?))\s*$"
)


def parse_gate(text: str) -> Gate:
    """``"auc >= 0.75"`` or ``"auc >= champion.auc - 0.005"`` (also ``quality``)."""
    if isinstance(text, str) and text.strip() == "quality":
        return quality_pass()
    match = _TEXT.match(text) if isinstance(text, str) else None
    if not match:
        raise InvalidInput(
            f"gate {text!r}: write 'METRIC OP NUMBER' (auc >= 0.75) or "
            "'METRIC OP champion.METRIC - MARGIN' (auc >= champion.auc - 0.005)"
        )
    metric, op = match["metric"], match["op"]
    if match["champ"]:
        if match["cmetric"] != metric:
            raise InvalidInput(f"gate {text!r}: compare {metric} with champion.{metric}")
        margin = float(match["margin"] or 0)
        sign = match["sign"] or ("-" if op in (">=", ">") else "+")
        if (op in (">=", ">")) != (sign == "-"):
            raise InvalidInput(f"gate {text!r}: the margin must loosen the comparison")
        return non_inferior(metric, margin, higher_is_better=op in (">=", ">"))
    if metric.startswith("psi"):
        kind = "stability"
    elif metric in ("approval_rate_ratio", "tpr_gap"):
        kind = "fairness"
    else:
        kind = "threshold"
    value = float(match["value"])
    _check(metric, op, value, "gate")
    return Gate(kind, metric, op, value)


def evaluate_gates(gates: Sequence[Gate | str], evidence: Evidence) -> list[GateResult]:
    return [(parse_gate(g) if isinstance(g, str) else g).evaluate(evidence) for g in gates]


# -- evidence -----------------------------------------------------------------


def _scores(yard: Yard, ref: str, frame: pd.DataFrame) -> Any:
    from modelyard.registry.lifecycle import features_of

    info = yard.models.get(ref)
    loaded = yard.models.load(info.ref)
    return loaded.predict_proba(frame[features_of(loaded, info)])[:, -1]


def gather_evidence(
    yard: Yard,
    candidate: Any,
    holdout: Any,
    *,
    gates: Sequence[Gate | str] = (),
    target: str | None = None,
    reference: Any = None,
    metrics: Mapping[str, float] | None = None,
) -> Evidence:
    """Measure what ``gates`` need for ``candidate`` (a model version) on ``holdout``.

    ``holdout`` is a dataset version (or reference) or a DataFrame;
    ``reference`` (training data) defaults to the version's training dataset.
    ``metrics`` adds figures measured elsewhere (e.g. the validation report's).
    """
    from modelyard.metrics import binary_classification_metrics, population_stability_index
    from modelyard.registry.lifecycle import target_column
    from modelyard.registry.training_data import training_data

    parsed = [parse_gate(g) if isinstance(g, str) else g for g in gates]
    info = yard.models.get(candidate if isinstance(candidate, str) else candidate.ref)
    frame = holdout if _is_frame(holdout) else yard.datasets.load(holdout)
    holdout_name = None if _is_frame(holdout) else getattr(holdout, "ref", str(holdout))
    column = target_column(info, target)
    if column not in frame.columns:
        raise InvalidInput(f"the holdout has no target column {column!r}")
    scores = _scores(yard, info.ref, frame)
    measured = {**info.metrics.get("validation", {}), **dict(metrics or {})}
    measured.update(binary_classification_metrics(frame[column], scores))
    needs = {g.kind for g in parsed}
    ref_frame = None
    if reference is not None:
        ref_frame = reference if _is_frame(reference) else yard.datasets.load(reference)
    elif needs & {"quality", "stability"}:
        training = training_data(info).first
        ref_frame = yard.datasets.load(training) if training else None
    if "stability" in needs and "psi_scores" not in (metrics or {}) and ref_frame is not None:
        measured["psi_scores"] = population_stability_index(
            _scores(yard, info.ref, ref_frame), scores
        )
    evidence = Evidence(
        {k: float(v) for k, v in measured.items()}, candidate=info.ref, holdout=holdout_name
    )
    if "non_inferior" in needs:
        try:
            champion = yard.models.get(f"{info.name}@champion")
        except NotFound:
            champion = None
        if champion is not None:
            evidence.champion = champion.ref
            if champion.artifact_digest == info.artifact_digest:
                evidence.champion_metrics = dict(evidence.metrics)
            else:
                evidence.champion_metrics = binary_classification_metrics(
                    frame[column], _scores(yard, champion.ref, frame)
                )
    if "quality" in needs:
        if ref_frame is None:
            evidence.quality_errors = None
        else:
            from modelyard.monitoring import check_quality

            report = check_quality(
                frame.drop(columns=[column]), ref_frame.drop(columns=[column], errors="ignore")
            )
            evidence.quality_errors = [
                f"{i.check} {i.column}: {i.message}" for i in report.errors()
            ]
    return evidence


def _is_frame(value: Any) -> bool:
    import pandas as pd

    return isinstance(value, pd.DataFrame)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", ".", name).strip(".")


def enforce_gates(
    yard: Yard,
    gates: Sequence[Gate | str],
    evidence: Evidence,
    *,
    run: Any = None,
    model: str | None = None,
) -> list[GateResult]:
    """Evaluate, record (run, version tags, audit trail) and raise ``GateFailed`` on a failure."""

    results = evaluate_gates(gates, evidence)
    failed = [r for r in results if not r.passed]
    name = model or evidence.candidate.split("/")[0].split("@")[0]
    run_id = getattr(run, "id", run)
    if run_id is not None:
        metrics: dict[str, float] = {"gates.failed": float(len(failed))}
        tags: dict[str, str] = {"gates": "failed" if failed else "passed"}
        for r in results:
            slug = _slug(r.name)
            metrics[f"gate.{slug}.passed"] = 1.0 if r.passed else 0.0
            for key in ("observed", "required", "margin_by"):
                value = getattr(r, key)
                if value is not None and math.isfinite(value):
                    metrics[f"gate.{slug}.{key}"] = float(value)
            tags[f"gate.{slug}"] = r.detail
        yard.runs.log_metrics(run_id, [(k, v, None, None) for k, v in metrics.items()])
        yard.runs.set_tags(run_id, tags)
    if "/" in evidence.candidate:
        summary = "passed" if not failed else "failed: " + "; ".join(r.name for r in failed)
        yard.models.set_tags(evidence.candidate, {"gates": summary})
    yard.audit.record(
        "gate.fail" if failed else "gate.pass",
        f"model/{name}",
        {
            "candidate": evidence.candidate,
            "champion": evidence.champion,
            "holdout": evidence.holdout,
            "run_id": run_id,
            "results": [r.to_dict() for r in results],
        },
    )
    if failed:
        raise GateFailed(
            f"{evidence.candidate} stopped by {len(failed)} gate(s): "
            + "; ".join(f"{r.name}: {r.detail}" for r in failed),
            results=results,
            subject=f"model/{name}",
        )
    return results
