"""Datasets: registration, content identity, profiles, loading, lineage, synthetic data."""

from modelyard.data.entities import DatasetSummary, DatasetVersionInfo
from modelyard.data.service import DatasetService

__all__ = ["DatasetService", "DatasetSummary", "DatasetVersionInfo"]
