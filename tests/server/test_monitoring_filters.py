"""A monitoring listing asked for with filters is filtered, or it is an error: never the
whole, unfiltered list.

The platform server runs for real (uvicorn on a free localhost port, real HTTP)
over a SQLite store; ``yard.monitors`` is a stand-in service with alerts and
results of two models, whose filtered path raises a ``TypeError`` (a bug inside
the service): it is a clear error (503, logged with its traceback), not the
server's internal error. A service that does not take a filter at all is
refused with an error naming the filter.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import modelyard
from modelyard.server import create_app
from modelyard.testing.asgi import start_server

ROWS = [
    {"model_name": "credit-risk", "model_version": 1, "kind": "drift", "rule": "drift",
     "status": "firing", "message": "income drifted", "window_start": 1, "last_seen": 1},
    {"model_name": "fraud-score", "model_version": 3, "kind": "drift", "rule": "drift",
     "status": "firing", "message": "SECRET-OTHER-MODEL", "window_start": 2, "last_seen": 2},
]  # fmt: skip


class BuggyMonitors:
    """The real service's signatures; its filtered path has a bug that raises TypeError."""

    def results(
        self,
        ref: str | None = None,
        *,
        model: str | None = None,
        kind: str | None = None,
        since: Any = None,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        if model is not None:
            return sorted((r for r in ROWS if r["model_name"] == model), reversed=True)  # type: ignore[call-overload]
        return list(ROWS)

    def alerts(
        self,
        ref: str | None = None,
        *,
        model: str | None = None,
        status: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        if model is not None:
            return sorted((r for r in ROWS if r["model_name"] == model), reversed=True)  # type: ignore[call-overload]
        return list(ROWS)[offset : offset + limit]


class UnfilteredMonitors:
    """A service whose listings take no filters at all."""

    def results(self) -> list[dict[str, Any]]:
        return list(ROWS)

    def alerts(self) -> list[dict[str, Any]]:
        return list(ROWS)


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], dict[str, str]]]:
    """The server's URL, an API token's headers and a UI session's cookies."""
    yard = modelyard.connect(
        f"sqlite:///{tmp_path / 'y.db'}", artifact_root=str(tmp_path / "a"), user="root"
    )
    token = yard.users.bootstrap("root").secret
    session, _ = yard.tokens.login("root", token)
    server = start_server(create_app(yard=yard))
    try:
        yield server.url, {"Authorization": f"Bearer {token}"}, {"modelyard_session": session}
    finally:
        server.stop()
        yard.close()


def test_a_type_error_inside_the_service_is_an_error_never_an_unfiltered_list(
    platform: tuple[str, dict[str, str], dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, headers, cookies = platform
    monkeypatch.setattr(modelyard.Yard, "monitors", BuggyMonitors(), raising=False)
    with httpx.Client(base_url=url, headers=headers, cookies=cookies, timeout=60) as client:
        # Unfiltered: both models, as asked.
        whole = client.get("/api/v1/monitors/alerts")
        assert whole.status_code == 200
        assert {a["model_name"] for a in whole.json()["items"]} == {"credit-risk", "fraud-score"}
        for path, name in (
            ("/api/v1/monitors/alerts?model=credit-risk", "alerts"),
            ("/api/v1/monitors/results?model=credit-risk", "results"),
        ):
            response = client.get(path)
            # A clear error, with nothing of the list.
            assert response.status_code == 503, (path, response.text)
            assert response.json()["message"] == (
                f"the monitoring service failed listing its {name} (TypeError); see the server log"
            )
            assert "SECRET-OTHER-MODEL" not in response.text
        page = client.get("/monitoring?model=credit-risk")
        assert page.status_code == 200 and "the monitoring service failed" in page.text
        assert "SECRET-OTHER-MODEL" not in page.text and "fraud-score" not in page.text
    # Each failure's traceback is in the server log (the dashboard's too).
    tracebacks = [r for r in caplog.records if r.exc_info and "service failed" in r.getMessage()]
    assert [r.exc_info[0] for r in tracebacks] == [TypeError] * 3


def test_a_filter_the_service_cannot_apply_is_refused_by_name(
    platform: tuple[str, dict[str, str], dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, headers, cookies = platform
    monkeypatch.setattr(modelyard.Yard, "monitors", UnfilteredMonitors(), raising=False)
    with httpx.Client(base_url=url, headers=headers, cookies=cookies, timeout=60) as client:
        assert client.get("/api/v1/monitors/alerts").status_code == 200
        for path, field in (
            ("/api/v1/monitors/alerts?model=credit-risk", "model"),
            ("/api/v1/monitors/alerts?status=firing", "status"),
            ("/api/v1/monitors/results?kind=drift", "kind"),
        ):
            response = client.get(path)
            assert response.status_code == 422, (path, response.text)
            assert response.json()["message"].startswith(f"{field}:")
            assert "SECRET-OTHER-MODEL" not in response.text
        page = client.get("/monitoring?model=credit-risk")
        assert page.status_code == 200 and "cannot filter" in page.text
        assert "SECRET-OTHER-MODEL" not in page.text
