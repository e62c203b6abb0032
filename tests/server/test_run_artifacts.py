"""A run's artifacts over HTTP: listed file by file, read by path, hash-checked, never escaped.

The API (bearer token) and the UI (session cookie) read a file by its path in the
run. A path is looked up among the run's files, so ``..`` and absolute paths can
never reach the store's database or another blob; they are refused with a 4xx
that names the path. A blob corrupted on disk is never served as if it were good.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import json
from pathlib import Path

import httpx
import pandas as pd
import pytest

from modelyard.tracking import artifact_files


@pytest.fixture(scope="module")
def run_with_files(site, tmp_path_factory):
    folder = tmp_path_factory.mktemp("files")
    (folder / "notes.txt").write_text("trained on loans-train/1\n")
    (folder / "metrics.json").write_text(json.dumps({"auc": 0.81, "ks": 0.44}))
    frame = pd.DataFrame({"income": [52_000.0, 61_500.0, 38_250.0], "grade": ["A", "B", "C"]})
    frame.to_parquet(folder / "head.parquet", index=False)
    report = folder / "report"
    (report / "nested").mkdir(parents=True)
    (report / "index.txt").write_text("index")
    (report / "nested" / "deep.json").write_text('{"deep": true}')
    dev = site.local("dev")
    try:
        with dev.start_run(experiment="artifacts", name="with-files") as run:
            for name in ("notes.txt", "metrics.json", "head.parquet", "report"):
                run.log_artifact(folder / name)
        return run.id
    finally:
        dev.close()


def test_viewer_lists_and_downloads_files_with_their_hash(site, run_with_files):
    with site.client("viewer") as http:
        listed = http.get(f"/api/v1/runs/{run_with_files}/artifacts")
        assert listed.status_code == 200, listed.text
        files = {f["path"]: f for f in listed.json()}
        assert set(files) == {
            "notes.txt",
            "metrics.json",
            "head.parquet",
            "report/index.txt",
            "report/nested/deep.json",
        }
        assert files["report/nested/deep.json"]["kind"] == "json"
        assert files["head.parquet"]["kind"] == "parquet"
        got = http.get(f"/api/v1/runs/{run_with_files}/artifacts/report/nested/deep.json")
        assert got.status_code == 200
        assert got.content == b'{"deep": true}'
        digest = "sha256:" + hashlib.sha256(got.content).hexdigest()
        assert (
            got.headers["x-content-sha256"] == digest == files["report/nested/deep.json"]["digest"]
        )
        assert "attachment" in got.headers["content-disposition"]
        parquet = http.get(f"/api/v1/runs/{run_with_files}/artifacts/head.parquet")
        assert pd.read_parquet(io.BytesIO(parquet.content))["grade"].tolist() == ["A", "B", "C"]
    with site.client() as anonymous:
        assert anonymous.get(f"/api/v1/runs/{run_with_files}/artifacts").status_code == 401


ATTACKS = [
    "../../yard.db",
    "..%2F..%2Fyard.db",
    "%2e%2e/%2e%2e/yard.db",
    "report/../../yard.db",
    "report/%2e%2e/notes.txt",
    "./notes.txt",
    "%2Fetc%2Fpasswd",
    "/etc/passwd",
    "report//index.txt",
    "..%5C..%5Cyard.db",
    "C:%5Cwindows%5Cwin.ini",
    "notes.txt%00.png",
]


def _raw_get(url: str, target: str, headers: dict[str, str]) -> tuple[int, str, bytes]:
    """GET with the request target sent byte for byte (HTTP clients normalise '..')."""
    parts = httpx.URL(url)
    conn = http.client.HTTPConnection(parts.host, parts.port, timeout=60)
    try:
        conn.putrequest("GET", target, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.getheader("content-type") or "", response.read()
    finally:
        conn.close()


@pytest.mark.parametrize("surface", ["api", "ui"])
def test_path_traversal_is_refused_and_never_reads_outside_the_run(site, run_with_files, surface):
    secret = Path(site.root / "yard.db").read_bytes()[:16]
    passwd = Path("/etc/passwd").read_bytes()[:16] if Path("/etc/passwd").exists() else b"root:"
    if surface == "api":
        base = f"/api/v1/runs/{run_with_files}/artifacts/"
        headers = {"Authorization": f"Bearer {site.tokens['viewer']}"}
    else:
        base = f"/runs/{run_with_files}/files/"
        with site.login("viewer") as browser:
            headers = {"Cookie": f"modelyard_session={browser.cookies['modelyard_session']}"}
    status, _, body = _raw_get(site.url, base + "notes.txt", headers)
    assert status == 200 and body == b"trained on loans-train/1\n"  # the attacker's baseline
    for attack in ATTACKS:
        status, media, body = _raw_get(site.url, base + attack, headers)
        assert status in (400, 404, 422), (attack, status)
        assert secret not in body and passwd not in body, attack
        if media.startswith("application/json"):
            assert json.loads(body).get("message"), attack


def test_check_path_names_the_problem():
    for bad, words in [
        ("../x", "'..'"),
        ("/etc/passwd", "absolute"),
        ("a\\b", "backslash"),
        ("", "1 to 1024"),
        ("a//b", "empty"),
    ]:
        with pytest.raises(Exception, match="path") as caught:
            artifact_files.check_path(bad)
        assert words in str(caught.value), bad
    assert artifact_files.check_path("report/nested/deep.json") == "report/nested/deep.json"


def test_a_corrupt_blob_is_not_served_as_good(site, run_with_files):
    with site.client("viewer") as http:
        files = {f["path"]: f for f in http.get(f"/api/v1/runs/{run_with_files}/artifacts").json()}
    digest = files["notes.txt"]["digest"].removeprefix("sha256:")
    blob = Path(site.artifact_root) / "blobs" / "sha256" / digest[:2] / digest[2:]
    original = blob.read_bytes()
    try:
        blob.chmod(0o644)
        blob.write_bytes(original.replace(b"loans", b"LOANS"))
        with site.client("viewer") as http, pytest.raises(httpx.HTTPError):
            http.get(f"/api/v1/runs/{run_with_files}/artifacts/notes.txt").raise_for_status()
        with site.login("viewer") as browser:
            page = browser.get(f"/runs/{run_with_files}", params={"artifact": "notes.txt"})
        assert page.status_code == 500 and "LOANS" not in page.text
        assert "sha256" in page.text.lower()
    finally:
        blob.write_bytes(original)


def test_any_file_name_downloads_with_a_valid_header(site, tmp_path):
    """Names are anyone's text: non-Latin-1 names are sent as ``filename*``, never a 500."""
    folder = tmp_path / "named"
    folder.mkdir()
    name = "模型 résumé.txt"
    (folder / name).write_text("ok")
    dev = site.local("dev")
    try:
        with dev.start_run(experiment="artifacts", name="unicode-names") as run:
            run.log_artifact(folder / name)
    finally:
        dev.close()
    with site.client("viewer") as http:
        got = http.get(f"/api/v1/runs/{run.id}/artifacts/{name}")
    assert got.status_code == 200, got.text
    assert got.content == b"ok"
    header = got.headers["content-disposition"]
    assert header.startswith("attachment; filename=") and "filename*=UTF-8''" in header
    assert header.encode("latin-1")  # a valid header value
    with site.login("viewer") as ui:
        page = ui.get(f"/runs/{run.id}/files/{name}", params={"download": "true"})
    assert page.status_code == 200, page.text
    assert "filename*=UTF-8''" in page.headers["content-disposition"]


def test_control_characters_never_reach_the_header():
    from modelyard.server.routes.artifacts import content_disposition

    assert content_disposition("attachment", "a/b\r\nSet-Cookie: x.txt") == (
        'attachment; filename="bSet-Cookie: x.txt"'
    )
    assert content_disposition("inline", "dir/\x00") == 'inline; filename="download"'


def test_a_long_text_preview_is_hash_checked_too(tmp_path):
    """Only the first 256 KiB are shown, but the whole file is read, so a corrupt blob
    is refused rather than shown as good."""
    from modelyard.artifacts.store import get_artifact_store
    from modelyard.errors import IntegrityError

    store = get_artifact_store(str(tmp_path / "artifacts"))
    data = b"row,value\n" * (artifact_files.PREVIEW_BYTES // 5)
    digest = store.put_bytes(data)
    item = artifact_files.ArtifactFile("log.txt", digest, len(data))
    shown = artifact_files.preview(store, item)
    assert shown["truncated"] and len(shown["text"]) == artifact_files.PREVIEW_BYTES
    blob = next(p for p in (tmp_path / "artifacts" / "blobs").rglob("*") if p.is_file())
    blob.chmod(0o644)
    blob.write_bytes(data[:-4] + b"XXXX")  # the change lies after what is shown
    with pytest.raises(IntegrityError):
        artifact_files.preview(store, item)
