"""The DSL: tracing a pipeline function into a graph, handles, parameters, cache keys."""

from __future__ import annotations

from pathlib import Path

import pytest
import sample_pipelines as sp

from modelyard.errors import InvalidInput
from modelyard.pipelines import load_pipeline, parse_params, pipeline, step
from modelyard.pipelines.cache import cache_key
from modelyard.pipelines.dsl import normalised_source
from modelyard.pipelines.values import encode, identity


def test_tracing_builds_the_graph_from_plain_calls() -> None:
    graph = sp.numbers.graph()
    assert graph.order() == ["source", "total", "scale", "combine", "count"]
    assert graph.dependencies("combine") == {"total", "scale"}
    assert graph.downstream("source") == {"total", "combine", "count"}
    assert graph.ancestors("combine") == {"source", "total", "scale"}
    assert graph.consumers_of("n") == {"source"}
    assert graph.defaults() == {"n": 5, "factor": 1.0}
    described = graph.describe()
    assert described["steps"][3] == {
        "name": "combine",
        "function": "combine",
        "after": ["scale", "total"],
        "params": [],
    }


def test_outputs_unpacking_items_and_after() -> None:
    @step(outputs=("low", "high"))
    def halves(xs: list) -> tuple[list, list]:
        return xs[:1], xs[1:]

    @step
    def first(value: dict) -> int:
        return 0

    @pipeline
    def unpacked(n: int = 3):
        low, high = halves(sp.source(n))
        sp.total(high)
        sp.count(low)

    @pipeline
    def ordered(n: int = 3):
        parts = halves(sp.source(n))
        summary = sp.total(parts["high"])
        later = sp.count(parts["low"])
        later.after(summary)
        first({"total": summary["total"]})

    graph = ordered.graph()
    assert graph.dependencies("count") == {"halves", "total"}
    assert graph.dependencies("first") == {"total"}
    assert unpacked.graph().edges() == {
        ("source", "halves"),
        ("halves", "total"),
        ("halves", "count"),
    }


def test_repeated_steps_get_numbered_names() -> None:
    @pipeline
    def twice(n: int = 2):
        sp.total(sp.source(n))
        sp.total(sp.source(n))

    assert twice.graph().order() == ["source", "total", "source-2", "total-2"]


def test_parameters_are_placeholders_while_tracing() -> None:
    @pipeline
    def branching(n: int = 2):
        if n:  # control flow on a parameter cannot be traced
            sp.source(n)

    with pytest.raises(InvalidInput, match="pass it to a step"):
        branching.graph()

    @pipeline
    def bad_call(n: int = 2):
        sp.source(n, 3)

    with pytest.raises(InvalidInput, match="step 'source'"):
        bad_call.graph()


def test_pipeline_is_not_called_directly() -> None:
    with pytest.raises(InvalidInput, match="modelyard pipeline run"):
        sp.numbers()


def test_bind_params_names_unknown_and_missing() -> None:
    graph = sp.fragile_pipeline.graph()
    with pytest.raises(InvalidInput, match=r"no parameter\(s\) \['nope'\]"):
        graph.bind_params({"nope": 1})
    with pytest.raises(InvalidInput, match="needs a value for parameter"):
        graph.bind_params({})


def test_cli_params_are_typed_by_annotation() -> None:
    typed = parse_params(sp.numbers, ["n=7", "factor=2.5"])
    assert typed == {"n": 7, "factor": 2.5}
    assert parse_params(sp.numbers, ["n=20000.0"]) == {"n": 20000}  # KFP renders ints so
    with pytest.raises(InvalidInput, match="expected an integer"):
        parse_params(sp.numbers, ["n=many"])
    with pytest.raises(InvalidInput, match="KEY=VALUE"):
        parse_params(sp.numbers, ["n"])


def test_code_digest_ignores_comments_docstrings_and_decorator_options() -> None:
    def a(x: int) -> int:
        """Doc."""
        # a comment
        return x + 1

    def b(x: int) -> int:
        return x + 1  # other comment

    def c(x: int) -> int:
        return x + 2

    assert normalised_source(a).replace("def a", "def b") == normalised_source(b)
    assert step(a, retries=3).code_digest != step(c).code_digest
    assert step(b, version="2").code_digest != step(b).code_digest


def test_cache_key_covers_code_and_input_identities(pyard) -> None:
    docs = {"xs": encode([1, 2], None), "model": encode(frozenset({1, 2}), None)}
    key = cache_key("total", "abc", {k: identity(v) for k, v in docs.items()})
    assert len(key) == 64
    assert key == cache_key("total", "abc", {k: identity(v) for k, v in docs.items()})
    assert key != cache_key("total", "abd", {k: identity(v) for k, v in docs.items()})
    other = {"xs": identity(encode([1, 3], None)), "model": identity(docs["model"])}
    assert key != cache_key("total", "abc", other)


def test_values_encode_modelyard_objects_by_reference(pyard, loans) -> None:
    dataset = pyard.datasets.register("loans", loans)
    doc = encode({"data": dataset, "n": 3, "rows": [1.5, None]}, pyard.artifacts)
    assert doc["v"]["data"] == {"t": "dataset", "ref": "loans/1", "digest": dataset.digest}
    assert doc["v"]["n"] == {"t": "json", "v": 3}
    blob = encode(loans.head(3), pyard.artifacts)
    assert blob["t"] == "blob" and pyard.artifacts.exists(blob["digest"])


def test_load_pipeline_by_file_reference(tmp_path: Path) -> None:
    source = tmp_path / "flows.py"
    source.write_text(
        "from modelyard.pipelines import pipeline, step\n"
        "@step\ndef one(x: int) -> int:\n    return x\n"
        "@pipeline(name='tiny')\ndef tiny(x: int = 1):\n    one(x)\n"
        "helper = 3\n"
    )
    loaded = load_pipeline(f"{source}:tiny")
    assert loaded.name == "tiny" and loaded.reference == f"{source.resolve()}:tiny"
    with pytest.raises(InvalidInput, match="pipelines defined there: tiny"):
        load_pipeline(f"{source}:missing")
    with pytest.raises(InvalidInput, match="is not a @pipeline"):
        load_pipeline(f"{source}:helper")
    with pytest.raises(InvalidInput, match="FILE:FUNCTION"):
        load_pipeline(str(source))
    with pytest.raises(InvalidInput, match="does not exist"):
        load_pipeline(f"{tmp_path / 'nope.py'}:tiny")
