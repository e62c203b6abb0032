"""The pipeline DSL: ``@step`` on plain functions, ``@pipeline`` on the function composing them.

    from modelyard.pipelines import pipeline, step, step_context

    @step
    def load(rows: int) -> DatasetVersionInfo:
        frame = synthetic.generate(rows, seed=1)
        return step_context().yard.datasets.register("loans", frame)

    @step(outputs=("train", "holdout"))
    def split(data: DatasetVersionInfo, share: float = 0.25): ...

    @step(retries=2, backoff=5.0)
    def fit(train: DatasetVersionInfo, num_leaves: int = 31) -> Any: ...

    @pipeline(name="credit-risk")
    def train(rows: int = 20_000, num_leaves: int = 31):
        train, holdout = split(load(rows))
        model = fit(train, num_leaves=num_leaves)

Inside a pipeline function (which the runner calls in *trace mode*), calling
a step records a node and returns a lazy handle; the pipeline's arguments are
placeholders (``ParamRef``). Outside a pipeline, a step is its plain function.
Steps reach the Yard and their tracked run through ``step_context()``.

A step's values may be Modelyard objects (dataset versions, runs, model
versions), JSON values (metrics dicts, numbers, strings) or any picklable
object (a fitted model, a DataFrame), which is stored in the artifact store
by content hash. See ``values.py``.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import textwrap
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cached_property, update_wrapper
from pathlib import Path
from typing import Any, get_type_hints

from modelyard.errors import InvalidInput
from modelyard.pipelines.graph import Graph, Node, OutputRef, ParamRef, find_refs

__all__ = ["Pipeline", "Step", "StepHandle", "pipeline", "step"]

DEFAULT_OUTPUT = "output"


@dataclass
class _Builder:
    graph: Graph
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, step: Step, args: tuple[Any, ...], kwargs: dict[str, Any]) -> StepHandle:
        try:
            bound = step.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise InvalidInput(f"pipeline {self.graph.name!r}: step {step.name!r}: {exc}") from exc
        bound.apply_defaults()
        bindings = {k: _unwrap(v) for k, v in bound.arguments.items()}
        for ref in (r for v in bindings.values() for r in find_refs(v)):
            if isinstance(ref, OutputRef) and ref.node not in self.graph.nodes:
                raise InvalidInput(
                    f"step {step.name!r} uses an output of {ref.node!r}, which is not a step "
                    f"of pipeline {self.graph.name!r} (handles cannot cross pipelines)"
                )
        seen = self.counts.get(step.name, 0) + 1
        self.counts[step.name] = seen
        name = step.name if seen == 1 else f"{step.name}-{seen}"
        self.graph.nodes[name] = Node(name, step, bindings)
        return StepHandle(self.graph.nodes[name])


_tracing: ContextVar[_Builder | None] = ContextVar("modelyard_pipeline_trace", default=None)


def _unwrap(value: Any) -> Any:
    """Replace handles (also nested in lists, tuples, dicts) with references."""
    if isinstance(value, StepHandle):
        return value.ref
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_unwrap(v) for v in value)
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    return value


class StepHandle:
    """What calling a step inside a pipeline returns: its future outputs.

    Pass it (or ``handle["name"]`` for one of several outputs, or an item of a
    dict output) to other steps; unpack it when the step declares several
    outputs; ``.after(other)`` orders it after a step it takes no data from.
    """

    def __init__(self, node: Node) -> None:
        self._node = node

    @property
    def name(self) -> str:
        return self._node.name

    @property
    def ref(self) -> OutputRef:
        outputs = self._node.step.outputs
        if len(outputs) != 1:
            raise InvalidInput(
                f"step {self.name!r} has outputs {list(outputs)}; pass one of them, "
                f"e.g. {self.name}[{outputs[0]!r}], or unpack the call"
            )
        return OutputRef(self.name, outputs[0])

    def __getitem__(self, key: Any) -> OutputRef:
        outputs = self._node.step.outputs
        if len(outputs) > 1:
            if key not in outputs:
                raise InvalidInput(
                    f"step {self.name!r} has no output {key!r}; its outputs: {list(outputs)}"
                )
            return OutputRef(self.name, key)
        return OutputRef(self.name, outputs[0], (key,))

    def __iter__(self) -> Iterator[OutputRef]:
        outputs = self._node.step.outputs
        if len(outputs) == 1:
            raise InvalidInput(
                f"step {self.name!r} has one output; declare @step(outputs=(...)) to unpack it"
            )
        return iter([OutputRef(self.name, o) for o in outputs])

    def after(self, *others: StepHandle | OutputRef) -> StepHandle:
        for other in others:
            name = other.name if isinstance(other, StepHandle) else getattr(other, "node", None)
            if not isinstance(name, str):
                raise InvalidInput(f"after() takes step handles; got {other!r}")
            self._node.after.add(name)
        return self

    def __bool__(self) -> bool:
        raise InvalidInput(
            f"the output of step {self.name!r} has no value while the graph is built; "
            "pass it to another step instead of using it in Python control flow"
        )

    def __repr__(self) -> str:
        return f"StepHandle({self.name!r})"


def normalised_source(fn: Callable[..., Any]) -> str:
    """The function's code without decorators, docstring, comments or formatting."""
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError) as exc:
        raise InvalidInput(
            f"cannot read the source of {fn.__qualname__}: a step must be defined in a file"
        ) from exc
    tree = ast.parse(source)
    func = tree.body[0]
    if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
        func.decorator_list = []
        body = func.body
        first = body[0] if body else None
        if (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
            and len(body) > 1
        ):
            func.body = body[1:]
    return ast.unparse(func)


class Step:
    """A plain function that a pipeline runs as a tracked, cached, retried step."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        outputs: tuple[str, ...] | list[str] | None = None,
        retries: int = 0,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        cache: bool = True,
        version: str | None = None,
    ) -> None:
        if not callable(fn):
            raise InvalidInput(f"@step decorates a function; got {fn!r}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise InvalidInput(
                f"The 'retries' parameter of @step must be an int >= 0. Got {retries!r}."
            )
        if not isinstance(backoff, int | float) or backoff < 0 or max_backoff < 0:
            raise InvalidInput(
                f"The 'backoff' and 'max_backoff' parameters of @step must be seconds >= 0. "
                f"Got {backoff!r} and {max_backoff!r}."
            )
        self.fn = fn
        self.name = name or fn.__name__.replace("_", "-")
        self.retries = retries
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.cache = bool(cache)
        self.version = version
        self.signature = inspect.signature(fn)
        self.outputs = _outputs_of(fn, outputs)
        update_wrapper(self, fn)

    @property
    def qualname(self) -> str:
        """The function's qualified name: part of the cache key (the module is not, so a
        pipeline file gives the same keys wherever it is checked out)."""
        return self.fn.__qualname__

    @cached_property
    def code_digest(self) -> str:
        """sha256 of the normalised source (and the step's ``version``, if given)."""
        text = normalised_source(self.fn)
        if self.version:
            text += f"\n# version {self.version}"
        return hashlib.sha256(text.encode()).hexdigest()

    def backoff_seconds(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based): exponential, capped."""
        return min(self.backoff * (2 ** (attempt - 1)), self.max_backoff)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        builder = _tracing.get()
        if builder is not None:
            return builder.add(self, args, kwargs)
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Step({self.name!r})"


def _outputs_of(
    fn: Callable[..., Any], declared: tuple[str, ...] | list[str] | None
) -> tuple[str, ...]:
    if declared is not None:
        if (
            isinstance(declared, str)
            or not declared
            or not all(isinstance(o, str) and o.isidentifier() for o in declared)
        ):
            raise InvalidInput(
                "The 'outputs' parameter of @step must be a tuple of identifiers. "
                f"Got {declared!r}."
            )
        if len(set(declared)) != len(declared):
            raise InvalidInput(f"@step outputs must be unique; got {declared!r}")
        return tuple(declared)
    try:
        hints = get_type_hints(fn)
    except Exception:  # unresolvable annotations are only documentation here
        hints = {}
    ret = hints.get("return")
    fields = getattr(ret, "_fields", None)
    if isinstance(ret, type) and issubclass(ret, tuple) and fields:
        return tuple(fields)
    return (DEFAULT_OUTPUT,)


def step(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    outputs: tuple[str, ...] | list[str] | None = None,
    retries: int = 0,
    backoff: float = 1.0,
    max_backoff: float = 60.0,
    cache: bool = True,
    version: str | None = None,
) -> Any:
    """Make ``fn`` a pipeline step.

    Args:
        name: the step's name in the graph (default: the function name, ``_`` → ``-``).
        outputs: names of several outputs; the function then returns a tuple or a
            dict with those keys (a ``NamedTuple`` return annotation does the same).
        retries: extra attempts after a failure, waiting ``backoff * 2**(n-1)``
            seconds (at most ``max_backoff``) before attempt ``n + 1``.
        cache: reuse the outputs of an earlier run with the same code, inputs and
            parameters; turn off for steps whose effect must happen every run.
        version: change it to invalidate cached outputs when code the step
            calls (not its own source) changed.
    """
    options = {
        "name": name,
        "outputs": outputs,
        "retries": retries,
        "backoff": backoff,
        "max_backoff": max_backoff,
        "cache": cache,
        "version": version,
    }
    if fn is None:
        return lambda f: Step(f, **options)
    return Step(fn, **options)


class Pipeline:
    """A function composing steps; its arguments are the pipeline's parameters."""

    def __init__(
        self, fn: Callable[..., Any], *, name: str | None = None, description: str | None = None
    ) -> None:
        self.fn = fn
        self.name = name or fn.__name__.replace("_", "-")
        self.description = description or (inspect.getdoc(fn) or "").split("\n\n")[0]
        self.signature = inspect.signature(fn)
        for p in self.signature.parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise InvalidInput(f"pipeline {self.name!r}: parameters must be named (no *args)")
        update_wrapper(self, fn)

    def graph(self) -> Graph:
        """Trace the function: call it with placeholders and record the steps it calls."""
        graph = Graph(self.name, dict(self.signature.parameters))
        builder = _Builder(graph)
        token = _tracing.set(builder)
        try:
            self.fn(**{k: ParamRef(k) for k in self.signature.parameters})
        finally:
            _tracing.reset(token)
        if not graph.nodes:
            raise InvalidInput(f"pipeline {self.name!r} calls no step")
        return graph

    @property
    def source_file(self) -> Path | None:
        try:
            found = inspect.getsourcefile(self.fn)
        except TypeError:
            return None
        return Path(found).resolve() if found else None

    @property
    def reference(self) -> str | None:
        """``FILE:FUNCTION``: how the CLI, reproduce and KFP tasks find this pipeline again."""
        path = self.source_file
        return f"{path}:{self.fn.__name__}" if path else None

    def run(self, yard: Any, params: dict[str, Any] | None = None, **options: Any) -> Any:
        """Run locally (see ``runner.run_pipeline``); returns the ``PipelineRun``."""
        from modelyard.pipelines.runner import run_pipeline

        return run_pipeline(yard, self, params, **options)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise InvalidInput(
            f"pipeline {self.name!r} is not called directly: run it with "
            f"'modelyard pipeline run FILE:{self.fn.__name__}' or {self.fn.__name__}.run(yard)"
        )

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r})"


def pipeline(
    fn: Callable[..., Any] | None = None, *, name: str | None = None, description: str | None = None
) -> Any:
    """Make ``fn`` a pipeline: its body calls steps; its arguments are parameters."""
    if fn is None:
        return lambda f: Pipeline(f, name=name, description=description)
    return Pipeline(fn, name=name, description=description)
