"""scikit-learn's tree ensembles, traversed in numpy exactly as scikit-learn does.

RandomForest, ExtraTrees, GradientBoosting and HistGradientBoosting are
evaluated by the numba tree kernel of :mod:`modelyard.compiled._tree_kernel` (the
trees flattened below, sums in tree order, leaves holding every class for a
forest) and, where numba is missing or for HistGradientBoosting's native
categorical splits, by the numpy traversal here, vectorised over rows and trees
at once — the exactness reference the kernel is tested against. treelite/tl2cgen
would need a C compiler run per model version (minutes for a deep forest on a
loaded host) and a new dependency, and its summation and float32 handling are
its own; these few numpy lines repeat scikit-learn's comparisons (float32 inputs
against float64 thresholds for ``tree_``, float64 with NaN routing for
HistGradientBoosting), its accumulation order (tree by tree, strictly
sequential) and, for HistGradientBoosting's native categorical features, its
own ordinal encoding and bitset splits — so the outputs are bit-identical.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from modelyard.compiled._deferred import deferred
from modelyard.compiled._estimator import Estimator
from modelyard.compiled._flat_forest import FlatForest
from modelyard.compiled.preprocess import NotCompilable

__all__ = ["GradientBoosting", "HistGradientBoosting", "RandomForest"]

_BITS = 256  # a categorical split's bitset: 8 x uint32, categories 0..255


class _Kernel:
    """The trees as the numba kernel's arrays; :meth:`raw` gives ``base + sum of leaves``.

    Args:
        trees: The tree dicts of :func:`_sklearn_tree` (no categorical nodes).
        float32: Compare the input rounded to float32 (scikit-learn's ``tree_``)
            with the float64 thresholds; else the float64 input.
        outputs: Per tree, the output its (single) leaf value adds to; None:
            every leaf holds a value per output.
        base: Where each output's sum starts.
        divisor: The sum is divided by it (a forest's mean).
    """

    def __init__(
        self,
        trees: list[dict[str, np.ndarray]],
        *,
        float32: bool,
        outputs: list[int] | None,
        base: np.ndarray,
        divisor: float = 1.0,
    ) -> None:
        from modelyard.compiled import _tree_kernel as kernel

        self._kernel = kernel
        feature, threshold, children, missing_right, roots, leaves = [], [], [], [], [], []
        node_base = leaf_base = 0
        for tree in trees:
            leaf = np.asarray(tree["leaf"], dtype=bool)
            inner, ends = np.flatnonzero(~leaf), np.flatnonzero(leaf)
            values = np.asarray(tree["value"], dtype=np.float64)
            leaves.append(values[ends].reshape(len(ends), -1))
            if leaf[0]:
                roots.append(~leaf_base)
                leaf_base += len(ends)
                continue
            position = np.zeros(len(leaf), dtype=np.int64)
            position[inner] = np.arange(len(inner)) + node_base
            position[ends] = ~(np.arange(len(ends)) + leaf_base)
            left = np.asarray(tree["left"], dtype=np.int64)[inner]
            right = np.asarray(tree["right"], dtype=np.int64)[inner]
            feature.append(np.asarray(tree["feature"], dtype=np.int64)[inner])
            threshold.append(np.asarray(tree["threshold"], dtype=np.float64)[inner])
            children.append(np.stack([position[left], position[right]], axis=1))
            missing_right.append(1 - np.asarray(tree["nan_left"], dtype=np.int64)[inner])
            roots.append(node_base)
            node_base += len(inner)
            leaf_base += len(ends)
        width = leaves[0].shape[1] if leaves else 1
        self._n_out = len(base)
        if outputs is None and width != self._n_out:
            raise NotCompilable(f"leaves of {width} values for {self._n_out} outputs")
        arrays = (
            _join(feature, np.int32),
            _join(threshold, np.float64),
            _join(children, np.int32, (0, 2)),
            np.zeros(node_base, dtype=np.uint8),  # numerical splits only
            _join(missing_right, np.int32),
            np.zeros((max(node_base, 1), 2), dtype=np.int32),
            np.zeros(1, dtype=np.uint32),
            np.asarray(roots, dtype=np.int32),
            np.asarray(outputs if outputs is not None else [0] * len(trees), dtype=np.int32),
            np.ascontiguousarray(np.concatenate(leaves) if leaves else np.zeros((0, width))),
        )
        self._base = np.ascontiguousarray(base, dtype=np.float64)
        self._divisor = float(divisor)
        self._dtype = np.float32 if float32 else np.float64
        self._forest = FlatForest(arrays, input_dtype=self._dtype)

    def raw(self, matrix: np.ndarray) -> np.ndarray:
        """(rows, outputs) sums for ``matrix``."""
        data = np.ascontiguousarray(matrix, dtype=self._dtype)
        out = np.empty((data.shape[0], self._n_out), dtype=np.float64)
        self._forest.evaluate(
            data,
            self._n_out,
            self._divisor,
            self._kernel.IDENTITY,
            1.0,
            self._base,
            0.0,  # no value is read as zero
            out,
        )
        return out


def _join(parts: list[np.ndarray], dtype: Any, shape: tuple[int, ...] = (0,)) -> np.ndarray:
    if not parts:
        return np.zeros(shape, dtype=dtype)
    return np.ascontiguousarray(np.concatenate(parts), dtype=dtype)


def _kernel(trees: list[dict[str, np.ndarray]], **options: Any) -> _Kernel | None:
    """The kernel for these trees, or None (numba unavailable, categorical nodes)."""
    if any(t.get("cat_table") is not None for t in trees):
        return None
    try:
        return _Kernel(trees, **options)
    except ImportError:
        return None


class _Forest:
    """Many trees flattened into one node table, traversed for all rows and trees at once.

    Leaves loop to themselves (threshold +inf, both children the leaf), so a fixed
    number of steps (the deepest tree's depth) brings every (row, tree) to its leaf.
    """

    def __init__(self, trees: list[dict[str, np.ndarray]], float32: bool) -> None:
        offsets = np.cumsum([0] + [len(t["feature"]) for t in trees])
        self.roots = offsets[:-1].astype(np.intp)
        feature, threshold, left, right, nan_left, values = [], [], [], [], [], []
        cat_row, cat_tables = [], []
        depth = 0
        n_tables = 0
        for tree, base in zip(trees, offsets[:-1], strict=True):
            leaf = tree["leaf"]
            idx = np.arange(len(leaf)) + base
            feature.append(np.where(leaf, 0, tree["feature"]).astype(np.intp))
            threshold.append(np.where(leaf, np.inf, tree["threshold"]).astype(np.float64))
            left.append(np.where(leaf, idx, tree["left"] + base).astype(np.intp))
            right.append(np.where(leaf, idx, tree["right"] + base).astype(np.intp))
            nan_left.append(np.where(leaf, True, tree["nan_left"]).astype(bool))
            values.append(tree["value"])
            depth = max(depth, _depth(tree["left"], tree["right"], leaf))
            # Categorical nodes: a row of `cat_tables` says, per category code, go left.
            rows = np.full(len(leaf), -1, dtype=np.intp)
            table = tree.get("cat_table")
            if table is not None:
                where = np.flatnonzero(tree["cat_node"] & ~leaf)
                rows[where] = np.arange(len(where)) + n_tables
                cat_tables.append(table[where])
                n_tables += len(where)
            cat_row.append(rows)
        self.feature = np.concatenate(feature)
        self.threshold = np.concatenate(threshold)
        self.left = np.concatenate(left)
        self.right = np.concatenate(right)
        self.nan_left = np.concatenate(nan_left)
        self.values = np.concatenate(values)
        self.cat_row = np.concatenate(cat_row)
        self.cat_tables = np.concatenate(cat_tables) if n_tables else None
        self.depth = depth
        self.float32 = float32

    def leaf_values(self, matrix: np.ndarray) -> np.ndarray:
        """(rows, trees, outputs) leaf values."""
        x = matrix.astype(np.float32) if self.float32 else matrix
        n = x.shape[0]
        state = np.broadcast_to(self.roots, (n, len(self.roots))).copy()
        rows = np.arange(n)[:, None]
        has_nan = not self.float32 and bool(np.isnan(x).any())
        tables = self.cat_tables
        for _ in range(self.depth):
            value = x[rows, self.feature[state]]
            go_left = value <= self.threshold[state]
            if has_nan:
                go_left |= np.isnan(value) & self.nan_left[state]
            if tables is not None:
                go_left = self._categorical(go_left, value, state, tables)
            state = np.where(go_left, self.left[state], self.right[state])
        return self.values[state]

    def _categorical(
        self, go_left: np.ndarray, value: np.ndarray, state: np.ndarray, tables: np.ndarray
    ) -> np.ndarray:
        """HistGradientBoosting's categorical split (``_predictor.pyx``) at categorical nodes.

        NaN and negative values take the missing-value direction; a code in the
        node's left bitset goes left, another known code right, and an unknown
        code the missing-value direction (all folded into the node's table).
        """
        table_row = self.cat_row[state]
        categorical = table_row >= 0
        if not categorical.any():
            return go_left
        valid = (value >= 0) & (value < _BITS)  # False for NaN
        code = np.where(valid, value, 0).astype(np.intp)  # C's truncating cast
        cat_left = np.where(valid, tables[np.maximum(table_row, 0), code], self.nan_left[state])
        return np.where(categorical, cat_left, go_left)


def _depth(left: np.ndarray, right: np.ndarray, leaf: np.ndarray) -> int:
    depth = np.zeros(len(left), dtype=np.intp)
    for node in range(len(left)):  # children come after their parent in both libraries
        if not leaf[node]:
            depth[left[node]] = depth[node] + 1
            depth[right[node]] = depth[node] + 1
    return int(depth.max()) if len(depth) else 0


def _sklearn_tree(tree: Any, values: np.ndarray) -> dict[str, np.ndarray]:
    t = tree.tree_
    leaf = t.children_left == -1
    return {
        "feature": t.feature,
        "threshold": t.threshold,
        "left": np.where(leaf, 0, t.children_left),
        "right": np.where(leaf, 0, t.children_right),
        "nan_left": np.asarray(getattr(t, "missing_go_to_left", np.zeros(len(leaf))), bool),
        "leaf": leaf,
        "value": values,
    }


class RandomForest(Estimator):
    """RandomForest / ExtraTrees: the mean of the trees' leaf fractions, summed tree by tree."""

    rejects_nan = True

    def __init__(self, model: Any, classifier: bool) -> None:
        self.kind = "forest-compiled"
        if getattr(model, "n_outputs_", 1) != 1:
            raise NotCompilable("a multi-output forest")
        self._classifier = classifier
        self._n = len(model.estimators_)
        trees = []
        for est in model.estimators_:
            value = est.tree_.value[:, 0, :]
            trees.append(
                _sklearn_tree(est, value[:, : model.n_classes_] if classifier else value[:, :1])
            )
        self._forest = _Forest(trees, float32=True)
        outputs = model.n_classes_ if classifier else 1
        kernel = _kernel(trees, float32=True, outputs=None, base=np.zeros(outputs), divisor=self._n)
        self._raw, self.evaluator = _evaluator(kernel, self._numpy_raw)

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        total = self._raw(matrix)
        return total if self._classifier else total[:, 0]

    def _numpy_raw(self, matrix: np.ndarray) -> np.ndarray:
        values = self._forest.leaf_values(matrix)  # (n, trees, classes)
        # np.cumsum adds strictly in order, like the forest's `out += prediction` per tree.
        total = np.cumsum(values, axis=1)[:, -1, :]
        total /= self._n
        return total


class GradientBoosting(Estimator):
    """GradientBoosting: init raw score plus ``learning_rate * leaf`` per stage, then the link."""

    rejects_nan = True

    def __init__(self, model: Any, classifier: bool) -> None:
        self.kind = "gbdt-compiled"
        init = model.init_
        if not (isinstance(init, str) and init == "zero") and type(init).__name__ not in (
            "DummyClassifier",
            "DummyRegressor",
        ):
            raise NotCompilable(f"init estimator {type(init).__name__} is not constant")
        self._model = model
        self._classifier = classifier
        stages, k = model.estimators_.shape
        self._k = k
        trees = [
            _sklearn_tree(model.estimators_[s, j], model.estimators_[s, j].tree_.value[:, 0, :1])
            for s in range(stages)
            for j in range(k)
        ]
        self._forest = _Forest(trees, float32=True)
        self._stages = stages
        # A constant init estimator gives the same raw score for every row.
        probe = np.zeros((1, model.n_features_in_), dtype=np.float32)
        self._init = np.asarray(model._raw_predict_init(probe), dtype=np.float64)[0]
        self._rate = float(model.learning_rate)
        # scikit-learn adds learning_rate * leaf: the same product, computed once.
        scaled = [{**t, "value": self._rate * t["value"]} for t in trees]
        kernel = _kernel(
            scaled, float32=True, outputs=[i % k for i in range(len(trees))], base=self._init
        )
        self._raw, self.evaluator = _evaluator(kernel, self._numpy_raw)

    def _numpy_raw(self, matrix: np.ndarray) -> np.ndarray:
        n = matrix.shape[0]
        leaves = self._forest.leaf_values(matrix)[:, :, 0].reshape(n, self._stages, self._k)
        steps = np.empty((n, self._stages + 1, self._k), dtype=np.float64)
        steps[:, 0, :] = self._init
        steps[:, 1:, :] = self._rate * leaves
        return np.cumsum(steps, axis=1)[:, -1, :]

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        raw = self._raw(matrix)
        if raw.shape[1] == 1:
            raw = raw.ravel()
        if not self._classifier:
            return raw
        return self._model._loss.predict_proba(raw)


class HistGradientBoosting(Estimator):
    """HistGradientBoosting: baseline plus every predictor's leaf in order, then the link.

    With native categorical features the fitted model holds its own
    ``_preprocessor``: an ``OrdinalEncoder`` (unknown and missing values become
    NaN) over the categorical columns, placed first, then the numeric columns.
    ``encoded=False``: the matrix is the model's input, and :meth:`predict`
    repeats that encoding (categories matched exactly, as ``OrdinalEncoder``
    does); ``encoded=True``: the compiled preprocessing already ran the model's
    ``_preprocessor`` (a model fitted directly on a frame of categorical columns).
    """

    def __init__(self, model: Any, classifier: bool, *, encoded: bool = False) -> None:
        self.kind = "hgb-compiled"
        self._model = model
        self._classifier = classifier
        self._k = int(model.n_trees_per_iteration_)
        self._iterations = len(model._predictors)
        inner = getattr(model, "_preprocessor", None)
        self._inner = _InnerEncoding(inner) if inner is not None and not encoded else None
        known = cat_map = None
        if getattr(model, "is_categorical_", None) is not None and np.any(model.is_categorical_):
            known, cat_map = model._bin_mapper.make_known_categories_bitsets()
        trees = []
        for predictors in model._predictors:
            for predictor in predictors:
                nodes = predictor.nodes
                leaf = nodes["is_leaf"].astype(bool)
                tree = {
                    "feature": nodes["feature_idx"].astype(np.intp),
                    "threshold": nodes["num_threshold"].astype(np.float64),
                    "left": np.where(leaf, 0, nodes["left"]).astype(np.intp),
                    "right": np.where(leaf, 0, nodes["right"]).astype(np.intp),
                    "nan_left": nodes["missing_go_to_left"].astype(bool),
                    "leaf": leaf,
                    "value": nodes["value"].astype(np.float64)[:, None],
                }
                categorical = nodes["is_categorical"].astype(bool) & ~leaf
                if categorical.any():
                    if known is None or cat_map is None:
                        raise NotCompilable("HistGradientBoosting splits on unknown categories")
                    tree["cat_node"] = categorical
                    tree["cat_table"] = _split_tables(nodes, predictor, known, cat_map)
                trees.append(tree)
        self._forest = _Forest(trees, float32=False)
        self._baseline = np.asarray(model._baseline_prediction, dtype=np.float64).ravel()
        kernel = _kernel(
            trees,
            float32=False,
            outputs=[i % self._k for i in range(len(trees))],
            base=0.0 + self._baseline,  # scikit-learn adds the baseline to zeros
        )
        self._raw, self.evaluator = _evaluator(kernel, self._numpy_raw)

    def _numpy_raw(self, matrix: np.ndarray) -> np.ndarray:
        n = matrix.shape[0]
        leaves = self._forest.leaf_values(matrix)[:, :, 0]
        leaves = leaves.reshape(n, self._iterations, self._k)
        steps = np.empty((n, self._iterations + 1, self._k), dtype=np.float64)
        steps[:, 0, :] = 0.0 + self._baseline
        steps[:, 1:, :] = leaves
        return np.cumsum(steps, axis=1)[:, -1, :]

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        if self._inner is not None:
            matrix = self._inner(matrix)
        raw = self._raw(matrix)
        if self._classifier:
            return self._model._loss.predict_proba(raw)
        return self._model._loss.link.inverse(raw.ravel())


def _evaluator(
    kernel: _Kernel | None, numpy_raw: Callable[[np.ndarray], np.ndarray]
) -> tuple[Callable[[np.ndarray], np.ndarray], str]:
    """(raw scores, evaluator): the kernel (now or after enough rows), else the numpy walk."""
    if kernel is None:
        return numpy_raw, "numpy"
    return deferred(kernel.raw, numpy_raw, "numpy")


def _bits(bitset: np.ndarray) -> np.ndarray:
    """A (8,) uint32 bitset as 256 booleans (bit ``c % 32`` of word ``c // 32``)."""
    words = np.asarray(bitset, dtype=np.uint32)
    codes = np.arange(_BITS)
    return ((words[codes // 32] >> (codes % 32).astype(np.uint32)) & 1).astype(bool)


def _split_tables(
    nodes: np.ndarray, predictor: Any, known: np.ndarray, cat_map: np.ndarray
) -> np.ndarray:
    """Per node, per category code 0..255: go left (scikit-learn's rule folded into a table)."""
    tables = np.zeros((len(nodes), _BITS), dtype=bool)
    for i in np.flatnonzero(nodes["is_categorical"].astype(bool) & ~nodes["is_leaf"].astype(bool)):
        left = _bits(predictor.raw_left_cat_bitsets[nodes["bitset_idx"][i]])
        seen = _bits(known[cat_map[nodes["feature_idx"][i]]])
        missing_left = bool(nodes["missing_go_to_left"][i])
        tables[i] = left | (~seen & missing_left)
    return tables


class _InnerEncoding:
    """HistGradientBoosting's own ``_preprocessor`` on a float matrix, in numpy.

    The categorical columns are ordinal-encoded (a value equal to the i-th fitted
    category becomes i, anything else — unseen or NaN — becomes NaN) and placed
    first; the numeric columns follow unchanged.
    """

    def __init__(self, transformer: Any) -> None:
        from sklearn.preprocessing import OrdinalEncoder

        width = int(transformer.n_features_in_)
        self._width = sum(s.stop - s.start for s in transformer.output_indices_.values())
        self._encoded: list[tuple[int, int, np.ndarray]] = []
        self._numeric: list[tuple[int, int]] = []
        for name, trans, selection in transformer.transformers_:
            columns = np.arange(width)[selection] if len(np.atleast_1d(selection)) else []
            out = transformer.output_indices_[name]
            if isinstance(trans, str):
                if trans == "drop" or not len(columns):
                    continue
                raise NotCompilable(f"HistGradientBoosting's own {name!r} is {trans!r}")
            if isinstance(trans, OrdinalEncoder):
                for k, (column, cats) in enumerate(zip(columns, trans.categories_, strict=True)):
                    values = np.asarray(cats)
                    if values.dtype.kind not in "fiu":
                        raise NotCompilable(
                            "HistGradientBoosting encodes strings its input matrix cannot hold"
                        )
                    values = values.astype(np.float64)
                    values = values[~np.isnan(values)]
                    if values.size and not np.all(values[1:] > values[:-1]):
                        raise NotCompilable("HistGradientBoosting's categories are not sorted")
                    self._encoded.append((int(column), out.start + k, values))
            else:
                for k, column in enumerate(columns):
                    self._numeric.append((int(column), out.start + k))

    def __call__(self, matrix: np.ndarray) -> np.ndarray:
        out = np.empty((matrix.shape[0], self._width), dtype=np.float64)
        for column, target in self._numeric:
            out[:, target] = matrix[:, column]
        for column, target, categories in self._encoded:
            values = matrix[:, column]
            if not categories.size:
                out[:, target] = np.nan
                continue
            at = np.minimum(np.searchsorted(categories, values), categories.size - 1)
            out[:, target] = np.where(categories[at] == values, at, np.nan)
        return out
