"""No numba function of the platform is cached on disk, so no pickle comes back from there.

numba reads its on-disk cache (``__pycache__/<function>-<line>.py311.nbi`` and
``.nbc``) with ``pickle.load``. A CI run once served a model through the tree
kernel while ``cache=True`` was set, and ``pickle.load`` ran on the kernel's
cache index: anyone who can write that directory (a shared image layer, a
mounted cache volume) would run code in the serving process. The first test
finds every numba function in the package and checks it has no disk cache; the
second plants a crafted index where numba would look and scores a model in a
fresh process: the payload must not run.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

from numba.core.caching import NullCache
from numba.core.dispatcher import Dispatcher

import modelyard
from modelyard.compiled import _tree_kernel

PACKAGE = Path(modelyard.__file__).parent


def _modules_using_numba() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if "from numba import" in text or "import numba" in text:
            relative = path.relative_to(PACKAGE.parent).with_suffix("")
            names.append(".".join(relative.parts))
    return names


def test_every_numba_function_of_the_package_has_no_disk_cache() -> None:
    modules = _modules_using_numba()
    assert "modelyard.compiled._tree_kernel" in modules
    found = {}
    for name in modules:
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if isinstance(value, Dispatcher) and value.py_func.__module__ == name:
                found[f"{name}.{attr}"] = type(value._cache).__name__
    assert "modelyard.compiled._tree_kernel.predict_forest" in found
    cached = {name: kind for name, kind in found.items() if kind != NullCache.__name__}
    assert cached == {}, f"numba functions cached on disk (read back with pickle): {cached}"


class _Payload:
    """Unpickling this writes a marker file: the proof that a crafted cache ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[Path, str]]:
        return (Path.write_text, (self.marker, "payload ran"))


def test_a_crafted_numba_cache_index_is_never_unpickled(tmp_path: Path) -> None:
    tag = f"py{sys.version_info.major}{sys.version_info.minor}"
    cache_dir = Path(_tree_kernel.__file__).parent / "__pycache__"
    cache_dir.mkdir(exist_ok=True)
    planted = []
    # Every kernel the module compiles: the general one and the walk the script's model
    # (numerical splits only) is evaluated by, with their helpers.
    for kernel in (
        _tree_kernel.predict_forest.py_func,
        _tree_kernel.walk_forest.py_func,
        _tree_kernel._finish.py_func,
        _tree_kernel._categorical_child.py_func,
    ):
        line = inspect.getsourcelines(kernel)[1]
        planted.append(cache_dir / f"_tree_kernel.{kernel.__name__}-{line}.{tag}.nbi")
    marker = tmp_path / "marker"
    backups = {path: path.read_bytes() for path in planted if path.exists()}
    script = textwrap.dedent(
        """
        import numpy as np
        from lightgbm import LGBMClassifier
        from modelyard.compiled.lightgbm_trees import LightGBMTrees

        rng = np.random.default_rng(0)
        x = rng.normal(size=(400, 4))
        y = (x[:, 0] + rng.normal(size=400) > 0).astype(int)
        model = LGBMClassifier(n_estimators=5, num_leaves=4, verbose=-1).fit(x, y)
        booster = model.booster_
        got = LightGBMTrees(booster.model_to_string()).predict(x)
        assert np.array_equal(got, booster.predict(x, num_threads=1))
        print("scored")
        """
    )
    try:
        for path in planted:
            path.write_bytes(pickle.dumps(_Payload(marker)))
        done = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            env={**os.environ, "NUMBA_CACHE_DIR": ""},
            timeout=600,
        )
    finally:
        for path in planted:
            if path in backups:
                path.write_bytes(backups[path])
            else:
                path.unlink(missing_ok=True)
    assert done.returncode == 0, done.stderr
    assert "scored" in done.stdout
    assert not marker.exists(), "numba unpickled a planted cache file while scoring"
