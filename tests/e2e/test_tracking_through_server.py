"""A training script that knows nothing of the server: environment variables send it there."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest
from tests._team_server import clean_env

from slipway.artifacts._http import HttpContentStore
from slipway.store._http import HttpMetadataStore

if TYPE_CHECKING:
    from pathlib import Path

    from tests._team_server import TeamServer

pytestmark = pytest.mark.e2e

SCRIPT = textwrap.dedent(
    """
    import math, pathlib, sys
    import slipway

    pathlib.Path("model.txt").write_text("weights: 1 2 3\\n")
    with slipway.start_run(experiment=sys.argv[1], name="through-the-server") as run:
        slipway.log_params({"lr": 0.01, "epochs": 3})
        slipway.set_tag("team", "vision")
        for step in range(300):
            slipway.log_metric("loss", 1.0 / (step + 1), step=step)
        slipway.log_metric("diverged", math.nan, step=0)
        slipway.log_artifact("model.txt")
        print(run.id)
    """
)


def test_a_script_logs_params_metrics_and_artifacts_to_the_team_server(
    team_server: TeamServer, tmp_path: Path
) -> None:
    (tmp_path / "train.py").write_text(SCRIPT)
    env = clean_env(SLIPWAY_TRACKING_URI=team_server.url, SLIPWAY_TOKEN=team_server.token)

    done = subprocess.run(
        [sys.executable, "train.py", "e2e-through-server"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip().splitlines()[-1]
    assert not (tmp_path / ".slipway").exists()  # nothing was written locally
    store = HttpMetadataStore.connect(team_server.url, token=team_server.token)
    blobs = HttpContentStore.connect(team_server.url, token=team_server.token)
    try:
        run = store.get_run(run_id)
        assert run.status.value == "FINISHED"
        assert run.params == {"lr": "0.01", "epochs": "3"}
        assert run.tags["team"] == "vision"
        assert run.metrics["loss"] == 1.0 / 300
        assert math.isnan(run.metrics["diverged"])
        history = store.get_metric_history(run_id, "loss")
        assert [m.step for m in history] == list(range(300))
        (entry,) = [a for a in store.list_artifacts(run_id) if a.path == "model.txt"]
        assert blobs.get_bytes(entry.digest) == b"weights: 1 2 3\n"
        assert (team_server.artifacts / "sha256" / entry.digest[:2] / entry.digest[2:]).exists()
    finally:
        store.close()
        blobs.close()


def test_a_script_with_a_wrong_token_fails_with_one_line(team_server: TeamServer, tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(SCRIPT)
    env = clean_env(SLIPWAY_TRACKING_URI=team_server.url, SLIPWAY_TOKEN="slw_wrong")

    done = subprocess.run(
        [sys.executable, "train.py", "e2e-wrong-token"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode != 0
    assert "slipway.errors.Unauthorized: the bearer token is not valid" in done.stderr
