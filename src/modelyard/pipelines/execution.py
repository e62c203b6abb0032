"""Executing one step: resolve its inputs, look up the cache, run it tracked, retry it.

``Execution`` holds one pipeline run's state (parameters, the outputs of the
steps done so far) and executes nodes on request; the local runner
(``runner.py``) calls it from a thread pool, a KFP task (``modelyard
pipeline step``) for one node. The tag names here are what the rest of the
platform reads from the runs: a step run's ``modelyard.step``,
``modelyard.cache_key``, ``modelyard.code_digest``, ``modelyard.outputs``
(encoded references, see ``values.py``), ``modelyard.status`` and
``cache_hit``; the pipeline run's ``modelyard.params`` and
``modelyard.pipeline_ref``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from rich.console import Console

from modelyard.errors import InvalidInput, ModelyardError, PermissionDenied
from modelyard.pipelines import values
from modelyard.pipelines.cache import cache_key, step_cache
from modelyard.pipelines.context import StepContext, _current
from modelyard.pipelines.errors import GateFailed
from modelyard.pipelines.graph import Graph, Node, OutputRef, ParamRef
from modelyard.tracking.entities import FINISHED

if TYPE_CHECKING:
    from modelyard.yard import Yard

__all__ = ["Execution", "PriorStep", "StepResult", "split_outputs"]

SUCCEEDED, CACHED, REUSED, FAILED_STEP, SKIPPED = (
    "succeeded",
    "cached",
    "reused",
    "failed",
    "skipped",
)
OK_STATUSES = (SUCCEEDED, CACHED, REUSED)
NON_RETRYABLE = (GateFailed, InvalidInput, PermissionDenied)

TAG_KIND = "modelyard.kind"
TAG_PIPELINE = "modelyard.pipeline"
TAG_REF = "modelyard.pipeline_ref"
TAG_SOURCE = "modelyard.pipeline_source"
TAG_PARAMS = "modelyard.params"
TAG_PARENT = "modelyard.parent_run"
TAG_STEP = "modelyard.step"
TAG_KEY = "modelyard.cache_key"
TAG_CODE = "modelyard.code_digest"
TAG_OUTPUTS = "modelyard.outputs"
TAG_STATUS = "modelyard.status"
TAG_ATTEMPTS = "modelyard.attempts"
TAG_CACHED_FROM = "modelyard.cached_from"
TAG_RESUMED_FROM = "modelyard.resumed_from"
TAG_TRIGGER = "modelyard.trigger"
TAG_CI = "modelyard.ci"
TAG_CACHE_HIT = "cache_hit"
STEP_STATUS_PREFIX = "modelyard.step."


@dataclass
class StepResult:
    """What happened to one step of a pipeline run."""

    name: str
    status: str
    run_id: str | None = None
    cache_key: str | None = None
    seconds: float = 0.0
    attempts: int = 0
    error: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    encoded: dict[str, Any] = field(default_factory=dict)
    cached_from: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "run_id": self.run_id,
            "cache_key": self.cache_key,
            "seconds": round(self.seconds, 3),
            "attempts": self.attempts,
            "error": self.error,
            "cached_from": self.cached_from,
            "outputs": {k: values.summary(v) for k, v in self.encoded.items()},
        }


@dataclass(frozen=True)
class PriorStep:
    """A step as recorded by an earlier run (what ``resume`` may reuse)."""

    name: str
    status: str
    run_id: str
    cache_key: str | None
    outputs: dict[str, Any] | None


def error_text(exc: BaseException) -> str:
    if isinstance(exc, ModelyardError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"


class Execution:
    """Executes the steps of one pipeline run (shared by the local runner and KFP tasks)."""

    def __init__(
        self,
        yard: Yard,
        graph: Graph,
        parent_run_id: str,
        params: Mapping[str, Any],
        *,
        use_cache: bool = True,
        prior: Mapping[str, PriorStep] | None = None,
        console: Console | None = None,
        sleep: Callable[[float], None] = time.sleep,
        ci: bool = False,
    ) -> None:
        self.ci = ci
        self.yard = yard
        self.graph = graph
        self.parent_run_id = parent_run_id
        self.params = dict(params)
        self.use_cache = use_cache
        self.prior = dict(prior or {})
        self.console = console
        self.sleep = sleep
        self.cache = step_cache(yard)
        # node -> output -> (value, encoded document)
        self.outputs: dict[str, dict[str, tuple[Any, dict[str, Any]]]] = {}
        self._lock = threading.Lock()

    # -- inputs -----------------------------------------------------------
    def _lookup(self, ref: ParamRef | OutputRef) -> tuple[Any, dict[str, Any]]:
        if isinstance(ref, ParamRef):
            value = self.params[ref.name]
            return value, values.encode(value, None)
        with self._lock:
            value, doc = self.outputs[ref.node][ref.output]
        for key in ref.path:
            try:
                value = value[key]
            except (KeyError, IndexError, TypeError) as exc:
                raise InvalidInput(
                    f"{ref.describe()}: the output of {ref.node!r} has no item {key!r}"
                ) from exc
            item = values.item_of(doc, key)
            doc = item if item is not None else values.encode(value, None)
        return value, doc

    def _bind(self, binding: Any) -> tuple[Any, dict[str, Any]]:
        if isinstance(binding, ParamRef | OutputRef):
            return self._lookup(binding)
        if isinstance(binding, list | tuple) and not hasattr(binding, "_fields"):
            pairs = [self._bind(b) for b in binding]
            value = (
                [p[0] for p in pairs] if isinstance(binding, list) else tuple(p[0] for p in pairs)
            )
            return value, {"t": "list", "v": [p[1] for p in pairs]}
        if isinstance(binding, dict) and all(isinstance(k, str) for k in binding):
            bound = {k: self._bind(v) for k, v in binding.items()}
            return {k: p[0] for k, p in bound.items()}, {
                "t": "dict",
                "v": {k: p[1] for k, p in bound.items()},
            }
        return binding, values.encode(binding, None)

    def inputs(self, node: Node) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        bound = {name: self._bind(binding) for name, binding in node.bindings.items()}
        return {k: v[0] for k, v in bound.items()}, {k: v[1] for k, v in bound.items()}

    def key_of(self, node: Node, docs: Mapping[str, dict[str, Any]]) -> str:
        identities = {k: values.identity(d) for k, d in docs.items()}
        return cache_key(node.step.qualname, node.step.code_digest, identities)

    # -- one step ---------------------------------------------------------
    def execute(self, node: Node) -> StepResult:
        started = time.perf_counter()
        try:
            args, docs = self.inputs(node)
            key = self.key_of(node, docs)
        except Exception as exc:  # a bad binding fails this step, not the whole runner
            return self._record_failure(node, exc, started)
        found = self._find_outputs(node, key)
        if found is not None:
            status, source_run, decoded, encoded = found
            run_id = self._record_cached(node, key, docs, args, status, source_run, encoded)
            result = StepResult(
                node.name,
                status,
                run_id=run_id,
                cache_key=key,
                seconds=time.perf_counter() - started,
                outputs=decoded,
                encoded=encoded,
                cached_from=source_run,
            )
        else:
            result = self._run(node, key, args, docs, started)
        if result.ok:
            with self._lock:
                self.outputs[node.name] = {
                    k: (result.outputs[k], result.encoded[k]) for k in result.outputs
                }
        self.yard.runs.set_tags(self.parent_run_id, {STEP_STATUS_PREFIX + node.name: result.status})
        return result

    def _find_outputs(
        self, node: Node, key: str
    ) -> tuple[str, str | None, dict[str, Any], dict[str, Any]] | None:
        candidates: list[tuple[str, str | None, dict[str, Any]]] = []
        prior = self.prior.get(node.name)
        if prior and prior.status in OK_STATUSES and prior.cache_key == key and prior.outputs:
            candidates.append((REUSED, prior.run_id, prior.outputs))
        if self.use_cache and node.step.cache:
            entry = self.cache.get(key)
            if entry is not None:
                candidates.append((CACHED, entry.run_id, entry.outputs))
        for status, run_id, encoded in candidates:
            try:
                decoded = {k: values.decode(v, self.yard) for k, v in encoded.items()}
            except Exception as exc:
                if values.is_missing(exc):
                    continue  # what the entry points to is gone: a miss, not an error
                raise
            return status, run_id, decoded, encoded
        return None

    def _step_tags(self, node: Node, key: str) -> dict[str, Any]:
        return {
            TAG_KIND: "pipeline-step",
            TAG_PIPELINE: self.graph.name,
            TAG_PARENT: self.parent_run_id,
            TAG_STEP: node.name,
            TAG_KEY: key,
            TAG_CODE: node.step.code_digest,
        }

    def _log_inputs(self, run_id: str, args: Mapping[str, Any], docs: Mapping[str, Any]) -> None:
        from modelyard.data.entities import DatasetVersionInfo

        self.yard.runs.log_params(run_id, {k: values.summary(d) for k, d in docs.items()})
        for name, value in args.items():
            items = value if isinstance(value, list | tuple) else [value]
            datasets = [v for v in items if isinstance(v, DatasetVersionInfo)]
            if datasets:
                self.yard.runs.log_inputs(run_id, datasets, role=name)

    def _record_cached(
        self,
        node: Node,
        key: str,
        docs: Mapping[str, Any],
        args: Mapping[str, Any],
        status: str,
        source_run: str | None,
        encoded: dict[str, Any],
    ) -> str:
        tags = {
            **self._step_tags(node, key),
            TAG_CACHE_HIT: "true",
            TAG_STATUS: status,
            TAG_OUTPUTS: orjson.dumps(encoded).decode(),
        }
        if source_run:
            tags[TAG_CACHED_FROM] = source_run
        run_id = self.yard.runs.create(
            experiment=self.graph.name, name=node.name, tags=tags, parent_run_id=self.parent_run_id
        )
        try:
            self._log_inputs(run_id, args, docs)
            if source_run:
                try:
                    metrics = self.yard.runs.get(source_run).metrics
                except ModelyardError:
                    metrics = {}
                if metrics:
                    self.yard.runs.log_metrics(
                        run_id, [(k, v, None, None) for k, v in metrics.items()]
                    )
        finally:
            self.yard.runs.end(run_id, FINISHED)
        return run_id

    def _record_failure(self, node: Node, exc: BaseException, started: float) -> StepResult:
        return StepResult(
            node.name, FAILED_STEP, None, None, time.perf_counter() - started, 0, error_text(exc)
        )

    def _run(
        self,
        node: Node,
        key: str,
        args: dict[str, Any],
        docs: dict[str, dict[str, Any]],
        started: float,
    ) -> StepResult:
        step = node.step
        tags = {**self._step_tags(node, key), TAG_CACHE_HIT: "false", TAG_STATUS: "running"}
        attempts = 0
        try:
            with self.yard.start_run(
                experiment=self.graph.name, name=node.name, tags=tags, parent=self.parent_run_id
            ) as run:
                self._log_inputs(run.id, args, docs)
                while True:
                    attempts += 1
                    ctx = StepContext(
                        yard=self.yard,
                        run=run,
                        pipeline=self.graph.name,
                        step=node.name,
                        pipeline_run_id=self.parent_run_id,
                        attempt=attempts,
                        params=dict(self.params),
                        ci=self.ci,
                    )
                    token = _current.set(ctx)
                    try:
                        result = step.fn(**args)
                        break
                    except NON_RETRYABLE:
                        run.set_tags({TAG_ATTEMPTS: attempts, TAG_STATUS: FAILED_STEP})
                        raise
                    except Exception as exc:
                        if attempts > step.retries:
                            run.set_tags({TAG_ATTEMPTS: attempts, TAG_STATUS: FAILED_STEP})
                            raise
                        wait_s = step.backoff_seconds(attempts)
                        self._say(
                            f"  [yellow]↻[/yellow] {node.name}: attempt {attempts}/"
                            f"{step.retries + 1} failed ({error_text(exc)}); "
                            f"retrying in {wait_s:g} s"
                        )
                        run.log_metric("retry_wait_s", wait_s, step=attempts)
                        self.sleep(wait_s)
                    finally:
                        _current.reset(token)
                outputs = split_outputs(node, result)
                encoded = {k: values.encode(v, self.yard.artifacts) for k, v in outputs.items()}
                metrics = _numeric_dicts(outputs)
                if metrics:
                    run.log_metrics(metrics)
                run.set_tags(
                    {
                        TAG_OUTPUTS: orjson.dumps(encoded).decode(),
                        TAG_ATTEMPTS: attempts,
                        TAG_STATUS: SUCCEEDED,
                    }
                )
                run_id = run.id
        except Exception as exc:
            result_failed = self._record_failure(node, exc, started)
            result_failed.attempts = attempts
            return result_failed
        if step.cache and not ctx.uncached:
            self.cache.put(
                key, pipeline=self.graph.name, step=node.name, run_id=run_id, outputs=encoded
            )
        return StepResult(
            node.name,
            SUCCEEDED,
            run_id=run_id,
            cache_key=key,
            seconds=time.perf_counter() - started,
            attempts=attempts,
            outputs=outputs,
            encoded=encoded,
        )

    def _say(self, text: str) -> None:
        if self.console is not None:
            self.console.print(text, highlight=False)


def split_outputs(node: Node, result: Any) -> dict[str, Any]:
    """The step's return value as ``{output name: value}``."""
    names = node.step.outputs
    if len(names) == 1:
        return {names[0]: result}
    if isinstance(result, Mapping):
        missing = [n for n in names if n not in result]
        if missing:
            raise InvalidInput(f"step {node.name!r} returned no output(s) {missing}")
        return {n: result[n] for n in names}
    if isinstance(result, tuple | list) and len(result) == len(names):
        return dict(zip(names, result, strict=True))
    raise InvalidInput(
        f"step {node.name!r} declares outputs {list(names)}: return a tuple of "
        f"{len(names)} values or a dict with those keys (got {type(result).__name__})"
    )


def _numeric_dicts(outputs: Mapping[str, Any]) -> dict[str, float]:
    """Dict outputs whose values are all numbers are logged as the step run's metrics."""
    metrics: dict[str, float] = {}
    for value in outputs.values():
        if (
            isinstance(value, Mapping)
            and value
            and all(
                isinstance(v, int | float) and not isinstance(v, bool) and v == v
                for v in value.values()
            )
        ):
            metrics.update({str(k): float(v) for k, v in value.items()})
    return metrics
