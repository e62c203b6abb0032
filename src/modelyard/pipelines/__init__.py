"""Lifecycle automation: a Python DSL for pipelines, a local runner with caching, gates,
lifecycle actions, triggers, a Kubeflow Pipelines compiler and reproduction.

    from modelyard.pipelines import pipeline, step, step_context

See ``dsl.py`` for the DSL, ``runner.py`` for execution, ``gates.py`` for the
checks between evaluation and promotion, ``actions.py`` for the lifecycle
steps, ``triggers.py``, ``kfp.py`` and ``reproduce.py``.
"""

from modelyard.pipelines.context import StepContext, step_context
from modelyard.pipelines.dsl import Pipeline, Step, StepHandle, pipeline, step
from modelyard.pipelines.errors import GateFailed, PipelineFailed
from modelyard.pipelines.loading import load_pipeline, parse_params
from modelyard.pipelines.runner import PipelineRun, StepResult, resume_pipeline, run_pipeline

__all__ = [
    "GateFailed",
    "Pipeline",
    "PipelineFailed",
    "PipelineRun",
    "Step",
    "StepContext",
    "StepHandle",
    "StepResult",
    "load_pipeline",
    "parse_params",
    "pipeline",
    "resume_pipeline",
    "run_pipeline",
    "step",
    "step_context",
]
