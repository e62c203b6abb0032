"""Browser sign-in through a real OIDC provider: code flow + PKCE, landing on the UI with the role.

Chromium (Debian's, headless, driven by Playwright) clicks "Sign in with
single sign-on" on the platform server's sign-in page, fills the provider's
own login form, and lands back on the UI signed in as that user with the
role their groups map to. The callback's refusals (a forged state, a browser
that never started the flow, a user whose groups map to nothing, the
provider's own error) are driven with httpx.
"""

from __future__ import annotations

import html
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from modelyard.testing.environment import require

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        require(f"chromium at {CHROMIUM}", "run 'apt-get install chromium'")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


def _sign_in_at_the_provider(page, login: str) -> None:
    page.wait_for_selector("input[name=login]")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any password")
    page.click("button[type=submit]")


def test_sign_in_through_the_provider_lands_on_the_ui_with_the_mapped_role(
    sso_site, browser
) -> None:
    url = sso_site.url
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{url}/models")
        assert "/login" in page.url
        page.get_by_test_id("sso-login").click()
        page.wait_for_url(f"{sso_site.idp.issuer}/**")
        _sign_in_at_the_provider(page, "alice")
        page.wait_for_url(f"{url}/models")
        assert page.get_by_test_id("current-user").inner_text() == "alice"
        assert page.get_by_test_id("current-role").all_inner_texts() == ["validator"]

        # The session is the UI's ordinary one: other pages work, the audit log shows it.
        page.goto(f"{url}/audit")
        assert page.get_by_test_id("current-user").inner_text() == "alice"
        assert "user.login" in page.content()

        # Sign out, then the sign-in page offers the provider's sign-out too.
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(f"{url}/login?signed_out=sso")
        assert page.get_by_test_id("signed-out").is_visible()
        page.goto(f"{url}/models")
        assert "/login" in page.url
    finally:
        context.close()


def test_a_user_whose_groups_map_to_no_role_is_told_so(sso_site, browser) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{sso_site.url}/login")
        page.get_by_test_id("sso-login").click()
        _sign_in_at_the_provider(page, "zed")
        page.wait_for_url(f"{sso_site.url}/auth/oidc/callback**")
        alert = page.get_by_role("alert").inner_text()
        assert "none of your groups (marketing) maps to a Modelyard role" in alert
        page.goto(f"{sso_site.url}/models")
        assert "/login" in page.url  # no session was opened
    finally:
        context.close()


def _start(client: httpx.Client, site) -> str:
    """Start the flow at the server; return the provider's authorization URL it redirects to."""
    response = client.get(f"{site.url}/auth/oidc/login", params={"next": "/runs"})
    assert response.status_code == 303
    return response.headers["location"]


def test_the_flow_uses_pkce_s256_a_state_and_a_nonce(sso_site) -> None:
    with httpx.Client(timeout=60) as client:
        query = parse_qs(urlsplit(_start(client, sso_site)).query)
        assert query["code_challenge_method"] == ["S256"]
        assert len(query["code_challenge"][0]) == 43
        assert len(query["state"][0]) >= 43 and len(query["nonce"][0]) >= 43
        assert query["client_id"] == ["modelyard"]
        back = sso_site.follow_to_callback(client, _start(client, sso_site), "dana")
        done = client.get(back)
        assert done.status_code == 303 and done.headers["location"] == "/runs"
        assert client.get(f"{sso_site.url}/runs").status_code == 200


def test_a_forged_state_is_refused(sso_site) -> None:
    with httpx.Client(timeout=60) as client:
        back = sso_site.follow_to_callback(client, _start(client, sso_site), "dana")
        forged = back.replace("state=", "state=x")
        response = client.get(forged)
    assert response.status_code == 401
    assert "the state does not match" in html.unescape(response.text)
    assert "modelyard_session" not in response.headers.get("set-cookie", "")


def test_a_code_delivered_to_a_browser_that_did_not_start_the_flow_is_refused(sso_site) -> None:
    # Login CSRF: the attacker's own code, planted in the victim's browser.
    with httpx.Client(timeout=60) as attacker:
        back = sso_site.follow_to_callback(attacker, _start(attacker, sso_site), "dana")
    with httpx.Client(timeout=60) as victim:
        response = victim.get(back)
    assert response.status_code == 401
    assert "this browser did not start it here" in html.unescape(response.text)


def test_the_providers_error_is_shown_to_the_browser_that_started_the_flow(sso_site) -> None:
    params = {"error": "access_denied", "error_description": "the user said no"}
    with httpx.Client(timeout=60) as client:
        state = parse_qs(urlsplit(_start(client, sso_site)).query)["state"][0]
        response = client.get(
            f"{sso_site.url}/auth/oidc/callback", params={**params, "state": state}
        )
    assert response.status_code == 401
    assert "the identity provider refused: the user said no" in html.unescape(response.text)
    # Anyone else's link cannot put words on the sign-in page.
    planted = httpx.get(f"{sso_site.url}/auth/oidc/callback", params=params, timeout=60)
    assert planted.status_code == 401
    assert "the user said no" not in planted.text
    assert "did not start it here" in html.unescape(planted.text)


def _flow_cookie(client: httpx.Client) -> dict:
    import base64
    import json

    raw = client.cookies.get("modelyard_oidc_flow")
    return json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))


def test_a_response_from_another_issuer_is_refused(sso_site) -> None:
    # RFC 9207: the provider names itself in the response; a mix-up attack names another.
    with httpx.Client(timeout=60) as client:
        back = sso_site.follow_to_callback(client, _start(client, sso_site), "dana")
        assert parse_qs(urlsplit(back).query)["iss"] == [sso_site.idp.issuer]
        forged = httpx.URL(back).copy_set_param("iss", "https://evil.example")
        response = client.get(str(forged))
    assert response.status_code == 401
    assert "the response came from the issuer 'https://evil.example'" in html.unescape(
        response.text
    )


def test_a_callback_without_a_code_is_refused(sso_site) -> None:
    with httpx.Client(timeout=60) as client:
        back = sso_site.follow_to_callback(client, _start(client, sso_site), "dana")
        response = client.get(str(httpx.URL(back).copy_remove_param("code")))
    assert response.status_code == 401
    assert "sent no code" in html.unescape(response.text)


def test_a_code_redeemed_by_someone_else_first_is_refused(sso_site) -> None:
    with httpx.Client(timeout=60) as client:
        back = sso_site.follow_to_callback(client, _start(client, sso_site), "dana")
        code = parse_qs(urlsplit(back).query)["code"][0]
        stolen = httpx.post(
            f"{sso_site.idp.issuer}/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": sso_site.callback,
                "code_verifier": _flow_cookie(client)["verifier"],
            },
            auth=("modelyard", "modelyard-test-secret"),
            timeout=60,
        )
        assert stolen.status_code == 200
        response = client.get(back)
    assert response.status_code == 401
    assert (
        "the identity provider refused the sign-in code (grant request is invalid)"
        in html.unescape(response.text)
    )


def test_signing_out_at_the_provider_goes_to_its_end_session_endpoint(sso_site) -> None:
    response = httpx.get(f"{sso_site.url}/auth/oidc/logout", timeout=60)
    assert response.status_code == 303
    target = httpx.URL(response.headers["location"])
    assert str(target).startswith(f"{sso_site.idp.issuer}/session/end")
    assert target.params["client_id"] == "modelyard"
    assert target.params["post_logout_redirect_uri"] == f"{sso_site.url}/login"


def test_an_unreachable_provider_is_explained_on_the_sign_in_page(tmp_path) -> None:
    import modelyard
    from modelyard.testing.platform import PlatformServer, free_port

    store_url, artifacts = f"sqlite:///{tmp_path / 'yard.db'}", str(tmp_path / "artifacts")
    modelyard.connect(store_url, artifact_root=artifacts, home=str(tmp_path)).close()
    env = {
        "MODELYARD_OIDC_ISSUER": f"http://127.0.0.1:{free_port()}",
        "MODELYARD_OIDC_CLIENT_ID": "modelyard",
    }
    with PlatformServer(store_url, artifacts, home=tmp_path / "server", env=env) as server:
        login = httpx.get(f"{server.url}/login", timeout=60)
        assert 'data-testid="sso-login"' in login.text
        response = httpx.get(f"{server.url}/auth/oidc/login", timeout=60)
        assert response.status_code == 503
        assert "single sign-on is unavailable" in html.unescape(response.text)
        logout = httpx.get(f"{server.url}/auth/oidc/logout", timeout=60)
        assert logout.status_code == 303 and logout.headers["location"] == "/login"
