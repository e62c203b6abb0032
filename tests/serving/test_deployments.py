"""Stored deployments: validated, audited, role-checked; the CLI; a server follows changes."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter

import httpx
import pytest
from serving_support import open_yard, records, serving_config

from modelyard.errors import InvalidInput, NotFound, PermissionDenied
from modelyard.serving import create_app

CANARY = {
    "name": "credit",
    "routes": [
        {"name": "champion", "model": "credit-risk@champion", "weight": 90},
        {"name": "challenger", "model": "credit-risk@challenger", "weight": 10},
    ],
}


def test_apply_is_validated_audited_and_role_checked(fresh_yard_root) -> None:
    with open_yard(fresh_yard_root) as yard:
        record, outcome = yard.deployments.apply(CANARY)
        assert outcome == "created" and record.spec.weights() == [90.0, 10.0]
        assert yard.deployments.apply(CANARY)[1] == "unchanged"
        changed = {**CANARY, "routes": [{**r, "weight": 50} for r in CANARY["routes"]]}
        updated, outcome = yard.deployments.apply(changed)
        assert outcome == "updated" and updated.updated_at > record.updated_at
        assert [r.name for r in yard.deployments.list()] == ["credit"]
        events = yard.audit.events(subject="deployment/credit", newest_first=False)
        assert [e.action for e in events] == ["deployment.create", "deployment.update"]
        assert events[1].payload["before"]["routes"][0]["weight"] == 90.0
        with pytest.raises(NotFound, match=r"routes\[1\].model: .*no alias 'nope'"):
            yard.deployments.apply(
                {
                    **CANARY,
                    "routes": [
                        CANARY["routes"][0],
                        {**CANARY["routes"][1], "model": "credit-risk@nope"},
                    ],
                }
            )
        with pytest.raises(InvalidInput, match=r"routes\[0\].weight: must be between 0 and 100"):
            yard.deployments.apply({**CANARY, "routes": [{**CANARY["routes"][0], "weight": -1}]})
        yard.users.bootstrap("root")  # from now on roles are enforced, and tokens needed
    with open_yard(fresh_yard_root, "root") as admin:
        admin.users.add("vic", ["viewer"])
    with open_yard(fresh_yard_root, "vic") as viewer:
        assert viewer.deployments.get("credit").name == "credit"
        with pytest.raises(PermissionDenied, match="deployment"):
            viewer.deployments.apply(CANARY)
    with open_yard(fresh_yard_root, "root") as admin:
        admin.deployments.delete("credit")
        with pytest.raises(NotFound):
            admin.deployments.get("credit")
        assert admin.audit.events(subject="deployment/credit")[0].action == "deployment.delete"


def test_cli_apply_list_show(fresh_yard_root, tmp_path, monkeypatch, capsys) -> None:
    from modelyard.cli import _context
    from modelyard.cli.main import main

    monkeypatch.setenv("MODELYARD_STORE_URL", f"sqlite:///{fresh_yard_root / 'yard.db'}")
    monkeypatch.setenv("MODELYARD_ARTIFACT_ROOT", str(fresh_yard_root / "artifacts"))
    monkeypatch.setenv("MODELYARD_USER", "alice")
    monkeypatch.setenv("COLUMNS", "200")
    path = tmp_path / "deploy.yaml"
    path.write_text(
        "name: credit\nroutes:\n"
        "  - {name: champion, model: credit-risk@champion, weight: 90}\n"
        "  - {name: challenger, model: credit-risk@challenger, weight: 10}\n"
        "sticky: {key: customer_id}\n"
    )

    def run(*args: str) -> tuple[int, str, str]:
        _context.yard.cache_clear()
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    code, out, _ = run("deployments", "apply", str(path))
    assert code == 0 and "created deployment credit" in out
    code, out, _ = run("deployments", "list", "--json")
    assert code == 0 and json.loads(out)[0]["spec"]["sticky"] == {"key": "customer_id"}
    code, out, _ = run("deployments", "show", "credit")
    assert code == 0 and "challenger" in out and "weight: 10" in out
    path.write_text(
        "name: credit\nroutes:\n  - {name: a, model: credit-risk@champion, weight: 101}\n"
    )
    code, _, err = run("deployments", "apply", str(path))
    assert code == 2 and "routes[0].weight: must be between 0 and 100" in err
    code, _, err = run("deployments", "show", "nope")
    assert code == 3
    _context.yard.cache_clear()


def test_server_follows_a_stored_deployment(fresh_yard_root, holdout) -> None:
    with open_yard(fresh_yard_root) as yard:
        yard.deployments.apply(
            {"name": "credit", "routes": [{"name": "champion", "model": "credit-risk@champion"}]}
        )
    yard = open_yard(fresh_yard_root)
    app = create_app("credit", yard=yard, config=serving_config(poll_interval_s=0.1))
    body = {"records": records(holdout.head(1))}

    async def scenario():
        await app.runtime.astart()
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://s") as client:
                url = "/v1/models/credit/predict"
                before = Counter(
                    [(await client.post(url, json=body)).json()["route"] for _ in range(50)]
                )
                with open_yard(fresh_yard_root) as other:
                    other.deployments.apply(CANARY)
                deadline = time.monotonic() + 300
                while len(app.runtime.core.endpoints["credit"].routes) != 2:
                    assert time.monotonic() < deadline, "the deployment change was not picked up"
                    await asyncio.sleep(0.05)
                after = Counter(
                    [(await client.post(url, json=body)).json()["route"] for _ in range(400)]
                )
                return before, after
        finally:
            await app.runtime.aclose()

    before, after = asyncio.run(scenario())
    yard.close()
    assert before == {"champion": 50}
    assert set(after) == {"champion", "challenger"} and after["champion"] > after["challenger"]
