"""Public check suites for Modelyard's pluggable backends.

Run them against your own backend the way scikit-learn's ``check_estimator``
runs against an estimator::

    from modelyard.artifacts import get_artifact_store
    from modelyard.testing import check_artifact_store

    check_artifact_store(get_artifact_store("s3://my-bucket/modelyard-check"))
"""

from modelyard.testing.artifacts import check_artifact_store

__all__ = ["check_artifact_store"]
