"""Tracking: experiments and runs, buffered metrics, datasets, environment and git capture, autolog.

``TrackingClient`` is the explicit API over a metadata store and a blob store; ``slipway.start_run``
and friends (in ``slipway._api``) are the fluent layer over it for scripts and notebooks.
"""

from slipway.tracking._autolog import autolog
from slipway.tracking._client import DEFAULT_EXPERIMENT, TrackingClient, local_user
from slipway.tracking._compare import Difference, MetricDifference, RunComparison, compare
from slipway.tracking._datasets import fingerprint
from slipway.tracking._environment import DIFF_ARTIFACT, LOCK_ARTIFACT
from slipway.tracking._run import ActiveRun
from slipway.tracking._seed import current_seed, seed_everything
from slipway.tracking._writer import MetricWriteError, Terminated

__all__ = [
    "DEFAULT_EXPERIMENT",
    "DIFF_ARTIFACT",
    "LOCK_ARTIFACT",
    "ActiveRun",
    "Difference",
    "MetricDifference",
    "MetricWriteError",
    "RunComparison",
    "Terminated",
    "TrackingClient",
    "autolog",
    "compare",
    "current_seed",
    "fingerprint",
    "local_user",
    "seed_everything",
]
