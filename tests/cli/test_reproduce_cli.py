"""`slipway reproduce` refusing bad input in one line, exit code 2, before any checkout (fast; no git repo).

The real reproductions, on repositories made by the tests, are in tests/registry/test_reproduce.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from slipway.artifacts import open_blob_store
from slipway.cli import main
from slipway.store import open_metadata_store
from slipway.tracking import TrackingClient

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def urls(tmp_path: Path) -> tuple[str, str]:
    store_url, blobs = f"sqlite:///{tmp_path / 'cli.db'}", str(tmp_path / "blobs")
    store = open_metadata_store(store_url)
    try:
        import pandas as pd
        from sklearn.linear_model import LogisticRegression

        frame = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]})
        client = TrackingClient(store, open_blob_store(blobs), flush_interval=0.05)
        with client.start_run(experiment="e") as run:  # tmp_path is no git repository: no commit recorded
            info = run.log_model(LogisticRegression().fit(frame, [0, 0, 1, 1]), "model")
        assert main_ok(["models", "register", info.uri, "churn", "--store", store_url, "--artifacts", blobs])
    finally:
        store.close()
    return store_url, blobs


def main_ok(argv: list[str]) -> bool:
    try:
        main(argv)
    except SystemExit as exc:
        return exc.code in (0, None)
    return True


@pytest.mark.parametrize(
    ("uri", "needle"),
    [
        ("models:/churn/1", "recorded no git commit"),
        ("models:/churn@production", "production"),
        ("models:/other/1", "'other'"),
        ("churn", "models:/"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], urls: tuple[str, str], uri: str, needle: str
) -> None:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main(["reproduce", uri, "--store", urls[0], "--artifacts", urls[1]])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert err.startswith("error:")
    assert err.count("\n") == 1
    assert needle in err
