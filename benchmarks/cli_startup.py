"""CLI start-up: how long ``modelyard --help`` and simple commands take, and why.

Each round runs, interleaved, a baseline (``python -c pass``) and every
command below for each source tree given (``--before SRC`` for an older
checkout's ``src/``, and always this checkout), each in a fresh interpreter
with that tree first on ``PYTHONPATH``. Wall-clock medians are reported with
their excess over the baseline, since on a loaded machine the absolute
figures move with the load while the excess and the ratio between trees hold.
``python -X importtime`` then profiles ``import modelyard.cli.main`` (the
cumulative time of the top-level import, a median over the rounds) and lists
the heaviest imports of the last round, which is where lazy imports pay.

    .venv/bin/python benchmarks/cli_startup.py [--rounds 7] [--before /path/to/old/src]

``info --json`` opens the store, so it runs against an empty embedded store
in a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _report

SRC = Path(__file__).resolve().parents[1] / "src"
COMMANDS: dict[str, list[str]] = {
    "modelyard --help": ["--help"],
    "modelyard --version": ["--version"],
    "modelyard runs list --help": ["runs", "list", "--help"],
    "modelyard info --json": ["info", "--json"],
}
IMPORT_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)")


def _env(src: Path, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    env["PYTHONPATH"] = str(src)
    env["MODELYARD_HOME"] = str(home)
    env["XDG_CONFIG_HOME"] = str(home / "config")
    env["COLUMNS"] = "80"
    return env


def _wall(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    t0 = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, check=False)
    return time.perf_counter() - t0, done.returncode


def _import_profile(src: Path, env: dict[str, str]) -> tuple[float, list[tuple[float, str]]]:
    """(cumulative seconds of ``import modelyard.cli.main``, heaviest top-level imports)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import modelyard.cli.main"],
        env={**env, "PYTHONPATH": str(src)},
        capture_output=True,
        text=True,
        check=True,
    )
    total, top = 0.0, []
    for line in done.stderr.splitlines():
        match = IMPORT_LINE.match(line)
        if not match:
            continue
        cumulative, indent, name = int(match[2]) / 1e6, len(match[3]), match[4]
        if name == "modelyard.cli.main":
            total = cumulative
        if indent <= 3:  # imported by modelyard.cli.main itself, or at top level
            top.append((cumulative, name))
    top.sort(reverse=True)
    return total, top[:8]


def measure(trees: dict[str, Path], rounds: int) -> dict:
    walls: dict[tuple[str, str], list[float]] = {}
    imports: dict[str, list[float]] = {label: [] for label in trees}
    profiles: dict[str, list[tuple[float, str]]] = {}
    codes: dict[tuple[str, str], int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / ".modelyard"
        base_env = _env(SRC, home)
        for _ in range(rounds):
            seconds, _code = _wall([sys.executable, "-c", "pass"], base_env)
            walls.setdefault(("baseline", "python -c pass"), []).append(seconds)
            for label, src in trees.items():
                env = _env(src, home)
                for name, args in COMMANDS.items():
                    argv = [sys.executable, "-m", "modelyard.cli.main", *args]
                    seconds, code = _wall(argv, env)
                    walls.setdefault((label, name), []).append(seconds)
                    codes[(label, name)] = code
                total, top = _import_profile(src, env)
                imports[label].append(total)
                profiles[label] = top
    return {"walls": walls, "imports": imports, "profiles": profiles, "codes": codes}


def report(results: dict, trees: dict[str, Path], rounds: int) -> str:
    walls, codes = results["walls"], results["codes"]
    baseline = _report.median(walls[("baseline", "python -c pass")])
    lines = [
        f"{rounds} interleaved rounds; each command in a fresh interpreter. Baseline "
        f"`python -c pass`: **{baseline * 1000:.0f} ms** (median, same run). "
        "'excess' is the median minus the baseline: what Modelyard itself costs.",
        "",
        "| tree | command | median | excess over baseline | exit |",
        "|---|---|---:|---:|---:|",
    ]
    for label in trees:
        for name in COMMANDS:
            samples = walls[(label, name)]
            med = _report.median(samples)
            lines.append(
                f"| {label} | `{name}` | {med * 1000:.0f} ms | "
                f"{(med - baseline) * 1000:.0f} ms | {codes[(label, name)]} |"
            )
    lines += [
        "",
        "`python -X importtime -c 'import modelyard.cli.main'`, cumulative time of the "
        "top-level import (median over the rounds), and its heaviest imports (last round):",
        "",
        "| tree | import modelyard.cli.main | heaviest imports |",
        "|---|---:|---|",
    ]
    for label in trees:
        total = _report.median(results["imports"][label])
        heavy = ", ".join(
            f"{name} {seconds * 1000:.0f} ms"
            for seconds, name in results["profiles"][label]
            if name != "modelyard.cli.main"
        )
        lines.append(f"| {label} | {total * 1000:.0f} ms | {heavy} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--before", type=Path, help="an older checkout's src/ to compare against (same run)"
    )
    parser.add_argument("--before-label", default="before")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    trees: dict[str, Path] = {}
    if args.before is not None:
        trees[args.before_label] = args.before.resolve()
    trees["this checkout"] = SRC
    load_before = os.getloadavg()[0]
    results = measure(trees, args.rounds)
    load = f"{load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    body = f"Load average (1 min) on the machine: {load}.\n\n" + report(results, trees, args.rounds)
    print(body)
    if not args.no_write:
        _report.write_section(
            "cli-startup",
            "CLI start-up: `modelyard --help` and simple commands",
            "Re-run with `.venv/bin/python benchmarks/cli_startup.py "
            "[--before OLD_CHECKOUT/src]`. Start-up is the import of `modelyard.cli.main` "
            "and its command modules, which import the store, data and registry stacks "
            "(SQLAlchemy, Alembic, pandas, pyarrow) only inside the commands that use them; "
            "`tests/cli/test_help.py` fails if `--help` or `--version` loads one. "
            "`info` opens the store, so it pays for SQLAlchemy and Alembic.\n\n" + body,
            packages=["typer", "click", "rich"],
        )


if __name__ == "__main__":
    main()
