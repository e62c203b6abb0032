"""``GET /monitors/alerts`` costs the same few queries however many alerts are stored.

The listing once fetched the service's first 100 alerts, sorted the whole
table for them (no index in that order) and cut pages from that list (a page
past the hundredth alert came back empty). It now asks the store for one page
(``limit + 1`` rows at the cursor's offset) read from an index in the listing's
order. Bounded by counting SQL statements (an SQLAlchemy event listener) and
by SQLite's query plan, never by time; on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import anyio
import httpx
import pytest
from sqlalchemy import event, select, text

import modelyard
from modelyard.monitoring.alerts import list_alerts
from modelyard.server import create_app
from modelyard.store.models import AlertRecord

MODELS = 40


def _add_alerts(yard, count: int, start: int = 0) -> None:
    rows = [
        AlertRecord(
            fingerprint=f"fp-{i}",
            rule=f"rule-{i % 3}",
            model_name=f"model-{i % MODELS}",
            model_version=1 + i % 2,
            severity="warning",
            status=("firing", "resolved", "expired")[i % 3],
            message=f"alert {i}",
            payload={"kind": "drift", "value": 0.3},
            first_seen=i,
            last_seen=1_000_000 + (i * 7919) % 100_003,  # not in id order
            count=1,
            notified_at=i,
        )
        for i in range(start, start + count)
    ]
    with yard.store.write() as session:
        session.add_all(rows)


@contextmanager
def _counted(yard) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    engine = yard.store.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _get(app, token: str, paths: list[str]) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://yard", headers=headers
        ) as client:
            return [await client.get(p) for p in paths]

    return anyio.run(run)


@pytest.fixture
def served(store_url: str, tmp_path):
    yard = modelyard.connect(store_url, artifact_root=str(tmp_path / "artifacts"), user="alice")
    token = yard.users.bootstrap("alice", ["admin"]).secret
    try:
        yield yard, create_app(yard=yard, ui=False), token
    finally:
        yard.close()


PATHS = [
    "/api/v1/monitors/alerts",
    "/api/v1/monitors/alerts?limit=500",
    "/api/v1/monitors/alerts?model=model-3",
    "/api/v1/monitors/alerts?status=firing&limit=7",
]


def test_the_listing_issues_the_same_queries_for_30_or_900_alerts(served) -> None:
    yard, app, token = served
    _add_alerts(yard, 30)
    _get(app, token, PATHS)  # first use: the monitoring service is built
    with _counted(yard) as few:
        small = _get(app, token, PATHS)
    _add_alerts(yard, 870, start=30)
    with _counted(yard) as many:
        large = _get(app, token, PATHS)
    assert [r.status_code for r in small + large] == [200] * 8
    assert len(many) == len(few)  # no query per alert, model or page
    assert len(many) <= 6 * len(PATHS), many  # token, actor and one listing per request
    listings = [s for s in many if "FROM alerts" in s]
    assert len(listings) == len(PATHS)
    assert all("LIMIT" in s for s in listings)  # a page is fetched, not the table
    assert [len(r.json()["items"]) for r in large] == [50, 500, 23, 7]


def test_pages_walk_every_alert_newest_first(served) -> None:
    yard, app, token = served
    _add_alerts(yard, 260)
    seen: list[int] = []
    path = "/api/v1/monitors/alerts?limit=100"
    while path:
        (page,) = _get(app, token, [path])
        body = page.json()
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        path = f"/api/v1/monitors/alerts?limit=100&cursor={cursor}" if cursor else ""
    with yard.store.read() as session:
        order = select(AlertRecord.id).order_by(AlertRecord.last_seen.desc(), AlertRecord.id.desc())
        expected = list(session.scalars(order))
    assert seen == expected and len(seen) == 260  # beyond the service's old cap of 100
    assert [a.id for a in list_alerts(yard.store, limit=5, offset=255)] == expected[255:]


def test_sqlite_reads_the_listing_from_an_index(sqlite_yard) -> None:
    _add_alerts(sqlite_yard, 50)
    with sqlite_yard.store.engine.connect() as conn:
        for where in ("", "WHERE model_name = 'model-3' "):
            plan = " ".join(
                str(row[-1])
                for row in conn.execute(
                    text(
                        f"EXPLAIN QUERY PLAN SELECT * FROM alerts {where}"
                        "ORDER BY last_seen DESC, id DESC LIMIT 51"
                    )
                )
            )
            assert "USING INDEX ix_alerts_" in plan and "TEMP B-TREE" not in plan, plan


def test_bad_paging_names_the_field(sqlite_yard) -> None:
    from modelyard.errors import InvalidInput

    with pytest.raises(InvalidInput, match="'offset'"):
        list_alerts(sqlite_yard.store, offset=-1)
    with pytest.raises(InvalidInput, match="'limit'"):
        list_alerts(sqlite_yard.store, limit=2.5)  # type: ignore[arg-type]
