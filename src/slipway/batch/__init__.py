"""Batch scoring: a model over CSV or Parquet files bigger than memory, chunk by chunk.

::

    model = slipway.load_model("models:/churn@production")
    result = score(model, "data.parquet", "scored.parquet", log=open_file_tree(settings.prediction_log_uri()))

Reads ``chunk_rows`` rows at a time, sends rows the signature refuses to a rejects file with the
reason, writes the output as numbered parts (atomically, one per chunk), writes prediction-log rows
with variant ``batch``, and resumes an interrupted job from its last finished chunk. Progress goes
to a callback; the CLI (``slipway score``) draws it. ``score_distributed(..., engine=)`` runs the
same job with its chunks as tasks on an engine (worker processes, or a Dask cluster).
"""

from slipway.batch._distributed import score_distributed
from slipway.batch._score import ScoreProgress, ScoreResult, score

__all__ = ["ScoreProgress", "ScoreResult", "score", "score_distributed"]
