"""Sixteen concurrent first registrations of a model that does not exist yet: versions 1..16.

Issue 13 saw 6 of 16 fail on PostgreSQL with ``duplicate key ... uq_models_name``:
every registration found no model row and tried to create it. Now the row is
created with ``INSERT ... ON CONFLICT DO NOTHING`` and then locked, so exactly
one registration creates the model and all of them number their versions in turn.
Each thread opens its own Yard (its own engine and connections), as separate
CI jobs would.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from governed import open_store, seed_digest

import modelyard

WRITERS = 16


def test_sixteen_concurrent_first_registrations(store_url: str, tmp_path: Path) -> None:
    with open_store(store_url, tmp_path, user="ci") as yard:
        digest = seed_digest(yard)
    start = threading.Barrier(WRITERS)

    def register(_: int) -> int:
        with modelyard.connect(
            store_url,
            artifact_root=str(tmp_path / "artifacts"),
            user="ci",
            home=str(tmp_path / "home"),
        ) as mine:
            start.wait()
            return mine.models.register_artifact("fresh-model", digest).version

    with ThreadPoolExecutor(WRITERS) as pool:
        versions = list(pool.map(register, range(WRITERS)))
    assert sorted(versions) == list(range(1, WRITERS + 1))
    with open_store(store_url, tmp_path, user="ci") as yard:
        assert [m.name for m in yard.models.list()] == ["fresh-model", "seed"]
        created = yard.audit.events(subject="model/fresh-model", action="model.create")
        assert len(created) == 1
        registered = yard.audit.events(
            subject="model/fresh-model", action="version.register", limit=100
        )
        assert len(registered) == WRITERS
        assert yard.audit.verify().ok
