"""A model version as served: its scorers, checks, batcher and protocol metadata.

Three scorers, fastest first, chosen once when the version is loaded:

1. ``lightgbm-compiled`` (:mod:`modelyard.serving.fastpath`): exact, and
   verified here with ``np.array_equal`` against the native model on the
   version's input example before it may serve;
2. ``onnx``: the version's compiled ONNX form, only if its parity check
   passed (``load_compiled`` refuses it otherwise);
3. ``native``: the loaded model on a pandas frame — always correct, slowest.

Whatever the scorer, input is checked first: the fast path's plan accepts
only in-domain values it is sure of (known categories, numbers inside the
training range, no nulls), and everything else goes through the version's
:class:`~modelyard.flavors.contract.InputContract`, which raises
``InvalidInput`` naming each hard problem and returns warnings for the
out-of-domain values the version scores.

A compiled scorer (:mod:`modelyard.compiled`) is also checked at load on
out-of-domain variants of the example (numbers beyond the training range,
nulls, unseen categories — where the contract scores them). When its answers
match the native model's there (bit for bit, or within a linear model's
stated tolerance), it scores such rows too: out-of-range numbers with the
contract's range warnings computed from its columns, the rest after the
contract's canonical check. Otherwise they stay with the native model.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modelyard.compiled.report import COMPILE_REPORT
from modelyard.errors import InvalidInput
from modelyard.serving.batching import MicroBatcher
from modelyard.serving.errors import ModelFailure
from modelyard.serving.fastpath import FLOAT_BOUND, FastScorer, compile_fast_scorer
from modelyard.serving.inputs import Payload
from modelyard.serving.threads import single_threaded

if TYPE_CHECKING:
    import pandas as pd

    from modelyard.flavors import LoadedModel, ModelManifest, OnnxPredictor
    from modelyard.flavors.contract import InputContract
    from modelyard.flavors.policy import InputPolicy
    from modelyard.serving.config import ServingConfig
    from modelyard.serving.explanations import ExplainSource
    from modelyard.serving.metrics import ServingMetrics
    from modelyard.yard import Yard

__all__ = ["COMPILE_REPORT", "Prepared", "ServedVersion", "load_version"]

logger = logging.getLogger("modelyard.serving")

MATRIX, COLUMNS, FRAME = 0, 1, 2
_V2_TYPES = {
    "integer": "INT64",
    "float": "FP64",
    "boolean": "BOOL",
    "string": "BYTES",
    "category": "BYTES",
    "datetime": "BYTES",
}


class Prepared:
    """One request's checked input in the form its scorer takes, and its warnings."""

    __slots__ = ("columns", "data", "kind", "n", "warnings")

    def __init__(
        self, kind: int, data: Any, n: int, warnings: Any = None, columns: Any = None
    ) -> None:
        self.kind = kind
        self.data = data
        self.n = n
        self.warnings = warnings
        self.columns = columns
        """The checked input columns, when the compiled scorer kept them (for the log)."""


class ServedVersion:
    """One model version as served. Immutable once warm; routes swap whole objects.

    The native model is loaded lazily when a version starts from its stored
    compiled form: only an input the fast path cannot take (a null, say) needs it.
    """

    def __init__(
        self,
        name: str,
        version: int,
        digest: str,
        manifest: ModelManifest,
        *,
        native: Callable[[], LoadedModel] | LoadedModel,
        fast: FastScorer | None = None,
        onnx: OnnxPredictor | None = None,
    ) -> None:
        self.name = name
        self.version = version
        self.version_str = str(version)
        self.key = f"{name}/{version}"
        self.digest = digest
        self.flavor = manifest.flavor
        self.signature = manifest.signature
        from modelyard.flavors.contract import InputContract

        self.contract = InputContract.from_manifest(manifest)
        self._contracts: dict[str, InputContract | None] = {"": self.contract}
        self.task = manifest.task
        self.classes: list[Any] | None = list(manifest.classes) if manifest.classes else None
        self._native = native if not callable(native) else None
        self._native_loader = native if callable(native) else None
        self._native_lock = threading.Lock()
        self.fast = fast
        self.onnx = onnx
        self.load_seconds = 0.0
        self.notes: list[str] = []
        self.batcher: MicroBatcher | None = None
        self.explain_source: ExplainSource | None = None  # set by load_version
        if self.task == "classification" and self.classes is None:
            raise InvalidInput(f"{self.key} is a classifier without recorded classes")
        self.class_keys = [str(c) for c in self.classes or []]
        self.binary = self.classes is not None and len(self.classes) == 2
        self._bounds: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._bound_list: list[tuple[int, float, float]] = []
        # The compiled scorer without the training-domain limits, once its answers on
        # out-of-domain rows matched the native model's (``warm``): rows the contract
        # checked and flagged are then scored by it, not by the native pipeline.
        self._wide: Any = None
        self._set_bounds()

    def _set_bounds(self) -> None:
        """Training ranges of the numeric columns in the fast path's matrix.

        A request with a number outside them leaves the fast path, so that the
        contract flags it (one vectorised comparison per request).
        """
        self._bounds = None
        self._matrix_ranges = None
        # Out-of-range numbers are always scored (with a warning): an exact fast scorer
        # scores them too, bit-identical to the native model, and the contract's own
        # range check gives the warnings. A scorer within a tolerance leaves such rows
        # to the native model, as before.
        self._scorer_ranges = (
            self.fast is not None
            and self.contract is not None
            and (getattr(self.fast, "tolerance", None) == 0.0 or self._wide is not None)
            # What the scorer's class says, not a probe of its encode: a scorer that
            # does not say is modelyard.compiled's, whose encode takes ``ranges``.
            and getattr(self.fast, "reports_ranges", True)
        )
        # modelyard.compiled's scorers also hand over their checked columns (``keep``).
        self._keeps = getattr(self.fast, "keeps_columns", False)
        positions = getattr(self.fast, "positions", None)
        if positions is None or self.contract is None:
            return  # a compiled scorer checks the training ranges itself (see its encode)
        where, low, high = [], [], []
        for name, j in positions().items():
            rule = self.contract.rules.get(name)
            if rule is None or (rule.minimum is None and rule.maximum is None):
                continue
            where.append(j)
            low.append(-np.inf if rule.minimum is None else rule.minimum)
            high.append(np.inf if rule.maximum is None else rule.maximum)
        if where:
            self._bounds = (np.array(where), np.array(low), np.array(high))
            self._bound_list = list(zip(where, low, high, strict=True))
        # The matrix holds every bounded numeric column as sent (the LightGBM plan passes
        # numbers through): its columns give the contract's warnings exactly. A bounded
        # column the model does not read is not in the matrix: then the canonical path.
        used = positions()
        ranged = [
            (spec.name, used.get(spec.name))
            for spec in self.contract.signature.inputs
            if spec.type in ("float", "integer")
        ]
        rules = self.contract.rules
        if all(
            j is not None or (rules[n].minimum is None and rules[n].maximum is None)
            for n, j in ranged
        ):
            self._matrix_ranges = [(n, j) for n, j in ranged if j is not None]

    def contract_for(self, policy: InputPolicy | None, key: str = "") -> InputContract | None:
        """The contract with a route's policy applied over the version's (cached by ``key``)."""
        if not key or self.contract is None:
            return self.contract
        found = self._contracts.get(key)
        if found is None:
            found = self.contract.with_policy(policy)
            self._contracts[key] = found
        return found

    @property
    def loaded(self) -> LoadedModel:
        """The native model (verified against the registry when it is first loaded)."""
        if self._native is None:
            with self._native_lock:
                if self._native is None:
                    assert self._native_loader is not None
                    self._native = self._native_loader()
        return self._native

    @property
    def scorer(self) -> str:
        if self.fast is not None:
            return self.fast.kind
        return "onnx" if self.onnx is not None else "native"

    # -- input ----------------------------------------------------------------
    def prepare(self, payload: Payload, contract: InputContract | None = None) -> Prepared:
        """Check ``payload`` against the contract and convert it for the scorer.

        Args:
            contract: A route's contract (its policy over the version's); by
                default the version's own.

        Raises:
            InvalidInput: Every problem, by column (a 422 for the client).
        """
        fast = self.fast
        if fast is not None:
            if self._scorer_ranges:
                # The compiled scorer hands over the columns with numbers outside the
                # training range; the contract flags them as its own check would.
                found: list[tuple[str, np.ndarray]] = []
                kept: dict[str, Any] | None = {} if self._keeps else None
                matrix = fast.encode(payload, found, kept) if kept is not None else (
                    fast.encode(payload, found)
                )  # fmt: skip
                if matrix is not None:
                    warnings = (contract or self.contract).range_warnings(found) if found else None
                    return Prepared(MATRIX, matrix, payload.n, warnings or None, kept)
                if self._wide is not None:
                    return self._prepare_wide(payload, contract or self.contract)
            else:
                matrix = fast.encode(payload)
                if matrix is not None:
                    if not self._outside(matrix):
                        return Prepared(MATRIX, matrix, payload.n)
                    if self._matrix_ranges is not None:
                        warnings = (contract or self.contract).range_warnings(
                            (name, matrix[:, j]) for name, j in self._matrix_ranges
                        )
                        if warnings:
                            return Prepared(MATRIX, matrix, payload.n, warnings)
        columns = payload.as_columns()
        warnings = None
        contract = contract or self.contract
        if contract is not None:
            columns, warnings = contract.check_columns(columns)
            _check_float_bounds(contract.signature, columns)
        if self.onnx is not None and not warnings:
            # Out-of-domain rows go to the native model: the ONNX form's parity was
            # checked on in-domain rows only, the registration probe on the native one.
            return Prepared(COLUMNS, columns, payload.n)
        import pandas as pd

        return Prepared(FRAME, pd.DataFrame(columns), payload.n, warnings or None)

    def _prepare_wide(self, payload: Payload, contract: InputContract) -> Prepared:
        """The contract's canonical check (errors, warnings), then the widened compiled scorer.

        For a request with an unseen category or a null the domain-bound scorer left
        alone: the contract decides and flags exactly as on the native path; only the
        scoring differs, by the parity checked at load. A value the widened scorer
        cannot take either (a null integer, say) still goes to the native model.
        """
        columns, warnings = contract.check_columns(payload.as_columns())
        _check_float_bounds(contract.signature, columns)
        kept: dict[str, Any] = {}
        matrix = self._wide.encode(payload, None, kept)
        if matrix is not None:
            return Prepared(MATRIX, matrix, payload.n, warnings or None, kept)
        if self.onnx is not None and not warnings:
            return Prepared(COLUMNS, columns, payload.n)
        import pandas as pd

        return Prepared(FRAME, pd.DataFrame(columns), payload.n, warnings or None)

    def _outside(self, matrix: np.ndarray) -> bool:
        bounds = self._bounds
        if bounds is None:
            return False
        where, low, high = bounds
        if matrix.shape[0] == 1:
            # One row: scalar comparisons beat numpy's per-call overhead several times over.
            item = matrix.item
            for j, lo, hi in self._bound_list:
                value = item(0, j)
                if value < lo or value > hi:
                    return True
            return False
        values = matrix[:, where]
        return bool(((values < low) | (values > high)).any())

    # -- scoring --------------------------------------------------------------
    def score(self, items: Sequence[Prepared]) -> np.ndarray:
        """Outputs for every row of ``items`` in order: probabilities or values.

        Raises:
            ModelFailure: The model raised; the original exception is chained.
        """
        try:
            if len(items) == 1 or all(p.kind == items[0].kind for p in items):
                return self._score_kind(items[0].kind, items)
            parts = []
            for p in items:  # mixed fast and canonical inputs: rare, keep order simple
                parts.append(self._score_kind(p.kind, [p]))
            return np.concatenate(parts)
        except ModelFailure:
            raise
        except Exception as exc:
            raise ModelFailure(
                f"model {self.key} failed while scoring this request; "
                "the server log has the error under this request id"
            ) from exc

    def _score_kind(self, kind: int, items: Sequence[Prepared]) -> np.ndarray:
        if kind == MATRIX:
            assert self.fast is not None
            matrix = items[0].data if len(items) == 1 else np.concatenate([p.data for p in items])
            return self.fast.predict(matrix)
        if kind == COLUMNS:
            assert self.onnx is not None
            columns = items[0].data if len(items) == 1 else _concat_columns(items)
            if self.task == "classification":
                return self.onnx.predict_proba_columns(columns)
            return self.onnx.predict_columns(columns)
        frame = items[0].data if len(items) == 1 else _concat_frames(items)
        if self.task == "classification":
            return self.loaded.predict_proba(frame, validate=False)
        return np.asarray(self.loaded.predict(frame, validate=False), dtype=np.float64)

    def labels(self, outputs: np.ndarray) -> list[Any]:
        """Predicted labels (the most probable class) for classifier outputs."""
        classes = self.classes or []
        return [classes[i] for i in outputs.argmax(axis=1).tolist()]

    # -- loading --------------------------------------------------------------
    def warm(self, example: pd.DataFrame | None, rows: int, *, compare: bool = True) -> int:
        """Score the example through every path once; returns the rows checked exactly.

        With ``compare`` the fast path must give exactly the native model's answers
        on those rows, or it is dropped (the version is then served natively).
        """
        if example is None or rows == 0 or self.signature is None:
            return 0
        names = self.signature.input_names
        frame = example[names].head(rows).dropna()
        if frame.empty:
            return 0
        payload = Payload.from_columns({c: frame[c].tolist() for c in names})
        checked = 0
        if self.fast is not None and compare:
            expected = (
                self.loaded.predict_proba(frame)
                if self.task == "classification"
                else np.asarray(self.loaded.predict(frame), dtype=np.float64)
            )
            matrix = self.fast.encode(payload)
            got = self.fast.predict(matrix) if matrix is not None else None
            matches = getattr(self.fast, "matches", None)  # compiled scorers with a tolerance
            if (
                got is None
                or got.shape != expected.shape
                or not (matches(got, expected) if matches else np.array_equal(got, expected))
            ):
                diff = (
                    float(np.max(np.abs(got - expected)))
                    if got is not None and got.shape == expected.shape
                    else None
                )
                self.notes.append(f"compiled path not exact on the example (max diff {diff})")
                logger.warning(
                    "fast path of %s differs from the native model; serving natively",
                    self.key,
                    extra={"model": self.key, "max_abs_diff": diff},
                )
                self.fast = None
            else:
                checked = len(frame)
                checked += self._check_out_of_domain(frame)
        one = Payload.from_records(frame.head(1).to_dict(orient="records"))
        self.score([self.prepare(one)])
        self.score([self.prepare(payload)])
        return checked

    def _check_out_of_domain(self, frame: pd.DataFrame) -> int:
        """Check the widened compiled scorer against the native model on out-of-domain rows.

        Rows of the example with, one column at a time, numbers beyond the training range
        (below and above), a null and an unseen category — each only where the contract
        scores it — plus all of them at once. Each variant goes the canonical way (the
        contract's check, a frame, the native model) and through the widened scorer;
        every variant the widened scorer takes must match within its tolerance, and then
        it scores such rows in service (``_prepare_wide``). Returns the rows checked
        (0: out-of-domain rows stay with the native model).
        """
        fast, contract = self.fast, self.contract
        widen = getattr(fast, "widened", None)
        if widen is None or contract is None or self.signature is None:
            return 0
        wide = widen()
        variants = contract.out_of_domain_variants(frame.head(4).to_dict(orient="records"))
        accepted: list[list[dict[str, Any]]] = []
        for records in variants:
            try:
                contract.check_columns(Payload.from_records(records).as_columns())
            except InvalidInput:
                continue  # the contract refuses it: never scored, by any scorer
            accepted.append(records)
        # One native call for every accepted variant (a row's answer does not depend on
        # the rows beside it); one per variant only if the native model refuses some.
        expected_all = self._native_answers([r for records in accepted for r in records])
        checked = 0
        offset = 0
        for records in accepted:
            rows = slice(offset, offset + len(records))
            offset += len(records)
            payload = Payload.from_records(records)
            matrix = wide.encode(payload)
            expected = (
                expected_all[rows] if expected_all is not None else self._native_answers(records)
            )
            if expected is None:  # the native model refuses the variant
                if matrix is None:
                    continue
                self.notes.append("compiled path takes out-of-domain rows the native model refuses")
                return 0
            if matrix is None:
                continue
            got = wide.predict(matrix)
            if not fast.matches(got, expected):
                diff = (
                    float(np.max(np.abs(got - expected))) if got.shape == expected.shape else None
                )
                self.notes.append(
                    "compiled path not within its tolerance on out-of-domain rows "
                    f"(max diff {diff})"
                )
                return 0
            checked += len(records)
        if checked:
            self._wide = wide
            self._set_bounds()
            self.notes.append(f"compiled path checked on {checked} out-of-domain rows")
        return checked

    def _native_answers(self, records: list[dict[str, Any]]) -> np.ndarray | None:
        """The canonical path's answers (the contract's check, a frame, the native model)
        for records the contract accepts; None when the check or the native model raises
        on them together (the caller then asks per variant)."""
        if not records or self.contract is None:
            return None
        try:
            columns, _ = self.contract.check_columns(Payload.from_records(records).as_columns())
            return self._score_kind(FRAME, [Prepared(FRAME, _frame(columns), len(records))])
        except Exception:  # the native model refuses them: the caller decides what it means
            return None

    def warm_synthetic(self) -> None:
        """Score a made-up valid row (and a batch of them) once, to warm the fast path."""
        if self.signature is None or self.fast is None:
            return
        record: dict[str, Any] = {}
        for spec in self.signature.inputs:
            if spec.type in ("float", "integer"):
                low = spec.minimum if isinstance(spec.minimum, int | float) else 0
                record[spec.name] = float(low) if spec.type == "float" else int(low)
            elif spec.categories:
                record[spec.name] = spec.categories[0]
            else:
                return  # nothing certainly valid to send; the first request warms it
        for rows in (1, 16):
            self.score([self.prepare(Payload.from_records([record] * rows))])

    # -- protocol metadata ----------------------------------------------------
    def v2_inputs(self) -> list[dict[str, Any]]:
        if self.signature is None:
            return []
        return [
            {"name": s.name, "datatype": _V2_TYPES[s.type], "shape": [-1]}
            for s in self.signature.inputs
        ]

    def v2_outputs(self) -> list[dict[str, Any]]:
        if self.task != "classification":
            return [{"name": "prediction", "datatype": "FP64", "shape": [-1]}]
        label_type = "INT64" if all(_is_int(c) for c in self.classes or []) else "BYTES"
        return [
            {"name": "label", "datatype": label_type, "shape": [-1]},
            {"name": "probabilities", "datatype": "FP64", "shape": [-1, len(self.classes or [])]},
        ]

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.name,
            "version": self.version,
            "digest": self.digest,
            "task": self.task,
            "classes": self.classes,
            "scorer": self.scorer,
            "load_seconds": round(self.load_seconds, 4),
            "notes": list(self.notes),
        }


def domain_categories(contract: InputContract | None) -> dict[str, frozenset[str] | None]:
    """Per string column, the values the fast path may take without a warning."""
    if contract is None:
        return {}
    return {name: rule.categories for name, rule in contract.rules.items()}


def _check_float_bounds(signature: Any, columns: dict[str, Any]) -> None:
    """Refuse float inputs beyond ±FLOAT_BOUND, the range the OpenAPI schema promises."""
    problems = []
    for spec in signature.inputs:
        if spec.type != "float" or spec.name not in columns:
            continue
        values = np.asarray(columns[spec.name], dtype=np.float64)
        bad = values[np.abs(values) > FLOAT_BOUND]
        if bad.size:
            problems.append(
                {
                    "column": spec.name,
                    "problem": f"out of range: |value| must be at most {FLOAT_BOUND:g}",
                    "values": bad[:5].tolist(),
                }
            )
    if problems:
        shown = "; ".join(f"{p['column']}: {p['problem']}" for p in problems)
        raise InvalidInput(f"input does not match the model's signature: {shown}", details=problems)


def _frame(columns: dict[str, Any]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(columns)


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _concat_columns(items: Sequence[Prepared]) -> dict[str, np.ndarray]:
    names = list(items[0].data)
    return {name: np.concatenate([np.asarray(p.data[name]) for p in items]) for name in names}


def _concat_frames(items: Sequence[Prepared]) -> pd.DataFrame:
    import pandas as pd

    return pd.concat([p.data for p in items], ignore_index=True)


# ---------------------------------------------------------------- loading

SERVING_ARTIFACT = "serving-lightgbm"
"""Name under which the verified compiled form is attached to a version."""


def load_version(
    yard: Yard,
    ref: str,
    config: ServingConfig,
    metrics: ServingMetrics | None = None,
) -> ServedVersion:
    """Resolve ``ref`` and make it servable with the fastest exact scorer, warmed.

    A version whose verified compiled form is attached to it starts from that
    form alone — no unpickling, no scikit-learn — which is what makes a restart
    fast. Otherwise the native model is loaded (verified against the registry),
    compiled when it can be, checked to give exactly the native probabilities on
    the version's input example, and the compiled form is stored and attached for
    the next start (when the serving user may update versions).
    """
    from modelyard.flavors import ModelManifest

    started = time.perf_counter()
    name, version, digest = yard.models.resolve_digest(ref)
    vref = f"{name}/{version}"
    info = yard.models.get(vref)
    # Trusted code (a pickle) is served by its registrant only until it has its sign-offs,
    # also from a stored compiled form: that rule is about who vouched, not about bytes.
    require = getattr(yard.models, "require_loadable", None)
    if require is not None:
        require(info)
    manifest = ModelManifest.from_dict(info.manifest)

    def native() -> LoadedModel:
        loaded = yard.models.load(vref)
        single_threaded(loaded.native, config.native_threads)
        return loaded

    served = _from_stored_form(yard, info, digest, manifest, native)
    if served is None:
        loaded = native()
        fast, reason = compile_fast_scorer(
            loaded.native,
            loaded.signature,
            loaded.classes,
            loaded.task,
            domain_categories(loaded.contract),
            loaded.contract.rules if loaded.contract is not None else None,
        )
        served = ServedVersion(name, version, digest, manifest, native=loaded, fast=fast)
        if fast is None:
            served.notes.append(f"no compiled path: {reason}")
            served.onnx = _compiled_onnx(yard, vref)
        example = yard.models.input_example(vref)
        verified = served.warm(example, config.warm_rows)
        if isinstance(served.fast, FastScorer) and verified:
            _store_compiled(yard, vref, digest, served.fast, verified)
        elif served.fast is None and served.onnx is None and fast is not None:
            served.onnx = _compiled_onnx(yard, vref)
        store_compile_report(yard, vref, digest, served, reason, verified)
    else:
        # Warm without reading the example: no pickle is hashed, no Parquet reader is opened.
        served.warm_synthetic()
    served.explain_source = _explain_source(yard, info)
    if served.explain_source.table is not None:
        # A version registered with a reviewed reason table is meant to be explained:
        # its explainer (a tree model's TreeSHAP tables) is built at load, not by the
        # first request that asks. Without a table that first request builds it.
        served.explain_source.prepare(served)
    batching = config.batching
    served.batcher = MicroBatcher(
        served.score,
        max_batch_rows=batching.max_batch_rows,
        max_wait_s=batching.max_wait_ms / 1000.0,
        enabled=batching.enabled,
        observe=(
            (lambda rows, requests: metrics.observe_batch(name, str(version), rows, requests))
            if metrics is not None
            else None
        ),
    )
    served.load_seconds = time.perf_counter() - started
    if metrics is not None:
        metrics.model_load.labels(name, str(version), served.scorer).set(served.load_seconds)
    logger.info(
        "loaded %s with the %s scorer in %.2f s",
        vref,
        served.scorer,
        served.load_seconds,
        extra={"model": name, "model_version": version, "scorer": served.scorer},
    )
    return served


def _explain_source(yard: Yard, info: Any) -> ExplainSource:
    """The version's reason table now; its input example only when a request explains."""
    from modelyard.serving.explanations import ExplainSource

    table_of = getattr(yard.models, "reason_table", None)
    table = table_of(info) if table_of is not None else None
    return ExplainSource(table, lambda: yard.models.input_example(info.ref))


def _from_stored_form(
    yard: Yard,
    info: Any,
    digest: str,
    manifest: ModelManifest,
    native: Callable[[], LoadedModel],
) -> ServedVersion | None:
    """The version served from its attached compiled form, or None when it has none."""
    from modelyard.errors import ModelyardError
    from modelyard.registry.loading import verify_tree

    record = info.artifact(SERVING_ARTIFACT)
    if record is None or record.details.get("model_digest") != digest:
        return None
    directory = yard.settings.home / "cache" / "serving" / record.digest.removeprefix("sha256:")
    try:
        if not directory.exists():
            directory.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=directory.parent) as tmp:
                staged = Path(tmp) / "form"
                yard.artifacts.get_dir(record.digest, staged)
                try:
                    staged.rename(directory)
                except OSError:
                    if not directory.is_dir():  # else another process put it there first
                        raise
        verify_tree(yard.artifacts, record.digest, directory)  # every start, like model files
        fast, _ = FastScorer.load(directory)
    except (ModelyardError, OSError) as exc:
        logger.warning(
            "stored compiled form of %s not used: %s", info.ref, exc, extra={"model": info.ref}
        )
        return None
    served = ServedVersion(info.name, info.version, digest, manifest, native=native, fast=fast)
    served.notes.append(f"started from its verified compiled form ({record.digest[:19]})")
    return served


def _store_compiled(
    yard: Yard, vref: str, digest: str, fast: FastScorer, verified_rows: int
) -> None:
    """Store the verified compiled form and attach it to the version (best effort)."""
    from modelyard.errors import ModelyardError

    details = {
        "model_digest": digest,
        "scorer": fast.kind,
        "evaluator": fast.evaluator,
        "verified_rows": verified_rows,
        "exact": True,
    }
    try:
        with tempfile.TemporaryDirectory(prefix="modelyard-serving-") as tmp:
            directory = Path(tmp) / "form"
            directory.mkdir()
            fast.save(directory, details)
            stored = yard.artifacts.put_dir(directory)
        yard.models.attach(vref, SERVING_ARTIFACT, stored, kind="serving", details=details)
    except (ModelyardError, OSError) as exc:
        logger.info(
            "compiled form of %s not stored (it is compiled again at the next start): %s",
            vref,
            exc,
            extra={"model": vref},
        )


def store_compile_report(
    yard: Yard, vref: str, digest: str, served: ServedVersion, reason: str, verified: int
) -> None:
    """Attach the compile report (scorer, why not compiled, parity rows) to the version.

    Written when it changes, so a restart does not add an audit event per start.
    Best effort, like the compiled form: serving does not depend on it.
    """
    from modelyard.errors import ModelyardError
    from modelyard.serving.compile_report import compile_report, write_report

    report = compile_report(served, digest, reason, verified)
    try:
        current = yard.models.get(vref).artifact(COMPILE_REPORT)
        if current is not None and current.details == report["summary"]:
            return
        with tempfile.TemporaryDirectory(prefix="modelyard-compile-") as tmp:
            directory = Path(tmp) / "report"
            write_report(directory, report)
            stored = yard.artifacts.put_dir(directory)
        yard.models.attach(vref, COMPILE_REPORT, stored, kind="report", details=report["summary"])
    except (ModelyardError, OSError) as exc:
        logger.info("compile report of %s not stored: %s", vref, exc, extra={"model": vref})


def _compiled_onnx(yard: Yard, vref: str) -> OnnxPredictor | None:
    """The version's compiled ONNX form if it has one whose parity check passed."""
    from modelyard.errors import ModelyardError

    compiled = getattr(yard.models, "compiled", None)
    if compiled is None:
        return None
    try:
        return compiled(vref)
    except (ModelyardError, OSError) as exc:
        logger.warning("compiled form of %s not used: %s", vref, exc, extra={"model": vref})
        return None
