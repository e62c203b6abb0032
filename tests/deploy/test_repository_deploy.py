"""The platform's own deployment files in ``deploy/server/`` are exactly what the generators write.

Regenerate them with ``modelyard deploy platform`` (from the repository root)
after changing a generator; this test fails until the committed files match.
"""

from __future__ import annotations

from pathlib import Path

from modelyard.deploy.generate import platform_files

ROOT = Path(__file__).resolve().parents[2]


def test_committed_platform_files_match_the_generators() -> None:
    expected = platform_files()
    committed = {
        path.relative_to(ROOT).as_posix(): path.read_text(encoding="utf-8")
        for path in (ROOT / "deploy" / "server").rglob("*")
        if path.is_file()
    }
    stale = sorted(p for p in expected if committed.get(p) != expected[p])
    extra = sorted(set(committed) - set(expected))
    hint = "run 'modelyard deploy platform' at the repository root and commit deploy/server/"
    assert not stale, f"out of date: {stale}; {hint}"
    assert not extra, f"not generated (remove or add to the generator): {extra}"


def test_platform_dockerfile_copies_what_the_repository_has() -> None:
    from test_docker import instructions

    steps = instructions((ROOT / "deploy" / "server" / "Dockerfile").read_text())
    for kw, args in steps:
        if kw == "COPY" and not args.startswith("--from"):
            for source in args.split()[:-1]:
                assert (ROOT / source).exists(), f"the build context has no {source}"


def test_platform_command_is_a_real_cli_command(capsys) -> None:
    from test_docker import exec_form, instructions

    from modelyard.cli.main import main

    steps = instructions((ROOT / "deploy" / "server" / "Dockerfile").read_text())
    cmd = exec_form(next(a for kw, a in steps if kw == "CMD"))
    assert main([*cmd[:1], "--help"]) == 0
    help_text = capsys.readouterr().out
    for option in (o for o in cmd[1:] if o.startswith("--")):
        assert option in help_text
