"""The README's five-minute tour runs as written, every command in the order given.

The test reads the tour's code blocks out of README.md and runs them in
order in an empty directory (a fresh home) through the real command
(``.venv/bin/modelyard`` there is a script starting this interpreter on this
checkout), so the README cannot drift from what the commands do:

- the first admin is bootstrapped and logs in by pasting the token printed
  once; vera and aaron get tokens, each signs off with their own;
- ``serve`` and ``server`` keep running in the background (on free ports
  instead of 8080 and 8000) until the tour is over, so ``curl``, the remote
  client and ``smoke`` talk to them;
- Python blocks run as a growing script (later blocks use earlier names); a
  block that connects to a server URL runs on its own, with a real token;
- ``runs compare`` gets the ids of the tour's two runs.

Only the size of the synthetic data is cut, to keep the test short, and
``make demo DEMO_ARGS=--keep-serving`` is left to tests/cli/test_demo_again.py,
which runs it after two earlier demos.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import modelyard
from modelyard.testing.platform import free_port

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
ASSIGNMENT = re.compile(r"^([A-Z_]+)=\$\((.*)\)\s*(#.*)?$")
RUN_IDS = "1a2b3c4d 5e6f7a8b"  # 'runs compare' names the reader's own run ids
TOKEN = re.compile(r"\bmyd_[A-Za-z0-9_-]{20,}")
SMALLER = {"--rows 50000": "--rows 5000", "--rows 200000": "--rows 5000"}
ELSEWHERE = ("make demo DEMO_ARGS=--keep-serving",)  # tests/cli/test_demo_again.py
READY_CEILING_S = 300


def _tour_blocks() -> list[tuple[str, str, str]]:
    """(section title, language, code) of every fenced block of the tour, in order."""
    text = README.read_text(encoding="utf-8")
    tour = text[text.index("## A five-minute tour") : text.index("## Configuration")]
    blocks, section = [], ""
    for part in re.split(r"^(### .*)$", tour, flags=re.M):
        if part.startswith("### "):
            section = part
            continue
        for language, code in re.findall(r"```(bash|python)\n(.*?)```", part, flags=re.S):
            blocks.append((section, language, code))
    return blocks


def _commands(code: str) -> list[str]:
    """Shell commands of a bash block: one a line, or several lines inside open quotes."""
    commands, pending = [], ""
    for line in code.splitlines():
        pending = f"{pending}\n{line}" if pending else line
        try:
            shlex.split(pending, comments=True)
        except ValueError:  # a quote still open: the command goes on
            continue
        if pending.strip() and not pending.lstrip().startswith("#"):
            commands.append(pending)
        pending = ""
    assert not pending, f"unterminated command in the README: {pending}"
    return commands


def _environment(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    source = str(Path(modelyard.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source, env.get("PYTHONPATH")) if p)
    env["XDG_CONFIG_HOME"] = str(root / "config")
    env["COLUMNS"] = "200"
    return env


def _install(root: Path) -> None:
    """A clone's view: ``.venv/bin/modelyard`` and the example pipeline."""
    bin_dir = root / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    script = bin_dir / "modelyard"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m modelyard.cli.main "$@"\n')
    script.chmod(0o755)
    shutil.copytree(ROOT / "examples" / "credit_risk", root / "examples" / "credit_risk")


def _run(
    command: str,
    root: Path,
    env: dict[str, str],
    stdin: str | None = None,
    *,
    tolerated: str | None = None,
) -> str:
    """Run one command of the tour; it must succeed, or fail only as ``tolerated`` says."""
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=root,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 and tolerated and re.search(tolerated, done.stderr):
        return done.stdout + done.stderr
    assert done.returncode == 0, (
        f"{command!r} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    )
    return done.stdout


class Background:
    """The tour's long-running commands (``serve``, ``server``), stopped at the end."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root, self.env, self.processes = root, env, []

    def start(self, command: str, ready_url: str) -> None:
        log = open(self.root / f"background-{len(self.processes)}.log", "w")  # noqa: SIM115
        process = subprocess.Popen(
            ["bash", "-c", f"exec {command}"],
            cwd=self.root,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append((process, log))
        deadline = time.monotonic() + READY_CEILING_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"{command!r} exited {process.returncode}:\n{self._log(-1)}")
            try:
                if httpx.get(ready_url, timeout=10).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"{command!r}: {ready_url} never answered"
            time.sleep(0.2)

    def _log(self, index: int) -> str:
        self.processes[index][1].flush()
        return Path(self.processes[index][1].name).read_text()

    def stop(self) -> None:
        for process, log in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            log.close()


def _wait_for_logged_predictions(root: Path) -> None:
    """The served predictions reach the Parquet log within ``file_interval_s`` (30 s).

    A reader who follows the tour takes longer than that between the ``curl`` and
    ``monitor run``; this test may not, so it waits for the file (a generous ceiling).
    """
    deadline = time.monotonic() + READY_CEILING_S
    while time.monotonic() < deadline:
        if any(root.rglob("predictions/endpoint=credit-risk/**/*.parquet")):
            return
        time.sleep(1)
    raise AssertionError(f"no prediction log file under {root} after {READY_CEILING_S} s")


@pytest.mark.slow
@pytest.mark.timeout(3600)  # a ceiling: about 4 minutes on a quiet 2-core machine
def test_the_readme_tour_runs_in_order(tmp_path: Path) -> None:
    _install(tmp_path)
    env = _environment(tmp_path)
    background = Background(tmp_path, env)
    ports = {"8080": str(free_port()), "8000": str(free_port())}
    python_so_far: list[str] = []
    outputs: list[tuple[str, str]] = []
    first_token = last_token = None
    ran: set[str] = set()
    try:
        for _section, language, code in _tour_blocks():
            for old, new in SMALLER.items():
                code = code.replace(old, new)
            for old, new in ports.items():
                code = re.sub(rf"(localhost|127\.0\.0\.1):{old}\b", rf"\g<1>:{new}", code)
                code = code.replace(f"--port {old}", f"--port {new}")
            if language == "python":
                if re.search(r"connect\(\"http", code):  # a client of the server: on its own
                    assert last_token is not None
                    script = "import modelyard\n" + code.replace('"myd_..."', f'"{last_token}"')
                    script += "\nprint('remote user', yard.user, len(yard.models.list()))\n"
                else:
                    python_so_far.append(code)
                    script = "\n".join(python_so_far)
                (tmp_path / "tour.py").write_text(script)
                outputs.append((code, _run(f'"{sys.executable}" tour.py', tmp_path, env)))
                continue
            for command in _commands(code):
                if any(skip in command for skip in ELSEWHERE):
                    ran.add(command)
                    continue
                if RUN_IDS in command:
                    listed = json.loads(_run(".venv/bin/modelyard runs list --json", tmp_path, env))
                    command = command.replace(RUN_IDS, " ".join(r["id"][:8] for r in listed[:2]))
                assigned = ASSIGNMENT.match(command.strip())
                if assigned:
                    env[assigned.group(1)] = _run(assigned.group(2), tmp_path, env).strip()
                    assert TOKEN.fullmatch(env[assigned.group(1)]), env[assigned.group(1)]
                    continue
                words = shlex.split(command, comments=True)
                if words[1:2] in (["serve"], ["server"]):
                    port = words[words.index("--port") + 1]
                    ready = "/v2/health/ready" if words[1] == "serve" else "/api/v1/health"
                    background.start(command, f"http://127.0.0.1:{port}{ready}")
                    outputs.append((command, "(serving)"))
                    continue
                if words[1:3] == ["monitor", "run"]:
                    _wait_for_logged_predictions(tmp_path)
                # 'modelyard login' reads the token pasted at its prompt: the one printed once.
                stdin = f"{first_token}\n" if words[1:2] == ["login"] else None
                # The README says the pipeline's gate may stop its candidate: "the gate working".
                gate = r"failed at step 'gates'" if words[1:3] == ["pipeline", "run"] else None
                printed = _run(command, tmp_path, env, stdin, tolerated=gate)
                outputs.append((command, printed))
                tokens = TOKEN.findall(printed)
                if tokens:
                    last_token = tokens[-1]
                if first_token is None and "users add" in command and "--role admin" in command:
                    assert len(tokens) == 1 and "shown once" in printed, printed
                    first_token = tokens[0]
    finally:
        background.stop()

    assert ran == {c for c in ran if any(skip in c for skip in ELSEWHERE)} and len(ran) == len(
        ELSEWHERE
    ), "a command left to another test is no longer in the README"
    text = "\n".join(out for _, out in outputs)
    me = subprocess.run(["whoami"], capture_output=True, text=True, check=True).stdout.strip()
    assert first_token is not None
    assert f"logged in as {me}" in text
    assert "added vera with roles validator" in text and "added aaron with roles approver" in text
    assert "credit-risk/1 signed off by vera as validator" in text
    assert "credit-risk/1 signed off by aaron as approver" in text
    assert "credit-risk@champion → 1 (deployed)" in text
    assert "audit chain intact" in text
    assert '"outputs"' in text or "probabilities" in text or "predictions" in text  # curl
    assert f"remote user {me}" in text or "remote user vera" in text
    assert "metrics match" in text  # models reproduce
    credentials = tmp_path / "config" / "modelyard" / "credentials"
    assert credentials.stat().st_mode & 0o777 == 0o600
    # Without the saved login or a token, the same store refuses the command and says why.
    credentials.unlink()
    refused = subprocess.run(
        [str(tmp_path / ".venv" / "bin" / "modelyard"), "models", "approve", "credit-risk/1"],
        cwd=tmp_path,
        env={**env, "MODELYARD_USER": "aaron"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 8 and "modelyard login" in refused.stderr
