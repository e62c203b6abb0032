"""Real-time serving of registered model versions.

``modelyard serve credit-risk@champion`` (or a deployment file) runs
:func:`create_app` under uvicorn. The app speaks three protocols — a plain
JSON API whose OpenAPI schema comes from the model's signature, the Open
Inference Protocol (KServe V2) and MLflow's scoring format — batches
concurrent requests, follows alias moves without dropping a request, routes
traffic by weight (canary), entity (sticky) and copy (shadow), and logs
every prediction to Parquet or Redis Streams.

Modules, one job each: ``app`` (the ASGI app), ``service`` (the request
path), ``models`` (a served version and its scorers), ``fastpath`` (the exact
compiled LightGBM scorer), ``batching``, ``routing``, ``upgrades``,
``predlog``, ``metrics``, ``security``, ``openapi``, ``protocols/``,
``config``, ``errors``, ``server`` (uvicorn).
"""

from modelyard.serving.app import ServingApp, create_app
from modelyard.serving.config import BatchingConfig, PredictionLogConfig, ServingConfig
from modelyard.serving.deployment_spec import DeploymentSpec, load_deployment_file
from modelyard.serving.predlog import read_feedback, read_predictions
from modelyard.serving.security import hash_api_key

__all__ = [
    "BatchingConfig",
    "DeploymentSpec",
    "PredictionLogConfig",
    "ServingApp",
    "ServingConfig",
    "create_app",
    "hash_api_key",
    "load_deployment_file",
    "read_feedback",
    "read_predictions",
]
