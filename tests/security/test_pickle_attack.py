"""A developer's booby-trapped pickle never runs in anyone else's process or in the server.

The attack of issue 13: a developer registers a model whose pickle runs code
when it is loaded (here: writes its process id into a marker file). The
version is trusted code (``trusted_code=True``, the only way to store a
pickle). Then a validator loads it (``models.load``, locally and through the
server), the platform server is asked to compile, validate and render reports
for it, and a viewer serves it while it is unapproved: the marker file is
never created, and each gets a refusal naming the version and the missing
sign-offs. The registrant's own compile request on the server runs in the
worker process (the marker holds the worker's pid, never the server's).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from security_support import Trojan, serving_config

import modelyard
from modelyard.errors import PermissionDenied
from modelyard.registry.policy import Policy
from modelyard.registry.trusted_code import missing_code_sign_offs

API = "/api/v1"


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(1313)
    x = pd.DataFrame({"income": rng.normal(50, 10, 400), "debt": rng.normal(0.3, 0.1, 400)})
    return x.assign(y=((x["debt"] > 0.3) ^ (rng.random(400) < 0.1)).astype(int))


@pytest.fixture(scope="module")
def attack(site, frame, tmp_path_factory):
    """dev registers trojan/1 (trusted code, tier 1) through the server; the marker path."""
    from sklearn.linear_model import LogisticRegression

    marker = tmp_path_factory.mktemp("marker") / "pwned.txt"
    inputs = frame[["income", "debt"]]
    model = Trojan(LogisticRegression().fit(inputs, frame["y"]), marker)
    with modelyard.connect(site.url, token=site.tokens["dev"], home=str(site.root / "dev")) as dev:
        version = dev.models.register(
            "trojan", model, example=inputs, target="y", trusted_code=True
        )
    assert version.ref == "trojan/1"
    assert version.manifest["model_format"] == "pickle"
    assert not marker.exists(), "registering must not unpickle"
    return marker


def _remote(site, user: str):
    return modelyard.connect(site.url, token=site.tokens[user], home=str(site.root / user))


def test_validator_models_load_is_refused_locally_and_remotely(site, attack) -> None:
    with site.local("val") as val, pytest.raises(PermissionDenied) as local:
        val.models.load("trojan/1")
    with _remote(site, "val") as val, pytest.raises(PermissionDenied) as remote:
        val.models.load("trojan/1")
    for refused in (local.value, remote.value):
        assert "trojan/1 is trusted code" in refused.message
        assert "missing sign-off by validator and approver" in refused.message
        assert refused.details["missing_sign_offs"] == ["validator", "approver"]
    assert not attack.exists()


def test_server_compile_validate_and_report_refuse_the_unapproved_pickle(
    site, attack, frame
) -> None:
    with site.client("val") as client:
        compiled = client.post(f"{API}/models/trojan/versions/1/compile", json={})
        assert compiled.status_code == 403, compiled.text
        assert "trojan/1 is trusted code" in compiled.json()["message"]
        assert compiled.json()["details"]["missing_sign_offs"] == ["validator", "approver"]
    with _remote(site, "val") as val:
        with pytest.raises(PermissionDenied, match="missing sign-off by validator and approver"):
            val.models.validate("trojan/1", frame, target="y")
        # The model card is rendered from the registry alone: no model is loaded.
        card = val.models.card("trojan/1")
        assert card.ref == "trojan/1"
    with site.client("val") as client:
        card_md = client.get(f"{API}/models/trojan/versions/1/files/model_card.md")
        assert card_md.status_code == 200
        assert "trusted code (pickle)" in card_md.text
        version = client.get(f"{API}/models/trojan/versions/1").json()
        assert (version["model_format"], version["skops_types"]) == ("pickle", [])
    with site.login("val") as browser:
        page = browser.get("/models/trojan/versions/1")
        assert page.status_code == 200
        assert 'data-testid="model-format"><span class="badge decision-rejected">trusted code' in (
            page.text
        )
        assert "You vouch for a model stored as <strong>trusted code (pickle)" in page.text
    assert not attack.exists()


def test_viewer_cannot_serve_the_unapproved_pickle(site, attack) -> None:
    from modelyard.serving import create_app

    with site.local("viewer") as viewer, pytest.raises(PermissionDenied) as refused:
        create_app(["trojan/1"], yard=viewer, config=serving_config())
    assert "trojan/1 is trusted code (a pickle registered by dev)" in refused.value.message
    assert "validator and approver" in refused.value.message
    assert not attack.exists()


def test_registrants_compile_on_the_server_runs_in_the_worker(site, attack) -> None:
    # Its own code, so dev may run it — but never inside the platform server process.
    with site.client("dev") as client:
        response = client.post(f"{API}/models/trojan/versions/1/compile", json={})
    assert response.status_code in (200, 422), response.text
    assert attack.exists(), "the registrant's job ran in the worker, which unpickled it"
    worker_pid = int(attack.read_text())
    assert worker_pid not in (site.server.process.pid, os.getpid())
    attack.unlink()


def test_after_its_sign_offs_others_may_load_trusted_code(site, frame, tmp_path) -> None:
    from sklearn.linear_model import LogisticRegression

    marker = tmp_path / "ran.txt"
    inputs = frame[["income", "debt"]]
    model = Trojan(LogisticRegression().fit(inputs, frame["y"]), marker)
    with _remote(site, "dev") as dev:
        ref = dev.models.register("vetted", model, example=inputs, trusted_code=True).ref
    with _remote(site, "val") as val:
        val.models.approve(ref, comment="code reviewed", role="validator")
        with pytest.raises(PermissionDenied, match="missing sign-off by approver"):
            val.models.load(ref)
    with _remote(site, "appr") as appr:
        appr.models.approve(ref, comment="code reviewed", role="approver")
    assert not marker.exists()
    with site.local("viewer") as viewer:
        viewer.models.load(ref)  # vouched for by two others: it runs, in the viewer's process
    assert int(marker.read_text()) == os.getpid()


def test_the_platform_server_never_loads_trusted_code_in_process(tmp_path, frame) -> None:
    from sklearn.linear_model import LogisticRegression

    marker = tmp_path / "in-process.txt"
    inputs = frame[["income", "debt"]]
    with modelyard.connect(
        f"sqlite:///{tmp_path / 'yard.db'}", artifact_root=str(tmp_path / "a"), user="alice"
    ) as alice:
        model = Trojan(LogisticRegression().fit(inputs, frame["y"]), marker)
        alice.models.register("own", model, example=inputs, trusted_code=True)
        alice.models.code_out_of_process = True  # what the platform server sets
        with pytest.raises(PermissionDenied, match="platform server never loads trusted code"):
            alice.models.load("own/1")
    assert not marker.exists()


def test_trusted_code_always_needs_a_second_person() -> None:
    # Tier 3 requires no sign-off for champion; trusted code still needs an approver's.
    assert missing_code_sign_offs(Policy.for_model(3), []) == ["approver"]
    assert missing_code_sign_offs(Policy.for_model(1), []) == ["validator", "approver"]


def test_stored_pickle_is_the_crafted_one(site, attack) -> None:
    # The attack is real: the stored model file calls builtins.exec when unpickled.
    with site.local("dev") as dev:
        directory = dev.models.local_path("trojan/1")
    data = (Path(directory) / "model.pkl").read_bytes()
    assert b"exec" in data and b"pwned.txt" in data
