"""``yard.monitors``: run monitors over windows of traffic, store results, report, alert.

``run(ref, window="1d")`` reads the version's rows in the window of its prediction log
(or a batch given as ``data``) once, and computes against the version's reference
(``profiles.ensure_reference``, built on first use):

- ``drift``: per-feature drift (``DriftDetector``) and drift of the model's scores;
- ``quality``: data-quality checks (``check_quality``);
- ``performance``: realised metrics, when labels join the rows — feedback sent to
  ``POST /v1/feedback``, a target column in the data, or a labels file by id;
- ``estimated``: CBPE-style estimated metrics from the scores (no labels needed).

Each kind is one ``monitor_results`` row per version and window (a re-run of a window
replaces its rows), with a compact JSON summary and the digest of the run's full
detail (every statistic, histograms) in the artifact store. Alert rules are then
evaluated on the summaries (``alerts.process``). ``report`` draws the stored history.

Every summary carries its row count, the minimum (``min_rows``: the
``monitor_min_rows`` setting, 500 by default) and a ``verdict``; a result with fewer
rows is "insufficient data": its figures are kept and shown, and no rule fires on it.
Values the reference never had (unseen categories, nulls in a column that had none)
never stop a run: they are scored and reported, as unseen shares per feature in drift
and as issues with their size in quality.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
from sqlalchemy import delete, select

from modelyard._util.clock import now_ms
from modelyard._util.names import parse_ref
from modelyard.errors import InvalidInput, ModelyardError, NotFound
from modelyard.monitoring import _collect, alerts, attributions, performance, profiles
from modelyard.monitoring._io import batches_of, read_table
from modelyard.monitoring.drift import (
    INSUFFICIENT,
    DriftDetector,
    DriftReport,
    FeatureDrift,
    score_drift,
)
from modelyard.monitoring.quality import QualityReport, check_quality
from modelyard.monitoring.windows import (
    LogScan,
    Window,
    log_files,
    read_feedback,
    read_log,
    resolve_window,
)
from modelyard.registry.users import resolve_actor
from modelyard.store.models import MonitorResult

if TYPE_CHECKING:
    from modelyard.registry.entities import ModelVersionInfo
    from modelyard.yard import Yard

__all__ = ["KINDS", "MonitorResultInfo", "MonitorRunResult", "MonitorService"]

REPORT_HTML, REPORT_JSON = "monitoring.html", "monitoring.json"

KINDS = ("drift", "quality", "performance", "estimated")
MIN_LABELS = 50
_PRIMARY = {"numeric": "wasserstein_norm", "categorical": "js_distance", "boolean": "js_distance"}


@dataclass(frozen=True)
class MonitorResultInfo:
    """One stored ``monitor_results`` row."""

    id: int
    model_name: str
    model_version: int
    kind: str
    window_start: int
    window_end: int
    rows: int
    summary: dict[str, Any]
    report_digest: str | None
    created_at: int

    @property
    def window(self) -> Window:
        return Window.from_ms(self.window_start, self.window_end)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "kind": self.kind,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "rows": self.rows,
            "summary": self.summary,
            "report_digest": self.report_digest,
            "created_at": self.created_at,
        }


def _info(row: MonitorResult) -> MonitorResultInfo:
    return MonitorResultInfo(
        row.id,
        row.model_name,
        row.model_version,
        row.kind,
        row.window_start,
        row.window_end,
        row.rows,
        dict(row.summary or {}),
        row.report_digest,
        row.created_at,
    )


@dataclass
class MonitorRunResult:
    """Everything one ``run`` computed, stored and raised."""

    model: str
    version: int
    window: Window
    source: dict[str, Any]
    rows: int
    drift: DriftReport | None
    score: FeatureDrift | None
    quality: QualityReport | None
    performance: dict[str, Any] | None
    estimated: dict[str, Any] | None
    summaries: dict[str, Any]
    result_ids: dict[str, int] = field(default_factory=dict)
    report_digest: str | None = None
    alerts: list[alerts.AlertEvent] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def ref(self) -> str:
        return f"{self.model}/{self.version}"

    def drifted_features(self) -> list[str]:
        return self.drift.drifted_features() if self.drift else []

    def raised(self) -> list[alerts.AlertEvent]:
        """Alerts notified by this run (new, or re-sent after a failed delivery)."""
        return [e for e in self.alerts if e.notified]

    def describe(self) -> list[str]:
        """A few plain-text lines for a person: drift, quality, performance, alerts."""
        where = self.source.get("kind")
        if where == "log":
            where = f"log of {', '.join(self.source.get('endpoints', []))}"
        lines = [f"{self.ref} · {self.window.label()} · {self.rows:,} rows ({where})"]
        if self.source.get("reference"):
            lines.append(f"  reference: {self.source['reference']}")
        if self.drift is not None:
            lines.append(_describe_drift(self.drift))
            unseen = [
                f"{f.feature} {100 * f.unseen_share:.3g}%"
                for f in self.drift.features
                if f.unseen_share
            ]
            if unseen:
                lines.append(f"  unseen categories (share of values): {', '.join(unseen)}")
        attribution = (self.summaries.get("drift") or {}).get("attribution")
        if attribution:
            lines.append(
                f"  attributions: leading feature {attribution['top_reference']} (training) -> "
                f"{attribution['top_current']} (now); largest change of share "
                f"{attribution['max_share_change']:.1%} ({attribution['most_changed']})"
            )
        if self.score is not None:
            if self.score.insufficient:
                state = self.score.verdict_reason
            else:
                state = f"drifted: {self.score.verdict_reason}" if self.score.drifted else "stable"
            lines.append(f"  score drift: PSI {self.score.stat('psi').value:.3f} ({state})")
        if self.quality is not None:
            lines.append(_describe_quality(self.quality))
            served = self.summaries.get("quality", {}).get("served_warnings")
            if served and served["rows"]:
                kinds = ", ".join(
                    f"{col} {kind} {n:,}"
                    for col, by in served["by_column"].items()
                    for kind, n in by.items()
                )
                lines.append(
                    f"  served with out-of-domain warnings: {served['rows']:,} rows ({kinds})"
                )
        for kind, body in (("performance", self.performance), ("estimated", self.estimated)):
            if body is None:
                continue
            auc, ci = body["metrics"].get("auc"), body.get("ci", {}).get("auc")
            text = "AUC -" if auc is None else f"AUC {auc:.4f}"
            if ci:
                text += f" [{ci[0]:.4f}, {ci[1]:.4f}]"
            base = (body.get("baseline") or {}).get("metrics", {}).get("auc")
            if base is not None:
                text += f"; baseline {base:.4f} ({body['baseline'].get('source')})"
            if kind == "performance":
                rows = f"{body['rows']:,} labelled rows"
            else:
                rows = f"CBPE on {body['rows']:,} rows, {body['calibration']['status']}"
            if body.get("verdict") == INSUFFICIENT:
                rows += f"; {INSUFFICIENT}: {body['rows']:,} rows, {body['min_rows']:,} needed"
            lines.append(f"  {kind}: {text} ({rows})")
        for event in self.alerts:
            if event.action in ("raised", "renotified", "repeated") and event.alert:
                a = event.alert
                label = {"raised": "ALERT", "renotified": "ALERT (re-sent)"}.get(
                    event.action, "still firing"
                )
                lines.append(f"  {label} ({a.severity}) {a.message}")
        lines += [f"  note: {n}" for n in self.notes]
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "model": self.model,
            "version": self.version,
            "window": self.window.to_dict(),
            "source": self.source,
            "rows": self.rows,
            "drifted_features": self.drifted_features(),
            "summaries": self.summaries,
            "result_ids": self.result_ids,
            "report_digest": self.report_digest,
            "alerts": [e.to_dict() for e in self.alerts],
            "notes": list(self.notes),
        }


def _describe_drift(report: DriftReport) -> str:
    if report.verdict == INSUFFICIENT:
        return f"  drift: {INSUFFICIENT} ({report.verdict_reason()})"
    drifted = [f for f in report.features if f.drifted]
    short = [f.feature for f in report.features if f.insufficient]
    text = ", ".join(f"{f.feature} ({f.verdict_reason})" for f in drifted) or "none"
    line = f"  drift: {len(drifted)} of {len(report.features)} features drifted: {text}"
    if short:
        line += f"; {INSUFFICIENT} for {', '.join(short)}"
    return line


def _describe_quality(report: QualityReport) -> str:
    errors = report.errors()
    text = "; ".join(f"{i.check} {i.column or ''}: {i.message}" for i in errors)
    line = f"  quality: {len(errors)} error(s)" + (f": {text}" if text else "")
    if report.verdict == INSUFFICIENT:
        line = (
            f"  quality: {INSUFFICIENT} ({report.rows:,} rows, {report.min_rows:,} needed); "
            f"{len(report.issues)} issue(s) listed, none judged"
        )
    found = [i for i in report.issues if i.check in ("unseen_category", "nulls")]
    if found:
        line += "\n" + "\n".join(
            f"    {i.check} {i.column}: {i.message} [{i.severity}]" for i in found
        )
    return line


def _drift_summary(report: DriftReport, score: FeatureDrift | None) -> dict[str, Any]:
    features = []
    for f in report.features:
        stats = {s.name: s.value for s in f.statistics}
        stats.update({f"{s.name}_p_value": s.p_value for s in f.statistics if s.p_value})
        primary = _PRIMARY.get(f.kind, "psi")
        features.append(
            {
                "feature": f.feature,
                "kind": f.kind,
                "drifted": f.drifted,
                "verdict": f.verdict,
                "rows": f.n_current,
                "rows_reference": f.n_reference,
                "statistic": primary,
                "score": stats.get(primary),
                "stats": stats,
                "reason": f.verdict_reason,
                "unseen_share": f.unseen_share,
                "unseen": {str(k): v for k, v in list(f.unseen_categories.items())[:10]},
            }
        )
    body: dict[str, Any] = {
        "verdict": report.verdict,
        "verdict_reason": report.verdict_reason(),
        "min_rows": report.min_rows,
        "rows": report.rows_current,
        "rows_reference": report.rows_reference,
        "drifted_share": report.drifted_share,
        "dataset_drift": report.dataset_drift,
        "drift_share": report.drift_share,
        "drifted_features": report.drifted_features(),
        "features": features,
        "skipped": report.skipped,
        "score": None,
    }
    if score is not None:
        s = {x.name: x.value for x in score.statistics}
        body["score"] = {
            "drifted": score.drifted,
            "verdict": score.verdict,
            "rows": score.n_current,
            "psi": s.get("psi"),
            "wasserstein_norm": s.get("wasserstein_norm"),
            "ks": s.get("ks"),
            "ks_p_value": score.stat("ks").p_value,
            "reason": score.verdict_reason,
        }
    return body


def _quality_summary(report: QualityReport) -> dict[str, Any]:
    issues = [i.to_dict() for i in report.issues]
    return {
        "rows": report.rows,
        "min_rows": report.min_rows,
        "verdict": report.verdict,
        "passed": report.passed,
        "errors": sum(1 for i in issues if i["severity"] == "error"),
        "warnings": sum(1 for i in issues if i["severity"] == "warning"),
        "info": sum(1 for i in issues if i["severity"] == "info"),
        "issues": issues,
    }


class MonitorService:
    """``yard.monitors`` (see the module docstring).

    Args:
        yard: The yard whose registry, stores and prediction log are monitored.
        clock: Epoch milliseconds now; tests pass a fake one to step through cooldowns.
        notifier: Sends webhooks (tests may pass one with a short timeout).
    """

    def __init__(
        self,
        yard: Yard,
        *,
        clock: Callable[[], int] = now_ms,
        notifier: alerts.WebhookNotifier | None = None,
    ) -> None:
        self._yard = yard
        self.clock = clock
        self.notifier = notifier or alerts.WebhookNotifier()

    # -- references -------------------------------------------------------
    def reference(
        self,
        ref: str,
        *,
        rebuild: bool = False,
        data: Any = None,
        holdout: Any = None,
        threshold: float | None = None,
    ) -> profiles.VersionReference:
        """The version's monitoring reference, built and attached first if missing."""
        return profiles.ensure_reference(
            self._yard, ref, rebuild=rebuild, data=data, holdout=holdout, threshold=threshold
        )

    # -- running ----------------------------------------------------------
    def endpoints(self, ref: str) -> list[str]:
        """Endpoints whose logs may hold ``ref``'s model: its name, and every stored
        deployment with a route or shadow of it."""
        name = parse_ref(ref, "model reference").name
        found = [name]
        for record in self._yard.deployments.list():
            targets = [*record.spec.routes, *record.spec.shadows]
            if any(parse_ref(t.model, "model").name == name for t in targets):
                found.append(record.name)
        return list(dict.fromkeys(found))

    def run(
        self,
        ref: str,
        *,
        endpoint: str | Sequence[str] | None = None,
        window: str | None = None,
        since: Any = None,
        until: Any = None,
        data: Any = None,
        labels: Any = None,
        id_column: str | None = None,
        label_column: str | None = None,
        rules: Any = None,
        webhook: str | None = None,
        include_shadow: bool = False,
        threshold: float | None = None,
        log_root: str | None = None,
        store: bool = True,
        triggers: bool = True,
        console: Any = None,
        min_rows: int | None = None,
    ) -> MonitorRunResult:
        """Monitor one window of ``ref``'s traffic, or the batch ``data``.

        Args:
            ref: The model version, e.g. ``credit-risk@champion``.
            endpoint: Endpoint(s) whose prediction log to read (default: ``endpoints``).
            window: ``1d``, ``7d``, ``12h``...: the last such period (with ``since`` or
                ``until``: that long from/before it). Default ``1d`` for logs.
            since: Window start (ISO text, date or datetime; UTC when naive).
            until: Window end (exclusive).
            data: Monitor this batch instead of the log (DataFrame, Arrow table,
                Parquet/CSV path or dataset reference); a target column in it gives
                labels, scores come from a ``_score`` column or the model.
            labels: A labels file/frame joined by ``id_column`` (to the data's
                ``id_column``, or the log's ``_entity``, else ``_request_id``).
            id_column: The id column of ``labels`` (and of ``data``).
            label_column: The label column of ``labels`` (default: the version's
                target, else "label").
            rules: Alert rules (path, YAML text, list); None: ``alerts.DEFAULT_RULES``;
                ``False``: no alerting.
            webhook: Webhook URL for rules that name none.
            include_shadow: Also read shadow rows of the version.
            threshold: Decision threshold (default: the reference's).
            log_root: Root of the prediction log (default: the artifact root).
            store: Store results and raise alerts (False: compute only).
            triggers: Start the pipelines rules name (False: record and notify only).
            console: A Rich console for pipeline triggers' progress.
            min_rows: Rows a result needs for a verdict (default: the
                ``monitor_min_rows`` setting); fewer: "insufficient data", no alert.

        Raises:
            NotFound: No rows of the version in the window.
            InvalidInput: Bad options, unreadable data, or data without the model's inputs.
        """
        yard = self._yard
        info = yard.models.get(ref)
        with yard.store.read() as session:
            resolve_actor(session, yard.user).require("version.update", "record monitoring results")
        need = _min_rows(yard.settings.monitor_min_rows if min_rows is None else min_rows)
        rule_set = [] if rules is False else alerts.load_rules(rules)
        rule_set = alerts.with_webhook(rule_set, webhook)
        reference = profiles.ensure_reference(yard, info.ref)
        loaded = yard.models.load(info.ref)
        now = self.clock()
        t = reference.threshold if threshold is None else float(threshold)
        root = log_root or yard.settings.resolved_artifact_root
        options = yard.settings.storage_options(root)
        key_columns = list(_collect.KEY_COLUMNS) + ([id_column] if id_column else [])
        scan = LogScan()
        endpoints: list[str] = []
        want_keys = labels is not None
        if data is None:
            win = resolve_window(window, since, until, now=self.clock)
            if isinstance(endpoint, str):
                endpoints = [endpoint]
            else:
                endpoints = list(endpoint) if endpoint else self.endpoints(info.ref)
            # request ids are kept (for the feedback join) only when there is feedback
            want_keys = want_keys or any(
                log_files(root, "feedback", e, None, storage_options=options) for e in endpoints
            )
            columns = [*reference.features, "_score", "_ts", "_warnings", *key_columns]

            def stream() -> Any:
                return read_log(
                    root,
                    endpoints,
                    info.name,
                    info.version,
                    win,
                    columns=columns,
                    include_shadow=include_shadow,
                    scan=scan,
                    storage_options=options,
                )

            source: dict[str, Any] = {"kind": "log", "endpoints": endpoints, "root": root}
        else:
            given = window is not None or since is not None or until is not None
            win = resolve_window(window, since, until, now=self.clock) if given else None
            schema, stream = batches_of(data, "data", yard)
            if labels is not None and (id_column is None or id_column not in schema.names):
                raise InvalidInput(
                    f"labels join the data by id: --id-column must name a column of the data "
                    f"(got {id_column!r}; the data has {schema.names})"
                )
            source = {
                "kind": "data",
                "data": data if isinstance(data, str) else type(data).__name__,
            }

        def score(frame: Any) -> np.ndarray:
            return profiles.positive_scores(loaded, frame)

        binary = loaded.task == "classification" and len(loaded.classes or ()) == 2
        got = _collect.collect(
            stream,
            reference.profile,
            reference.features,
            score=score if binary else None,
            target=reference.target if data is not None else None,
            key_columns=key_columns if want_keys else (),
            keep_rows=attributions.SAMPLE_ROWS,
        )
        if got.summary is None or not got.rows:
            where = (
                f"endpoint(s) {', '.join(endpoints)} between {win.start.isoformat()} and "
                f"{win.end.isoformat()}"
                if data is None
                else "the data"
            )
            if scan.shadow_rows:
                hint = (
                    f" ({scan.shadow_rows} shadow rows: pass include_shadow=True"
                    " / --include-shadow)"
                )
            elif data is None:
                # The most common surprise: a server writes its Parquet files every
                # file_interval_s (30 s by default), so the last seconds are not there yet.
                hint = (
                    " (a running server writes its prediction log files every "
                    "file_interval_s, 30 s by default: recent requests may not be there yet)"
                )
            else:
                hint = ""
            raise NotFound(f"no rows of {info.ref} in {where}{hint}")
        if win is None:
            win = Window.from_ms(*got.ts_range) if got.ts_range else Window.from_ms(now, now)
        source["rows"] = got.rows
        source["reference"] = f"{reference.describe_source()}, {reference.profile.rows:,} rows"
        if scan.shadow_rows:
            source["shadow_rows_excluded"] = scan.shadow_rows

        feedback_from = (root, endpoints, win.start) if data is None else None
        result = self._compute(
            info, reference, got, t, feedback_from, labels, id_column, label_column, need
        )
        result.window, result.source = win, source
        self._attributions(info, loaded, got, result)
        if not store:
            return result
        self._store(result, now)
        context = {
            "window": win.label(),
            "window_start": win.start_ms,
            "window_end": win.end_ms,
            "rows": got.rows,
            "result_ids": result.result_ids,
            "source": {k: v for k, v in source.items() if k != "root"},
        }
        result.alerts = alerts.process(
            yard,
            rule_set,
            {**result.summaries, "rows": got.rows},
            model=info.name,
            version=info.version,
            context=context,
            now=now,
            notifier=self.notifier,
            console=console,
            triggers=triggers,
        )
        return result

    def _attributions(
        self, info: ModelVersionInfo, loaded: Any, got: Any, result: MonitorRunResult
    ) -> None:
        """Attribution drift beside feature drift, when the model can be explained."""
        from modelyard.explain import Explainer, explainable

        drift = result.summaries.get("drift")
        if got.sample is None or drift is None or loaded.signature is None:
            return
        why = explainable(loaded.native)
        if why is not None:
            result.notes.append(f"attributions not computed: {why}")
            return
        columns = loaded.signature.input_names
        example = self._yard.models.input_example(info.ref)
        if example is None or any(c not in got.sample.columns for c in columns):
            result.notes.append("attributions not computed: no training example or columns")
            return
        current = got.sample[columns]
        try:
            explainer = Explainer(loaded.native, columns, background=example)
            drift["attribution"] = attributions.attribution_summary(
                attributions.mean_abs_contributions(explainer, example[columns]),
                attributions.mean_abs_contributions(explainer, current),
                len(current),
            )
        except Exception as exc:  # the model's own errors are many and untyped; the run goes on
            result.notes.append(f"attributions not computed: {type(exc).__name__}: {exc}")

    def backfill(
        self,
        ref: str,
        *,
        step: str,
        window: str | None = None,
        since: Any = None,
        until: Any = None,
        **options: Any,
    ) -> list[MonitorRunResult]:
        """``run`` over consecutive ``step`` windows of an interval; windows without rows
        of the version are skipped."""
        from modelyard.monitoring.windows import split

        if options.get("data") is not None:
            raise InvalidInput("--step cuts the prediction log into windows; not with --data")
        whole = resolve_window(window, since, until, now=self.clock)
        done = []
        for part in split(whole, step):
            try:
                done.append(self.run(ref, since=part.start, until=part.end, **options))
            except NotFound:
                continue
        if not done:
            raise NotFound(f"no rows of {ref} in any {step} window of {whole.label()}")
        return done

    def _compute(
        self,
        info: ModelVersionInfo,
        reference: profiles.VersionReference,
        got: _collect.Collected,
        threshold: float,
        feedback_from: tuple[str, list[str], Any] | None,
        labels: Any,
        id_column: str | None,
        label_column: str | None,
        min_rows: int,
    ) -> MonitorRunResult:
        notes = list(got.notes)
        if reference.warning:
            notes.append(reference.warning)
        summary = got.summary
        assert summary is not None
        detector = DriftDetector(min_rows=min_rows).fit(reference.profile)
        drift = detector.score(summary)
        score = None
        if got.scores is not None and reference.score_quantiles is not None:
            score = score_drift(
                reference.score_quantiles,
                got.scores,
                name="score",
                min_rows=min_rows,
                reference_rows=reference.profile.rows,  # the quantiles stand for its rows
            )
        elif got.score_error:
            notes.append(f"scores unavailable: {got.score_error}")
        elif reference.source.get("scores_error"):
            notes.append(str(reference.source["scores_error"]))
        quality = check_quality(summary, reference.profile, min_rows=min_rows)
        summaries: dict[str, Any] = {
            "drift": _drift_summary(drift, score),
            "quality": _quality_summary(quality),
        }
        if got.warned_rows is not None:  # what serving flagged as it answered
            summaries["quality"]["served_warnings"] = {
                "rows": got.warned_rows,
                "by_column": got.warnings,
            }
        bands = reference.score_bands()
        baseline = _baseline(info, reference)
        estimated = realised = None
        if got.scores is not None:
            estimated = performance.estimated(
                got.scores, calibration=reference.calibration, threshold=threshold, bands=bands
            )
            estimated["baseline"] = baseline
            estimated["drops"] = performance.degradation(
                estimated["metrics"], baseline.get("metrics", {})
            )
            _judge(estimated, estimated["rows"], min_rows)
            if not reference.calibration.calibrated:
                notes.append(
                    f"estimated performance is {reference.calibration.describe()}; "
                    "it trusts the raw scores as probabilities"
                )
            summaries["estimated"] = estimated
            y, join = self._labels(
                got, feedback_from, labels, id_column, label_column or reference.target
            )
            if y is not None:
                keep = y >= 0
                join["labelled"] = int(keep.sum())
                ok = keep.sum() >= MIN_LABELS and 0 < y[keep].sum() < keep.sum()
                if ok:
                    realised = performance.realised(
                        y[keep], got.scores[keep], threshold=threshold, bands=bands
                    )
                    realised["labels"] = join
                    realised["coverage"] = float(keep.mean())
                    realised["baseline"] = baseline
                    realised["drops"] = performance.degradation(
                        realised["metrics"], baseline.get("metrics", {})
                    )
                    _judge(realised, realised["rows"], min_rows)
                    summaries["performance"] = realised
                else:
                    notes.append(
                        f"{int(keep.sum())} labelled rows (both classes and at least "
                        f"{MIN_LABELS} are needed for realised performance)"
                    )
        histograms = {}
        for name in detector.features_:
            h = _collect.histogram(reference.profile.columns[name], summary.columns.get(name))
            if h is not None:
                histograms[name] = h
        return MonitorRunResult(
            model=info.name,
            version=info.version,
            window=Window.from_ms(0, 0),
            source={},
            rows=got.rows,
            drift=drift,
            score=score,
            quality=quality,
            performance=realised,
            estimated=estimated,
            summaries=summaries,
            notes=notes,
            detail={
                "drift": drift.to_dict(),
                "score": None if score is None else score.to_dict(),
                "histograms": histograms,
                "score_histogram": _collect.score_histogram(reference.score_quantiles, got.scores),
            },
        )

    def _labels(
        self,
        got: _collect.Collected,
        feedback_from: tuple[str, list[str], Any] | None,
        labels: Any,
        id_column: str | None,
        label_column: str | None,
    ) -> tuple[np.ndarray | None, dict[str, Any]]:
        """Labels per row: the data's target column, a labels file, or logged feedback."""
        if got.labels is not None and labels is None:
            return got.labels, {"source": "target column of the data", "rows": got.rows}
        if got.keys is None:
            return None, {}
        label_frame = feedback = None
        if labels is not None:
            label_frame = read_table(labels, "labels", self._yard).to_pandas()
            if label_column is None or label_column not in label_frame.columns:
                label_column = "label" if "label" in label_frame.columns else label_column
        elif feedback_from is not None:
            root, endpoints, since = feedback_from
            options = self._yard.settings.storage_options(root)
            feedback = read_feedback(root, endpoints, since, storage_options=options).to_pandas()
            if not len(feedback):
                return None, {"source": "feedback", "feedback_rows": 0}
        else:
            return None, {}
        y, join = _collect.join_labels(
            got.keys,
            feedback=feedback,
            labels=label_frame,
            id_column=id_column,
            label_column=label_column or "label",
        )
        join["source"] = "labels file" if labels is not None else "feedback"
        return y, join

    # -- storing ------------------------------------------------------------
    def _store(self, result: MonitorRunResult, now: int) -> None:
        yard = self._yard
        detail = {
            "model": result.model,
            "version": result.version,
            "window": result.window.to_dict(),
            "source": result.source,
            "summaries": result.summaries,
            **result.detail,
        }
        result.report_digest = yard.artifacts.put_bytes(
            orjson.dumps(detail, option=orjson.OPT_SERIALIZE_NUMPY)
        )
        win = result.window
        with yard.store.write() as session:
            resolve_actor(session, yard.user).require("version.update", "record monitoring results")
            for kind, summary in result.summaries.items():
                session.execute(
                    delete(MonitorResult).where(
                        MonitorResult.model_name == result.model,
                        MonitorResult.model_version == result.version,
                        MonitorResult.kind == kind,
                        MonitorResult.window_start == win.start_ms,
                        MonitorResult.window_end == win.end_ms,
                    )
                )
                row = MonitorResult(
                    model_name=result.model,
                    model_version=result.version,
                    kind=kind,
                    window_start=win.start_ms,
                    window_end=win.end_ms,
                    rows=int(summary.get("rows", result.rows)),
                    summary=dict(summary),
                    report_digest=result.report_digest,
                    created_at=now,
                )
                session.add(row)
                session.flush()
                result.result_ids[kind] = row.id

    # -- reading ------------------------------------------------------------
    def results(
        self,
        ref: str | None = None,
        *,
        model: str | None = None,
        kind: str | None = None,
        since: Any = None,
        limit: int = 200,
    ) -> list[MonitorResultInfo]:
        """Stored results, newest window first: of one version (``ref``), of every
        version of ``model``, or of everything."""
        query = select(MonitorResult)
        if ref is not None:
            info = self._yard.models.get(ref)
            query = query.where(
                MonitorResult.model_name == info.name, MonitorResult.model_version == info.version
            )
        elif model is not None:
            query = query.where(MonitorResult.model_name == model)
        if kind is not None:
            if kind not in KINDS:
                raise InvalidInput(f"kind must be one of {list(KINDS)}. Got {kind!r}.")
            query = query.where(MonitorResult.kind == kind)
        if since is not None:
            start = resolve_window(None, since, None, now=self.clock).start_ms
            query = query.where(MonitorResult.window_start >= start)
        query = query.order_by(MonitorResult.window_start.desc(), MonitorResult.id.desc())
        with self._yard.store.read() as session:
            resolve_actor(session, self._yard.user)
            return [_info(r) for r in session.scalars(query.limit(limit)).all()]

    def detail(self, result: MonitorResultInfo) -> dict[str, Any] | None:
        """The full detail blob of a stored result (every statistic, histograms)."""
        if not result.report_digest:
            return None
        return orjson.loads(self._yard.artifacts.get_bytes(result.report_digest))

    def alerts(
        self,
        ref: str | None = None,
        *,
        model: str | None = None,
        status: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[alerts.AlertInfo]:
        """Stored alerts, most recently seen first: ``limit`` after the first ``offset``."""
        version = None
        if ref is not None:
            info = self._yard.models.get(ref)
            model, version = info.name, info.version
        with self._yard.store.read() as session:
            resolve_actor(session, self._yard.user)
        return alerts.list_alerts(
            self._yard.store,
            model=model,
            version=version,
            status=status,
            limit=limit,
            offset=offset,
        )

    # -- reports ------------------------------------------------------------
    def report(self, ref: str, output: str | Path | None = None, *, windows: int = 60) -> Path:
        """Write ``monitoring.html`` and its JSON twin ``monitoring.json`` for ``ref`` (see
        ``report.py``) into ``output`` (default ``<home>/reports/<model>/v<version>/``);
        returns the HTML file's path."""
        from modelyard.monitoring import report as report_module

        info = self._yard.models.get(ref)
        reference = profiles.ensure_reference(self._yard, info.ref)
        history = self.results(info.ref, limit=windows * len(KINDS))
        if not history:
            raise NotFound(
                f"no monitor results for {info.ref} yet; run 'modelyard monitor run {info.ref}'"
            )
        latest_drift = next((r for r in history if r.kind == "drift"), None)
        detail = self.detail(latest_drift) if latest_drift else None
        body = report_module.build(
            info, reference, history, detail, self.alerts(info.ref, limit=200), now=self.clock()
        )
        html = report_module.render_html(body)
        folder = Path(output) if output else _report_folder(self._yard, info)
        folder.mkdir(parents=True, exist_ok=True)
        html_path, json_path = folder / REPORT_HTML, folder / REPORT_JSON
        html_path.write_text(html, encoding="utf-8")
        json_path.write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2))
        return html_path

    # -- the schedule ---------------------------------------------------------
    def watch(
        self,
        ref: str,
        every: str,
        *,
        window: str | None = None,
        max_runs: int | None = None,
        on_result: Callable[[MonitorRunResult | ModelyardError], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        **options: Any,
    ) -> list[MonitorRunResult]:
        """``run`` now and every ``every`` (each over the last ``window``, default
        ``every``) until interrupted or ``max_runs``; a failed run is reported to
        ``on_result`` and the schedule goes on."""
        from modelyard.monitoring.windows import parse_duration

        interval = parse_duration(every, "--every").total_seconds()
        span = window or every
        done: list[MonitorRunResult] = []
        attempts = 0
        next_at = monotonic()
        while max_runs is None or attempts < max_runs:
            wait = next_at - monotonic()
            if wait > 0:
                sleep(wait)
            next_at += interval
            attempts += 1
            try:
                outcome: MonitorRunResult | ModelyardError = self.run(ref, window=span, **options)
                done.append(outcome)
            except ModelyardError as exc:
                outcome = exc
            if on_result is not None:
                on_result(outcome)
        return done


def _min_rows(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"min_rows must be an integer >= 1. Got {value!r}.")
    return value


def _judge(body: dict[str, Any], rows: int, min_rows: int) -> None:
    """A performance or estimate summary's verdict: "insufficient data" below the minimum."""
    body["min_rows"] = min_rows
    body["verdict"] = INSUFFICIENT if rows < min_rows else "measured"
    if rows < min_rows:
        body["verdict_reason"] = f"{rows:,} rows, {min_rows:,} needed"


def _report_folder(yard: Yard, info: ModelVersionInfo) -> Path:
    return Path(yard.settings.home) / "reports" / info.name / f"v{info.version}"


def _baseline(info: ModelVersionInfo, reference: profiles.VersionReference) -> dict[str, Any]:
    """The metrics degradation is measured against: validation, else the reference's
    holdout, else training metrics."""
    validation = info.metrics.get("validation") or {}
    if "auc" in validation:
        return {"source": "validation metrics", "metrics": dict(validation)}
    if reference.baseline.get("metrics"):
        return dict(reference.baseline)
    training = info.metrics.get("training") or {}
    if "auc" in training:
        return {"source": "training run metrics", "metrics": dict(training)}
    return {}
