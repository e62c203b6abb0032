"""In-process profile of the serving route at 100-row bodies (a harness, not a test).

Fits and registers zoo shapes (``benchmarks/serving_zoo.py``), builds the serving
app with ``create_app`` (its defaults: batching, Parquet prediction log with its
write-ahead log), and pushes distinct 100-row ``records`` bodies through the app's
ASGI entry point — the same code the route runs, without sockets. Prints the mean
time per request and per row, then (``--profile``) cProfile's top functions.

    .venv/bin/python benchmarks/profile_serving_rows.py --shapes ordinal-lightgbm onehot-logistic
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))


async def _call(app: Any, path: str, body: bytes) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))],
        "query_string": b"",
    }
    sent = False
    out: dict[str, Any] = {"body": []}

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
        else:
            out["body"].append(message.get("body", b""))

    await app(scope, receive, send)
    return out["status"], b"".join(out["body"])


async def _run(app: Any, path: str, bodies: list[bytes], n: int) -> float:
    started = time.perf_counter()
    for i in range(n):
        status, content = await _call(app, path, bodies[i % len(bodies)])
        if status != 200:
            raise RuntimeError(f"{status}: {content[:300]!r}")
    return time.perf_counter() - started


def _check(served: Any, model: Any, bodies: list[bytes]) -> int:
    """Answers equal the native pipeline's (bit-identical, or within a linear scorer's stated
    tolerance) and warnings the canonical check's; returns how many bodies were flagged."""
    import numpy as np
    import pandas as pd

    from modelyard.serving.inputs import Payload

    flagged = 0
    for body in bodies:
        records = json.loads(body)["records"]
        prepared = served.prepare(Payload.from_records(records))
        got = served.score([prepared])
        expected = model.predict_proba(pd.DataFrame.from_records(records))
        matches = getattr(served.fast, "matches", None)  # a linear scorer: within its tolerance
        if not (matches(got, expected) if matches else np.array_equal(got, expected)):
            raise RuntimeError(f"{served.key}: answers differ ({np.abs(got - expected).max()})")
        _, canonical = served.contract.check_columns(Payload.from_records(records).as_columns())
        if list(prepared.warnings or []) != list(canonical) or (
            prepared.warnings and prepared.warnings.totals != canonical.totals
        ):
            raise RuntimeError(f"{served.key}: warnings differ from the contract's")
        flagged += bool(canonical)
    return flagged


def _stages(app: Any, name: str, bodies: list[bytes], repeat: int) -> dict[str, float]:
    """Mean microseconds per request of each stage of the route, timed one at a time.

    CPU time of this thread (``time.thread_time``), not wall time: on a machine shared
    with other work the wall clock counts their time too; the fastest of ``repeat``
    passes over the bodies.

    The stages the route runs, in its order, on the same bodies: JSON decode and
    protocol parse; in ``prepare``, gathering the columns, the compiled scorer's
    checks and encoding (numbers, categories, the model matrix) and the contract's
    range warnings (or the canonical check and frame, when that path is taken); the
    model; the prediction log (the request's enqueue, and the flusher's conversion to
    Arrow plus its write-ahead append, which share the server's core); the metrics;
    the response encoding.
    """
    import orjson

    from modelyard.serving.protocols import plain as plain_protocol
    from modelyard.serving.service import Answer

    core = app.runtime.core
    endpoint = core.endpoint(name)
    route = endpoint.choose(None)
    served = route.served()
    contract = served.contract_for(route.policy, route.policy_key)
    fast = served.fast
    log = core.predlog
    times: dict[str, float] = {}

    def timed(label: str, work: Any) -> list[Any]:
        out = [work(i) for i in range(min(20, len(bodies)))]  # warm
        best = float("inf")
        for _ in range(repeat):  # the fastest pass: the others were interrupted more
            started = time.thread_time()
            out = [work(i) for i in range(len(bodies))]
            best = min(best, time.thread_time() - started)
        times[label] = best / len(bodies) * 1e6
        return out

    datas = timed("json decode + parse", lambda i: plain_protocol.parse(orjson.loads(bodies[i])))
    payloads = [d[0] for d in datas]
    if fast is not None and hasattr(fast, "_columns"):
        timed("prepare: columns from records", lambda i: fast._columns(payloads[i]))
    prepared = timed("prepare: total", lambda i: served.prepare(payloads[i], contract))
    if fast is not None and hasattr(fast, "_columns"):
        found: list[list[Any]] = [[] for _ in payloads]

        def encode(i: int) -> Any:
            found[i] = []
            return fast.encode(payloads[i], found[i])

        timed("prepare: compiled checks + encode", encode)
        timed(
            "prepare: range warnings",
            lambda i: contract.range_warnings(found[i]) if found[i] else None,
        )
    outputs = timed("model", lambda i: served.score([prepared[i]]))
    metrics = core.metrics

    def count(i: int) -> None:
        if prepared[i].warnings:
            metrics.count_warnings(served.name, served.version_str, prepared[i].warnings.totals)
        metrics.observe_request(name, route.name, served.version_str, "plain", 200, 0.001, 100)

    timed("metrics", count)
    if log.enabled:
        entries: list[Any] = []

        import inspect

        kept = "columns" in inspect.signature(log.log).parameters  # the scorer's own columns

        def enqueue(i: int) -> None:
            p = prepared[i]
            extra = {"columns": p.columns} if kept else {}
            log.log(name, route.name, False, served, "r", 0, 1.0, payloads[i], outputs[i], None,
                    p.data if p.kind == 0 else None, p.warnings, **extra)  # fmt: skip
            entries.append(log._queue.pop())
            log._enqueued -= payloads[i].n

        timed("log: enqueue", enqueue)
        from modelyard.serving.predlog import build_tables

        chunk = entries[: len(bodies)]
        started = time.thread_time()
        for _ in range(repeat):
            tables = build_tables(chunk)
        times["log: flusher to Arrow"] = (
            (time.thread_time() - started) / (repeat * len(chunk)) * 1e6
        )
        from modelyard.serving.predlog_wal import WriteAheadLog

        with tempfile.TemporaryDirectory(prefix="modelyard-prof-wal-") as root:
            wal = WriteAheadLog(root, {}, 64 << 20)  # its own file: the app's is left alone
            started = time.thread_time()
            for _ in range(repeat):
                for key, table in tables.items():
                    wal.append(key, table, None)
                wal.sync()
            times["log: write-ahead append + sync"] = (
                (time.thread_time() - started) / (repeat * len(chunk)) * 1e6
            )
            wal.close()
    answers = [
        Answer(name, route.name, served, outputs[i], None, prepared[i].warnings)
        for i in range(len(bodies))
    ]
    timed("response encode", lambda i: plain_protocol.render(answers[i], "request-id"))
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", nargs="*", default=["ordinal-lightgbm", "onehot-logistic"])
    parser.add_argument("--rows", type=int, default=100)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--profile", action="store_true", help="cProfile the timed requests.")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument(
        "--stages",
        action="store_true",
        help="Also time each stage of the route apart (us per request), in process.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="First compare every body's answers with the fitted pipeline (bit-identical) and"
        " its warnings with the contract's canonical check.",
    )
    args = parser.parse_args(argv)
    import serving_zoo
    from modelyard.serving import create_app
    from modelyard.serving.config import ServingConfig

    with tempfile.TemporaryDirectory(prefix="modelyard-prof-") as tmp:
        workdir = Path(tmp)
        setup = serving_zoo.prepare(workdir, args.shapes, 12_000)
        lines = setup["bodies"][("records", args.rows)].read_text().splitlines()
        bodies = [line.encode() for line in lines]
        os.environ["MODELYARD_HOME"] = str(workdir / "yard")
        os.environ["MODELYARD_USER"] = "bench"
        app = create_app([f"{n}@champion" for n in args.shapes], config=ServingConfig.from_env())
        app.runtime.start()
        loop = asyncio.new_event_loop()
        try:
            for name in args.shapes:
                path = f"/v1/models/{name}/predict"
                loop.run_until_complete(_run(app, path, bodies[:1], 1))
                served = app.runtime.core.endpoints[name].primary().served()
                scorer = served.scorer
                if args.check:
                    flagged = _check(served, setup["models"][name], bodies)
                    print(f"{name}: {len(bodies)} bodies identical ({flagged} with warnings)")
                loop.run_until_complete(_run(app, path, bodies, 50))  # warm
                profiler = cProfile.Profile() if args.profile else None
                if profiler:
                    profiler.enable()
                seconds = loop.run_until_complete(_run(app, path, bodies, args.requests))
                if profiler:
                    profiler.disable()
                per_request = seconds / args.requests * 1e3
                print(
                    f"{name} ({scorer}): {per_request:.3f} ms/request, "
                    f"{per_request * 1e3 / args.rows:.1f} us/row",
                    flush=True,
                )
                if args.stages:
                    stages = _stages(app, name, bodies, 5)
                    print(f"{name}: stages, us per request of {args.rows} rows")
                    for label, us in stages.items():
                        print(f"  {label:38s} {us:9.1f}")
                    total = (
                        sum(v for k, v in stages.items() if not k.startswith("prepare: "))
                        + stages["prepare: total"]
                    )
                    print(f"  {'sum (prepare counted once)':38s} {total:9.1f}")
                if profiler:
                    stream = io.StringIO()
                    stats = pstats.Stats(profiler, stream=stream)
                    stats.sort_stats("tottime").print_stats(args.top)
                    print(stream.getvalue())
        finally:
            app.runtime.close()
            loop.close()


if __name__ == "__main__":
    main()
