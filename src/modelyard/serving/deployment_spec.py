"""The deployment file's schema, as serving uses it.

The schema lives with the stored deployments in
:mod:`modelyard.registry.deployments` (the registry must not import serving);
see there for the YAML format.
"""

from modelyard.registry.deployments import (
    DeploymentSpec,
    RouteSpec,
    ShadowSpec,
    StickySpec,
    load_deployment_file,
    parse_deployment,
    spec_for_ref,
)

__all__ = [
    "DeploymentSpec",
    "RouteSpec",
    "ShadowSpec",
    "StickySpec",
    "load_deployment_file",
    "parse_deployment",
    "spec_for_ref",
]
