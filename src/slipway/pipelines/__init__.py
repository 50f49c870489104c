"""Pipelines: steps with content-addressed caching, runners (local, the engine), sweeps, retraining.

``@slipway.step`` functions, a ``@slipway.pipeline`` function that calls them, and
``slipway.pipelines.run`` (or ``slipway pipeline run train.py:pipeline``): a step runs again only
when what it reads changed (its code and the local modules it uses, its parameters, its inputs'
content, the environment, its external fingerprints); see docs/pipelines.md.
"""

from slipway.pipelines._graph import Pipeline, pipeline
from slipway.pipelines._plan import StepPlan, plan, why
from slipway.pipelines._runner import PipelineResult, StepResult, StepTask, execute_step, run
from slipway.pipelines._step import File, Handle, Step, step
from slipway.pipelines._sweep import SweepResult, TrialOutcome, sweep
from slipway.pipelines._target import load_target
from slipway.pipelines._template import retrain
from slipway.pipelines._values import OutputRef

__all__ = [
    "File",
    "Handle",
    "OutputRef",
    "Pipeline",
    "PipelineResult",
    "Step",
    "StepPlan",
    "StepResult",
    "StepTask",
    "SweepResult",
    "TrialOutcome",
    "execute_step",
    "load_target",
    "pipeline",
    "plan",
    "retrain",
    "run",
    "step",
    "sweep",
    "why",
]
