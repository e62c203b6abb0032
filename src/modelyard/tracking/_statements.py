"""Prebuilt Core statements for the hot logging paths.

Building a SQLAlchemy statement (an upsert with ``excluded`` above all) costs
more than executing it on SQLite; logging calls run thousands of times a
second, so each statement is built once per dialect and reused with bound
parameters. This is why tracking does not use the ORM for writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from modelyard.store.models import LatestMetric, Metric, Param, Run, Tag


@dataclass(frozen=True)
class Statements:
    run_status: Any
    insert_run: Any
    end_run: Any
    existing_params: Any
    insert_params: Any
    insert_metrics: Any
    upsert_latest: Any
    upsert_tag: Any


@cache
def statements(dialect: str) -> Statements:
    dml: Any = postgresql if dialect == "postgresql" else sqlite
    latest = dml.insert(LatestMetric)
    newer = or_(
        latest.excluded.step > LatestMetric.step,
        (latest.excluded.step == LatestMetric.step)
        & (latest.excluded.timestamp >= LatestMetric.timestamp),
    )
    tag = dml.insert(Tag)
    return Statements(
        run_status=select(Run.status).where(Run.id == bindparam("run_id")),
        insert_run=insert(Run),
        end_run=update(Run)
        .where(Run.id == bindparam("rid"))
        .values(
            status=bindparam("status"), end_time=bindparam("end_time"), error=bindparam("error")
        ),
        existing_params=select(Param.key, Param.value).where(
            Param.run_id == bindparam("run_id"), Param.key.in_(bindparam("keys", expanding=True))
        ),
        insert_params=insert(Param),
        insert_metrics=insert(Metric),
        upsert_latest=latest.on_conflict_do_update(
            index_elements=["run_id", "key"],
            set_={
                "value": latest.excluded.value,
                "step": latest.excluded.step,
                "timestamp": latest.excluded.timestamp,
            },
            where=newer,
        ),
        upsert_tag=tag.on_conflict_do_update(
            index_elements=["run_id", "key"], set_={"value": tag.excluded.value}
        ),
    )
