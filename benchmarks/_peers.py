"""Peer tools (MLflow, ...) in their own virtual environments, for the benchmarks.

A peer's pins conflict with ours, so each peer gets a venv under
``<repo>/.bench/venvs/<name>`` and its measuring script runs there as a
subprocess that prints one JSON line as its last line of stdout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
VENVS_DIR = REPO_ROOT / ".bench" / "venvs"
PEERS_DIR = Path(__file__).resolve().parent / "peers"

# 3.18.0 does not install here (its mlflow-skinny is missing from the index) and an
# unpinned install silently backtracks to 2.x, so pin exactly. mlflow itself only asks
# for pandas<4; pandas<3 keeps the peer on the pandas 2 line.
MLFLOW_REQUIREMENTS: list[str] = ["mlflow==3.17.2", "pandas<3"]

PEER_ENV: dict[str, str] = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "BENTOML_DO_NOT_TRACK": "true",
}

_MARKER = ".modelyard-requirements.json"


class PeerError(RuntimeError):
    """A peer venv could not be built or a peer script failed."""


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    if proc.returncode != 0:
        raise PeerError(
            f"command failed ({proc.returncode}): {' '.join(cmd)}\n"
            f"--- stderr (tail) ---\n{_tail(proc.stderr)}\n"
            f"--- stdout (tail) ---\n{_tail(proc.stdout, 10)}"
        )
    return proc


def venv_python(name: str) -> Path:
    """Path of the python interpreter of the peer venv ``name`` (may not exist yet)."""
    return VENVS_DIR / name / "bin" / "python"


def ensure_venv(name: str, requirements: list[str], base_python: str | None = None) -> Path:
    """Create ``.bench/venvs/<name>`` with ``requirements`` unless already built; return its python.

    A marker file records the requirement list; when it matches, nothing is installed.
    ``base_python`` defaults to ``python3`` on PATH.
    """
    venv_dir = VENVS_DIR / name
    python = venv_python(name)
    marker = venv_dir / _MARKER
    wanted = list(requirements)
    if python.exists() and marker.exists():
        try:
            if json.loads(marker.read_text()) == wanted:
                return python
        except (OSError, ValueError):
            pass
    base = base_python or shutil.which("python3") or "python3"
    if not python.exists():
        venv_dir.parent.mkdir(parents=True, exist_ok=True)
        _run([base, "-m", "venv", str(venv_dir)])
    marker.unlink(missing_ok=True)
    _run([str(python), "-m", "pip", "install", "--quiet", *wanted], env=_clean_env(venv_dir))
    marker.write_text(json.dumps(wanted))
    return python


def _clean_env(venv_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Our environment, minus anything that would leak our own packages into the peer's."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["VIRTUAL_ENV"] = str(venv_dir)
    env["PATH"] = f"{venv_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.update(PEER_ENV)
    if extra:
        env.update(extra)
    return env


def run_peer(
    python: Path,
    script: Path,
    args: list[str],
    cwd: Path | None = None,
    timeout: float | None = 3600,
) -> dict:
    """Run ``script`` with the venv's ``python`` and return the JSON of its last stdout line.

    Runs in ``cwd`` if given, else in a fresh temporary directory (MLflow writes
    ``./mlruns`` there), with telemetry off and the venv's ``bin`` first on PATH.
    """
    python = Path(python)
    venv_dir = python.parent.parent
    cmd = [str(python), str(Path(script).resolve()), *args]
    with tempfile.TemporaryDirectory(prefix="modelyard-peer-") as tmp:
        workdir = Path(cwd) if cwd is not None else Path(tmp)
        try:
            proc = _run(cmd, cwd=workdir, env=_clean_env(venv_dir), timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise PeerError(f"peer script timed out after {timeout} s: {' '.join(cmd)}") from exc
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if not lines:
        raise PeerError(f"peer script printed nothing: {' '.join(cmd)}\n{_tail(proc.stderr)}")
    try:
        result = json.loads(lines[-1])
    except ValueError as exc:
        raise PeerError(
            f"last stdout line of {script} is not JSON: {lines[-1][:200]!r}\n{_tail(proc.stderr)}"
        ) from exc
    if not isinstance(result, dict):
        raise PeerError(f"last stdout line of {script} is not a JSON object: {lines[-1][:200]!r}")
    return result


def package_versions(python: Path, names: list[str]) -> dict[str, str | None]:
    """Installed versions of distributions ``names`` in the venv of ``python`` (None if absent)."""
    code = (
        "import json, sys\n"
        "from importlib import metadata\n"
        "out = {}\n"
        "for n in sys.argv[1:]:\n"
        "    try:\n"
        "        out[n] = metadata.version(n)\n"
        "    except metadata.PackageNotFoundError:\n"
        "        out[n] = None\n"
        "print(json.dumps(out))\n"
    )
    python = Path(python)
    proc = _run([str(python), "-c", code, *names], env=_clean_env(python.parent.parent))
    return json.loads(proc.stdout.strip().splitlines()[-1])


def ensure_mlflow() -> Path:
    """Build (or reuse) the ``mlflow`` peer venv and return its python."""
    return ensure_venv("mlflow", MLFLOW_REQUIREMENTS)
