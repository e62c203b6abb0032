"""``yard.batch``: score files with a registered model version, resumably, on any engine.

One call plans, checks, runs and records a job::

    job = yard.batch.score("credit-risk@champion", "gs://bank/loans/*.parquet",
                           "gs://bank/scores/2026-11-24/", id_column="loan_id")

In order: resolve the version and materialise its verified files; list the
input and check its schema against the signature (a wrong schema stops here,
before anything is written); cut the input into parts and derive the job id;
open the output — resuming the same job if its manifest is there, refusing
another job's output; record the job (RUNNING) with an audit event; run the
engine, recording each completed part in the manifest; then record the
totals (FINISHED, or FAILED/KILLED with the error), an audit event, and
optionally register the output as a dataset version whose parent is the input.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select

from modelyard._util.clock import now_ms
from modelyard._util.names import check_name
from modelyard.artifacts import ArtifactStore
from modelyard.batch._fs import OutputDir, normalise_url
from modelyard.batch.bundle import ModelBundle, manifest_files
from modelyard.batch.defaults import (
    DEFAULT_BATCH_ROWS,
    DEFAULT_MAX_REJECT_RATE,
    DEFAULT_PART_ROWS,
)
from modelyard.batch.engines import ENGINES, EngineStats, get_engine
from modelyard.batch.entities import BatchJobInfo
from modelyard.batch.job import (
    BatchJobSpec,
    InputListing,
    JobManifest,
    PartResult,
    check_resumable,
    completed_with_files,
    describe_spec,
    list_input,
    plan_parts,
    read_manifest,
)
from modelyard.batch.parts import WorkSpec, csv_listing, peak_rss_mb
from modelyard.batch.progress import Progress, make_progress
from modelyard.batch.scoring import BatchChecks, ScoringSpec, check_schema
from modelyard.batch.spark_io import SparkSink, SparkSource
from modelyard.config import Settings
from modelyard.data import DatasetService
from modelyard.data.entities import DatasetVersionInfo
from modelyard.errors import Conflict, InvalidInput, ModelyardError, NotFound
from modelyard.registry import audit
from modelyard.registry.models import ModelService
from modelyard.registry.users import resolve_actor
from modelyard.store import MetadataStore
from modelyard.store.models import BatchJob, DatasetVersion

__all__ = ["BatchService"]

logger = logging.getLogger(__name__)

MANIFEST_EVERY_S = 1.0
COMPILED_KINDS = ("compiled", "onnx")
"""Kinds of version attachments holding a compiled form (``model.onnx`` + ``parity.json``)."""


class BatchService:
    """What ``yard.batch`` is: batch scoring jobs, their records and their status."""

    def __init__(
        self,
        store: MetadataStore,
        artifacts: ArtifactStore,
        *,
        models: ModelService,
        datasets: DatasetService,
        settings: Settings,
    ) -> None:
        self._store = store
        self._artifacts = artifacts
        self._models = models
        self._datasets = datasets
        self._settings = settings
        self._user = settings.user

    # -- scoring ------------------------------------------------------------
    def score(
        self,
        ref: str,
        input: str | Path | Sequence[str | Path] | DatasetVersionInfo | SparkSource,
        output: str | Path | SparkSink,
        *,
        engine: str = "local",
        id_column: str | None = None,
        passthrough: Sequence[str] = (),
        batch_rows: int = DEFAULT_BATCH_ROWS,
        workers: int | None = None,
        part_rows: int = DEFAULT_PART_ROWS,
        form: str = "auto",
        register_output_as: str | None = None,
        input_dataset: str | None = None,
        storage_options: Mapping[str, Any] | None = None,
        engine_options: Mapping[str, Any] | None = None,
        overwrite: bool = False,
        quiet: bool = False,
        progress: Progress | None = None,
        max_reject_rate: float = DEFAULT_MAX_REJECT_RATE,
        explain: int = 0,
    ) -> BatchJobInfo:
        """Score ``input`` with model ``ref`` into Parquet parts under ``output``.

        Args:
            ref: ``name@alias``, ``name/3`` or ``name@latest``.
            input: Parquet or CSV file, folder, glob or fsspec URL (or a list),
                or a registered dataset version; or, with ``engine="spark"``, a
                :class:`~modelyard.batch.spark_io.SparkSource` (a path in any
                format Spark reads, a catalog table, JDBC, a connector such as
                BigQuery), read by Spark itself.
            output: Folder (fsspec URL) for ``part-*.parquet``, ``_rejects/`` and
                the job manifest ``_modelyard_job.json``; or a
                :class:`~modelyard.batch.spark_io.SparkSink` (partitioned files, a
                catalog table, JDBC, a connector), written by Spark's writer and
                resumed by dynamic partition overwrite of the buckets not recorded.
            engine: ``local`` (default), ``dask`` or ``spark``.
            id_column: Copied to the output (and required in the input).
            passthrough: More input columns copied to the output.
            batch_rows: Rows scored at a time by each worker (bounds memory).
            workers: Worker processes (local; Dask's LocalCluster). Default: one per core.
            part_rows: Rows per part (the unit of resumption): whole row groups, and
                row ranges inside a row group larger than this.
            form: ``auto`` (ONNX when the version has a compiled form whose parity
                passed, else native), ``onnx`` or ``native``.
            register_output_as: Register the output as a version of this dataset,
                with the input dataset version as its parent.
            input_dataset: The input's dataset: an existing ``name/version``, or a
                name to register a path input under (default
                ``<register_output_as>-input``) when the output is registered.
            storage_options: fsspec options for the input and output filesystems.
            engine_options: ``scheduler`` (dask), ``master``, ``session`` or ``conf``
                (spark; ``conf`` is a mapping of Spark settings for a session it
                starts), ``buckets_per_commit`` (Spark-source jobs: buckets per commit).
            overwrite: Replace another job's files in ``output``.
            quiet: No progress bar.
            progress: A progress reporter to use instead of the Rich bar.
            max_reject_rate: Share of rows (0 to 1) that may be rejected; above it
                the finished job's ``rejects_exceeded`` is True (the CLI exits
                with ``EXIT_TOO_MANY_REJECTS``). Rows are rejected only when they
                truly cannot be scored; out-of-domain values the version scores
                are counted in ``warnings`` instead.
            explain: Add each row's top ``explain`` adverse reasons as columns
                ``reason_<rank>_code``, ``_text``, ``_column``, ``_value`` and
                ``_contribution`` (the reasons serving gives for the same row).

        Returns:
            The job's record: FINISHED, with rows in/out/rejected, rejects by
            reason and warnings by column and kind.

        Raises:
            InvalidInput: A bad argument, or input that does not match the model's
                signature (nothing is written then).
            Conflict: ``output`` holds another job, or the job runs elsewhere.
        """
        self._check_arguments(engine, batch_rows, part_rows, workers, form, id_column, passthrough)
        if (
            isinstance(max_reject_rate, bool)
            or not isinstance(max_reject_rate, int | float)
            or not 0 <= max_reject_rate <= 1
        ):
            raise InvalidInput(
                f"The 'max_reject_rate' parameter must be a number from 0 to 1. "
                f"Got {max_reject_rate!r}."
            )
        if register_output_as is not None:
            check_name(register_output_as, "register_output_as")
        with self._store.read() as session:
            resolve_actor(session, self._user).require("run.write", "run batch scoring jobs")
        if isinstance(input, SparkSource) or isinstance(output, SparkSink):
            return self._score_spark_sources(
                ref,
                input,
                output,
                engine=engine,
                id_column=id_column,
                passthrough=tuple(passthrough),
                form=form,
                batch_rows=batch_rows,
                register_output_as=register_output_as,
                engine_options=self._engine_options(engine, None, engine_options),
                overwrite=overwrite,
                progress=progress or make_progress(quiet),
                max_reject_rate=float(max_reject_rate),
                explain=explain,
            )
        name, version, digest = self._models.resolve_digest(ref)
        bundle = self._bundle(f"{name}/{version}", digest, form)
        scoring = ScoringSpec(
            name,
            version,
            id_column,
            tuple(passthrough),
            explain=explain,
            reason_table=self._reason_table(f"{name}/{version}", bundle, explain),
        )
        signature = _signature_of(bundle)
        # The object-store settings (endpoint, region, credentials) under the caller's options.
        first = next(iter(input.uris or [""])) if isinstance(input, DatasetVersionInfo) else input
        if isinstance(first, list | tuple):
            first = first[0] if first else ""
        input_options = self._settings.storage_options(str(first), storage_options)
        output_options = self._settings.storage_options(str(output), storage_options)
        listing, input_dv = self._list_input(input, input_options, signature)
        check_schema(
            signature,
            listing.schema,
            scoring,
            where=listing.uri,
            text_input=listing.format == "csv",
            missing=listing.missing([*signature.input_names, *scoring.kept_columns]),
        )
        parts = plan_parts(listing.files, part_rows)
        spec = BatchJobSpec(
            model_name=name,
            model_version=version,
            model_digest=digest,
            form="onnx" if bundle.compiled_dir is not None else "native",
            input=listing,
            output=normalise_url(str(output)),
            id_column=id_column,
            passthrough=tuple(passthrough),
            part_rows=part_rows,
            parts=parts,
            explain=explain,
            reason_table=scoring.reason_table,
        )
        out = OutputDir(str(output), output_options)
        manifest = self._open_output(out, spec, overwrite)
        try:
            return self._run(
                spec,
                out,
                manifest,
                bundle,
                scoring,
                engine=engine,
                engine_options=self._engine_options(engine, workers, engine_options),
                batch_rows=batch_rows,
                storage_options=input_options,
                register_output_as=register_output_as,
                input_dataset=input_dv or input_dataset,
                progress=progress or make_progress(quiet),
                max_reject_rate=float(max_reject_rate),
            )
        finally:
            out.unlock()

    def _score_spark_sources(
        self,
        ref: str,
        input: Any,
        output: Any,
        *,
        engine: str,
        register_output_as: str | None,
        **kwargs: Any,
    ) -> BatchJobInfo:
        """Spark reads the input and writes the output (see :mod:`modelyard.batch.spark_job`)."""
        from modelyard.batch.spark_job import score_on_spark

        if engine != "spark":
            raise InvalidInput(
                f"engine: tables, JDBC and Spark connectors are read and written by Spark; "
                f"use engine='spark' (--engine spark). Got {engine!r}."
            )
        if register_output_as is not None:
            raise InvalidInput(
                "register_output_as: registering the output as a dataset needs file output "
                "written by the batch engines; a Spark-source job records its input's table, "
                "snapshot and files in the job record instead"
            )
        if isinstance(input, DatasetVersionInfo):
            uris = list(input.uris)
            if len(uris) != 1:
                raise InvalidInput(
                    f"input: dataset {input.ref} has {len(uris)} files; a Spark-source job reads "
                    "one folder, table or query — give its folder with SparkSource.path"
                )
            source = SparkSource.path(uris[0], input.format)
        elif isinstance(input, SparkSource):
            source = input
        elif isinstance(input, str | Path):
            text = str(input)
            source = SparkSource.path(text, "csv" if text.lower().endswith(".csv") else "parquet")
        else:
            raise InvalidInput(
                "input must be a SparkSource, a path or a dataset version with a SparkSink output; "
                f"got {type(input).__name__}"
            )
        sink = output if isinstance(output, SparkSink) else SparkSink.path(str(output))
        return score_on_spark(self, ref, source, sink, **kwargs)

    @staticmethod
    def _check_arguments(
        engine: str,
        batch_rows: int,
        part_rows: int,
        workers: int | None,
        form: str,
        id_column: str | None,
        passthrough: Sequence[str],
    ) -> None:
        if engine not in ENGINES:
            raise InvalidInput(f"The engine must be one of {ENGINES}. Got {engine!r} instead.")
        for label, value in (("batch_rows", batch_rows), ("part_rows", part_rows)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidInput(
                    f"The '{label}' parameter must be an integer >= 1. Got {value!r}."
                )
        if workers is not None and (
            not isinstance(workers, int) or isinstance(workers, bool) or workers < 1
        ):
            raise InvalidInput(f"The 'workers' parameter must be an integer >= 1. Got {workers!r}.")
        if form not in ("auto", "onnx", "native"):
            raise InvalidInput(
                f"The form must be one of ('auto', 'onnx', 'native'). Got {form!r} instead."
            )
        if id_column is not None and (not isinstance(id_column, str) or not id_column):
            raise InvalidInput(f"The id column must be a column name. Got {id_column!r}.")
        if isinstance(passthrough, str) or not all(isinstance(c, str) for c in passthrough):
            raise InvalidInput(f"passthrough must be a list of column names. Got {passthrough!r}.")

    def _engine_options(
        self, engine: str, workers: int | None, options: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        chosen = dict(options or {})
        if engine in ("local", "dask") and workers is not None:
            chosen.setdefault("workers", workers)
        if engine == "dask":
            chosen.setdefault("scheduler", self._settings.dask_scheduler)
        if engine == "spark":
            chosen.setdefault("master", self._settings.spark_master)
        return chosen

    # -- the model ----------------------------------------------------------
    def _reason_table(self, ref: str, bundle: ModelBundle, explain: int) -> str | None:
        """The version's reason table as JSON when the job explains; checks it can explain."""
        from modelyard.explain import MAX_REASONS, explainable
        from modelyard.flavors import load_model

        if type(explain) is not int or not 0 <= explain <= MAX_REASONS:
            raise InvalidInput(
                f"explain: must be a whole number of reasons from 0 to {MAX_REASONS}; "
                f"got {explain!r}"
            )
        if explain == 0:
            return None
        if not bundle.trusted_code:
            # A data format (skops, LightGBM text, XGBoost JSON) loads without running code,
            # so the service checks it can explain before any part runs. Trusted code is
            # loaded only where it is scored; its explainer is checked there.
            native = load_model(bundle.model_dir, trusted_types=bundle.trusted_types).native
            why = explainable(native)
            if why is not None:
                raise InvalidInput(f"explain: {ref}: {why}")
        table = self._models.reason_table(ref)
        return json.dumps(table.to_dict(), sort_keys=True) if table is not None else None

    def _bundle(self, ref: str, digest: str, form: str) -> ModelBundle:
        from modelyard.registry.trusted_code import is_trusted_code

        info = self._models.get(ref)
        self._models.require_loadable(info)  # trusted code: its registrant, or signed off
        model_dir = self._models.local_path(ref).resolve()
        bundle = ModelBundle(
            digest=digest,
            files=manifest_files(self._artifacts.read_manifest(digest)),
            model_dir=str(model_dir),
            form=form,
            trusted_code=is_trusted_code(info),
            trusted_types=tuple(getattr(self._models, "trusted_types", ())),
        )
        if form == "native":
            return bundle
        compiled = self._compiled(ref)
        if compiled is None:
            if form == "onnx":
                raise InvalidInput(
                    f"{ref} has no compiled ONNX form whose parity check passed; "
                    "use form='native' (--form native) or compile it first"
                )
            return bundle
        compiled_digest, compiled_dir = compiled
        return ModelBundle(
            digest=digest,
            files=bundle.files,
            model_dir=bundle.model_dir,
            form=form,
            compiled_digest=compiled_digest,
            compiled_files=manifest_files(self._artifacts.read_manifest(compiled_digest)),
            compiled_dir=str(compiled_dir),
            trusted_code=bundle.trusted_code,
            trusted_types=bundle.trusted_types,
        )

    def _compiled(self, ref: str) -> tuple[str, Path] | None:
        """The version's compiled form, materialised, if its parity check passed."""
        info = self._models.get(ref)
        candidates = [
            a
            for a in info.artifacts
            if a.kind in COMPILED_KINDS and a.details.get("usable", True) is not False
        ]
        for attachment in sorted(candidates, key=lambda a: a.created_at, reverse=True):
            target = (
                self._settings.home
                / "cache"
                / "compiled"
                / attachment.digest.removeprefix("sha256:")
            ).resolve()
            if not target.exists():
                with contextlib.suppress(Conflict):  # another job materialised it first
                    self._artifacts.get_dir(attachment.digest, target)
            try:
                record = json.loads((target / "parity.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if record.get("usable") and (record.get("parity") or {}).get("passed"):
                return attachment.digest, target
        return None

    # -- the input ----------------------------------------------------------
    def _list_input(
        self,
        source: Any,
        storage_options: Mapping[str, Any] | None,
        signature: Any,
    ) -> tuple[InputListing, DatasetVersionInfo | None]:
        dataset = source if isinstance(source, DatasetVersionInfo) else None
        if dataset is not None:
            fs, listing = list_input(
                list(dataset.uris), storage_options=storage_options, format=dataset.format
            )
            listing = InputListing(
                dataset.ref, listing.format, listing.protocol, listing.files, listing.schema
            )
        else:
            if not isinstance(source, str | Path | list | tuple):
                raise InvalidInput(
                    "input must be a path, URL or glob of Parquet/CSV files, a list of them, "
                    f"or a dataset version; got {type(source).__name__}"
                )
            fs, listing = list_input(source, storage_options=storage_options)
        if listing.format == "csv":
            listing = csv_listing(fs, listing, signature.input_names)
        return listing, dataset

    # -- the output -----------------------------------------------------------
    def _open_output(self, out: OutputDir, spec: BatchJobSpec, overwrite: bool) -> JobManifest:
        job_id = spec.job_id
        manifest = read_manifest(out)
        if overwrite and (manifest is None or manifest.job_id != job_id):
            out.remove_job_files()
            manifest = None
        check_resumable(manifest, job_id, out)
        out.makedirs()
        out.lock()
        try:
            removed = out.remove_temporaries()
            if manifest is not None:
                manifest.completed = completed_with_files(manifest, out)
                manifest.attempts += 1
                if removed or len(manifest.completed) < len(spec.parts):
                    manifest.status = "running"
                return manifest
            now = now_ms()
            return JobManifest(
                job_id=job_id,
                spec=describe_spec(spec),
                parts=[p.to_dict() for p in spec.parts],
                scored_at_ms=now,
                created_at_ms=now,
            )
        except BaseException:
            out.unlock()
            raise

    # -- running --------------------------------------------------------------
    def _run(
        self,
        spec: BatchJobSpec,
        out: OutputDir,
        manifest: JobManifest,
        bundle: ModelBundle,
        scoring: ScoringSpec,
        *,
        engine: str,
        engine_options: dict[str, Any],
        batch_rows: int,
        storage_options: dict[str, Any],
        register_output_as: str | None,
        input_dataset: DatasetVersionInfo | str | None,
        progress: Progress,
        max_reject_rate: float = DEFAULT_MAX_REJECT_RATE,
    ) -> BatchJobInfo:
        job_id = spec.job_id
        todo = [p.index for p in spec.parts if p.index not in manifest.completed]
        if not todo and manifest.status == "finished":
            existing = self._find(job_id)
            if existing is not None and existing.status == "FINISHED":
                return existing  # the same command again: nothing to do
        scoring = ScoringSpec(
            scoring.model_name,
            scoring.model_version,
            scoring.id_column,
            scoring.passthrough,
            manifest.scored_at_ms,
            scoring.explain,
            scoring.reason_table,
        )
        work = WorkSpec(
            job_id=job_id,
            format=spec.input.format,
            protocol=spec.input.protocol,
            files=spec.input.files,
            parts=spec.parts,
            input_schema=spec.input.schema,
            output=out,
            scoring=scoring,
            batch_rows=batch_rows,
            storage_options=storage_options,
        )
        params = {
            "id_column": spec.id_column,
            "passthrough": list(spec.passthrough),
            "batch_rows": batch_rows,
            "part_rows": spec.part_rows,
            "form": spec.form,
            "parts_total": len(spec.parts),
            "parts_done_before": len(manifest.completed),
            "attempts": manifest.attempts,
            "scored_at": manifest.scored_at_ms,
            "max_reject_rate": max_reject_rate,
            **{k: v for k, v in engine_options.items() if isinstance(v, str | int | float)},
        }
        manifest.status = "running"
        manifest.save(out, now_ms())
        self._record_start(spec, engine, params, manifest)
        lock = threading.Lock()
        saved = [0.0]

        def on_done(result: PartResult) -> None:
            with lock:
                manifest.completed[result.index] = result
                # Each part's marker is already durable; the manifest follows at most
                # a second behind, so a job of many small parts does not rewrite it
                # thousands of times.
                if time.monotonic() - saved[0] >= MANIFEST_EVERY_S:
                    manifest.save(out, now_ms())
                    saved[0] = time.monotonic()

        started = time.perf_counter()
        progress.start(spec.input.rows, manifest.rows_done, f"scoring {spec.model_ref}")
        dataset_id = None
        try:
            runner = get_engine(engine, **engine_options)
            stats = runner.run(work, bundle, todo, on_done, progress)
            progress.stop()
            with lock:
                manifest.save(out, now_ms())
            missing = [p.index for p in spec.parts if p.index not in manifest.completed]
            if missing:
                raise ModelyardError(
                    f"batch job {job_id}: parts {missing[:5]} did not complete; "
                    "run the same command again to resume"
                )
            _timings(params, stats, manifest, todo, time.perf_counter() - started)
            if register_output_as is not None:
                dataset_id = self._register_output(
                    register_output_as, spec, out, manifest, input_dataset
                )
        except BaseException as exc:
            progress.stop()
            status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
            self._fail(job_id, out, manifest, params, status, exc)
            if isinstance(exc, ModelyardError | KeyboardInterrupt | SystemExit):
                raise
            raise ModelyardError(
                f"batch job {job_id} failed: {type(exc).__name__}: {exc}; finished parts are "
                "kept — run the same command again to resume"
            ) from exc
        manifest.status = "finished"
        manifest.save(out, now_ms())
        info = self._record_end(job_id, manifest, params, "FINISHED", None, dataset_id)
        out.unlock(remove=True)
        return info

    def _fail(
        self,
        job_id: str,
        out: OutputDir,
        manifest: JobManifest,
        params: dict[str, Any],
        status: str,
        exc: BaseException,
    ) -> None:
        """Record a failed or interrupted attempt; never hides the error that caused it."""
        try:
            manifest.status = status.lower()
            manifest.save(out, now_ms())
            self._record_end(job_id, manifest, params, status, _error_text(exc), None)
        except Exception as record_error:  # the original error matters more
            logger.warning("could not record batch job %s as %s: %s", job_id, status, record_error)

    def _register_output(
        self,
        name: str,
        spec: BatchJobSpec,
        out: OutputDir,
        manifest: JobManifest,
        input_dataset: DatasetVersionInfo | str | None,
    ) -> int:
        parent = self._input_dataset(name, spec, input_dataset)
        parts = [out.url(r.output) for _, r in sorted(manifest.completed.items())]
        version = self._datasets.register(
            name,
            parts,
            parents=[parent],
            keep_copy=False,
            description=f"scores of {spec.model_ref} by batch job {spec.job_id}",
        )
        return version.id

    def _input_dataset(
        self, output_name: str, spec: BatchJobSpec, given: DatasetVersionInfo | str | None
    ) -> DatasetVersionInfo:
        if isinstance(given, DatasetVersionInfo):
            return given
        if given is not None and ("/" in given or "@" in given):
            return self._datasets.get(given)
        name = given or f"{output_name}-input"
        return self._datasets.register(
            name,
            [f.url for f in spec.input.files],
            keep_copy=False,
            description=f"input of batch job {spec.job_id}",
        )

    # -- records --------------------------------------------------------------
    def _record_start(
        self, spec: BatchJobSpec, engine: str, params: dict[str, Any], manifest: JobManifest
    ) -> None:
        now = now_ms()
        with self._store.write() as session:
            row = session.get(BatchJob, spec.job_id)
            if row is None:
                row = BatchJob(
                    id=spec.job_id,
                    model_name=spec.model_name,
                    model_version=spec.model_version,
                    input_uri=spec.input.uri,
                    output_uri=spec.output,
                    engine=engine,
                    status="RUNNING",
                    rows_in=0,
                    rows_out=0,
                    rows_rejected=0,
                    params=params,
                    created_by=self._user,
                    started_at=manifest.created_at_ms if manifest.attempts == 1 else now,
                )
                session.add(row)
            else:
                row.engine = engine
                row.status = "RUNNING"
                row.params = params
                row.error = None
                row.ended_at = None
            audit.append(
                session,
                self._user,
                "batch.start",
                f"batch/{spec.job_id}",
                {
                    "model": f"model/{spec.model_ref}",
                    "model_digest": spec.model_digest,
                    "form": spec.form,
                    "input": spec.input.uri,
                    "output": spec.output,
                    "engine": engine,
                    "attempt": manifest.attempts,
                    "parts": len(spec.parts),
                    "parts_done_before": len(manifest.completed),
                },
            )

    def _record_end(
        self,
        job_id: str,
        manifest: JobManifest,
        params: dict[str, Any],
        status: str,
        error: str | None,
        dataset_id: int | None,
    ) -> BatchJobInfo:
        results = manifest.completed.values()
        rows_in = sum(r.rows_in for r in results)
        rows_out = sum(r.rows_out for r in results)
        rejected = sum(r.rows_rejected for r in results)
        checks = BatchChecks()
        for result in results:
            checks.add(dict(result.warnings), dict(result.reject_reasons))
        scorers = sorted({r.scorer for r in results if r.scorer})
        reasons = sorted({r.scorer_reason for r in results if r.scorer_reason})
        evaluators = sorted({r.evaluator for r in results if r.evaluator})
        summary = {
            # What predicted, as the workers loaded it (one value unless they disagreed).
            "scorer": ", ".join(scorers) or None,
            "scorer_reason": "; ".join(reasons) or None,
            # The tree kernel at load, or after so many rows a process (kernel_after_rows_for).
            "evaluator": "; ".join(evaluators) or None,
            "warnings": dict(sorted(checks.warnings.items())),
            "rejects_by_reason": dict(sorted(checks.rejects.items(), key=lambda kv: -kv[1])),
            "reject_rate": round(rejected / rows_in, 6) if rows_in else 0.0,
        }
        with self._store.write() as session:
            row = session.get(BatchJob, job_id)
            if row is None:
                raise NotFound(f"batch job {job_id} has no record")
            row.status = status
            row.rows_in, row.rows_out, row.rows_rejected = rows_in, rows_out, rejected
            row.params = {**params, **summary, "parts_done": len(manifest.completed)}
            row.error = error
            row.ended_at = now_ms()
            if dataset_id is not None:
                row.output_dataset_version_id = dataset_id
            session.flush()
            audit.append(
                session,
                self._user,
                "batch.finish" if status == "FINISHED" else f"batch.{status.lower()}",
                f"batch/{job_id}",
                {
                    "model": f"model/{row.model_name}/{row.model_version}",
                    "status": status,
                    "rows_in": rows_in,
                    "rows_out": rows_out,
                    "rows_rejected": rejected,
                    "error": error,
                    "output_dataset_version_id": dataset_id,
                },
            )
            return _info(session, row)

    # -- reading ----------------------------------------------------------------
    def status(self, job_id: str) -> BatchJobInfo:
        """A job by id (or a unique prefix of at least 6 characters), with live progress.

        Raises:
            NotFound: No such job.
            InvalidInput: The prefix is too short or matches several jobs.
        """
        info = self._find(job_id)
        if info is None:
            raise NotFound(f"no batch job {job_id!r}; see 'modelyard batch list'")
        if info.status == "RUNNING" and info.params.get("kind") == "spark-sources":
            return _with_spark_progress(info)
        if info.status == "RUNNING":
            try:
                manifest = read_manifest(OutputDir(info.output_uri))
            except ModelyardError:
                manifest = None
            if manifest is not None and manifest.job_id == info.id:
                return _with_progress(info, manifest)
        return info

    def list(self, *, model: str | None = None, limit: int = 50) -> list[BatchJobInfo]:
        """The most recent jobs first (optionally of one model)."""
        query = select(BatchJob).order_by(BatchJob.started_at.desc()).limit(limit)
        if model is not None:
            query = query.where(BatchJob.model_name == model)
        with self._store.read() as session:
            return [_info(session, row) for row in session.scalars(query)]

    def _find(self, job_id: str) -> BatchJobInfo | None:
        if not isinstance(job_id, str) or not job_id.strip():
            raise InvalidInput(f"a batch job id is 32 hex characters; got {job_id!r}")
        job_id = job_id.strip().lower()
        with self._store.read() as session:
            row = session.get(BatchJob, job_id)
            if row is None:
                if len(job_id) < 6:
                    raise InvalidInput(f"give at least 6 characters of the job id; got {job_id!r}")
                rows = session.scalars(
                    select(BatchJob).where(BatchJob.id.like(f"{job_id}%")).limit(2)
                ).all()
                if len(rows) > 1:
                    raise InvalidInput(f"{job_id!r} matches several jobs; give more characters")
                row = rows[0] if rows else None
            return _info(session, row) if row is not None else None


def _signature_of(bundle: ModelBundle) -> Any:
    from modelyard.flavors import read_manifest as read_model_manifest

    signature = read_model_manifest(bundle.model_dir).signature
    if signature is None:
        raise InvalidInput(
            "this model version was registered without an example, so it has no signature; "
            "batch scoring checks every row against one — register it again with "
            "example=<training frame>"
        )
    return signature


def _timings(
    params: dict[str, Any],
    stats: EngineStats,
    manifest: JobManifest,
    todo: list[int],
    seconds: float,
) -> None:
    done = [manifest.completed[i] for i in todo if i in manifest.completed]
    rows = sum(r.rows_in for r in done)
    peaks = [r.peak_rss_mb for r in done]
    cpu = sum(r.cpu_seconds or 0.0 for r in done)
    params.update(
        workers=stats.workers,
        rows_this_attempt=rows,
        seconds=round(seconds, 3),
        load_seconds=round(stats.load_seconds, 3),
        score_seconds=round(stats.score_seconds, 3),
        rows_per_s=round(rows / stats.score_seconds, 1) if stats.score_seconds > 0 else None,
        worker_peak_rss_mb=max((p for p in peaks if p is not None), default=None),
        driver_peak_rss_mb=peak_rss_mb(),
        worker_cpu_seconds=round(cpu, 3),
        worker_cpu_us_per_row=round(cpu / rows * 1e6, 3) if rows else None,
    )
    if stats.extra:
        params["engine_stats"] = stats.extra


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    message = exc.message if isinstance(exc, ModelyardError) else str(exc)
    return f"{type(exc).__name__}: {message}"[:4000]


def _info(session: Any, row: BatchJob) -> BatchJobInfo:
    dataset = None
    if row.output_dataset_version_id is not None:
        from modelyard.store.models import Dataset

        found = session.execute(
            select(Dataset.name, DatasetVersion.version)
            .join(DatasetVersion, DatasetVersion.dataset_id == Dataset.id)
            .where(DatasetVersion.id == row.output_dataset_version_id)
        ).first()
        dataset = f"{found[0]}/{found[1]}" if found else None
    return BatchJobInfo(
        id=row.id,
        model_name=row.model_name,
        model_version=row.model_version,
        input_uri=row.input_uri,
        output_uri=row.output_uri,
        engine=row.engine,
        status=row.status,
        rows_in=row.rows_in,
        rows_out=row.rows_out,
        rows_rejected=row.rows_rejected,
        params=dict(row.params or {}),
        error=row.error,
        output_dataset=dataset,
        created_by=row.created_by,
        started_at=row.started_at,
        ended_at=row.ended_at,
    )


def _with_progress(info: BatchJobInfo, manifest: JobManifest) -> BatchJobInfo:
    from dataclasses import replace

    total_rows = sum(int(p.get("rows") or 0) for p in manifest.parts) or None
    return replace(
        info,
        progress={
            "parts_done": len(manifest.completed),
            "parts_total": len(manifest.parts),
            "rows_done": manifest.rows_done,
            "rows_total": total_rows,
            "rows_rejected": sum(r.rows_rejected for r in manifest.completed.values()),
            "updated_at_ms": manifest.updated_at_ms,
            "manifest_status": manifest.status,
        },
    )


def _with_spark_progress(info: BatchJobInfo) -> BatchJobInfo:
    """A running Spark-source job's progress: the bucket groups its record says committed."""
    from dataclasses import replace

    groups = info.params.get("groups_done") or []
    rows = sum(
        sum((g.get(k) or {}).values()) for g in groups for k in ("rows_out", "rows_rejected")
    )
    return replace(
        info,
        progress={
            "parts_done": sum(len(g["buckets"]) for g in groups),
            "parts_total": int(info.params.get("buckets") or 0),
            "rows_done": rows,
            "rows_total": info.params.get("rows_forecast"),  # counted from metadata, or None
            "rows_rejected": sum(sum((g.get("rows_rejected") or {}).values()) for g in groups),
            "updated_at_ms": None,
            "manifest_status": "running",
        },
    )
