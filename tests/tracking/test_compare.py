from __future__ import annotations

import math

import pytest

from slipway.core import Run, RunStatus
from slipway.tracking import compare


def _run(run_id: str, **kw: object) -> Run:
    return Run(id=run_id, experiment_id="e", name=run_id, status=RunStatus.FINISHED, start_time=0, **kw)  # type: ignore[arg-type]


def test_params_metrics_environment_code_and_packages() -> None:
    a = _run(
        "a",
        params={"C": "1.0", "penalty": "l2", "only_a": "x"},
        metrics={"auc": 0.9, "loss": 0.5, "gone": 1.0},
        tags={
            "slipway.python.version": "3.11.7",
            "slipway.git.commit": "abc",
            "slipway.git.dirty": "false",
            "team": "x",
        },
    )
    b = _run(
        "b",
        params={"C": "0.1", "penalty": "l2"},
        metrics={"auc": 0.95, "loss": 0.5},
        tags={
            "slipway.python.version": "3.12.1",
            "slipway.git.commit": "def",
            "slipway.git.dirty": "true",
            "slipway.git.diff_digest": "d1",
            "team": "y",
        },
    )
    out = compare(
        a,
        b,
        lock_a="numpy==1.26.0\npandas==2.2.0\nsix==1.0\n",
        lock_b="numpy==2.0.0\npandas==2.2.0\nrich==13.0\n",
    )

    assert [(d.key, d.a, d.b) for d in out.params] == [("C", "1.0", "0.1"), ("only_a", "x", None)]
    assert out.same_params == 1
    by_key = {m.key: m for m in out.metrics}
    assert by_key["auc"].delta == pytest.approx(0.05)
    assert by_key["auc"].relative == pytest.approx(0.05 / 0.9)
    assert not by_key["loss"].changed
    assert by_key["gone"].b is None
    assert by_key["gone"].delta is None
    assert [(d.key, d.a, d.b) for d in out.packages] == [
        ("numpy", "1.26.0", "2.0.0"),
        ("rich", None, "13.0"),
        ("six", "1.0", None),
    ]
    assert [d.key for d in out.environment] == ["slipway.python.version"]
    assert [d.key for d in out.code] == ["slipway.git.commit", "slipway.git.dirty", "slipway.git.diff_digest"]
    assert [(d.key, d.a, d.b) for d in out.tags] == [("team", "x", "y")]
    assert not out.identical
    assert out.to_dict()["metrics"][0]["changed"] is True


def test_identical_runs_and_nan_metrics() -> None:
    a = _run("a", params={"C": "1"}, metrics={"x": math.nan})
    out = compare(a, _run("b", params={"C": "1"}, metrics={"x": math.nan}))
    assert out.identical
    assert out.packages == []  # without both locks there is nothing to compare
