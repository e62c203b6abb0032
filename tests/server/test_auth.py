"""Authentication and authorisation of every route: tokens, roles, sessions, CSRF."""

from __future__ import annotations

import re
import time

import pytest

from modelyard.server import API_PREFIX, create_app
from modelyard.server.app import api_routes
from modelyard.server.auth import SERVER_ACTIONS, route_permissions

SAMPLES = {
    "name": "nosuch",
    "version": "1",
    "alias": "champion",
    "digest": "sha256:" + "0" * 64,
    "run_id": "0" * 32,
    "token_id": "0" * 32,
    "change_id": "1",
    "job_id": "0" * 32,
    "key": "auc",
    "file": "validation_report.html",
    "path": "report/notes.txt",
}
OPEN_API_ROUTES = {"/api/v1/health"}


def _routes(site):
    yard = site.local("root")
    try:
        return api_routes(create_app(yard=yard))
    finally:
        yard.close()


def _url(path: str) -> str:
    return re.sub(r"{(\w+)(:\w+)?}", lambda m: SAMPLES[m.group(1)], path)


def _calls(site, api: bool):
    for path, methods, route in _routes(site):
        if path.startswith(API_PREFIX) != api:
            continue
        for method in sorted(methods - {"HEAD"}):
            yield path, route, method, _url(path)


def test_every_api_route_refuses_a_missing_or_bad_token(site):
    checked = 0
    with site.client() as anonymous:
        for path, route, method, url in _calls(site, api=True):
            if path in OPEN_API_ROUTES:
                assert route_permissions(route) is None
                continue
            assert route_permissions(route), f"{method} {path} declares no permission"
            for headers in ({}, {"Authorization": "Bearer myd_not-a-real-token"}):
                response = anonymous.request(method, url, json={}, headers=headers)
                assert response.status_code == 401, (method, url, response.text)
                assert response.json()["error"] == "unauthenticated"
                assert response.headers["www-authenticate"] == "Bearer"
            checked += 1
    assert checked > 40


def test_a_viewer_is_refused_every_mutating_route_with_the_permission_named(site):
    refused = 0
    with site.client("viewer") as viewer:
        for _path, route, method, url in _calls(site, api=True):
            needed = route_permissions(route)
            if not needed or "read" in needed:
                continue
            response = viewer.request(method, url, json={})
            assert response.status_code == 403, (method, url, response.text)
            body = response.json()
            expanded = [a for n in needed for a in SERVER_ACTIONS.get(n, (n,))]
            assert body["details"]["actions"] == expanded
            assert body["details"]["missing_permission"] in body["message"]
            refused += 1
    assert refused > 20


def test_read_routes_are_open_to_a_viewer(site):
    with site.client("viewer") as viewer:
        for path in ("/models", "/runs", "/datasets", "/audit/events", "/users", "/me"):
            response = viewer.get(API_PREFIX + path)
            assert response.status_code == 200, (path, response.text)


def test_revoked_expired_and_disabled_tokens_are_refused(site):
    admin = site.local("root")
    try:
        revoked = admin.tokens.create("dev", name="to-revoke")
        short = admin.tokens.create("dev", name="short", expires_in="1s")
        temp_user = admin.users.add("temp", ["viewer"])
        temp = admin.tokens.create(temp_user.name)
        with site.client() as http:
            me = f"{API_PREFIX}/me"
            auth = {"Authorization": f"Bearer {revoked.secret}"}
            assert http.get(me, headers=auth).json()["user"] == "dev"
            admin.tokens.revoke(revoked.info.id)
            response = http.get(me, headers=auth)
            assert response.status_code == 401 and "revoked" in response.json()["message"]
            time.sleep(1.2)
            response = http.get(me, headers={"Authorization": f"Bearer {short.secret}"})
            assert response.status_code == 401 and "expired" in response.json()["message"]
            admin.users.disable("temp")
            response = http.get(me, headers={"Authorization": f"Bearer {temp.secret}"})
            assert response.status_code == 401 and "disabled" in response.json()["message"]
        stored = admin.tokens.list("dev")
        assert {t.status for t in stored if t.name in ("to-revoke", "short")} == {
            "revoked",
            "expired",
        }
        actions = [e.action for e in admin.audit.events(action="token.revoke", limit=5)]
        assert actions and actions[0] == "token.revoke"
    finally:
        admin.close()


def test_token_secrets_are_shown_once_and_stored_hashed(site):
    with site.client("dev") as dev:
        created = dev.post(f"{API_PREFIX}/tokens", json={"name": "ci", "expires_in": "7d"})
        assert created.status_code == 201
        secret = created.json()["token"]
        assert secret.startswith("myd_") and len(secret) > 40
        listed = dev.get(f"{API_PREFIX}/tokens").json()["items"]
        assert all("token" not in t for t in listed)
        assert created.json()["id"] in {t["id"] for t in listed}
        others = dev.get(f"{API_PREFIX}/tokens", params={"user": "root"})
        assert others.status_code == 403
    db = (site.root / "yard.db").read_bytes()
    assert secret.encode() not in db


def test_a_viewer_cannot_approve_through_the_api(site, tmp_path):
    version = _registered_version(site, "api-approve")
    with site.client("viewer") as viewer:
        response = viewer.post(
            f"{API_PREFIX}/models/api-approve/versions/{version}/approve", json={"comment": "x"}
        )
    assert response.status_code == 403
    assert "approval.validator or approval.approver" in response.json()["message"]
    with site.client("val") as val:
        response = val.post(
            f"{API_PREFIX}/models/api-approve/versions/{version}/approve",
            json={"comment": "ok", "role": "validator"},
        )
    assert response.status_code == 200, response.text
    assert response.json()["approvals"][0]["user"] == "val"


def _registered_version(site, name: str) -> int:
    from modelyard.data import synthetic
    from modelyard.demo.credit_models import logistic_pipeline, split_xy

    x, y = split_xy(synthetic.generate(400, seed=3))
    dev = site.local("dev")
    try:
        return dev.models.register(name, logistic_pipeline().fit(x, y), example=x.head(5)).version
    finally:
        dev.close()


def test_ui_pages_need_a_session(site):
    with site.client() as anonymous:
        for path, _route, method, url in _calls(site, api=False):
            if path in ("/login", "/static/{name}", "/static/docs/{name}", "/") or path.startswith(
                ("/openapi", "/api/docs", "/docs")
            ):
                continue
            response = anonymous.request(method, url, follow_redirects=False)
            assert response.status_code == 303, (method, url, response.status_code)
            assert response.headers["location"].startswith("/login?next=")


def test_ui_login_refuses_a_wrong_token_and_someone_elses(site):
    with site.client() as browser:
        wrong = browser.post("/login", data={"user": "dev", "token": "myd_nope"})
        assert wrong.status_code == 401 and "sign-in refused" in wrong.text
        theirs = browser.post("/login", data={"user": "dev", "token": site.tokens["val"]})
        assert theirs.status_code == 401 and "does not belong" in theirs.text


def test_a_viewer_cannot_approve_through_the_ui_and_forms_need_csrf(site):
    version = _registered_version(site, "ui-approve")
    page = f"/models/ui-approve/versions/{version}"
    with site.login("viewer") as viewer:
        html = viewer.get(page).text
        assert 'data-testid="decision-form"' not in html
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
        response = viewer.post(
            f"{page}/decision",
            data={"csrf_token": csrf, "decision": "approve", "role": "validator"},
        )
        assert response.status_code == 403
        assert "viewer may not sign off as validator" in response.text
    with site.login("val") as val:
        html = val.get(page).text
        assert 'data-testid="decision-form"' in html
        no_csrf = val.post(f"{page}/decision", data={"decision": "approve", "role": "validator"})
        assert no_csrf.status_code == 403 and "CSRF" in no_csrf.text
    dev = site.local("dev")
    try:
        assert dev.models.get(f"ui-approve/{version}").approvals == ()
    finally:
        dev.close()


def test_sign_out_ends_the_session(site):
    with site.login("dev") as browser:
        html = browser.get("/models").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
        out = browser.post("/logout", data={"csrf_token": csrf})
        assert (out.status_code, out.headers["location"]) == (303, "/login")
        response = browser.get("/models", follow_redirects=False)
        assert response.status_code == 303


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "token myd_x"])
def test_malformed_authorization_headers_are_401(site, header):
    with site.client() as http:
        response = http.get(f"{API_PREFIX}/me", headers={"Authorization": header})
    assert response.status_code == 401
