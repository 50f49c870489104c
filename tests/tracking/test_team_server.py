"""The same tracking code against a real team server: switching is configuration, never code."""

from __future__ import annotations

import pickle
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from slipway.artifacts import open_blob_store
from slipway.core import RunStatus
from slipway.errors import Conflict
from slipway.store import open_metadata_store
from slipway.tracking import LOCK_ARTIFACT, TrackingClient

if TYPE_CHECKING:
    from tests._team_server import TeamServer

pytestmark = pytest.mark.e2e


def test_a_tracked_run_through_the_team_server(team_server: TeamServer) -> None:
    store = open_metadata_store(team_server.url, token=team_server.token)
    blobs = open_blob_store(team_server.url, token=team_server.token)
    client = TrackingClient(store, blobs, flush_interval=0.05)
    try:
        with client.start_run(experiment="tracking-e2e", name="remote") as run:
            run.log_params({"C": 0.5})
            with pytest.raises(Conflict):
                run.log_param("C", 1.0)
            for i in range(5_000):
                run.log_metric("loss", 1 / (i + 1))
            run.log_metric("auc", 0.91)
            run.log_dataset(pd.DataFrame({"x": np.arange(50.0)}), name="train", role="training")
            run.log_bytes(pickle.dumps({"w": [1, 2]}), "model/model.pkl")

        got = client.get_run(run.id[:10])
        assert got.status is RunStatus.FINISHED
        assert got.metrics["auc"] == 0.91
        assert len(client.get_metric_history(run.id, "loss")) == 5_000
        assert client.get_datasets(run.id)[0].profile["columns"]["x"]["max"] == 49.0
        assert pickle.loads(client.read_artifact(run.id, "model/model.pkl")) == {"w": [1, 2]}
        assert b"pytest==" in client.read_artifact(run.id, LOCK_ARTIFACT)
        found = client.search_runs(experiments="tracking-e2e", filter="metrics.auc > 0.9")
        assert [r.id for r in found.items] == [run.id]
    finally:
        client.close()
