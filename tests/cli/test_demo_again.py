"""``make demo`` twice, then ``make demo DEMO_ARGS=--keep-serving``, on the same clone.

The same command ``make demo`` runs (``modelyard quickstart``) in a
subprocess, three times against one home folder, with the smallest data it
accepts: the second run meets the first run's alert still firing and must
retrain again rather than stop; the third keeps serving the web UI, which
must answer its URL and accept the sign-in tokens it prints.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

import modelyard
from modelyard.testing.platform import free_port

SMALL = ["--rows", "1000", "--portfolio-rows", "1000"]
READY_CEILING_S = 900  # the whole demo runs before the UI starts; the machine may be loaded
TOKEN = re.compile(r"sign in as (\S+)\s+token (myd_\S+)")
URL = re.compile(r"Modelyard UI: (http://\S+/)")


def _env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    env["PYTHONPATH"] = str(Path(modelyard.__file__).resolve().parents[1])
    env["XDG_CONFIG_HOME"] = str(root / "config")
    env["COLUMNS"] = "120"
    return env


def _quickstart(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelyard.cli.main", "quickstart", *SMALL, *args],
        cwd=root,
        env=_env(root),
        capture_output=True,
        text=True,
        check=False,
    )


def _lines(process: subprocess.Popen[str]) -> queue.Queue[str | None]:
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _wait_for_ui(process: subprocess.Popen[str]) -> tuple[str, dict[str, str], str]:
    """Read the demo's output until the UI's URL; then wait until it answers."""
    lines, seen, tokens = _lines(process), [], {}
    deadline = time.monotonic() + READY_CEILING_S
    url = None
    while url is None:
        try:
            line = lines.get(timeout=5)
        except queue.Empty:
            line = ""
        if line is None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"no UI URL (exit {process.poll()}):\n{''.join(seen)}")
        seen.append(line)
        tokens.update(TOKEN.findall(line))
        found = URL.search(line)
        url = found[1] if found else None
    while True:
        assert process.poll() is None, f"the server exited {process.returncode}:\n{''.join(seen)}"
        assert time.monotonic() < deadline, f"{url} never answered"
        try:
            if httpx.get(url, timeout=10).status_code < 500:
                return url, tokens, "".join(seen)
        except httpx.HTTPError:
            time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.timeout(3600)  # a ceiling: three demos, about 3 minutes on a quiet machine
def test_demo_twice_then_keep_serving_on_the_same_clone(tmp_path: Path) -> None:
    for attempt in ("first", "second"):
        done = _quickstart(tmp_path)
        (tmp_path / f"{attempt}.log").write_text(done.stdout + done.stderr)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr
        for stage in ("7. Retraining", "8. Promotion decision", "Summary"):
            assert stage in done.stdout, f"the {attempt} demo did not reach {stage!r}"
        assert "{'" not in done.stdout + done.stderr  # no raw record in a message

    port = free_port()
    keep_serving = ["--keep-serving", "--port", str(port)]
    process = subprocess.Popen(
        [sys.executable, "-m", "modelyard.cli.main", "quickstart", *SMALL, *keep_serving],
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url, tokens, printed = _wait_for_ui(process)
        assert url == f"http://localhost:{port}/"
        assert set(tokens) >= {"vera", "aaron"}, printed
        page = httpx.get(url, timeout=60, follow_redirects=True)
        assert page.status_code == 200 and "Modelyard" in page.text
        models = httpx.get(
            f"{url}api/v1/models",
            headers={"Authorization": f"Bearer {tokens['vera']}"},
            timeout=60,
        )
        assert models.status_code == 200, models.text
        assert "credit-risk" in models.text
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_keep_serving_on_a_busy_port_fails_before_the_demo(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = _quickstart(tmp_path, "--keep-serving", "--port", str(port))
    assert done.returncode == 2
    assert f"--port {port}" in done.stderr and "in use" in done.stderr
    assert "1. Data" not in done.stdout  # nothing was done
    assert not (tmp_path / ".modelyard").exists()
