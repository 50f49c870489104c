"""The prediction log: the contract between the writers (serving, batch scoring) and monitoring.

One row per scored row, written asynchronously in batches as Parquet files partitioned by deployment
and date; feedback labels arrive later and are joined on ``request_id`` (DESIGN.md, shared contracts;
docs/predictions.md for the columns and the guarantees).

::

    tree = open_file_tree(settings.prediction_log_uri())       # slipway.artifacts
    with PredictionLogWriter(tree, deployment="churn") as writer:
        writer.log(PredictionBatch(request_ids=ids, model_name="churn", model_version="3",
                                   variant="primary", inputs=features, outputs={"prediction": y},
                                   latency_ms=4.2))
    frame = join_feedback(read_predictions(tree, deployment="churn"), read_feedback(tree))
"""

from slipway.predlog._batch import PredictionBatch
from slipway.predlog._feedback import log_feedback
from slipway.predlog._layout import JOINED as JOINED_COLUMNS
from slipway.predlog._layout import RESERVED as RESERVED_COLUMNS
from slipway.predlog._reader import join_feedback, read_feedback, read_predictions
from slipway.predlog._writer import PredictionLogWriter

__all__ = [
    "JOINED_COLUMNS",
    "RESERVED_COLUMNS",
    "PredictionBatch",
    "PredictionLogWriter",
    "join_feedback",
    "log_feedback",
    "read_feedback",
    "read_predictions",
]
