"""``slipway pipeline run --engine local|dask [--scheduler] [--workers]``: steps on a real engine."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from tests.cli._cli import cli
from tests.pipelines._project import isolated_project

from slipway.engines import DaskEngine

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def address() -> Iterator[str]:
    """A running 2-worker cluster's scheduler, as a team's cluster would be."""
    with DaskEngine.start(2) as engine:
        yield str(engine.client.scheduler.address)


@pytest.fixture
def target(tmp_path: Path) -> Iterator[str]:
    for project in isolated_project(tmp_path):
        project.write_example()
        yield "train.py:pipeline"


def _steps(out: str) -> list[list[str]]:
    return [line.split()[:2] for line in out.splitlines()[:4]]


def test_steps_run_on_a_scheduler_and_a_second_run_reuses_them(
    capsys: pytest.CaptureFixture[str], target: str, address: str
) -> None:
    on = ("--engine", "dask", "--scheduler", address)

    code, out, err = cli(capsys, "pipeline", "run", target, *on)
    code2, out2, _ = cli(capsys, "pipeline", "run", target, *on)

    assert (code, err) == (0, "")
    assert _steps(out) == [["ran", "load"], ["ran", "featurize"], ["ran", "train"], ["ran", "report"]]
    assert out.splitlines()[4].startswith("pipeline pipeline: 4 ran, 0 cached in ")
    assert " on dask (run " in out.splitlines()[4]
    assert code2 == 0
    assert [s[0] for s in _steps(out2)] == ["cached"] * 4


def test_a_failed_step_on_the_engine_exits_1_and_resume_continues(
    capsys: pytest.CaptureFixture[str], target: str, address: str
) -> None:
    on = ("--engine", "dask", "--scheduler", address)

    code, _, err = cli(capsys, "pipeline", "run", target, "-p", "C=-1", *on)
    code2, out2, _ = cli(capsys, "pipeline", "run", target, "-p", "C=1", "--resume", *on)

    assert code == 1
    assert err.startswith("error: step train failed: ValueError: C must be positive, got -1.0 (run ")
    assert err.count("\n") == 1
    assert code2 == 0
    assert [s[0] for s in _steps(out2)] == ["cached", "cached", "ran", "ran"]
    assert ", resumed from run " in out2


def test_the_local_engine_gives_what_threads_give(capsys: pytest.CaptureFixture[str], target: str) -> None:
    code, out, err = cli(capsys, "pipeline", "run", target, "--json")
    code2, out2, err2 = cli(
        capsys, "pipeline", "run", target, "--json", "--no-cache", "--engine", "local", "--workers", "2"
    )

    assert (code, code2, err, err2) == (0, 0, "", "")
    here, there = json.loads(out), json.loads(out2)
    assert [s["status"] for s in there["steps"]] == ["ran"] * 4
    assert [s["outputs"] for s in there["steps"]] == [s["outputs"] for s in here["steps"]]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--engine", "spark"), "engine 'spark': expected one of local, dask"),
        (("--scheduler", "tcp://h:8786"), "scheduler 'tcp://h:8786': choose where the steps run"),
        (
            ("--engine", "local", "--scheduler", "tcp://h:8786"),
            "scheduler 'tcp://h:8786': only the dask engine",
        ),
        (("--workers", "2"), "workers 2: choose where the steps run"),
        (("--engine", "local", "--parallel", "2"), "parallel 2: on an engine its workers run the steps"),
        (
            ("--engine", "dask", "--scheduler", "tcp://127.0.0.1:1"),  # nothing listens on port 1
            "scheduler tcp://127.0.0.1:1: cannot connect",
        ),
        (
            ("--engine", "dask", "--scheduler", "tcp://dask.example:8786"),  # refused before connecting
            "tracking store (SLIPWAY_TRACKING_URI) sqlite:///",
        ),
    ],
)
def test_engine_mistakes_exit_2_with_one_line_and_record_nothing(
    capsys: pytest.CaptureFixture[str], target: str, options: tuple[str, ...], message: str
) -> None:
    code, out, err = cli(capsys, "pipeline", "run", target, *options)

    assert code == 2
    assert err.startswith(f"error: {message}")
    assert err.count("\n") == 1
    assert not out
    code, out, _ = cli(capsys, "runs", "list", "--json")
    assert json.loads(out)["runs"] == []
