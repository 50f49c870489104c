"""Pipelines: steps with content-addressed caching, runners (local, the engine), sweeps, retraining."""

from slipway.pipelines._sweep import SweepResult, TrialOutcome, sweep
from slipway.pipelines._target import load_target

__all__ = ["SweepResult", "TrialOutcome", "load_target", "sweep"]
