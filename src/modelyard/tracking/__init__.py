"""Run tracking: params, metrics, tags, inputs, artifacts, environment, search."""

from modelyard.tracking.active import ActiveRun
from modelyard.tracking.entities import MetricPoint, RunArtifactInfo, RunInfo, RunInputInfo
from modelyard.tracking.service import RunService

__all__ = ["ActiveRun", "MetricPoint", "RunArtifactInfo", "RunInfo", "RunInputInfo", "RunService"]
