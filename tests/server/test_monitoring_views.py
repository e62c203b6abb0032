"""The monitoring dashboard and API read ``yard.monitors`` when present (a stand-in here)."""

from __future__ import annotations

import anyio
import httpx

import modelyard
from modelyard.server import create_app

DAY = 86_400_000


class FakeMonitors:
    """The shape the dashboard reads: results with per-feature drift scores, and alerts."""

    def results(self, model=None):
        rows = []
        for w in range(4):
            rows.append(
                {
                    "model_name": "credit-risk",
                    "model_version": 1,
                    "kind": "drift",
                    "window_start": w * 7 * DAY,
                    "window_end": (w + 1) * 7 * DAY,
                    "summary": {"features": {"income": {"score": 0.1 * w}, "age": 0.02}},
                }
            )
            rows.append(
                {
                    "kind": "performance",
                    "window_start": w * 7 * DAY,
                    "summary": {"metrics": {"auc": 0.8 - 0.01 * w}},
                }
            )
        return rows

    def alerts(self, model=None):
        return [
            {
                "severity": "warning",
                "status": "firing",
                "model_name": "credit-risk",
                "model_version": 1,
                "rule": "drift",
                "message": "income drifted",
                "last_seen": 3 * DAY,
                "count": 2,
            }
        ]


def _get(app, paths, headers=None, cookies=None):
    async def run():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://ui", cookies=cookies
        ) as client:
            return [await client.get(p, headers=headers) for p in paths]

    return anyio.run(run)


def test_dashboard_and_api_read_the_monitoring_service(tmp_path, monkeypatch):
    yard = modelyard.connect(
        f"sqlite:///{tmp_path / 'y.db'}", artifact_root=str(tmp_path / "a"), user="root"
    )
    try:
        token = yard.users.bootstrap("root").secret
        secret, _ = yard.tokens.login("root", token)
        monkeypatch.setattr(modelyard.Yard, "monitors", None)  # a Yard without the service
        app = create_app(yard=yard)
        page, api = _get(app, ["/monitoring", "/api/v1/monitors/results"])
        assert (page.status_code, api.status_code) == (303, 401)
        page, api = _get(
            app,
            ["/monitoring", "/api/v1/monitors/results"],
            headers={"Authorization": f"Bearer {token}"},
            cookies={"modelyard_session": secret},
        )
        assert "not enabled" in page.text and api.status_code == 503
        # What the monitoring service will provide, on every Yard (the server's per-user views too).
        monkeypatch.setattr(modelyard.Yard, "monitors", FakeMonitors(), raising=False)
        app = create_app(yard=yard)
        page, results, alerts = _get(
            app,
            ["/monitoring", "/api/v1/monitors/results?limit=3", "/api/v1/monitors/alerts"],
            headers={"Authorization": f"Bearer {token}"},
            cookies={"modelyard_session": secret},
        )
        assert page.status_code == 200
        assert "Drift score by feature and window" in page.text
        assert "Performance by window" in page.text and "income drifted" in page.text
        assert "/static/plotly.min.js" in page.text
        assert len(results.json()["items"]) == 3 and results.json()["next_cursor"]
        assert alerts.json()["items"][0]["rule"] == "drift"
    finally:
        yard.close()
