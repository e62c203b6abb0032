"""The README's tour, sections 1 to 3, runs as written: with people proven by tokens.

The test reads the tour's code blocks out of README.md and runs them in
order in an empty directory through the real command (``.venv/bin/modelyard``
there is a script starting this interpreter on this checkout): the first
admin is bootstrapped and logs in by pasting the token printed once, vera
and aaron get tokens, and each signs off with their own. Only the size of
the synthetic data is cut, to keep the test short, and ``runs compare``,
whose run ids are placeholders, is left out.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import modelyard

README = Path(__file__).resolve().parents[2] / "README.md"
ASSIGNMENT = re.compile(r"^([A-Z_]+)=\$\((.*)\)\s*(#.*)?$")
PLACEHOLDER = "1a2b3c4d"  # 'runs compare' names the reader's own run ids
TOKEN = re.compile(r"\bmyd_[A-Za-z0-9_-]{20,}")


def _tour_blocks() -> list[tuple[str, str, str]]:
    """(section title, language, code) of every fenced block in tour sections 1-3."""
    text = README.read_text(encoding="utf-8")
    tour = text[text.index("## A five-minute tour") : text.index("### 4.")]
    blocks, section = [], ""
    for part in re.split(r"^(### .*)$", tour, flags=re.M):
        if part.startswith("### "):
            section = part
            continue
        for language, code in re.findall(r"```(bash|python)\n(.*?)```", part, flags=re.S):
            blocks.append((section, language, code))
    return blocks


def _environment(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    source = str(Path(modelyard.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source, env.get("PYTHONPATH")) if p)
    env["XDG_CONFIG_HOME"] = str(root / "config")
    env["COLUMNS"] = "200"
    return env


def _install_command(root: Path) -> None:
    bin_dir = root / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    script = bin_dir / "modelyard"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m modelyard.cli.main "$@"\n')
    script.chmod(0o755)


def _run(command: str, root: Path, env: dict[str, str], stdin: str | None = None) -> str:
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=root,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, (
        f"{command!r} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    )
    return done.stdout


@pytest.mark.slow
def test_the_readme_tour_works_with_tokens(tmp_path: Path) -> None:
    _install_command(tmp_path)
    env = _environment(tmp_path)
    python_so_far: list[str] = []
    outputs: list[tuple[str, str]] = []
    first_token = None
    for _section, language, code in _tour_blocks():
        code = code.replace("--rows 50000", "--rows 5000")
        if language == "python":
            python_so_far.append(code)
            script = tmp_path / "tour.py"
            script.write_text("\n".join(python_so_far))
            outputs.append((code, _run(f'"{sys.executable}" tour.py', tmp_path, env)))
            continue
        for line in code.splitlines():
            if not line.strip() or line.lstrip().startswith("#") or PLACEHOLDER in line:
                continue
            assigned = ASSIGNMENT.match(line.strip())
            if assigned:
                env[assigned.group(1)] = _run(assigned.group(2), tmp_path, env).strip()
                assert TOKEN.fullmatch(env[assigned.group(1)]), env[assigned.group(1)]
                continue
            # 'modelyard login' reads the token pasted at its prompt: the one printed once.
            stdin = f"{first_token}\n" if " login" in line else None
            printed = _run(line, tmp_path, env, stdin)
            outputs.append((line, printed))
            if first_token is None and "users add" in line and "--role admin" in line:
                found = TOKEN.findall(printed)
                assert len(found) == 1 and "shown once" in printed, printed
                first_token = found[0]

    text = "\n".join(out for _, out in outputs)
    me = subprocess.run(["whoami"], capture_output=True, text=True, check=True).stdout.strip()
    assert first_token is not None
    assert f"logged in as {me}" in text
    assert "added vera with roles validator" in text and "added aaron with roles approver" in text
    assert "credit-risk/1 signed off by vera as validator" in text
    assert "credit-risk/1 signed off by aaron as approver" in text
    assert "credit-risk@champion → 1 (deployed)" in text
    assert "audit chain intact" in text
    credentials = tmp_path / "config" / "modelyard" / "credentials"
    assert credentials.stat().st_mode & 0o777 == 0o600
    # Without the saved login or a token, the same store refuses the command and says why.
    (credentials).unlink()
    refused = subprocess.run(
        [str(tmp_path / ".venv" / "bin" / "modelyard"), "models", "approve", "credit-risk/1"],
        cwd=tmp_path,
        env={**env, "MODELYARD_USER": "aaron"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 8 and "modelyard login" in refused.stderr
