"""Registry speed: Modelyard against MLflow's model registry on SQLite, same run.

Measures (1) registering 1,000 versions of one model and (2) resolving
``name@alias`` 10,000 times. MLflow's `create_model_version` records metadata
that points at an artifact already logged, so the like-for-like Modelyard
call is `register_artifact` (a model directory already in the artifact
store); `register` of an in-memory model (packaging, signature inference,
hashing and storing the files) is reported too. Resolution is compared as
`resolve_digest` (what serving calls) and as `get` (the full version record,
like MLflow's entity). Rounds alternate Modelyard and MLflow (A B A B);
medians per call are reported with their ratio.

    .venv/bin/python benchmarks/registry.py [--rounds 3] [--versions 1000] [--resolves 10000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _peers
import _report


def _per_call_ms(fn, count: int) -> float:
    samples = []
    for _ in range(count):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1000


def modelyard_round(versions: int, resolves: int, full_registers: int) -> dict[str, float]:
    import modelyard
    from modelyard.data.synthetic import generate
    from modelyard.demo.credit_models import logistic_pipeline, split_xy

    frame = generate(2_000, seed=1)
    x, y = split_xy(frame)
    model = logistic_pipeline().fit(x, y)
    with tempfile.TemporaryDirectory() as tmp:
        yard = modelyard.connect(
            f"sqlite:///{tmp}/yard.db", artifact_root=f"{tmp}/artifacts", home=f"{tmp}/home"
        )
        first = yard.models.register("credit-risk", model, example=x.head(100))
        register_ms = _per_call_ms(
            lambda: yard.models.register_artifact("credit-risk", first.artifact_digest), versions
        )
        full_ms = _per_call_ms(
            lambda: yard.models.register("credit-risk", model, example=x.head(100)), full_registers
        )
        last = yard.models.versions("credit-risk", limit=1)[0].version
        yard.models.set_alias("credit-risk", "staging", last)
        assert yard.models.resolve_digest("credit-risk@staging")[1] == last
        resolve_ms = _per_call_ms(
            lambda: yard.models.resolve_digest("credit-risk@staging"), resolves
        )
        get_ms = _per_call_ms(
            lambda: yard.models.get("credit-risk@staging"), max(resolves // 10, 1)
        )
        yard.close()
    return {
        "register_ms": register_ms,
        "register_full_ms": full_ms,
        "resolve_ms": resolve_ms,
        "get_ms": get_ms,
    }


def mlflow_round(python: Path, versions: int, resolves: int) -> dict[str, float]:
    out = _peers.run_peer(
        python,
        _peers.PEERS_DIR / "mlflow_registry.py",
        ["--versions", str(versions), "--resolves", str(resolves)],
    )
    return {
        "register_ms": out["create_model_version_ms"],
        "resolve_ms": out["get_by_alias_ms"],
        "version": out["mlflow_version"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--versions", type=int, default=1000)
    parser.add_argument("--resolves", type=int, default=10_000)
    parser.add_argument("--full-registers", type=int, default=50)
    parser.add_argument("--no-mlflow", action="store_true", help="skip the peer (smoke runs)")
    args = parser.parse_args()

    python = None if args.no_mlflow else _peers.ensure_mlflow()
    mine, theirs = [], []
    for r in range(args.rounds):
        mine.append(modelyard_round(args.versions, args.resolves, args.full_registers))
        print(f"round {r + 1} modelyard: {json.dumps(mine[-1])}", flush=True)
        if python is not None:
            theirs.append(mlflow_round(python, args.versions, args.resolves))
            print(f"round {r + 1} mlflow:    {json.dumps(theirs[-1])}", flush=True)

    def med(rows: list[dict[str, float]], key: str) -> float:
        return statistics.median(row[key] for row in rows)

    lines = [
        f"{args.rounds} interleaved rounds; medians of per-call times. {args.versions:,} "
        f"versions registered and `name@alias` resolved {args.resolves:,} times a round, "
        "both on a fresh SQLite file.",
        "",
        "| operation | Modelyard | MLflow | MLflow / Modelyard | target |",
        "|---|---|---|---|---|",
    ]
    pairs = [
        (
            "register a version (metadata: `register_artifact` vs `create_model_version`)",
            "register_ms",
            "register_ms",
            "≥ 5×",
        ),
        (
            "resolve `name@alias` (`resolve_digest` vs `get_model_version_by_alias`)",
            "resolve_ms",
            "resolve_ms",
            "≥ 5×",
        ),
        ("resolve `name@alias` to the full record (`get`)", "get_ms", "resolve_ms", ""),
    ]
    for label, mine_key, their_key, target in pairs:
        m = med(mine, mine_key)
        if theirs:
            t = med(theirs, their_key)
            lines.append(f"| {label} | {m:.3f} ms | {t:.3f} ms | {t / m:.1f}× | {target} |")
        else:
            lines.append(f"| {label} | {m:.3f} ms | - | - | {target} |")
    lines.append(
        f"| register an in-memory model (`register`: package, infer signature, hash, store) "
        f"| {med(mine, 'register_full_ms'):.1f} ms | (no single-call equivalent) | | |"
    )
    if theirs:
        lines += ["", f"MLflow {theirs[0]['version']} in its own virtual environment."]
    print("\n".join(lines))
    if python is not None:
        _report.write_section(
            "registry",
            "Registry: registering versions and resolving aliases (vs MLflow)",
            "\n".join(lines),
            packages=["sqlalchemy", "scikit-learn"],
        )


if __name__ == "__main__":
    main()
