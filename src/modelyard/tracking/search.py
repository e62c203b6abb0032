"""The run search language, parsed into SQLAlchemy conditions.

    metrics.auc > 0.8 and params.model = 'lgbm' and status = 'FINISHED'

A filter is clauses joined by ``and`` (as in MLflow, there is no ``or``).
A clause is ``IDENT OP VALUE``: ``metrics.K`` compares the latest value of a
metric as a number; ``params.K`` and ``tags.K`` compare text (``=``, ``!=``,
``like``, ``ilike``, ``in``); bare names (or ``attributes.NAME``) compare run
attributes: ``status``, ``name``, ``user``, ``experiment``, ``run_id``,
``start_time``, ``end_time``. Keys with odd characters go in backticks or
double quotes: ``metrics.`val-auc```. Every error says where the filter went
wrong and what was expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import Select

from modelyard.errors import InvalidInput
from modelyard.store.models import Experiment, LatestMetric, Param, Run, Tag

__all__ = [
    "FILTER_PATTERN",
    "ORDER_PATTERN",
    "Clause",
    "OrderKey",
    "apply_filter",
    "apply_order",
    "parse_filter",
    "parse_order",
]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)
      | (?P<string>'(?:[^']|'')*')
      | (?P<op>!=|<>|>=|<=|==|=|>|<)
      | (?P<punct>[(),])
      | (?P<ident>(?:[A-Za-z_][A-Za-z0-9_]*\.)?(?:`[^`]+`|"[^"]+"|[A-Za-z_][A-Za-z0-9_.:/-]*))
    )""",
    re.VERBOSE,
)
_ATTRIBUTES = {
    "status": Run.status,
    "name": Run.name,
    "user": Run.user,
    "run_id": Run.id,
    "start_time": Run.start_time,
    "end_time": Run.end_time,
    "parent_run_id": Run.parent_run_id,
}
# Keys a run list can be ordered by but not filtered on (sortable table columns).
_ORDER_ONLY = {
    "experiment": lambda: (
        select(Experiment.name).where(Experiment.id == Run.experiment_id).scalar_subquery()
    ),
    "duration": lambda: Run.end_time - Run.start_time,
}
_NUMERIC_ATTRIBUTES = {"start_time", "end_time"}
_PREFIXES = {
    "metrics": "metric",
    "metric": "metric",
    "params": "param",
    "param": "param",
    "tags": "tag",
    "tag": "tag",
    "attributes": "attribute",
    "attribute": "attribute",
    "attr": "attribute",
    "run": "attribute",
}
_TEXT_OPS = {"=", "!=", "like", "ilike", "in", "not in"}


def _filter_pattern() -> str:
    """The filter language as one regular expression, for the API's published schema.

    Every string it matches parses (and runs) here, so a client or a fuzzer that follows
    the schema is never refused; the server checks it before parsing, so a string it does
    not match is refused at the door, naming the filter. It is the grammar above with
    spaces spelled out: keywords (``and``, ``like``, ``in``) stand between spaces,
    numbers have at most 15 digits a part.
    """
    key = r"(?:[A-Za-z_][A-Za-z0-9_.:/-]*|`[^`\x00-\x1f]+`|\"[^\"\x00-\x1f]+\")"
    number = r"-?[0-9]{1,15}(?:\.[0-9]{1,15})?(?:[eE][-+]?[0-9]{1,2})?"
    value = rf"(?:'(?:[^'\x00-\x1f]|'')*'|{number})"
    attr = r"(?:(?:attributes|attribute|attr|run)\.)?"
    numeric = rf"(?:(?:metrics|metric)\.{key}|{attr}(?:start_time|end_time))"
    words = "status|name|user|run_id|parent_run_id|experiment"
    text = rf"(?:(?:params|param|tags|tag)\.{key}|{attr}(?:{words}))"
    number_op = r"(?:!=|<>|>=|<=|==|=|>|<)"
    text_op = r"(?: *(?:!=|<>|==|=) *| +(?:[Ll][Ii][Kk][Ee]|[Ii][Ll][Ii][Kk][Ee]) +)"
    in_list = rf" +(?:[Nn][Oo][Tt] +)?[Ii][Nn] *\( *{value}(?: *, *{value})* *\)"
    clause = rf"(?:{numeric} *{number_op} *{number}|{text}(?:{text_op}{value}|{in_list}))"
    return rf"^ *(?:{clause}(?: +[Aa][Nn][Dd] +{clause})*)? *$"


def _order_pattern() -> str:
    """One ``order_by`` item (``NAME [asc|desc]``) as a regular expression, as above."""
    key = r"(?:[A-Za-z_][A-Za-z0-9_.:/-]*|`[!-_a-~]+`)"
    attr = r"(?:(?:attributes|attribute|attr|run)\.)?"
    name = (
        rf"(?:(?:metrics|metric|params|param|tags|tag)\.{key}"
        rf"|{attr}(?:status|name|user|run_id|parent_run_id|start_time|end_time"
        r"|experiment|duration))"
    )
    return rf"^ *{name}(?: +(?:[Aa][Ss][Cc]|[Dd][Ee][Ss][Cc]))? *$"


FILTER_PATTERN = _filter_pattern()
ORDER_PATTERN = _order_pattern()
_NUMBER_OPS = {"=", "!=", ">", ">=", "<", "<="}


@dataclass(frozen=True)
class Clause:
    kind: str  # metric | param | tag | attribute
    key: str
    op: str
    value: Any


@dataclass(frozen=True)
class OrderKey:
    kind: str
    key: str
    descending: bool


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise InvalidInput(
                f"filter: cannot read {text[pos:].strip()[:20]!r} at position {pos}",
                details={"filter": text, "position": pos},
            )
        kind = match.lastgroup or ""
        value = match.group(kind)
        start = match.start(kind)
        if kind == "ident" and value.lower() in {"and", "like", "ilike", "in", "not"}:
            kind = "keyword"
            value = value.lower()
        tokens.append((kind, value, start))
        pos = match.end()
    return tokens


def _split_ident(raw: str) -> tuple[str, str]:
    prefix, _, key = raw.partition(".")
    if key and prefix.lower() in _PREFIXES and not raw.startswith(("`", '"')):
        kind = _PREFIXES[prefix.lower()]
    else:
        kind, key = "attribute", raw
    key = key.strip('`"')
    if kind == "attribute" and key not in (*_ATTRIBUTES, "experiment"):
        known = ", ".join(sorted((*_ATTRIBUTES, "experiment")))
        raise InvalidInput(
            f"filter: unknown attribute {key!r}; use metrics.K, params.K, tags.K or one of {known}"
        )
    return kind, key


def _literal(token: tuple[str, str, int], text: str) -> Any:
    kind, value, pos = token
    if kind == "number":
        return float(value) if any(c in value for c in ".eE") else int(value)
    if kind == "string":
        return value[1:-1].replace("''", "'")
    raise InvalidInput(
        f"filter: expected a number or a 'quoted string' at position {pos}: {text!r}"
    )


def parse_filter(text: str | None) -> list[Clause]:
    """Parse a filter string into clauses; an empty filter gives no clauses."""
    if not text or not text.strip():
        return []
    tokens = _tokenize(text)
    clauses: list[Clause] = []
    i = 0

    def expect(what: str) -> tuple[str, str, int]:
        if i >= len(tokens):
            raise InvalidInput(f"filter: expected {what} at the end of {text!r}")
        return tokens[i]

    while True:
        kind, raw, pos = expect("a name such as metrics.auc")
        if kind != "ident":
            raise InvalidInput(f"filter: expected a name such as metrics.auc at position {pos}")
        clause_kind, key = _split_ident(raw)
        i += 1
        kind, op, pos = expect("an operator")
        if kind == "keyword" and op == "not":
            i += 1
            if expect("'in'")[1] != "in":
                raise InvalidInput(f"filter: expected 'in' after 'not' at position {pos}")
            op = "not in"
        elif kind not in ("op", "keyword") or op not in {*_NUMBER_OPS, "==", "<>", *_TEXT_OPS}:
            raise InvalidInput(
                f"filter: expected an operator (=, !=, >, <, like, in) at position {pos}"
            )
        op = {"==": "=", "<>": "!="}.get(op, op)
        i += 1
        numeric = clause_kind == "metric" or key in _NUMERIC_ATTRIBUTES
        allowed = _NUMBER_OPS if numeric else _TEXT_OPS
        if op not in allowed:
            raise InvalidInput(
                f"filter: {raw} cannot use {op!r}; allowed: {', '.join(sorted(allowed))}"
            )
        if op in ("in", "not in"):
            if expect("'('")[1] != "(":
                raise InvalidInput(f"filter: expected '(' after {op!r} at position {tokens[i][2]}")
            i += 1
            values = []
            while True:
                values.append(_literal(expect("a value"), text))
                i += 1
                sep = expect("',' or ')'")[1]
                i += 1
                if sep == ")":
                    break
                if sep != ",":
                    raise InvalidInput(f"filter: expected ',' or ')' in the list of {raw}")
            value: Any = [str(v) for v in values]
        else:
            value = _literal(expect("a value"), text)
            i += 1
            if numeric and not isinstance(value, int | float):
                raise InvalidInput(f"filter: {raw} compares numbers; got {value!r}")
            if not numeric:
                value = str(value)
        clauses.append(Clause(clause_kind, key, op, value))
        if i == len(tokens):
            return clauses
        kind, word, pos = tokens[i]
        if word != "and":
            raise InvalidInput(f"filter: expected 'and' at position {pos}, got {word!r}")
        i += 1


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == "=":
        return column == value
    if op == "!=":
        return column != value
    if op == ">":
        return column > value
    if op == ">=":
        return column >= value
    if op == "<":
        return column < value
    if op == "<=":
        return column <= value
    if op == "like":
        return column.like(value)
    if op == "ilike":
        return func.lower(column).like(func.lower(value))
    if op == "in":
        return column.in_(value)
    if op == "is null":  # built by callers (top-level runs), not by the filter language
        return column.is_(None)
    return column.not_in(value)


def clause_condition(clause: Clause) -> ColumnElement[bool]:
    if clause.kind == "metric":
        return exists().where(
            LatestMetric.run_id == Run.id,
            LatestMetric.key == clause.key,
            _compare(LatestMetric.value, clause.op, clause.value),
        )
    if clause.kind in ("param", "tag"):
        table = Param if clause.kind == "param" else Tag
        return exists().where(
            table.run_id == Run.id,
            table.key == clause.key,
            _compare(table.value, clause.op, clause.value),
        )
    if clause.key == "experiment":
        names = select(Experiment.id).where(_compare(Experiment.name, clause.op, clause.value))
        return Run.experiment_id.in_(names)
    return _compare(_ATTRIBUTES[clause.key], clause.op, clause.value)


def apply_filter(query: Select[Any], clauses: list[Clause]) -> Select[Any]:
    if not clauses:
        return query
    return query.where(and_(*(clause_condition(c) for c in clauses)))


def parse_order(items: list[str] | None) -> list[OrderKey]:
    """Parse ``["metrics.auc desc", "start_time"]`` into order keys."""
    keys = []
    for item in items or []:
        parts = item.strip().split()
        if (
            not parts
            or len(parts) > 2
            or (len(parts) == 2 and parts[1].lower() not in ("asc", "desc"))
        ):
            raise InvalidInput(f"order_by: expected 'NAME [asc|desc]', got {item!r}")
        prefix, _, rest = parts[0].partition(".")
        if parts[0] in _ORDER_ONLY:
            kind, key = "attribute", parts[0]
        elif rest in _ORDER_ONLY and _PREFIXES.get(prefix.lower()) == "attribute":
            kind, key = "attribute", rest  # run.duration, attributes.experiment
        else:
            kind, key = _split_ident(parts[0])
        keys.append(OrderKey(kind, key, len(parts) == 2 and parts[1].lower() == "desc"))
    return keys


def apply_order(query: Select[Any], keys: list[OrderKey]) -> Select[Any]:
    for index, key in enumerate(keys):
        if key.kind == "attribute":
            column: Any = _ORDER_ONLY[key.key]() if key.key in _ORDER_ONLY else _ATTRIBUTES[key.key]
        else:
            table: Any = {"metric": LatestMetric, "param": Param, "tag": Tag}[key.kind]
            alias = select(table.run_id, table.value).where(table.key == key.key)
            sub = alias.subquery(f"order_{index}")
            query = query.outerjoin(sub, sub.c.run_id == Run.id)
            column = sub.c.value
        # Runs that lack the key sort last in either direction.
        query = query.order_by(column.is_(None), column.desc() if key.descending else column.asc())
    return query.order_by(Run.start_time.desc(), Run.id)


def ids_by_metric(
    session: Session, clauses: list[Clause], keys: list[OrderKey], limit: int, offset: int
) -> list[str]:
    """Run ids ordered first by a metric, walking the ``(key, value)`` index.

    Ordering the filtered runs through an outer join sorts every match; driving
    the query from ``latest_metrics`` in index order instead lets the database
    stop after ``offset + limit`` matches, so a page costs the same at 10,000
    runs as at 100. Runs that lack the metric follow, as ``apply_order`` puts
    them.
    """
    first, rest = keys[0], keys[1:]
    # An alias, so that filter clauses' EXISTS on latest_metrics do not correlate to it.
    ordering = aliased(LatestMetric)
    value = ordering.value.desc() if first.descending else ordering.value.asc()
    with_metric = apply_filter(
        select(Run.id).join(ordering, and_(ordering.run_id == Run.id, ordering.key == first.key)),
        clauses,
    ).order_by(value)
    ids = list(session.scalars(apply_order(with_metric, rest).limit(limit).offset(offset)))
    if len(ids) == limit:
        return ids
    # Past the runs that have the metric: how many were there before this page?
    seen = (
        offset + len(ids)
        if ids
        else session.scalar(select(func.count()).select_from(with_metric.order_by(None).subquery()))
    )
    lacking = apply_filter(
        select(Run.id).where(
            ~exists().where(LatestMetric.run_id == Run.id, LatestMetric.key == first.key)
        ),
        clauses,
    )
    rest_ids = session.scalars(
        apply_order(lacking, rest).limit(limit - len(ids)).offset(max(0, offset - int(seen or 0)))
    )
    return ids + list(rest_ids)
