"""Every command's ``--help``: readable placeholders and an Examples section that parses.

The tests walk the whole command tree as built for ``modelyard`` (so they
cover commands any branch adds), render each help page through the real
entry point, and parse every example line with the real parser.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import modelyard
from modelyard.cli.examples import EXAMPLES
from modelyard.cli.main import command

# Typer's type labels (<bool>, <list[str]>, <a|b>) anywhere; {ref} in the usage line.
RAW_TYPE = re.compile(
    r"<(bool|str|int|float|path|file|directory|datetime|uuid|list\[[^\]]*\]|[\w-]+(\|[\w-]+)+)>"
)
RAW_ARGUMENT = re.compile(r"\{[a-z_]+\}")


def _tree(cmd: Any = None, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    cmd = cmd or command()
    found = [(path, cmd)]
    for name, sub in (getattr(cmd, "commands", None) or {}).items():
        found += _tree(sub, (*path, name))
    return found


COMMANDS = _tree()


def test_the_tree_is_the_whole_cli() -> None:
    paths = {" ".join(p) for p, _ in COMMANDS}
    assert {"runs list", "models reproduce", "models policy sign-off", "quickstart"} <= paths
    assert len(paths) > 80


@pytest.mark.parametrize("path", [" ".join(p) or "(root)" for p, _ in COMMANDS])
def test_every_command_has_examples_and_readable_placeholders(cli, path: str) -> None:
    args = [] if path == "(root)" else path.split()
    result = cli(*args, "--help")
    assert result.code == 0, result.err
    assert "Examples" in result.out, f"'modelyard {path} --help' has no Examples section"
    assert "$ modelyard" in result.out
    usage = next(line for line in result.out.splitlines() if "Usage:" in line)
    raw = [m.group(0) for m in RAW_TYPE.finditer(result.out)] + RAW_ARGUMENT.findall(usage)
    assert not raw, f"'modelyard {path} --help' shows raw placeholders {raw}:\n{result.out}"


def test_examples_name_only_commands_that_exist() -> None:
    paths = {" ".join(p) for p, _ in COMMANDS}
    stale = sorted(set(EXAMPLES) - paths)
    assert not stale, f"examples for commands that do not exist: {stale}"


def _example_argv(line: str) -> list[str]:
    code = line.split("  #", 1)[0].strip()
    substituted = re.fullmatch(r"[A-Z_]+=\$\((.*)\)", code)  # VERA=$(modelyard ...)
    if substituted:
        code = substituted[1]
    words = shlex.split(code)
    if ">" in words:  # an output redirection
        words = words[: words.index(">")]
    assert words[0] == "modelyard", line
    return words[1:]


@pytest.mark.parametrize(
    "line", [line for lines in EXAMPLES.values() for line in lines], ids=lambda s: s[:60]
)
def test_every_example_parses(line: str) -> None:
    """Each example names a real command with options it has and values of the right type."""
    argv = _example_argv(line)
    cmd, consumed = command(), ["modelyard"]
    while getattr(cmd, "commands", None) and argv and argv[0] in cmd.commands:
        consumed.append(argv[0])
        cmd = cmd.commands[argv.pop(0)]
    if getattr(cmd, "commands", None) and not argv:
        return  # a group named on its own
    if argv and argv[0].startswith("--") and argv[0].endswith("completion"):
        return  # the root's completion options act when parsed
    ctx = cmd.make_context(" ".join(consumed), list(argv))
    ctx.close()


def test_a_wrong_example_would_fail() -> None:
    with pytest.raises(Exception, match="No such option"):
        command().commands["runs"].commands["list"].make_context("list", ["--no-such-option"])


def test_version(cli) -> None:
    result = cli("--version")
    assert result.code == 0
    assert result.out.strip() == f"modelyard {modelyard.__version__}"


def test_shell_completion_is_offered_and_completes_commands(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(modelyard.__file__).resolve().parents[1]),
        # Typer otherwise guesses the shell from the parent processes and ignores "bash":
        # under make without a shell above it (a detached CI job), it finds none and fails.
        "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1",
    }
    script = subprocess.run(
        [sys.executable, "-m", "modelyard.cli.main", "--show-completion", "bash"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert script.returncode == 0, script.stderr
    assert "_modelyard_completion" in script.stdout
    completed = subprocess.run(
        [sys.executable, "-m", "modelyard.cli.main"],
        env={
            **env,
            "_MODELYARD_COMPLETE": "complete_bash",
            "COMP_WORDS": "modelyard models repro",
            "COMP_CWORD": "2",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.stdout.split() == ["reproduce"], completed


# Not pydantic: Typer itself coerces a command's parameters with it.
HEAVY = ("sqlalchemy", "alembic", "pandas", "numpy", "pyarrow", "sklearn", "httpx", "uvicorn")


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["runs", "list", "--help"]])
def test_help_and_version_load_no_heavy_library(args: list[str]) -> None:
    """Start-up stays fast: `--help` and `--version` import none of the data or store stack.

    (No timing here: benchmarks/cli_startup.py measures it.) A command module
    that imports one of these at its top fails this test.
    """
    code = (
        "import sys\nfrom modelyard.cli.main import main\n"
        f"code = main({args!r})\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})), code)"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(modelyard.__file__).resolve().parents[1])}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[] 0"
