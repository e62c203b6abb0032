"""Baseline servers for benchmarks/serving.py, run in Modelyard's own environment.

``ceiling``: a bare Starlette endpoint that reads the body and returns a
constant response — the HTTP ceiling of one uvicorn worker. ``handwritten``:
the FastAPI endpoint a team writes by hand — a pydantic body of records, a
pandas DataFrame, ``predict_proba``, JSON. Both run under uvicorn with uvloop
and httptools, one worker, no access log: the same server settings as
Modelyard's.

Usage: python serving_baselines.py {ceiling,handwritten} PORT [MODEL_PICKLE]
"""

# No "from __future__ import annotations": FastAPI must see the body model itself, not a
# string naming a class local to handwritten_app().
import pickle
import sys
from typing import Any


def ceiling_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    body = b'{"predictions":[[0.9,0.1]]}'

    async def predict(request: Request) -> Response:
        await request.body()
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route("/predict", predict, methods=["POST"])])


def handwritten_app(model_path: str) -> Any:
    import pandas as pd
    from fastapi import FastAPI
    from pydantic import BaseModel

    with open(model_path, "rb") as fh:
        model = pickle.load(fh)

    class PredictRequest(BaseModel):
        records: list[dict[str, Any]]

    app = FastAPI()

    @app.post("/predict")
    def predict(request: PredictRequest) -> dict[str, Any]:
        frame = pd.DataFrame.from_records(request.records)
        return {"predictions": model.predict_proba(frame).tolist()}

    return app


def main(argv: list[str]) -> None:
    import uvicorn

    kind, port = argv[0], int(argv[1])
    app = ceiling_app() if kind == "ceiling" else handwritten_app(argv[2])
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        ws="none",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main(sys.argv[1:])
