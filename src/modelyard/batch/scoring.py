"""The one scoring function every batch engine calls: ``score_batch(model, table, spec)``.

Checks happen at two levels, with the same words serving uses:

* **Schema** (:func:`check_schema`), before any work: a missing signature,
  id or passthrough column, or a column whose type can never hold the
  signature's type (text in a numeric Parquet column, numbers in a string
  column), stops the job with one :class:`~modelyard.errors.InvalidInput`
  listing every problem, and nothing is written.
* **Rows** (inside :func:`score_batch`), vectorised with Arrow, with the same
  rules as serving (:mod:`modelyard.flavors.contract`). A value of the wrong
  type (a fractional number in an integer column; in CSV, text that does not
  parse as the column's type) — and an out-of-domain value the version cannot
  score (its policy or its registration probe says ``reject``) — is a row that
  truly cannot be scored: it goes to the rejects table with a ``_reason``
  naming each column, problem and value. Out-of-domain values the version
  scores (a category unseen in training, a null in a column that had none, a
  number outside the training range) are scored and *counted* as warnings
  (:class:`BatchChecks`, summed into the job's summary). The contract's own
  check then runs on the rows that passed, and remains the authority: a row
  it still refuses is isolated and rejected too.

Scoring prefers, in order: the compiled ONNX form when the version has one
whose parity check passed; the pipeline compiled by :mod:`modelyard.compiled`
(the form serving uses, checked at load against the native model on the
version's input example within its stated tolerance); for a scikit-learn
pipeline ending in LightGBM, the pipeline's transform plus the booster on one
thread; else the flavor's ``predict_proba``. The scorer and, when the pipeline
is not compiled, the reason are recorded with the job.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modelyard.errors import IntegrityError, InvalidInput

if TYPE_CHECKING:
    import pandas as pd

    from modelyard.flavors import LoadedModel, Signature
    from modelyard.flavors._enforce import ColumnRule
    from modelyard.flavors.contract import InputContract
    from modelyard.flavors.signature import ColumnSpec

__all__ = [
    "REASON",
    "BatchChecks",
    "ScoringModel",
    "ScoringSpec",
    "check_schema",
    "csv_column_types",
    "output_schema",
    "score_batch",
]

logger = logging.getLogger(__name__)

REASON = "_reason"
EXAMPLE_FILE = "input_example.parquet"
_INT_TEXT = r"^[+-]?\d+(\.0*)?$"
_FLOAT_TEXT = r"^[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|inf|infinity)$"
_TRUE, _FALSE = ("true", "True", "TRUE"), ("false", "False", "FALSE")


@dataclass(frozen=True)
class ScoringSpec:
    """What a scored row carries besides the scores (the same for every part of a job)."""

    model_name: str
    model_version: int
    id_column: str | None = None
    passthrough: tuple[str, ...] = ()
    scored_at_ms: int = 0
    explain: int = 0  # top adverse reasons per row, as reason_<rank>_* columns
    reason_table: str | None = None  # the version's reason table, as JSON

    @property
    def kept_columns(self) -> list[str]:
        keep = [self.id_column] if self.id_column else []
        return keep + [c for c in self.passthrough if c not in keep]


class BatchChecks:
    """Counts of one part (or job): rows flagged per ``"column: kind"``, rejected per reason.

    A reason is ``"column: problem"`` (values left out, so that it groups); a
    rejected row with two problems counts under both.
    """

    def __init__(self) -> None:
        self.warnings: dict[str, int] = {}
        self.rejects: dict[str, int] = {}

    def warn(self, column: str, kind: str, rows: int) -> None:
        if rows:
            key = f"{column}: {kind}"
            self.warnings[key] = self.warnings.get(key, 0) + rows

    def reject(self, reason: str, rows: int) -> None:
        if rows:
            self.rejects[reason] = self.rejects.get(reason, 0) + rows

    def add(self, warnings: dict[str, int], rejects: dict[str, int]) -> None:
        for key, n in warnings.items():
            self.warnings[key] = self.warnings.get(key, 0) + int(n)
        for key, n in rejects.items():
            self.rejects[key] = self.rejects.get(key, 0) + int(n)


# ---------------------------------------------------------------- the model


class ScoringModel:
    """A loaded model reduced to what scoring needs, loaded once per worker process.

    Attributes:
        signature: Input signature (required: batch scoring checks every row).
        task: ``"classification"`` or ``"regression"``.
        classes: Class labels in probability-column order (classifiers).
        form: ``"onnx"``, a compiled scorer's kind (``"forest-compiled"``, ...; see
            :mod:`modelyard.compiled`), ``"lightgbm-booster"`` or ``"native"``
            — what actually predicts.
        contract: The version's input contract (domain, probe, policy): what is
            scored with a warning and what is rejected.
        reason: ``"compiled"``, or why the pipeline is not scored compiled.
        evaluator: What evaluates a compiled scorer's model: ``"numba tree kernel"``, the
            kernel after so many rows with the tree library's evaluator before, or what
            a scorer without the kernel uses (``"numpy"``, the C API and why); None for
            the other forms.
    """

    def __init__(
        self,
        signature: Signature,
        task: str,
        classes: list[Any] | None,
        form: str,
        predict: Callable[[pd.DataFrame], np.ndarray],
        contract: InputContract | None = None,
        reason: str = "compiled",
    ) -> None:
        from modelyard.flavors.contract import InputContract

        self.signature = signature
        self.contract = contract if contract is not None else InputContract(signature)
        self.task = task
        self.classes = list(classes) if classes is not None else None
        self.form = form
        self.reason = reason
        self.evaluator: str | None = None
        self.kernel_deferred = False  # the tree kernel waits for the break-even
        self._predict = predict
        self._labels = np.asarray(self.classes) if self.classes is not None else None
        self.model_dir: Path | None = None  # where load() found it (the input example)
        # The input example's digest as the registry recorded it (None: the version has
        # none); every read of the example is checked against it (see read_example).
        self.example_digest: str | None = None
        # The native model object the verified load produced: explaining uses it rather
        # than loading the directory again, unverified (and running trusted code twice).
        self._native: Any = None
        self._explainer: Any = None

    def __repr__(self) -> str:
        return f"<ScoringModel form={self.form} task={self.task}>"

    @classmethod
    def load(
        cls,
        model_dir: str | Path,
        compiled_dir: str | Path | None = None,
        *,
        form: str = "auto",
        trusted_code: bool = False,
        trusted_types: Sequence[str] = (),
        files: Mapping[str, str] | None = None,
        kernel_after_rows: int | None = None,
    ) -> ScoringModel:
        """Load from a verified model directory (see ``_load``), once.

        ``trusted_code``: the submitting user may run this pickled model's code
        (checked by the batch service; see ``load_model``); ``trusted_types``:
        extra skops types allowed (the ``trusted_types`` setting). ``files``: the
        registry's ``{path: "sha256:<hex>"}`` for the directory (a
        :class:`~modelyard.batch.bundle.ModelBundle` passes them); the input
        example is read only when its bytes hash to the digest recorded there —
        at load and again when a job first explains, which may be long after the
        load in a worker that keeps the model. Without ``files`` the caller has
        just verified the directory, and the example's digest is taken now.
        ``kernel_after_rows``: rows this process scores through a tree library
        before it compiles the kernel, as the job decided (0: at load; None: this
        process's setting; see :func:`kernel_after_rows_for`).
        """
        from modelyard.flavors import load_model

        if form not in ("auto", "onnx", "native"):
            raise InvalidInput(f"The form must be one of ('auto', 'onnx', 'native'). Got {form!r}.")
        path = Path(model_dir) / EXAMPLE_FILE
        if files is not None:
            example_digest = files.get(EXAMPLE_FILE)
        else:
            example_digest = _sha256(path.read_bytes()) if path.is_file() else None
        loaded = load_model(model_dir, trusted_code=trusted_code, trusted_types=trusted_types)
        example = read_example(model_dir, example_digest)
        model = cls._load(
            loaded, example, compiled_dir, form=form, kernel_after_rows=kernel_after_rows
        )
        model.model_dir = Path(model_dir)
        model.example_digest = example_digest
        model._native = loaded.native
        return model

    def explainer(self) -> Any:
        """The native model's explainer, built on first use (only jobs that explain pay)."""
        if self._explainer is None:
            from modelyard.explain import Explainer

            if self.model_dir is None or self._native is None:
                raise InvalidInput("this model was not loaded from a directory; cannot explain")
            background = read_example(self.model_dir, self.example_digest)
            if background is None:
                raise InvalidInput(
                    f"explain: the model at {self.model_dir} has no input example to explain "
                    "against; register the version again with example=<training frame>"
                )
            try:
                self._explainer = Explainer(
                    self._native, self.signature.input_names, background=background
                )
            except InvalidInput as exc:
                raise InvalidInput(f"explain: {exc.message}") from exc
        return self._explainer

    @classmethod
    def _load(
        cls,
        loaded: LoadedModel,
        example: pd.DataFrame | None,
        compiled_dir: str | Path | None = None,
        *,
        form: str = "auto",
        kernel_after_rows: int | None = None,
    ) -> ScoringModel:
        """The scorer for ``loaded``, the model in a verified directory (and its ONNX form).

        Args:
            loaded: The model as ``load_model`` read it from a verified directory (with
                the trust decision the batch service checked: who may run trusted code,
                the ``trusted_types`` setting).
            example: The version's input example, read with its digest checked
                (:func:`read_example`), or None when the version has none.
            compiled_dir: A compiled form (``model.onnx`` + ``parity.json``); used
                when ``form`` is ``"auto"`` or ``"onnx"`` and its parity passed.
            form: ``"auto"``, ``"onnx"`` or ``"native"``.
            kernel_after_rows: Rows scored through a tree library before the kernel is
                compiled (0: at load; None: :func:`kernel_after_rows_for` of no forecast).

        Raises:
            InvalidInput: The model has no signature, or ``form="onnx"`` without
                a usable compiled form.
            IntegrityError: The compiled form failed its parity check (``form="onnx"``).
        """
        from modelyard.compiled import is_deferred
        from modelyard.flavors import load_compiled

        signature = loaded.signature
        if signature is None:
            raise InvalidInput(
                f"model {loaded.manifest.model_class} was registered without an example, so it "
                "has no signature; batch scoring checks every row against one — register the "
                "version again with example=<training frame>"
            )
        classes = loaded.classes
        contract = loaded.contract
        if loaded.task == "classification" and classes is None:
            if example is None:
                raise InvalidInput(
                    f"model {loaded.manifest.model_class} has no input example to infer its "
                    "classes from"
                )
            proba = loaded.predict_proba(example.head(1), validate=True)
            classes = list(range(proba.shape[1]))
        if compiled_dir is not None and form != "native":
            from modelyard.errors import IntegrityError

            try:
                onnx = load_compiled(compiled_dir, threads=1)
            except IntegrityError:
                if form == "onnx":
                    raise
                logger.warning("compiled form at %s is not usable; scoring natively", compiled_dir)
            else:
                reason = "the version's compiled ONNX form passed its parity check"
                if loaded.task == "classification":
                    return cls(
                        signature,
                        loaded.task,
                        classes,
                        "onnx",
                        lambda f: onnx.predict_proba(f, validate=False),
                        contract,
                        reason,
                    )
                return cls(
                    signature,
                    loaded.task,
                    None,
                    "onnx",
                    lambda f: onnx.predict(f, validate=False),
                    contract,
                    reason,
                )
        if form == "onnx":
            raise InvalidInput(
                "form='onnx' needs a compiled ONNX form whose parity check passed; "
                "this version has none"
            )
        if form == "auto":
            after = kernel_after_rows_for(None) if kernel_after_rows is None else kernel_after_rows
            compiled, reason = _compiled_path(loaded, example, after)
        else:
            compiled, reason = None, "form='native' was asked for"
        if compiled is not None:
            kind, predict, evaluator = compiled
            task_classes = classes if loaded.task == "classification" else None
            model = cls(signature, loaded.task, task_classes, kind, predict, contract)
            model.evaluator = evaluator
            model.kernel_deferred = is_deferred(evaluator)
            return model
        if loaded.task != "classification":
            return cls(
                signature,
                loaded.task,
                None,
                "native",
                lambda f: loaded.predict(f, validate=False),
                contract,
                reason,
            )
        fast = _booster_path(loaded, example)
        if fast is not None:
            return cls(signature, loaded.task, classes, "lightgbm-booster", fast, contract, reason)
        return cls(
            signature,
            loaded.task,
            classes,
            "native",
            lambda f: loaded.predict_proba(f, validate=False),
            contract,
            reason,
        )

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Probabilities (rows, classes) for a classifier, values (rows,) for a regressor."""
        return np.asarray(self._predict(frame), dtype=np.float64)

    def labels(self, proba: np.ndarray) -> np.ndarray:
        assert self._labels is not None
        return self._labels[np.argmax(proba, axis=1)]


def read_example(model_dir: str | Path, digest: str | None) -> pd.DataFrame | None:
    """The version's input example, read only if its bytes hash to ``digest``.

    The bytes are hashed and parsed from one read, so a file swapped between
    the check and the parse is never used. ``digest`` None: the registry
    recorded no example, and one found in the directory is refused too.

    Raises:
        IntegrityError: The file's hash is not the recorded one, the recorded
            file is missing, or a file the registry never recorded is present.
    """
    import pandas as pd

    path = Path(model_dir) / EXAMPLE_FILE
    if digest is None:
        if path.exists():
            raise IntegrityError(
                f"model file {EXAMPLE_FILE} at {model_dir} is not in the version's manifest; "
                "refusing to read it"
            )
        return None
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise IntegrityError(
            f"model file {EXAMPLE_FILE} at {model_dir} is missing; the registry recorded {digest}"
        ) from exc
    actual = _sha256(data)
    if actual != digest:
        raise IntegrityError(
            f"model file {EXAMPLE_FILE} at {model_dir} has hash {actual}, expected {digest} "
            "(recorded by the registry); refusing to read it"
        )
    return pd.read_parquet(io.BytesIO(data))


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _compiled_path(
    loaded: LoadedModel, example: pd.DataFrame | None, kernel_after_rows: int
) -> tuple[tuple[str, Callable[[pd.DataFrame], np.ndarray], str] | None, str]:
    """((kind, predict, evaluator), "compiled") when the compiled pipeline matches the
    native model, else (None, why not).

    The same compiled form serving uses (:mod:`modelyard.compiled`), checked
    on the version's input example within the scorer's stated tolerance. A chunk
    the compiled decoder refuses (a value only the native model decides about) is
    scored natively, so answers never depend on which path took a chunk.
    """
    from modelyard.compiled import compile_pipeline
    from modelyard.compiled import kernel_after_rows as deferring_kernel

    if loaded.flavor != "sklearn":
        return None, f"the {loaded.flavor} flavor has no compiled form"
    # A worker compiles the tree kernel at load when its share of the job repays it,
    # else only once it has scored enough rows to.
    with deferring_kernel(kernel_after_rows):
        scorer, reason = compile_pipeline(
            loaded.native, loaded.signature, loaded.task, loaded.classes
        )
    if scorer is None:
        logger.info("no compiled batch path: %s", reason)
        return None, reason

    def native(frame: pd.DataFrame) -> np.ndarray:
        if loaded.task == "classification":
            return loaded.predict_proba(frame, validate=False)
        return np.asarray(loaded.predict(frame, validate=False), dtype=np.float64)

    if example is None:
        return None, "the version has no input example to check the compiled form on"
    try:
        checked = loaded.enforce(example)
        matrix = scorer.encode(_frame_columns(checked))
        got = scorer.predict(matrix) if matrix is not None else None
        same = scorer.matches(got, native(checked))
    except Exception as exc:  # any failure just means "use the general path"
        logger.info("compiled batch path unavailable: %s", exc)
        return None, f"the compiled form failed on the input example: {exc}"
    if not same:
        return None, (
            f"the compiled form ({scorer.kind}) differs from the native model on the input "
            f"example beyond its tolerance {scorer.tolerance:g}"
        )
    # The contract has checked (and flagged) every chunk before it is scored: once the
    # widened scorer matched out of domain, it alone encodes (the same matrix in domain).
    encoder = _widened_if_exact(scorer, loaded, example, native) or scorer

    def predict(frame: pd.DataFrame) -> np.ndarray:
        if not len(frame):
            return native(frame)
        matrix = encoder.encode(_frame_columns(frame))
        return scorer.predict(matrix) if matrix is not None else native(frame)

    return (scorer.kind, predict, scorer.evaluator), "compiled"


def kernel_after_rows_for(share: int | None) -> int:
    """Rows a batch process scores through the tree library before it compiles the kernel.

    The break-even is the ``batch_kernel_after_rows`` setting (read where the job is
    submitted, and handed to its workers with the model), else
    :data:`~modelyard.compiled.BATCH_KERNEL_AFTER_ROWS`: about that many rows on the
    library's evaluator cost what one compilation does. Without a forecast the
    process rents until it has paid that much (the ski-rental rule, at most twice
    the best cost). When the job tells the process how many rows it will score,
    the best choice is known: a share at or above the break-even compiles at load
    (0), because the rows on the library would only add to the compilation's cost;
    a smaller share keeps the threshold, which it will likely never reach.
    """
    from modelyard.compiled import BATCH_KERNEL_AFTER_ROWS
    from modelyard.config import load_settings

    chosen = load_settings().batch_kernel_after_rows
    after = BATCH_KERNEL_AFTER_ROWS if chosen is None else chosen
    if share is not None and share >= after:
        return 0
    return after


def _frame_columns(frame: pd.DataFrame) -> Any:
    """The compiled scorer's input: numbers as arrays, a text column's nulls as None."""
    import pandas as pd

    from modelyard.compiled.rows import Columns

    columns: dict[str, Any] = {}
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column.dtype) and not isinstance(
            column.dtype, pd.CategoricalDtype
        ):
            columns[name] = column.to_numpy()
        else:
            values = column.astype(object)
            columns[name] = values.where(values.notna(), None).to_numpy()
    return Columns(columns, len(frame))


def _widened_if_exact(
    scorer: Any,
    loaded: LoadedModel,
    example: pd.DataFrame,
    native: Callable[[pd.DataFrame], np.ndarray],
) -> Any:
    """The compiled scorer that also takes out-of-domain rows, if it matched the native
    model on them (else None: such chunks stay with the native model).

    Real data brings unseen categories, nulls and numbers beyond the training range
    in nearly every chunk; without this, those chunks would all be scored natively.
    The variants are the contract's own (:meth:`InputContract.out_of_domain_variants`,
    as serving checks them), each through the contract's check and both paths.
    """
    import pandas as pd

    contract = loaded.contract
    widen = getattr(scorer, "widened", None)
    if contract is None or widen is None:
        return None
    wide = widen()
    base = example.head(4).to_dict(orient="records")
    checked = 0
    for records in contract.out_of_domain_variants(base):
        try:
            frame = contract.enforce(pd.DataFrame.from_records(records, columns=example.columns))
        except InvalidInput:
            continue  # the contract refuses it: never scored, by any scorer
        matrix = wide.encode(_frame_columns(frame))
        if matrix is None:
            continue  # the native model keeps such rows
        try:
            expected = native(frame)
        except Exception as exc:  # the compiled path would score what the model refuses
            logger.info("compiled batch path keeps to the domain: %s", exc)
            return None
        if not scorer.matches(wide.predict(matrix), expected):
            logger.info("compiled batch path differs from the native model out of domain")
            return None
        checked += len(records)
    if not checked:
        return None
    logger.info("compiled batch path checked on %d out-of-domain rows", checked)
    return wide


def _booster_path(loaded: LoadedModel, example: pd.DataFrame | None) -> Callable[..., Any] | None:
    """Pipeline transform + LightGBM booster on one thread, if it reproduces predict_proba.

    ``LGBMClassifier.predict_proba`` validates its input and calls the same
    booster; calling it directly skips the per-call overhead and pins one
    thread per worker process. It is used only when it gives exactly the same
    numbers as ``predict_proba`` on the version's input example.
    """
    native = loaded.native
    steps = getattr(native, "steps", None)
    if loaded.flavor != "sklearn" or not steps:
        return None
    last = steps[-1][1]
    from_lightgbm = type(last).__module__.startswith("lightgbm")
    booster = getattr(last, "booster_", None) if from_lightgbm else None
    if booster is None or not callable(getattr(last, "predict_proba", None)):
        return None
    head = native[:-1]

    def proba(frame: pd.DataFrame) -> np.ndarray:
        raw = booster.predict(head.transform(frame), num_threads=1)
        return np.column_stack([1.0 - raw, raw]) if raw.ndim == 1 else raw

    if example is None:
        return None
    try:
        checked = loaded.enforce(example)
        same = np.array_equal(proba(checked), loaded.predict_proba(checked, validate=False))
    except Exception as exc:  # any failure just means "use the general path"
        logger.info("LightGBM booster path unavailable: %s", exc)
        return None
    return proba if same else None


# ---------------------------------------------------------------- schema level


def _stringy(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _numeric(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


def _value_type(t: pa.DataType) -> pa.DataType:
    return t.value_type if pa.types.is_dictionary(t) else t


def _compatible(kind: str, t: pa.DataType, text_ok: bool) -> bool:
    t = _value_type(t)
    if pa.types.is_null(t):
        return True
    if kind in ("integer", "float"):
        return _numeric(t) or (text_ok and _stringy(t))
    if kind == "boolean":
        return pa.types.is_boolean(t) or (text_ok and _stringy(t))
    if kind in ("string", "category"):
        return _stringy(t)
    if kind == "datetime":
        return pa.types.is_timestamp(t) or pa.types.is_date(t) or _stringy(t)
    return False


def check_schema(
    signature: Signature,
    schema: pa.Schema,
    spec: ScoringSpec,
    *,
    where: str,
    text_input: bool = False,
    missing: Sequence[tuple[str, str]] = (),
) -> None:
    """Refuse input that can never be scored, before any work starts.

    Args:
        signature: The model's input signature.
        schema: The input's (unified) Arrow schema.
        spec: For the id and passthrough columns, which must exist too.
        where: The input, named in the message.
        text_input: CSV: every column is text, parsed per row.
        missing: (column, file) pairs missing from individual files.

    Raises:
        InvalidInput: Every problem at once; ``details`` holds one
            ``{"column", "problem", "values"}`` per problem, as serving returns.
    """
    problems: list[dict[str, Any]] = []
    names = set(schema.names)
    for column, file in missing:
        problems.append(_problem(column, f"missing column in {file}"))
    reported = {p["column"] for p in problems}
    for column in signature.inputs:
        if column.name in reported:
            continue
        if column.name not in names:
            problems.append(_problem(column.name, "missing column"))
            continue
        arrow_type = schema.field(column.name).type
        if not _compatible(column.type, arrow_type, text_input):
            problem = f"wrong type: expected {column.type}, the input has {arrow_type}"
            problems.append(_problem(column.name, problem))
    for column_name in spec.kept_columns:
        if column_name not in names and column_name not in reported:
            role = "id" if column_name == spec.id_column else "passthrough"
            problems.append(_problem(column_name, f"missing {role} column"))
    if REASON in names:
        problems.append(_problem(REASON, "reserved column name (used in the rejects file)"))
    if problems:
        count = len(problems)
        text = "; ".join(f"{p['column']}: {p['problem']}" for p in problems)
        raise InvalidInput(
            f"input {where} does not match the model's signature "
            f"({count} problem{'s' * (count > 1)}): {text}",
            details=problems,
        )


def _problem(column: str, problem: str, values: list[Any] | None = None) -> dict[str, Any]:
    return {"column": column, "problem": problem, "values": values or []}


def csv_column_types(signature: Signature, header: Sequence[str]) -> dict[str, pa.DataType]:
    """Types to read a CSV with: signature columns as text (parsed per row), ids inferred."""
    wanted = {c.name for c in signature.inputs}
    return {name: pa.string() for name in header if name in wanted}


def output_schema(model: ScoringModel, spec: ScoringSpec, input_schema: pa.Schema) -> pa.Schema:
    """Columns of the scored output: kept columns, scores, label, model and time."""
    fields = [input_schema.field(c) for c in spec.kept_columns]
    if model.task == "classification":
        classes = model.classes or []
        if len(classes) == 2:
            fields.append(pa.field("score", pa.float64()))
        else:
            fields.extend(pa.field(f"proba_{c}", pa.float64()) for c in classes)
        fields.append(pa.field("label", pa.array(classes).type if classes else pa.int64()))
    else:
        fields.append(pa.field("prediction", pa.float64()))
    for rank in range(1, spec.explain + 1):
        fields += [
            pa.field(f"reason_{rank}_{key}", pa.float64() if key == "contribution" else pa.string())
            for key in ("code", "text", "column", "value", "contribution")
        ]
    fields += [
        pa.field("model_name", pa.string()),
        pa.field("model_version", pa.int32()),
        pa.field("scored_at", pa.timestamp("ms", tz="UTC")),
    ]
    return pa.schema(fields)


def rejects_schema(input_schema: pa.Schema) -> pa.Schema:
    return input_schema.append(pa.field(REASON, pa.string()))


# ---------------------------------------------------------------- row level


class _Problems:
    """Per-row problems of one batch: masks plus what to say about each row."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.bad = np.zeros(rows, dtype=bool)
        self.items: list[tuple[np.ndarray, str, str, pa.Array | None]] = []
        self.flags: list[tuple[str, str, np.ndarray]] = []

    def add(self, mask: np.ndarray, column: str, problem: str, values: pa.Array | None) -> None:
        if mask.any():
            self.bad |= mask
            self.items.append((mask, column, problem, values))

    def flag(self, mask: np.ndarray, column: str, kind: str) -> None:
        """Out-of-domain values that are scored: counted (on the rows finally scored)."""
        if mask.any():
            self.flags.append((column, kind, mask))

    def count(self, checks: BatchChecks, scored: np.ndarray) -> None:
        for mask, column, problem, _ in self.items:
            checks.reject(f"{column}: {problem}", int(mask.sum()))
        for column, kind, mask in self.flags:
            checks.warn(column, kind, int((mask & scored).sum()))

    def reasons(self) -> list[str]:
        """One reason per bad row, in row order: ``column: problem (got value)``, joined by '; '."""
        rows = np.flatnonzero(self.bad)
        texts: list[list[str]] = [[] for _ in rows]
        for mask, column, problem, values in self.items:
            hit = np.flatnonzero(mask)
            slots = np.searchsorted(rows, hit)
            shown = values.take(pa.array(hit)).to_pylist() if values is not None else None
            for k, slot in enumerate(slots):
                suffix = f" (got {shown[k]!r})" if shown is not None else ""
                texts[slot].append(f"{column}: {problem}{suffix}")
        return ["; ".join(t) for t in texts]


def _mask(array: pa.Array) -> np.ndarray:
    """A boolean Arrow array as numpy, null counted as False."""
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=bool)


def _nulls(array: pa.Array) -> np.ndarray:
    if pa.types.is_floating(array.type):
        return _mask(pc.is_null(array, nan_is_null=True))
    return _mask(pc.is_null(array))


def _parse_text(
    spec: ColumnSpec, text: pa.Array, problems: _Problems, nulls: np.ndarray
) -> pa.Array:
    """Text of a CSV column parsed to the signature's type; unparseable values are problems."""
    trimmed = pc.utf8_trim_whitespace(text)
    if spec.type in ("integer", "float"):
        pattern = _INT_TEXT if spec.type == "integer" else _FLOAT_TEXT
        ok = _mask(pc.match_substring_regex(trimmed, pattern, ignore_case=True))
        clean = pc.if_else(pa.array(ok), trimmed, pa.scalar(None, pa.string()))
        if spec.type == "integer":
            clean = pc.replace_substring_regex(clean, r"\.0*$", "")
        try:
            parsed = pc.cast(clean, pa.int64() if spec.type == "integer" else pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # out of int64 range
            parsed, ok = _parse_slowly(clean, ok)
    elif spec.type == "boolean":
        is_true = _mask(pc.is_in(trimmed, value_set=pa.array(_TRUE)))
        is_false = _mask(pc.is_in(trimmed, value_set=pa.array(_FALSE)))
        ok = is_true | is_false
        parsed = pa.array(np.where(ok, is_true, False), mask=~ok)
    else:  # datetime
        import pandas as pd

        values = pd.to_datetime(
            pd.Series(trimmed.to_pandas()), format="ISO8601", errors="coerce", utc=True
        ).dt.tz_convert(None)
        ok = values.notna().to_numpy()
        parsed = pa.array(values, type=pa.timestamp("ns"))
    problems.add(~nulls & ~ok, spec.name, f"wrong type: expected {spec.type}", text)
    return parsed


def _parse_slowly(clean: pa.Array, ok: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    values: list[int | None] = []
    ok = ok.copy()
    for i, text in enumerate(clean.to_pylist()):
        number = int(text) if text is not None else None
        if number is not None and not -(2**63) <= number < 2**63:
            number, ok[i] = None, False
        values.append(number)
    return pa.array(values, type=pa.int64()), ok


def _check_column(
    spec: ColumnSpec, rule: ColumnRule, array: pa.Array, problems: _Problems
) -> pa.Array:
    """Record the column's per-row problems and flags; return the values to score with."""
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    nulls = np.ones(len(array), dtype=bool) if pa.types.is_null(array.type) else _nulls(array)
    if not rule.nullable:
        if rule.nulls == "score":
            problems.flag(nulls, spec.name, "null")
        else:
            problems.add(nulls, spec.name, "null in a non-nullable column", None)
    kind, arrow_type = spec.type, array.type
    if pa.types.is_null(arrow_type):
        return array
    if _stringy(arrow_type) and kind not in ("string", "category"):
        parsed = _parse_text(spec, array, problems, nulls)
        _flag_range(spec, rule, parsed, problems)
        return parsed
    if kind in ("string", "category"):
        known = _known(spec, rule)
        if known is not None:
            seen = _mask(pc.is_in(array, value_set=pa.array(known, pa.string())))
            if rule.unseen == "score":
                problems.flag(~nulls & ~seen, spec.name, "unseen_category")
            else:
                problems.add(~nulls & ~seen, spec.name, "unseen category", array)
        return array
    if kind == "integer" and not pa.types.is_integer(arrow_type):
        floats = array.cast(pa.float64()).to_numpy(zero_copy_only=False)
        with np.errstate(invalid="ignore"):
            bad = ~nulls & (
                ~np.isfinite(floats) | (floats != np.floor(floats)) | (np.abs(floats) >= 2.0**63)
            )
        problems.add(bad, spec.name, "wrong type: expected integer", array)
    elif kind == "float" and pa.types.is_decimal(arrow_type):
        array = array.cast(pa.float64())
    _flag_range(spec, rule, array, problems)
    return array


def _known(spec: ColumnSpec, rule: ColumnRule) -> list[str] | None:
    """Values of a string/category column inside the domain (None: any)."""
    if rule.categories is None:
        return list(spec.categories) if spec.type == "category" and spec.categories else None
    if spec.type == "category" and spec.categories is not None:
        return [c for c in spec.categories if c in rule.categories]
    return sorted(rule.categories)


def _flag_range(spec: ColumnSpec, rule: ColumnRule, array: pa.Array, problems: _Problems) -> None:
    """Flag numbers outside the training range (scored, never rejected)."""
    if spec.type not in ("integer", "float") or (rule.minimum is None and rule.maximum is None):
        return
    if not (pa.types.is_integer(array.type) or pa.types.is_floating(array.type)):
        return
    values = array.cast(pa.float64()).to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore"):
        outside = np.zeros(len(values), dtype=bool)
        if rule.minimum is not None:
            outside |= values < rule.minimum
        if rule.maximum is not None:
            outside |= values > rule.maximum
    problems.flag(outside, spec.name, "out_of_range")


# ---------------------------------------------------------------- scoring


def score_batch(
    model: ScoringModel, table: pa.Table, spec: ScoringSpec, checks: BatchChecks | None = None
) -> tuple[pa.Table, pa.Table]:
    """Score one batch: (scored rows, rejected rows with ``_reason``).

    Pure: the same model, table and spec give the same two tables on any
    engine. Every input row lands in exactly one of them. ``checks``, when
    given, counts the flagged values of scored rows and the rejects by reason.
    """
    rows = table.num_rows
    problems = _Problems(rows)
    columns: dict[str, pa.Array] = {}
    rules = model.contract.rules
    for column in model.signature.inputs:
        columns[column.name] = _check_column(
            column, rules[column.name], table.column(column.name).combine_chunks(), problems
        )
    reasons = problems.reasons() if problems.bad.any() else []
    good = ~problems.bad
    features = pa.table(columns)
    if reasons:
        features = features.filter(pa.array(good))
    frame, refused = _enforce(model, features.to_pandas())
    if refused:
        # Rows the signature refused although the vectorised checks passed them.
        good_rows = np.flatnonzero(good)
        merged = dict(zip(np.flatnonzero(problems.bad).tolist(), reasons, strict=True))
        for position, text in refused.items():
            merged[int(good_rows[position])] = text
            good[good_rows[position]] = False
        problems.bad = ~good
        reasons = [merged[row] for row in np.flatnonzero(problems.bad).tolist()]
        if checks is not None:
            for text in refused.values():
                for reason in text.split("; "):
                    checks.reject(reason.split(" (got ", 1)[0], 1)
    if checks is not None:
        problems.count(checks, good)
    scored = table.filter(pa.array(good)) if not good.all() else table
    out = _output(model, spec, scored, frame)
    if reasons:
        rejected = table.filter(pa.array(problems.bad)).append_column(
            pa.field(REASON, pa.string()), pa.array(reasons, pa.string())
        )
    else:
        rejected = rejects_schema(table.schema).empty_table()
    return out, rejected


def _enforce(model: ScoringModel, frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[int, str]]:
    """The contract's own check; rows it refuses are isolated one by one (rare).

    Its warnings are not counted here: the vectorised checks above counted them.
    """
    contract = model.contract
    try:
        return contract.enforce(frame), {}
    except InvalidInput:
        pass
    refused: dict[int, str] = {}
    for position in range(len(frame)):
        try:
            contract.enforce(frame.iloc[position : position + 1])
        except InvalidInput as exc:
            refused[position] = _reason_of(exc)
    keep = np.ones(len(frame), dtype=bool)
    keep[list(refused)] = False
    return contract.enforce(frame[keep].reset_index(drop=True)), refused


def _reason_of(exc: InvalidInput) -> str:
    texts = []
    for detail in exc.details or []:
        values = [v for v in detail.get("values") or [] if v is not None]
        shown = f" (got {values[0]!r})" if values else ""
        texts.append(f"{detail['column']}: {detail['problem']}{shown}")
    return "; ".join(texts) or exc.message


def _output(
    model: ScoringModel, spec: ScoringSpec, scored: pa.Table, frame: pd.DataFrame
) -> pa.Table:
    schema = output_schema(model, spec, scored.schema)
    rows = scored.num_rows
    arrays: list[pa.Array] = [scored.column(c) for c in spec.kept_columns]
    values = model.predict(frame) if rows else None
    if model.task == "classification":
        classes = model.classes or []
        proba = values if values is not None else np.empty((0, len(classes)))
        if len(classes) == 2:
            arrays.append(pa.array(proba[:, 1], pa.float64()))
        else:
            arrays.extend(pa.array(proba[:, i], pa.float64()) for i in range(len(classes)))
        labels = model.labels(proba) if rows else np.asarray(classes)[:0]
        arrays.append(pa.array(labels, schema.field("label").type))
    else:
        arrays.append(pa.array(values if values is not None else [], pa.float64()))
    if spec.explain:
        arrays += _reason_arrays(model, spec, frame, schema)
    zeros = np.zeros(rows, dtype=np.int32)
    scored_at = pa.array(np.full(rows, spec.scored_at_ms, dtype=np.int64))
    arrays += [
        pa.DictionaryArray.from_arrays(zeros, pa.array([spec.model_name])).dictionary_decode(),
        pa.array(np.full(rows, spec.model_version, dtype=np.int32)),
        scored_at.cast(schema.field("scored_at").type),
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def _reason_arrays(
    model: ScoringModel, spec: ScoringSpec, frame: pd.DataFrame, schema: pa.Schema
) -> list[pa.Array]:
    """The reason_<rank>_* columns: each row's top adverse reasons, as serving gives them."""
    import json

    from modelyard.explain import ReasonTable, explain_reasons, reason_columns

    table = ReasonTable(**json.loads(spec.reason_table)) if spec.reason_table else None
    reasons = explain_reasons(model.explainer(), frame, table, spec.explain) if len(frame) else []
    flat = reason_columns(reasons, spec.explain)
    return [pa.array(values, schema.field(name).type) for name, values in flat.items()]
