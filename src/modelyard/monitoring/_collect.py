"""One pass over a window's rows: features to ``summarize``, scores and label keys aside.

``collect`` streams the current data once. Each batch's feature columns go to
``current.summarize`` (the drift tests and quality checks need nothing else); its
scores (the logged ``_score``, or the model's ``predict_proba`` for a batch given as
data) and the keys labels join on are kept aside: 8 bytes a row for the score, plus
the keys only when labels are to be joined. ``join_labels`` then matches feedback
(by request id and row, else by entity key) or a labels file (by id) to those keys.
Rows the serving app logged with out-of-domain warnings (a ``_warnings`` column of JSON
``[{"column": ..., "kind": ...}]``) are counted by column and kind.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from modelyard.errors import InvalidInput, ModelyardError
from modelyard.monitoring.current import CurrentSummary, summarize
from modelyard.monitoring.performance import to_binary
from modelyard.monitoring.reference import ColumnReference, ReferenceProfile

__all__ = ["Collected", "collect", "histogram", "join_labels"]

KEY_COLUMNS = ("_request_id", "_row", "_entity")


@dataclass
class Collected:
    """What one pass kept: the feature summary, scores, labels found in the data, keys."""

    summary: CurrentSummary | None = None
    rows: int = 0
    scores: np.ndarray | None = None
    score_error: str | None = None
    labels: np.ndarray | None = None  # from a target column in the data, -1 = unusable
    keys: pd.DataFrame | None = None
    ts_range: tuple[int, int] | None = None
    notes: list[str] = field(default_factory=list)
    warned_rows: int | None = None  # rows logged with warnings (None: no _warnings column)
    warnings: dict[str, dict[str, int]] = field(default_factory=dict)  # column -> kind -> rows
    sample: pd.DataFrame | None = None  # the first ``keep_rows`` rows of features

    def count_warnings(self, column: pa.ChunkedArray | pa.Array) -> None:
        """Add one batch's ``_warnings`` values (JSON lists, null for clean rows)."""
        self.warned_rows = self.warned_rows or 0
        for text in column.drop_null().to_pylist():
            try:
                found = json.loads(text)
            except (TypeError, ValueError):
                continue
            if not isinstance(found, list) or not found:
                continue
            self.warned_rows += 1
            for item in found:
                if isinstance(item, dict):
                    col, kind = str(item.get("column")), str(item.get("kind", "out_of_domain"))
                    by_kind = self.warnings.setdefault(col, {})
                    by_kind[kind] = by_kind.get(kind, 0) + 1


def _label_array(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    if pa.types.is_integer(column.type) or pa.types.is_boolean(column.type):
        values = column.to_numpy(zero_copy_only=False)
        out = np.where(np.isin(values, (0, 1)), values, -1).astype(np.int8)
        if column.null_count:
            mask = np.asarray(column.is_null().to_numpy(zero_copy_only=False))
            out[mask] = -1
        return out
    return to_binary(column.to_pylist())


def collect(
    batches: Callable[[], Iterator[pa.RecordBatch]],
    reference: ReferenceProfile,
    features: Sequence[str],
    *,
    score: Callable[[pd.DataFrame], np.ndarray] | None,
    target: str | None = None,
    key_columns: Sequence[str] = (),
    keep_rows: int = 0,
) -> Collected:
    """Read ``batches`` once (see the module docstring).

    Args:
        batches: Returns the record batches of the current data.
        reference: The features' reference profile.
        features: The model's input columns (those present are summarised).
        score: Scores a frame of features when a batch has no ``_score`` column
            (None: no scores unless logged).
        target: A label column to read from the data itself, when present.
        key_columns: Columns to keep for joining labels later.
        keep_rows: Keep the first this many rows of features (``Collected.sample``).
    """
    out = Collected()
    score_parts: list[np.ndarray] = []
    label_parts: list[np.ndarray] = []
    key_parts: list[pa.Table] = []
    kept: list[pa.RecordBatch] = []
    kept_rows = 0
    ts_lo = ts_hi = None
    stream = iter(batches())
    first = next((b for b in stream if b.num_rows), None)
    if first is None:
        return out
    names = first.schema.names
    present = [f for f in features if f in names]
    if not present:
        raise InvalidInput(
            f"the current data has none of the model's input columns {list(features)}; "
            f"it has {names}"
        )
    keys = [k for k in key_columns if k in names]
    has_target = target is not None and target in names

    def feature_batches() -> Iterator[pa.RecordBatch]:
        nonlocal ts_lo, ts_hi, kept_rows
        for batch in _chain(first, stream):
            if not batch.num_rows:
                continue
            out.rows += batch.num_rows
            if "_score" in names:
                score_parts.append(
                    batch.column("_score").to_numpy(zero_copy_only=False).astype(np.float64)
                )
            elif score is not None and out.score_error is None:
                try:
                    score_parts.append(score(batch.select(present).to_pandas()))
                except ModelyardError as exc:
                    out.score_error = exc.message
            if has_target:
                label_parts.append(_label_array(batch.column(target)))
            if "_warnings" in names:
                out.count_warnings(batch.column("_warnings"))
            if keys:
                key_parts.append(pa.Table.from_batches([batch.select(keys)]))
            if "_ts" in names:
                ts = batch.column("_ts").cast(pa.int64()).to_numpy(zero_copy_only=False)
                if ts.size:
                    lo, hi = int(ts.min()), int(ts.max())
                    ts_lo = lo if ts_lo is None else min(ts_lo, lo)
                    ts_hi = hi if ts_hi is None else max(ts_hi, hi)
            features_only = batch.select(present)
            if kept_rows < keep_rows:
                kept.append(features_only.slice(0, keep_rows - kept_rows))
                kept_rows += kept[-1].num_rows
            yield features_only

    out.summary = summarize(
        feature_batches(), reference, columns=[c for c in reference.columns], n_jobs=1
    )
    if score_parts and out.score_error is None:
        scores = np.concatenate(score_parts)
        if np.isnan(scores).all():
            out.score_error = "the log has no scores (not a binary classifier?)"
        else:
            out.scores = scores
    elif out.score_error is None and score is None and "_score" not in names:
        out.score_error = "no _score column and no model to score with"
    if label_parts:
        out.labels = np.concatenate(label_parts)
    if key_parts:
        out.keys = pa.concat_tables(key_parts).to_pandas()
    if ts_lo is not None and ts_hi is not None:
        out.ts_range = (ts_lo, ts_hi)
    if kept:
        out.sample = pa.Table.from_batches(kept).to_pandas()
    return out


def _chain(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield first
    yield from rest


def _last_label(feedback: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    sub = feedback.dropna(subset=keys)
    if "_ts" in sub.columns:
        sub = sub.sort_values("_ts", kind="stable")
    return sub.drop_duplicates(keys, keep="last")


def join_labels(
    keys: pd.DataFrame,
    *,
    feedback: pd.DataFrame | None = None,
    labels: pd.DataFrame | None = None,
    id_column: str | None = None,
    label_column: str = "label",
) -> tuple[np.ndarray, dict[str, Any]]:
    """0/1 label per current row (-1: none), and how the join went.

    ``feedback`` has ``_request_id``, ``_row``, ``_entity``, ``_ts``, ``label`` and
    matches by request id and row first, then by entity. ``labels`` (a file) has
    ``id_column`` and ``label_column`` and matches ``id_column`` of the current rows, or
    for logged rows their ``_entity``, else their ``_request_id``.
    """
    n = len(keys)
    found = np.full(n, -1, dtype=np.int8)
    stats: dict[str, Any] = {"rows": n}
    index = pd.RangeIndex(n)
    if feedback is not None and len(feedback):
        fb = feedback.copy()
        fb["_y"] = to_binary(fb["label"].tolist())
        stats["feedback_rows"] = len(fb)
        stats["unreadable_labels"] = int((fb["_y"] < 0).sum())
        fb = fb[fb["_y"] >= 0]
        if {"_request_id", "_row"} <= set(keys.columns):
            by_request = _last_label(fb, ["_request_id", "_row"])[["_request_id", "_row", "_y"]]
            merged = (
                keys[["_request_id", "_row"]]
                .assign(_i=index)
                .merge(by_request, on=["_request_id", "_row"], how="inner")
            )
            found[merged["_i"].to_numpy()] = merged["_y"].to_numpy()
        if "_entity" in keys.columns:
            by_entity = _last_label(fb, ["_entity"])[["_entity", "_y"]]
            open_rows = keys[["_entity"]].assign(_i=index)[found < 0].dropna(subset=["_entity"])
            merged = open_rows.merge(by_entity, on="_entity", how="inner")
            found[merged["_i"].to_numpy()] = merged["_y"].to_numpy()
    if labels is not None:
        if id_column is None or id_column not in labels.columns:
            raise InvalidInput(
                f"the labels file needs the id column {id_column!r} (--id-column); it has "
                f"{list(labels.columns)}"
            )
        if label_column not in labels.columns:
            raise InvalidInput(
                f"the labels file has no label column {label_column!r}; it has "
                f"{list(labels.columns)} (--label-column)"
            )
        table = labels[[id_column, label_column]].copy()
        table["_y"] = to_binary(table[label_column].tolist())
        stats["unreadable_labels"] = int((table["_y"] < 0).sum())
        table = table[table["_y"] >= 0].drop_duplicates(id_column, keep="last")
        table[id_column] = table[id_column].astype(str)
        for candidate in (id_column, "_entity", "_request_id"):
            if candidate not in keys.columns:
                continue
            open_rows = keys[[candidate]].assign(_i=index)[found < 0].dropna(subset=[candidate])
            open_rows[candidate] = open_rows[candidate].astype(str)
            merged = open_rows.merge(
                table[[id_column, "_y"]], left_on=candidate, right_on=id_column, how="inner"
            )
            if len(merged):
                found[merged["_i"].to_numpy()] = merged["_y"].to_numpy()
                stats["joined_on"] = candidate
                break
    stats["labelled"] = int((found >= 0).sum())
    return found, stats


# ---------------------------------------------------------------- histograms for the report


def _representatives(ref: ColumnReference, offsets: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """A value per fine bin: the grid point, or the mean of the gap's values."""
    points = np.asarray(ref.grid, dtype=np.float64)
    k = points.size
    rep = np.empty(2 * k + 1)
    rep[1::2] = points
    mean_offset = np.divide(
        offsets[0::2], counts[0::2], out=np.zeros(k + 1), where=counts[0::2] > 0
    )
    rep[0 : 2 * k : 2] = points - mean_offset[:k]
    rep[2 * k] = points[-1] + mean_offset[k]
    return rep


def histogram(ref: ColumnReference, cur: Any, bins: int = 24) -> dict[str, Any] | None:
    """Reference and current shares per bin, for the report's overlaid histograms.

    Numeric: equal-width bins between the reference's 1st and 99th percentiles, values
    beyond them in the end bins. Categorical: the 12 largest reference categories, the
    current data's unseen ones, then "(other)".
    """
    if ref.kind == "numeric":
        if ref.grid is None or cur is None or cur.counts is None or not cur.n:
            return None
        q = ref.quantiles or {}
        lo, hi = q.get("0.01", ref.min), q.get("0.99", ref.max)
        if lo is None or hi is None:
            return None
        if not hi > lo:
            lo, hi = float(ref.min), float(ref.max)
        if not hi > lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, bins + 1)

        def shares(counts: np.ndarray, offsets: np.ndarray) -> list[float]:
            rep = _representatives(ref, offsets, counts)
            which = np.clip(np.searchsorted(edges, rep, "right") - 1, 0, bins - 1)
            total = np.bincount(which, weights=counts, minlength=bins)
            return (total / max(total.sum(), 1)).tolist()

        return {
            "kind": "numeric",
            "edges": edges.tolist(),
            "reference": shares(ref.counts, ref.offsets),
            "current": shares(cur.counts, cur.offsets),
        }
    if ref.kind in ("categorical", "boolean"):
        if cur is None or cur.counts is None:
            return None
        cats = ref.categories or []
        ref_total = max(sum(n for _, n in cats), 1)
        cur_total = max(cur.count, 1)
        top = 12
        labels = [str(v) for v, _ in cats[:top]]
        ref_sh = [n / ref_total for _, n in cats[:top]]
        cur_sh = [int(c) / cur_total for c in cur.counts[:top]]
        unseen = sorted(cur.unseen.items(), key=lambda kv: -kv[1])[:5]
        for v, c in unseen:
            labels.append(f"{v} (unseen)")
            ref_sh.append(0.0)
            cur_sh.append(c / cur_total)
        rest_ref = sum(n for _, n in cats[top:]) / ref_total
        rest_cur = (
            int(cur.counts[top:].sum())
            + sum(c for _, c in sorted(cur.unseen.items(), key=lambda kv: -kv[1])[5:])
            + cur.unseen_other
        ) / cur_total
        if rest_ref or rest_cur:
            labels.append("(other)")
            ref_sh.append(rest_ref)
            cur_sh.append(rest_cur)
        return {"kind": "categorical", "labels": labels, "reference": ref_sh, "current": cur_sh}
    return None


def score_histogram(
    quantiles: np.ndarray | None, scores: np.ndarray | None, bins: int = 25
) -> dict[str, Any] | None:
    """Reference vs current score shares on equal-width bins over the reference's range."""
    if quantiles is None or scores is None or not scores.size:
        return None
    lo, hi = float(quantiles[0]), float(quantiles[-1])
    if not hi > lo:
        return None
    edges = np.linspace(lo, hi, bins + 1)
    ref_cdf = np.interp(edges, quantiles, np.linspace(0, 1, quantiles.size))
    ref = np.diff(ref_cdf)
    cur = np.histogram(np.clip(scores, lo, hi), bins=edges)[0] / scores.size
    return {
        "kind": "numeric",
        "edges": edges.tolist(),
        "reference": ref.tolist(),
        "current": cur.tolist(),
    }
