"""Pipelines: steps with content-addressed caching, runners (local, the engine), sweeps, retraining."""

from slipway.pipelines._target import load_target

__all__ = ["load_target"]
