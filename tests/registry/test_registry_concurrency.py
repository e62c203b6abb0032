"""Sixteen processes registering at once get versions 1..16: no gap, no duplicate."""

from __future__ import annotations

import multiprocessing as mp
import pickle
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def _register(args: tuple[str, str, str, bytes]) -> int:
    import modelyard
    from modelyard.data.synthetic import FEATURES, generate

    url, artifacts, home, blob = args
    model = pickle.loads(blob)
    with modelyard.connect(url, artifact_root=artifacts, user="ci", home=home) as yard:
        example = generate(50, seed=1)[list(FEATURES)]
        return yard.models.register("credit-risk", model, example=example).version


def test_sixteen_concurrent_registrations(store_url: str, tmp_path: Path, small_model) -> None:
    import modelyard

    with modelyard.connect(store_url, artifact_root=str(tmp_path / "a"), user="ci") as yard:
        yard.models.create("credit-risk")
    blob = pickle.dumps(small_model)
    jobs = [(store_url, str(tmp_path / "a"), str(tmp_path / "h"), blob)] * 16
    with ProcessPoolExecutor(8, mp_context=mp.get_context("spawn")) as pool:
        versions = list(pool.map(_register, jobs))
    assert sorted(versions) == list(range(1, 17))
