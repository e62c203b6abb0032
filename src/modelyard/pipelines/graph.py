"""The graph a pipeline function describes: steps, their bindings and their order.

A node binds each argument of its step to a value that may hold references:
``ParamRef`` (a pipeline parameter), ``OutputRef`` (an output of an upstream
step, optionally an item of it) or plain constants, nested in lists, tuples
and dicts as the pipeline function wrote them. Edges come from those
references plus explicit ``.after()`` orderings.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from modelyard.errors import InvalidInput

if TYPE_CHECKING:
    from modelyard.pipelines.dsl import Step

__all__ = ["Graph", "Node", "OutputRef", "ParamRef", "find_refs", "resolve_refs"]


@dataclass(frozen=True)
class ParamRef:
    """A pipeline parameter, as seen while the graph is built."""

    name: str

    def __bool__(self) -> bool:
        raise InvalidInput(
            f"pipeline parameter {self.name!r} has no value while the graph is built; "
            "pass it to a step instead of using it in Python control flow"
        )

    def __getitem__(self, key: Any) -> Any:
        raise InvalidInput(
            f"pipeline parameter {self.name!r} has no value while the graph is built; "
            "index it inside a step"
        )


@dataclass(frozen=True)
class OutputRef:
    """Output ``output`` of step ``node``; ``path`` selects an item inside it."""

    node: str
    output: str = "output"
    path: tuple[Any, ...] = ()

    def __getitem__(self, key: Any) -> OutputRef:
        return OutputRef(self.node, self.output, (*self.path, key))

    def __bool__(self) -> bool:
        raise InvalidInput(
            f"the output of step {self.node!r} has no value while the graph is built; "
            "pass it to another step instead of using it in Python control flow"
        )

    def describe(self) -> str:
        suffix = "".join(f"[{p!r}]" for p in self.path)
        name = self.node if self.output == "output" else f"{self.node}.{self.output}"
        return name + suffix


def find_refs(value: Any) -> Iterator[ParamRef | OutputRef]:
    """Every reference inside a binding (lists, tuples, sets and dict values are searched)."""
    if isinstance(value, ParamRef | OutputRef):
        yield value
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from find_refs(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from find_refs(item)


def resolve_refs(value: Any, lookup: Callable[[ParamRef | OutputRef], Any]) -> Any:
    """The binding with each reference replaced by ``lookup(ref)``."""
    if isinstance(value, ParamRef | OutputRef):
        return lookup(value)
    if isinstance(value, list):
        return [resolve_refs(v, lookup) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(resolve_refs(v, lookup) for v in value)
    if isinstance(value, dict):
        return {k: resolve_refs(v, lookup) for k, v in value.items()}
    return value


@dataclass
class Node:
    """One call of a step inside a pipeline."""

    name: str
    step: Step
    bindings: dict[str, Any]
    after: set[str] = field(default_factory=set)

    def upstream(self) -> set[str]:
        found = {
            r.node for v in self.bindings.values() for r in find_refs(v) if isinstance(r, OutputRef)
        }
        return found | set(self.after)

    def params(self) -> set[str]:
        return {
            r.name for v in self.bindings.values() for r in find_refs(v) if isinstance(r, ParamRef)
        }


@dataclass
class Graph:
    """A pipeline's steps in the order the pipeline function called them."""

    name: str
    params: dict[str, inspect.Parameter]
    nodes: dict[str, Node] = field(default_factory=dict)

    def node(self, name: str) -> Node:
        try:
            return self.nodes[name]
        except KeyError:
            raise InvalidInput(
                f"pipeline {self.name!r} has no step {name!r}; its steps: {', '.join(self.nodes)}"
            ) from None

    def dependencies(self, name: str) -> set[str]:
        return self.node(name).upstream()

    def dependants(self, name: str) -> set[str]:
        return {n for n, node in self.nodes.items() if name in node.upstream()}

    def downstream(self, name: str) -> set[str]:
        """Every step that depends on ``name``, directly or not."""
        seen: set[str] = set()
        frontier = [name]
        while frontier:
            for child in self.dependants(frontier.pop()):
                if child not in seen:
                    seen.add(child)
                    frontier.append(child)
        return seen

    def ancestors(self, name: str) -> set[str]:
        """Every step ``name`` depends on, directly or not."""
        seen: set[str] = set()
        frontier = [name]
        while frontier:
            for parent in self.dependencies(frontier.pop()):
                if parent not in seen:
                    seen.add(parent)
                    frontier.append(parent)
        return seen

    def consumers_of(self, param: str) -> set[str]:
        """Steps that read parameter ``param`` directly."""
        return {n for n, node in self.nodes.items() if param in node.params()}

    def order(self) -> list[str]:
        """A topological order; among ready steps, the order the pipeline called them."""
        remaining = {n: self.dependencies(n) for n in self.nodes}
        ordered: list[str] = []
        while remaining:
            ready = [n for n, deps in remaining.items() if not deps - set(ordered)]
            if not ready:  # not reachable through the DSL, which only refers backwards
                raise InvalidInput(f"pipeline {self.name!r} has a cycle among {sorted(remaining)}")
            ordered.append(ready[0])
            del remaining[ready[0]]
        return ordered

    def edges(self) -> set[tuple[str, str]]:
        return {(dep, n) for n in self.nodes for dep in self.dependencies(n)}

    def defaults(self) -> dict[str, Any]:
        return {
            k: p.default for k, p in self.params.items() if p.default is not inspect.Parameter.empty
        }

    def bind_params(self, values: Mapping[str, Any] | None) -> dict[str, Any]:
        """Parameter values: ``values`` over the defaults; unknown or missing ones are errors."""
        values = dict(values or {})
        unknown = sorted(set(values) - set(self.params))
        if unknown:
            known = ", ".join(self.params) or "none"
            raise InvalidInput(
                f"pipeline {self.name!r} has no parameter(s) {unknown}; its parameters: {known}"
            )
        bound = {**self.defaults(), **values}
        missing = [k for k in self.params if k not in bound]
        if missing:
            raise InvalidInput(f"pipeline {self.name!r} needs a value for parameter(s) {missing}")
        return {k: bound[k] for k in self.params}

    def describe(self) -> dict[str, Any]:
        return {
            "pipeline": self.name,
            "params": {k: _jsonable(v) for k, v in self.defaults().items()},
            "steps": [
                {
                    "name": n,
                    "function": self.nodes[n].step.qualname,
                    "after": sorted(self.dependencies(n)),
                    "params": sorted(self.nodes[n].params()),
                }
                for n in self.order()
            ],
        }


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)
