"""The model card of a model version, as Markdown and as a self-contained HTML page.

``render_model_card`` takes a plain dict that the registry assembles (so this
module needs no store) and returns ``(markdown, html)`` with the same content:
both are rendered from one intermediate list of sections, so they cannot drift
apart. The Markdown uses GitHub-flavoured tables; the HTML shares the
validation report's stylesheet and needs no JavaScript.

The card dict (keys marked * are required; the rest default to empty)::

    name*            str    model name
    version*         int    version number
    description*     str
    owner*           str    accountable owner (user or team)
    risk_tier*       str    e.g. "high"
    purpose          str    intended use, and uses it is not meant for
    created_by*      str    who registered the version
    created_at*      str    ISO 8601 timestamp (or a datetime)
    lifecycle_state* str    e.g. "staging", "production", "archived"
    aliases          [str]  e.g. ["champion"]
    flavor*          str    e.g. "lightgbm", "sklearn"
    task*            str    e.g. "binary_classification"
    signature        {"inputs": [{"name"*, "type"*, "nullable", "categories",
                      "minimum", "maximum"}], "outputs": [same]}
    training_run     {"id", "name", "params": {}, "metrics": {}, "git_commit",
                      "git_dirty", "python_version"} or None
    datasets         [{"ref"*, "role", "num_rows", "digest",
                      "columns": [{"name"*, "kind", "null_rate", "min", "max",
                                   "top"}]}]
    metrics          {name: value}  evaluation metrics of the version
    validation       {"report_path", "metrics": {name: value}} or None
    approvals        [{"stage"*, "user"*, "role", "decision"*, "comment", "time"}]
    lineage          [str]  e.g. "dataset loans@v3 -> run 1f2e... -> credit-risk/3"
    limitations      [str]  defaults to DEFAULT_LIMITATIONS when empty
    onnx             {"passed": bool, "max_abs_diff": float} or None
    model_format     {"model_format", "label", "trusted_code", "skops_types": [str]}
                     how the model is stored (data, or trusted code) and the types
                     its skops file needs; omitted for cards built elsewhere
    reason_table     {"adverse_outcome", "reasons": {column: {"code", "text",
                      "direction"}}, "excluded": {column: note}} or None (then the
                      card says that no reviewed reason table exists)

``top`` of a column may be a list of values, of ``[value, count]`` pairs, or a
``{value: count}`` dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from modelyard.errors import InvalidInput
from modelyard.reports._format import DASH, fmt_pct, fmt_value, fmt_when, md_cell
from modelyard.reports._render import render

__all__ = ["DEFAULT_LIMITATIONS", "NO_REASON_TABLE", "REQUIRED_KEYS", "render_model_card"]

REQUIRED_KEYS = (
    "name",
    "version",
    "description",
    "owner",
    "risk_tier",
    "created_by",
    "created_at",
    "lifecycle_state",
    "flavor",
    "task",
)
_REQUIRED_ITEM_KEYS = {
    "datasets": ("ref",),
    "approvals": ("stage", "user", "decision"),
}
DEFAULT_LIMITATIONS = (
    "Performance was measured on the holdout period only; monitor drift and "
    "performance once the model is in use.",
    "Not validated for populations outside the training data's range; scores for "
    "applicants unlike those in the training data are extrapolations.",
    "Probabilities are calibrated to the training period's default rate; a change in "
    "the portfolio's default rate needs recalibration.",
    "The model supports, and does not replace, the credit decision and its policy rules.",
)

Block = dict[str, Any]
Section = dict[str, Any]


def render_model_card(card: Mapping[str, Any]) -> tuple[str, str]:
    """Render ``card`` (see the module docstring) as ``(markdown, html)``.

    Raises:
        InvalidInput: a required key is missing (the message names it) or a
            value has the wrong shape.
    """
    checked = _check(card)
    sections = _sections(checked)
    title = f"Model card: {checked['name']} v{checked['version']}"
    markdown = _markdown(title, checked, sections)
    html = render(
        "card.html.j2", page_title=title, card=checked, sections=sections, facts=_facts(checked)
    )
    return markdown, html


def _check(card: Any) -> dict[str, Any]:
    if not isinstance(card, Mapping):
        raise InvalidInput(f"a model card must be a dict; got {type(card).__name__}")
    missing = [key for key in REQUIRED_KEYS if card.get(key) in (None, "")]
    if missing:
        raise InvalidInput(
            f"the model card lacks the required key(s) {missing}", details={"missing": missing}
        )
    checked = dict(card)
    for key in ("aliases", "datasets", "approvals", "lineage", "limitations"):
        checked[key] = _list(card, key)
    for key in ("metrics",):
        checked[key] = _mapping(card, key)
    for key in ("signature", "training_run", "validation", "onnx", "reason_table"):
        value = card.get(key)
        if value is not None and not isinstance(value, Mapping):
            raise InvalidInput(
                f"the model card's {key!r} must be a dict or None; got {type(value).__name__}"
            )
    for key, needed in _REQUIRED_ITEM_KEYS.items():
        for i, item in enumerate(checked[key]):
            if not isinstance(item, Mapping):
                raise InvalidInput(f"the model card's {key}[{i}] must be a dict")
            absent = [k for k in needed if item.get(k) in (None, "")]
            if absent:
                raise InvalidInput(
                    f"the model card's {key}[{i}] lacks the required key(s) {absent}",
                    details={"missing": [f"{key}[{i}].{k}" for k in absent]},
                )
    created = card["created_at"]
    if not isinstance(created, datetime):
        try:
            datetime.fromisoformat(str(created))
        except ValueError as exc:
            raise InvalidInput(
                f"the model card's 'created_at' must be an ISO 8601 timestamp; got {created!r}"
            ) from exc
    return checked


def _list(card: Mapping[str, Any], key: str) -> list[Any]:
    value = card.get(key)
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise InvalidInput(f"the model card's {key!r} must be a list; got {type(value).__name__}")
    return list(value)


def _mapping(card: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = card.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInput(f"the model card's {key!r} must be a dict; got {type(value).__name__}")
    return dict(value)


# Blocks: {"type": "text" | "kv" | "table" | "list" | "heading" | "empty", ...}. Both
# renderers walk the same blocks, so Markdown and HTML carry identical content.
def _text(text: str) -> Block:
    return {"type": "text", "text": text}


def _empty(text: str) -> Block:
    return {"type": "empty", "text": text}


def _heading(text: str) -> Block:
    return {"type": "heading", "text": text}


def _kv(rows: list[tuple[str, Any]]) -> Block:
    return {"type": "kv", "rows": [(k, fmt_value(v)) for k, v in rows]}


def _table(columns: list[str], rows: list[list[str]], *, numeric: tuple[int, ...] = ()) -> Block:
    return {"type": "table", "columns": columns, "rows": rows, "numeric": numeric}


def _metrics_table(metrics: Mapping[str, Any]) -> Block:
    return _table(
        ["Metric", "Value"], [[str(k), fmt_value(v)] for k, v in metrics.items()], numeric=(1,)
    )


def _facts(card: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        ("Owner", str(card["owner"])),
        ("Risk tier", str(card["risk_tier"])),
        ("State", str(card["lifecycle_state"])),
        ("Aliases", fmt_value(card["aliases"])),
        ("Created", f"{fmt_when(card['created_at'])} by {card['created_by']}"),
    ]


def _sections(card: dict[str, Any]) -> list[Section]:
    return [
        {"id": "overview", "title": "Overview", "blocks": _overview(card)},
        {"id": "format", "title": "Model format", "blocks": _format(card.get("model_format"))},
        {"id": "signature", "title": "Signature", "blocks": _signature(card.get("signature"))},
        {"id": "training", "title": "Training", "blocks": _training(card.get("training_run"))},
        {"id": "data", "title": "Training data", "blocks": _datasets(card["datasets"])},
        {"id": "metrics", "title": "Metrics", "blocks": _metrics(card)},
        {"id": "reasons", "title": "Reason codes", "blocks": _reasons(card.get("reason_table"))},
        {"id": "approvals", "title": "Approvals", "blocks": _approvals(card["approvals"])},
        {"id": "lineage", "title": "Lineage", "blocks": _lineage(card["lineage"])},
        {"id": "limitations", "title": "Limitations", "blocks": _limitations(card)},
    ]


def _overview(card: dict[str, Any]) -> list[Block]:
    blocks = [_text(str(card["description"]))]
    blocks.append(
        _kv(
            [
                ("Name", card["name"]),
                ("Version", str(card["version"])),
                ("Owner", card["owner"]),
                ("Risk tier", card["risk_tier"]),
                ("Lifecycle state", card["lifecycle_state"]),
                ("Aliases", card["aliases"]),
                ("Flavor", card["flavor"]),
                ("Task", card["task"]),
                ("Created by", card["created_by"]),
                ("Created at", fmt_when(card["created_at"])),
            ]
        )
    )
    blocks.append(_heading("Intended use"))
    purpose = card.get("purpose")
    blocks.append(_text(str(purpose)) if purpose else _empty("No intended use was recorded."))
    return blocks


def _range(field: Mapping[str, Any]) -> str:
    if field.get("categories"):
        return "one of " + ", ".join(str(c) for c in field["categories"])
    low, high = field.get("minimum"), field.get("maximum")
    if low is None and high is None:
        return DASH
    return f"{fmt_value(low)} to {fmt_value(high)}"


def _fields(fields: Any) -> Block:
    rows = [
        [
            str(f.get("name", DASH)),
            str(f.get("type", DASH)),
            fmt_value(f.get("nullable")),
            _range(f),
        ]
        for f in fields or []
        if isinstance(f, Mapping)
    ]
    return _table(["Name", "Type", "Nullable", "Allowed values"], rows)


def _format(facts: Mapping[str, Any] | None) -> list[Block]:
    if not facts:
        return [_empty("The model's storage format was not recorded.")]
    blocks = [_kv([("Stored as", str(facts.get("label") or facts.get("model_format")))])]
    if facts.get("model_format") == "skops":
        types = list(facts.get("skops_types") or [])
        blocks.append(_heading("Types the skops file needs beyond skops' own trusted set"))
        blocks.append(
            _table(["type"], [[t] for t in types])
            if types
            else _empty("None: every object is of a type skops trusts itself.")
        )
    return blocks


def _signature(signature: Mapping[str, Any] | None) -> list[Block]:
    if not signature:
        return [_empty("No signature was recorded; inputs are not checked when serving.")]
    return [
        _heading("Inputs"),
        _fields(signature.get("inputs")),
        _heading("Outputs"),
        _fields(signature.get("outputs")),
    ]


def _training(run: Mapping[str, Any] | None) -> list[Block]:
    if not run:
        return [_empty("No training run was linked to this version.")]
    commit = run.get("git_commit") or DASH
    if run.get("git_dirty"):
        commit = f"{commit} (uncommitted changes)"
    blocks = [
        _kv(
            [
                ("Run", run.get("name")),
                ("Run id", run.get("id")),
                ("Code version", commit),
                ("Python", run.get("python_version")),
            ]
        )
    ]
    params = run.get("params") or {}
    if params:
        blocks += [
            _heading("Parameters"),
            # Parameters are configuration: shown as given, not rounded like measurements.
            _table(["Parameter", "Value"], [[str(k), str(v)] for k, v in params.items()]),
        ]
    if run.get("metrics"):
        blocks += [_heading("Run metrics"), _metrics_table(run["metrics"])]
    return blocks


def _top(value: Any) -> str:
    if not value:
        return DASH
    if isinstance(value, Mapping):
        return ", ".join(f"{k} ({fmt_value(v)})" for k, v in value.items())
    parts = []
    for item in value:
        if isinstance(item, list | tuple) and len(item) == 2:
            parts.append(f"{item[0]} ({fmt_value(item[1])})")
        else:
            parts.append(str(item))
    return ", ".join(parts)


def _datasets(datasets: list[Mapping[str, Any]]) -> list[Block]:
    if not datasets:
        return [_empty("No dataset versions were linked to this version.")]
    blocks = [
        _table(
            ["Dataset", "Role", "Rows", "Digest"],
            [
                [
                    str(d["ref"]),
                    str(d.get("role") or DASH),
                    fmt_value(d.get("num_rows")),
                    str(d.get("digest") or DASH),
                ]
                for d in datasets
            ],
            numeric=(2,),
        )
    ]
    for d in datasets:
        columns = [c for c in d.get("columns") or [] if isinstance(c, Mapping)]
        if not columns:
            continue
        blocks.append(_heading(f"Profile of {d['ref']}"))
        blocks.append(
            _table(
                ["Column", "Kind", "Null rate", "Min", "Max", "Most frequent"],
                [
                    [
                        str(c.get("name", DASH)),
                        str(c.get("kind") or DASH),
                        fmt_pct(c.get("null_rate")),
                        fmt_value(c.get("min")),
                        fmt_value(c.get("max")),
                        _top(c.get("top")),
                    ]
                    for c in columns
                ],
                numeric=(2, 3, 4),
            )
        )
    return blocks


def _metrics(card: dict[str, Any]) -> list[Block]:
    blocks: list[Block] = []
    if card["metrics"]:
        blocks += [_heading("Evaluation"), _metrics_table(card["metrics"])]
    validation = card.get("validation")
    if validation:
        blocks.append(_heading("Validation"))
        if validation.get("report_path"):
            blocks.append(_kv([("Report", validation["report_path"])]))
        if validation.get("metrics"):
            blocks.append(_metrics_table(validation["metrics"]))
    else:
        blocks.append(_empty("This version has not been validated yet."))
    onnx = card.get("onnx")
    if onnx:
        verdict = "passed" if onnx.get("passed") else "FAILED"
        blocks += [
            _heading("ONNX export"),
            _kv([("Parity check", verdict), ("Max abs difference", onnx.get("max_abs_diff"))]),
        ]
    return blocks


def _approvals(approvals: list[Mapping[str, Any]]) -> list[Block]:
    if not approvals:
        return [_empty("No approvals have been recorded.")]
    rows = [
        [
            str(a["stage"]),
            str(a["decision"]),
            str(a["user"]),
            str(a.get("role") or DASH),
            fmt_when(a.get("time")),
            str(a.get("comment") or DASH),
        ]
        for a in approvals
    ]
    block = _table(["Stage", "Decision", "User", "Role", "Time", "Comment"], rows)
    block["badge"] = 1  # the decision column
    return [block]


def _lineage(lineage: list[Any]) -> list[Block]:
    if not lineage:
        return [_empty("No lineage was recorded.")]
    return [{"type": "list", "entries": [str(item) for item in lineage]}]


NO_REASON_TABLE = (
    "No reviewed reason table exists for this version: explanations give the input column "
    "names as codes with a generated text, which has not been reviewed for applicants."
)


def _reasons(table: Mapping[str, Any] | None) -> list[Block]:
    if not table:
        return [_empty(NO_REASON_TABLE)]
    rows = [
        [str(column), str(r.get("code")), str(r.get("text")), str(r.get("direction", ""))]
        for column, r in (table.get("reasons") or {}).items()
    ]
    rows += [[str(c), "excluded", str(note) or DASH, DASH] for c, note in
             (table.get("excluded") or {}).items()]  # fmt: skip
    adverse = "higher" if table.get("adverse_outcome", "high") == "high" else "lower"
    return [
        _text(f"Reasons are given for columns pushing the score {adverse} (the adverse outcome)."),
        _table(["Column", "Code", "Applicant-facing text", "Direction"], rows),
    ]


def _limitations(card: dict[str, Any]) -> list[Block]:
    given = [str(item) for item in card["limitations"]]
    return [{"type": "list", "entries": given or list(DEFAULT_LIMITATIONS)}]


def _markdown(title: str, card: dict[str, Any], sections: list[Section]) -> str:
    lines = [f"# {title}", ""]
    for section in sections:
        lines += [f"## {section['title']}", ""]
        for block in section["blocks"]:
            lines += _markdown_block(block)
    return "\n".join(lines).rstrip() + "\n"


def _markdown_block(block: Block) -> list[str]:
    kind = block["type"]
    if kind == "heading":
        return [f"### {block['text']}", ""]
    if kind == "text":
        return [block["text"], ""]
    if kind == "empty":
        return [f"_{block['text']}_", ""]
    if kind == "list":
        return [*(f"- {item}" for item in block["entries"]), ""]
    if kind == "kv":
        rows = [[k, v] for k, v in block["rows"]]
        return _markdown_table(["Field", "Value"], rows, ())
    return _markdown_table(block["columns"], block["rows"], block["numeric"])


def _markdown_table(
    columns: list[str], rows: list[list[str]], numeric: tuple[int, ...]
) -> list[str]:
    rule = ["---:" if i in numeric else "---" for i in range(len(columns))]
    lines = ["| " + " | ".join(md_cell(c) for c in columns) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(md_cell(cell) for cell in row) + " |" for row in rows]
    return [*lines, ""]
