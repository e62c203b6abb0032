"""A platform server on a SQLite store with one user per role, shared by a test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from modelyard.testing.platform import Site, make_site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    found = make_site(tmp_path_factory.mktemp("site"))
    try:
        yield found
    finally:
        found.server.stop()
