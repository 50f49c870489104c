"""The fluent API: settings resolved once, a context-local stack of runs, nested runs, autolog."""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING

import pytest

import slipway
from slipway import _api
from slipway.core import RunStatus

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture(autouse=True)
def _fresh_api() -> Iterator[None]:
    _api._reset_for_tests()
    yield
    _api._reset_for_tests()


def test_the_issue_example_on_the_embedded_default(tmp_path: Path) -> None:
    import pandas as pd

    (tmp_path / "confusion.png").write_bytes(b"png")
    train_df = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    with slipway.start_run(experiment="churn", name="baseline") as run:
        assert slipway.active_run() is run
        slipway.log_params({"C": 1.0, "penalty": "l2"})
        slipway.log_dataset(train_df, name="train", role="training")
        for epoch in range(100):
            slipway.log_metric("loss", 1 / (epoch + 1), step=epoch)
        slipway.log_artifact("confusion.png")
        slipway.set_tag("team", "risk")
        slipway.log_text("hi", "notes.txt")
        slipway.log_dict({"a": 1}, "cfg.json")
    assert slipway.active_run() is None

    got = slipway.get_run(run.id)
    assert got.status is RunStatus.FINISHED
    assert got.params == {"C": "1.0", "penalty": "l2"}
    assert got.metrics == {"loss": 0.01}
    assert got.tags["team"] == "risk"
    assert (tmp_path / ".slipway" / "slipway.db").is_file()  # the embedded default, in the project folder
    assert any((tmp_path / ".slipway" / "artifacts").rglob("*"))
    page = slipway.search_runs("churn", filter="metrics.loss < 0.1", order_by="metrics.loss desc")
    assert [r.id for r in page.items] == [run.id]


def test_start_run_inside_a_run_nests(tmp_path: Path) -> None:
    with slipway.start_run(experiment="sweep") as parent:
        for c in (0.1, 1.0):
            with slipway.start_run(name=f"C={c}") as child:
                assert slipway.active_run() is child
                slipway.log_param("C", c)
        assert slipway.active_run() is parent
        with slipway.start_run(nested=False) as top:
            assert top.parent_run_id is None
    children = slipway.search_runs("sweep", filter=f"attributes.parent_run_id = '{parent.id}'").items
    assert sorted(r.params["C"] for r in children) == ["0.1", "1.0"]


def test_logging_without_a_run_starts_one_and_end_run_ends_it() -> None:
    slipway.log_metric("x", 1.0)
    run = slipway.active_run()
    assert run is not None
    assert run.experiment_id
    ended = slipway.end_run()
    assert ended is not None
    assert ended.status is RunStatus.FINISHED
    assert slipway.active_run() is None
    assert slipway.end_run() is None


def test_the_active_run_is_local_to_threads_and_tasks() -> None:
    seen: list[object] = []
    with slipway.start_run():
        thread = threading.Thread(target=lambda: seen.append(slipway.active_run()))
        thread.start()
        thread.join()

        async def inner() -> object:
            with slipway.start_run() as child:
                return child.parent_run_id

        parent_seen_by_task = asyncio.run(inner())
        outer = slipway.active_run()
        assert outer is not None
        assert parent_seen_by_task == outer.id  # a task starts from a copy of its creator's context
        assert slipway.active_run() is outer  # and its own runs do not leak back
    assert seen == [None]


def test_an_exception_fails_the_run_and_pops_it() -> None:
    def train() -> None:
        slipway.log_metric("loss", 1.0)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError), slipway.start_run() as run:
        train()
    assert slipway.active_run() is None
    got = slipway.get_run(run.id)
    assert got.status is RunStatus.FAILED
    assert got.metrics == {"loss": 1.0}


def test_seed_is_recorded_on_the_active_run() -> None:
    with slipway.start_run() as run:
        assert slipway.seed(123) == 123
    assert slipway.get_run(run.id).tags["slipway.seed"] == "123"


def test_settings_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLIPWAY_TRACKING_URI", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    monkeypatch.setenv("SLIPWAY_FLUSH_INTERVAL", "0.01")
    with slipway.start_run():
        pass
    assert (tmp_path / "elsewhere.db").is_file()
    assert _api.client().flush_interval == 0.01


def test_autolog_through_the_fluent_api() -> None:
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_iris(return_X_y=True)
    slipway.autolog()
    try:
        DecisionTreeClassifier(max_depth=2).fit(X, y)
        with slipway.start_run() as run:
            DecisionTreeClassifier(max_depth=3).fit(X, y)
    finally:
        slipway.autolog(disable=True)
    assert slipway.get_run(run.id).params["max_depth"] == "3"
    auto = slipway.search_runs(filter="params.max_depth = '2'").items
    assert [r.name for r in auto] == ["DecisionTreeClassifier"]
    assert auto[0].status is RunStatus.FINISHED


def _child_logs_to_the_active_run() -> None:
    for i in range(1_000):
        slipway.log_metric("loss", float(i), step=i)


def test_a_forked_child_logs_to_the_parents_active_run() -> None:
    import multiprocessing

    with slipway.start_run() as run:
        child = multiprocessing.get_context("fork").Process(target=_child_logs_to_the_active_run)
        child.start()
        child.join(60)
        assert child.exitcode == 0
        assert _api.client().store.get_run(run.id).status is RunStatus.RUNNING
    got = slipway.get_run(run.id)
    assert got.status is RunStatus.FINISHED
    assert len(_api.client().get_metric_history(run.id, "loss")) == 1_000


def test_autolog_keeps_every_fit_of_a_sweep_in_one_run() -> None:
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_iris(return_X_y=True)
    slipway.autolog()
    try:
        with slipway.start_run(experiment="sweep") as run:
            for depth in (1, 2, 3):
                DecisionTreeClassifier(max_depth=depth).fit(X, y)
            assert slipway.active_run() is run
    finally:
        slipway.autolog(disable=True)
    assert slipway.get_run(run.id).params["max_depth"] == "1"
    children = slipway.search_runs("sweep", filter=f"attributes.parent_run_id = '{run.id}'").items
    assert sorted(r.params["max_depth"] for r in children) == ["2", "3"]
    assert {r.name for r in children} == {"DecisionTreeClassifier"}
