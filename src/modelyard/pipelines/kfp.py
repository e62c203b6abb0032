"""Compile a pipeline to Kubeflow Pipelines v2 YAML (what Vertex AI Pipelines runs).

The mapping, built with the ``kfp`` SDK's own DSL and compiler:

    pipeline parameter        → a KFP pipeline input (int, float, bool, str; others as JSON text)
    (first task)              → ``start-pipeline-run``: ``modelyard pipeline start REF
                                --param k=v ... --run-id-file <output>`` creates the pipeline
                                run and outputs its id
    step S                    → task ``S``: a container running ``modelyard pipeline step REF S
                                --run-id <id> --param k=v`` (only the parameters S reads) in
                                the platform's image
    S depends on T            → ``S.after(T)`` (values travel through the Modelyard store:
                                the step reads T's recorded outputs, as the local runner does)
    configuration             → ``MODELYARD_STORE_URL`` / ``MODELYARD_ARTIFACT_ROOT`` env vars

KFP's own caching is turned off on every task: Modelyard's step cache (keyed
by code, inputs and parameters) decides what runs. Retries happen inside the
task, with the step's back-off. A store password is never written into the
YAML: give the tasks ``MODELYARD_STORE_URL`` from a secret instead.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from modelyard.errors import BackendUnavailable, InvalidInput
from modelyard.pipelines.dsl import Pipeline

__all__ = ["START_TASK", "KfpExport", "compile_kfp", "task_graph"]

START_TASK = "start-pipeline-run"
DEFAULT_IMAGE = "modelyard:latest"
_KFP_TYPES = (bool, int, float, str)


@dataclass
class KfpExport:
    path: Path
    tasks: dict[str, set[str]]
    image: str
    reference: str
    env: dict[str, str]
    warnings: list[str] = field(default_factory=list)


def _param_types(pipeline: Pipeline) -> dict[str, tuple[type, Any]]:
    try:
        hints = get_type_hints(pipeline.fn)
    except Exception:  # unresolvable annotations: fall back to the defaults' types
        hints = {}
    found: dict[str, tuple[type, Any]] = {}
    for name, p in pipeline.signature.parameters.items():
        default = p.default
        kind = hints.get(name)
        if kind not in _KFP_TYPES:
            kind = type(default) if isinstance(default, _KFP_TYPES) else str
        if default is not inspect.Parameter.empty and not isinstance(default, _KFP_TYPES):
            import orjson

            default = orjson.dumps(default).decode()  # lists, dicts, None: JSON text
        found[name] = (kind, default)
    return found


def _identifier(name: str) -> str:
    text = re.sub(r"[^0-9A-Za-z_]", "_", name)
    return text if text[:1].isalpha() else f"s_{text}"


def _component(
    kfp_dsl: Any,
    name: str,
    inputs: Mapping[str, type],
    outputs: Mapping[str, type],
    image: str,
    build_args: Callable[[dict[str, Any]], list[Any]],
    description: str,
) -> Any:
    """A container component with a signature made at run time (one per step)."""
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    params = [inspect.Parameter(k, kind, annotation=t) for k, t in inputs.items()]
    params += [
        inspect.Parameter(k, kind, annotation=kfp_dsl.OutputPath(t)) for k, t in outputs.items()
    ]
    names = [p.name for p in params]

    def body(*args: Any) -> Any:
        return kfp_dsl.ContainerSpec(
            image=image, command=["modelyard"], args=build_args(dict(zip(names, args, strict=True)))
        )

    body.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    body.__name__ = body.__qualname__ = _identifier(name)
    body.__doc__ = description
    return kfp_dsl.container_component(body)


def _param_args(kfp_dsl: Any, names: list[str], placeholders: Mapping[str, Any]) -> list[Any]:
    args: list[Any] = []
    for name in sorted(names):
        args += ["--param", kfp_dsl.ConcatPlaceholder([f"{name}=", placeholders[name]])]
    return args


def _environment(settings: Any, warnings: list[str]) -> dict[str, str]:
    from sqlalchemy.engine import make_url

    env: dict[str, str] = {}
    if settings is None:
        return env
    url = settings.resolved_store_url
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        warnings.append(
            f"the store is SQLite ({url}); tasks in containers need a shared store: "
            "set MODELYARD_STORE_URL to a PostgreSQL URL before compiling"
        )
    if parsed.password:
        warnings.append(
            "the store URL holds a password, which is not written to the YAML: give the "
            "tasks MODELYARD_STORE_URL from a Kubernetes secret (kfp-kubernetes use_secret_as_env)"
        )
    else:
        env["MODELYARD_STORE_URL"] = url
    root = settings.resolved_artifact_root
    if "://" not in root or root.startswith("file://"):
        warnings.append(
            f"the artifact root is a local path ({root}); tasks need gs:// or s3:// storage"
        )
    env["MODELYARD_ARTIFACT_ROOT"] = root
    return env


def _kfp() -> tuple[Any, Any]:
    try:
        from kfp import compiler
        from kfp import dsl as kfp_dsl
    except ImportError as exc:
        raise BackendUnavailable(
            "install modelyard[pipelines] (the kfp SDK) to compile to Kubeflow Pipelines"
        ) from exc
    return kfp_dsl, compiler


def compile_kfp(
    pipeline: Pipeline,
    output: str | Path,
    *,
    reference: str,
    image: str | None = None,
    settings: Any = None,
    env: Mapping[str, str] | None = None,
) -> KfpExport:
    """Write KFP v2 pipeline YAML for ``pipeline`` to ``output``.

    ``reference`` is how the tasks find the pipeline inside the image
    (``FILE:FUNCTION``, a path relative to the image's working directory, or
    ``module:function``). ``settings`` supplies the store and artifact root;
    ``env`` adds or overrides environment variables of every task.
    """
    kfp_dsl, compiler = _kfp()
    graph = pipeline.graph()
    types = _param_types(pipeline)
    warnings: list[str] = []
    environment = {**_environment(settings, warnings), **dict(env or {})}
    image = image or DEFAULT_IMAGE
    if image == DEFAULT_IMAGE:
        warnings.append(f"no --image given: tasks use {DEFAULT_IMAGE!r}; push your platform image")

    def start_args(v: dict[str, Any]) -> list[Any]:
        params = _param_args(kfp_dsl, list(types), v)
        return ["pipeline", "start", reference, *params, "--run-id-file", v["run_id"]]

    start = _component(
        kfp_dsl,
        START_TASK,
        {k: t for k, (t, _) in types.items()},
        {"run_id": str},
        image,
        start_args,
        f"Create the Modelyard run of pipeline {graph.name}",
    )

    def step_args(name: str, used: list[str]) -> Callable[[dict[str, Any]], list[Any]]:
        def build(v: dict[str, Any]) -> list[Any]:
            params = _param_args(kfp_dsl, used, v)
            return ["pipeline", "step", reference, name, "--run-id", v["run_id"], *params]

        return build

    components = {}
    for name in graph.order():
        node = graph.node(name)
        used = sorted(node.params())
        components[name] = _component(
            kfp_dsl,
            name,
            {"run_id": str, **{k: types[k][0] for k in used}},
            {},
            image,
            step_args(name, used),
            f"Modelyard step {name} ({node.step.qualname})",
        )

    order = list(types)

    def body(*args: Any) -> None:
        values = dict(zip(order, args, strict=True))
        started = start(**values)
        started.set_caching_options(False)
        _set_env(started, environment)
        tasks: dict[str, Any] = {}
        for name in graph.order():
            used = graph.node(name).params()
            task = components[name](
                run_id=started.outputs["run_id"], **{k: values[k] for k in used}
            )
            task.set_display_name(name)
            task.set_caching_options(False)
            _set_env(task, environment)
            deps = [tasks[d] for d in sorted(graph.dependencies(name))]
            if deps:
                task.after(*deps)
            tasks[name] = task

    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    body.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(k, kind, annotation=t, default=d)
            if d is not inspect.Parameter.empty
            else inspect.Parameter(k, kind, annotation=t)
            for k, (t, d) in types.items()
        ]
    )
    body.__name__ = body.__qualname__ = _identifier(graph.name)
    compiled = kfp_dsl.pipeline(name=graph.name, description=pipeline.description or None)(body)
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(compiled, str(path))
    tasks = {n: set(graph.dependencies(n)) for n in graph.order()}
    return KfpExport(path, tasks, image, reference, environment, warnings)


def _set_env(task: Any, env: Mapping[str, str]) -> None:
    for key, value in env.items():
        task.set_env_variable(key, value)


def task_graph(path: str | Path) -> dict[str, set[str]]:
    """The task graph of a compiled KFP pipeline YAML: step name → the steps it runs after.

    Read through kfp's own protobuf (``PipelineSpec``), so a file the SDK would
    not accept fails here. The start task is left out (every step follows it).
    """
    import yaml
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    documents = list(yaml.safe_load_all(Path(path).read_text(encoding="utf-8")))
    if not documents:
        raise InvalidInput(f"{path} holds no pipeline")
    spec = json_format.ParseDict(documents[0], pipeline_spec_pb2.PipelineSpec())
    tasks = spec.root.dag.tasks
    names = {key: task.task_info.name for key, task in tasks.items()}
    graph: dict[str, set[str]] = {}
    for key, task in tasks.items():
        if key == START_TASK:
            continue
        graph[names[key]] = {names[d] for d in task.dependent_tasks if d != START_TASK}
    return graph
