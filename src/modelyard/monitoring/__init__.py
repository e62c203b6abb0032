"""Model monitoring: reference profiles, drift tests and data-quality checks."""

from modelyard.monitoring.current import CurrentSummary, summarize
from modelyard.monitoring.drift import (
    DriftDetector,
    DriftReport,
    DriftThresholds,
    FeatureDrift,
    FeatureThresholds,
    StatResult,
    score_drift,
)
from modelyard.monitoring.quality import QualityIssue, QualityReport, check_quality
from modelyard.monitoring.reference import ColumnReference, ReferenceProfile, build_reference

__all__ = [
    "ColumnReference",
    "CurrentSummary",
    "DriftDetector",
    "DriftReport",
    "DriftThresholds",
    "FeatureDrift",
    "FeatureThresholds",
    "QualityIssue",
    "QualityReport",
    "ReferenceProfile",
    "StatResult",
    "build_reference",
    "check_quality",
    "score_drift",
    "summarize",
]
