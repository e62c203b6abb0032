"""Model registry: models, versions, aliases, sign-offs, policies, audit trail, lineage."""

from modelyard.registry.entities import ApprovalInfo, ModelInfo, ModelVersionInfo, UserInfo
from modelyard.registry.models import ModelService
from modelyard.registry.policy import Policy
from modelyard.registry.roles import ROLES

__all__ = [
    "ROLES",
    "ApprovalInfo",
    "ModelInfo",
    "ModelService",
    "ModelVersionInfo",
    "Policy",
    "UserInfo",
]
