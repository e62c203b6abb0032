"""An unexpected error inside a route is a JSON 500 that leaves the connection usable.

Starlette answers an unhandled exception with the registered handler's response
and then re-raises it so that the server can log it; uvicorn then closes the
connection under the response, and a client that reuses it (every pooled HTTP
client does) gets a reset on its *next* request, a failure far from its cause.
The platform server runs for real here (uvicorn with its default HTTP protocol
on a free localhost port, over a SQLite store); a route added for the test
raises, and the same socket must then answer a normal request.
"""

from __future__ import annotations

import http.client
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

import modelyard
from modelyard.server import create_app
from modelyard.testing.asgi import LiveServer, start_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[LiveServer, str]]:
    yard = modelyard.connect(
        f"sqlite:///{tmp_path / 'y.db'}", artifact_root=str(tmp_path / "a"), user="root"
    )
    token = yard.users.bootstrap("root").secret
    app = create_app(yard=yard)

    async def boom() -> None:
        raise RuntimeError("a bug in a route")

    app.add_api_route("/api/v1/test-boom", boom, methods=["GET"])
    live = start_server(app)
    try:
        yield live, token
    finally:
        live.stop()
        yard.close()


def test_an_unexpected_error_is_a_json_500_and_the_connection_stays_open(
    server: tuple[LiveServer, str], caplog: pytest.LogCaptureFixture
) -> None:
    live, token = server
    headers = {"Authorization": f"Bearer {token}"}
    connection = http.client.HTTPConnection("127.0.0.1", live.port, timeout=120)
    try:
        with caplog.at_level(logging.ERROR, logger="modelyard.server"):
            connection.request("GET", "/api/v1/test-boom", headers=headers)
            failed = connection.getresponse()
            body = json.loads(failed.read())
        assert failed.status == 500
        assert body == {
            "error": "internal_error",
            "message": "internal server error; see the server log",
        }
        assert "a bug in a route" not in json.dumps(body)
        assert (failed.getheader("connection") or "").lower() != "close"
        socket_before = connection.sock
        # The same connection answers the next request.
        connection.request("GET", "/api/v1/health", headers=headers)
        after = connection.getresponse()
        after.read()
        assert after.status == 200
        assert connection.sock is socket_before  # not silently reconnected
    finally:
        connection.close()
    # Logged once, with its traceback.
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[0] is RuntimeError]
    assert len(logged) == 1
    assert "GET /api/v1/test-boom" in logged[0].getMessage()
