"""The allow-list of types a ``skops`` model file may hold.

``skops.io`` rebuilds objects from a JSON schema instead of running pickle
opcodes, and refuses every type outside its own small trusted set unless the
caller names it. ``skops.io.get_untrusted_types`` lists the types a file needs
beyond that set; the registry records the list at registration and every load
checks it here. A type is allowed when it is on :data:`BUILTIN_TRUSTED_TYPES`,
matches one of :data:`BUILTIN_TRUSTED_PATTERNS`, or is named in the
``trusted_types`` setting (exact names or ``fnmatch`` patterns). Everything
else — a user's own function in a ``FunctionTransformer``, ``builtins.eval``,
``os.system`` — is refused with an error naming the type.

The list holds classes of scikit-learn, numpy, scipy, LightGBM and XGBoost
whose reconstruction by skops runs no code of the file's choosing (skops sets
their state; it never calls a constructor or a function named in the file).
Functions are listed one by one: a function is code, and only a few numpy
ufuncs that transformers commonly name are trusted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fnmatch import fnmatchcase

from modelyard.errors import PermissionDenied

__all__ = [
    "BUILTIN_TRUSTED_PATTERNS",
    "BUILTIN_TRUSTED_TYPES",
    "check_trusted_types",
    "untrusted_types",
]

BUILTIN_TRUSTED_TYPES: frozenset[str] = frozenset(
    {
        # Python containers skops records by name.
        "collections.OrderedDict",
        "collections.defaultdict",
        # numpy: dtypes, scalars, random state, a few elementwise functions.
        "numpy.dtype",
        "numpy.bool",
        "numpy.bool_",
        "numpy.str_",
        "numpy.float16",
        "numpy.float32",
        "numpy.float64",
        "numpy.int8",
        "numpy.int16",
        "numpy.int32",
        "numpy.int64",
        "numpy.uint8",
        "numpy.uint16",
        "numpy.uint32",
        "numpy.uint64",
        "numpy.random.mtrand.RandomState",
        "numpy.random._generator.Generator",
        "numpy.random._pcg64.PCG64",
        "numpy.random._mt19937.MT19937",
        "numpy.log",
        "numpy.log1p",
        "numpy.exp",
        "numpy.expm1",
        "numpy.sqrt",
        "numpy.abs",
        # scikit-learn internals that skops does not list among its estimators.
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
        "sklearn.utils._bunch.Bunch",
        "sklearn.utils._set_output._SetOutputMixin",
        # HistGradientBoosting with categorical features keeps a partial of check_array.
        # skops loads a partial's function, args and keywords as nodes of their own, so
        # each is checked against this list: trusting the wrapper trusts no callee.
        "functools.partial",
        "sklearn.utils.validation.check_array",
        # LightGBM and XGBoost scikit-learn estimators and their boosters (state only:
        # model text / the booster's own serialised bytes, no pickle).
        "lightgbm.basic.Booster",
        "lightgbm.sklearn.LGBMClassifier",
        "lightgbm.sklearn.LGBMRegressor",
        "lightgbm.sklearn.LGBMRanker",
        "xgboost.core.Booster",
        "xgboost.sklearn.XGBClassifier",
        "xgboost.sklearn.XGBRegressor",
        "xgboost.sklearn.XGBRanker",
        "xgboost.sklearn.XGBRFClassifier",
        "xgboost.sklearn.XGBRFRegressor",
    }
)

BUILTIN_TRUSTED_PATTERNS: tuple[str, ...] = (
    # Loss and link classes of scikit-learn's gradient boosting (plain classes, state only).
    "sklearn._loss.loss.*",
    "sklearn._loss.link.*",
    # numpy 2's dtype classes (numpy.dtypes.Float64DType, ...).
    "numpy.dtypes.*",
    # scipy sparse matrices and arrays.
    "scipy.sparse._csr.*",
    "scipy.sparse._csc.*",
    "scipy.sparse._coo.*",
)


def _allowed(name: str, extra: Sequence[str]) -> bool:
    if name in BUILTIN_TRUSTED_TYPES or name in extra:
        return True
    return any(fnmatchcase(name, p) for p in (*BUILTIN_TRUSTED_PATTERNS, *extra))


def untrusted_types(types: Iterable[str], extra: Sequence[str] = ()) -> list[str]:
    """The names in ``types`` that neither the built-in list nor ``extra`` allow."""
    return sorted({t for t in types if not _allowed(t, tuple(extra))})


def check_trusted_types(types: Iterable[str], extra: Sequence[str] = (), *, what: str) -> None:
    """Refuse ``what`` when it needs a type the platform does not trust.

    Raises:
        PermissionDenied: Naming every refused type and how to allow one.
    """
    refused = untrusted_types(types, extra)
    if refused:
        raise PermissionDenied(
            f"{what} needs type(s) the platform does not trust: {', '.join(refused)}. "
            "Loading it could run code of the file's choosing. If you have reviewed "
            "them, add them to the 'trusted_types' setting (MODELYARD_TRUSTED_TYPES, a "
            "JSON list) or register the model as trusted code (trusted_code=True), which "
            "needs its sign-offs before anyone else may load it.",
            details={"untrusted_types": refused},
        )
