"""Monitors end to end on the real stores: windows since the cursor, idempotent re-runs, alerts over
real HTTP with a cooldown, an action started and audited, and backfill that never alerts."""

from __future__ import annotations

import json
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest

from slipway.artifacts import open_blob_store, open_file_tree
from slipway.core import AuditAction
from slipway.errors import InvalidInput
from slipway.monitoring._monitor import Monitors
from slipway.predlog import PredictionBatch, PredictionLogWriter, log_feedback
from slipway.store import open_metadata_store

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from slipway.artifacts import FileTree
    from slipway.store import MetadataStore

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
HOUR_MS = 3_600_000


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


class _Hooks(BaseHTTPRequestHandler):
    bodies: list[Any]

    def do_POST(self) -> None:
        self.bodies.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[str, list[Any]]]:
    bodies: list[Any] = []
    handler = type("Hooks", (_Hooks,), {"bodies": bodies})
    server = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/alert", bodies
    finally:
        server.shutdown()
        server.server_close()


class Clock:
    def __init__(self, at: datetime) -> None:
        self.now = ms(at)

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MetadataStore]:
    s = open_metadata_store(f"sqlite:///{tmp_path / 'slipway.db'}")
    yield s
    s.close()


@pytest.fixture
def tree(tmp_path: Path) -> FileTree:
    return open_file_tree(str(tmp_path / "predlog"))


def _rows(n: int, shift: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows: pd.DataFrame = pd.DataFrame(
        {"tenure": rng.normal(24 + shift, 6, n), "plan": rng.choice(["basic", "pro"], n)}
    )
    return rows


def _log_hour(tree: FileTree, hour: int, shift: float) -> None:
    """300 predictions spread over one hour after T0, with labels for all of them."""
    rows = _rows(300, shift, seed=hour + 11)
    ids = [f"h{hour}-{i}" for i in range(len(rows))]
    with PredictionLogWriter(tree, deployment="churn") as writer:
        for i in range(0, 300, 100):  # three batches inside the hour
            writer.log(
                PredictionBatch(
                    request_ids=ids[i : i + 100],
                    model_name="churn",
                    model_version="1",
                    variant="primary",
                    inputs=rows.iloc[i : i + 100].reset_index(drop=True),
                    outputs={"prediction": np.zeros(100)},
                    latency_ms=1.0,
                    timestamp=T0 + timedelta(hours=hour, minutes=5 + 15 * (i // 100)),
                )
            )
    labelled_at = T0 + timedelta(hours=hour, minutes=55)  # labels arrive within the hour
    log_feedback(tree, deployment="churn", request_ids=ids, labels=np.zeros(len(ids)), timestamp=labelled_at)


def _rules(url: str, tmp_path: Path) -> dict[str, Any]:
    marker = tmp_path / "triggered"
    return {
        "rules": [
            {"name": "data-drift", "figure": "drift.share", "above": 0.4, "consecutive": 2, "min_rows": 100}
        ],
        "alerts": [{"webhook": url}, {"log": True}],
        "cooldown": "1h",
        "action": {"command": [sys.executable, "-c", f"open({str(marker)!r}, 'w').write('x')"]},
    }


@pytest.fixture
def monitors(store: MetadataStore, tree: FileTree, tmp_path: Path) -> tuple[Monitors, Clock]:
    clock = Clock(T0 + timedelta(minutes=10))
    blobs = open_blob_store(str(tmp_path / "artifacts"))
    return Monitors(store, blobs, tree, cache_dir=tmp_path / "cache", clock=clock), clock


def test_a_run_evaluates_each_complete_window_once_and_alerts_on_the_second_breach(
    monitors: tuple[Monitors, Clock],
    store: MetadataStore,
    tree: FileTree,
    hook: tuple[str, list[Any]],
    tmp_path: Path,
) -> None:
    service, clock = monitors
    url, bodies = hook
    service.create(
        "churn-drift",
        deployment="churn",
        reference="train.parquet",
        data=_rows(3_000, 0.0, seed=1),
        window="1h",
        rules=_rules(url, tmp_path),
    )
    for hour, shift in enumerate([0.0, 8.0, 8.0]):
        _log_hour(tree, hour, shift)

    clock.now = ms(T0 + timedelta(hours=3, minutes=1))
    outcomes = service.run("churn-drift")

    assert [(o.start, o.end) for o in outcomes] == [
        (ms(T0) + h * HOUR_MS, ms(T0) + (h + 1) * HOUR_MS) for h in range(3)
    ]
    assert [o.result.rows for o in outcomes] == [300, 300, 300]
    assert [o.breaches for o in outcomes] == [(), (), ("data-drift",)]  # consecutive: 2
    assert len(bodies) == 1
    assert bodies[0]["rule"] == "data-drift"
    assert bodies[0]["window"]["end"] == "2026-01-01T03:00:00Z"
    assert store.get_monitor("churn-drift").cursor == ms(T0) + 3 * HOUR_MS
    results = store.list_monitor_results("churn-drift")
    assert [r.breaches for r in results] == [[], [], ["data-drift"]]
    assert results[1].figures["drift.columns.tenure.drifted"] == 1.0
    alerts = store.list_alerts(monitor="churn-drift")
    assert sorted((a.channel, a.status.value) for a in alerts) == [
        ("action", "fired"),
        ("log", "fired"),
        ("webhook", "fired"),
    ]
    events = store.search_audit(action=AuditAction.MONITOR_TRIGGER).items
    assert len(events) == 1
    assert events[0].details["monitor"] == "churn-drift"
    deadline = time.monotonic() + 10
    while not (tmp_path / "triggered").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (tmp_path / "triggered").read_text() == "x"

    # nothing new: a second run evaluates nothing; a re-run of the same windows records and sends nothing
    assert service.run("churn-drift") == []
    store.set_monitor_cursor("churn-drift", ms(T0))
    again = service.run("churn-drift")
    assert [o.recorded for o in again] == [False, False, False]
    assert len(bodies) == 1
    assert len(store.list_alerts(monitor="churn-drift")) == 3


def test_a_rule_in_cooldown_is_suppressed_and_recorded(
    monitors: tuple[Monitors, Clock],
    store: MetadataStore,
    tree: FileTree,
    hook: tuple[str, list[Any]],
    tmp_path: Path,
) -> None:
    service, clock = monitors
    url, bodies = hook
    rules = _rules(url, tmp_path)
    rules["rules"][0]["consecutive"] = 1
    del rules["action"]
    service.create(
        "d", deployment="churn", reference="t.csv", data=_rows(3_000, 0.0, 1), window="1h", rules=rules
    )
    for hour in range(2):
        _log_hour(tree, hour, 8.0)
    clock.now = ms(T0 + timedelta(hours=2))
    outcomes = service.run("d")
    assert [o.alerts for o in outcomes] == [
        (("data-drift", "webhook", "fired"), ("data-drift", "log", "fired")),
        (("data-drift", "cooldown", "suppressed"),),
    ]
    assert len(bodies) == 1
    assert [a.status.value for a in store.list_alerts(monitor="d", rule="data-drift")] == [
        "suppressed",
        "fired",
        "fired",
    ]


def test_windows_wait_for_the_label_delay(
    monitors: tuple[Monitors, Clock], tree: FileTree, tmp_path: Path
) -> None:
    service, clock = monitors
    rules = {"rules": [{"figure": "performance.mae", "above": 0.5}], "delay": "2h"}
    service.create(
        "perf", deployment="churn", reference="t.csv", data=_rows(500, 0.0, 1), window="1h", rules=rules
    )
    _log_hour(tree, 0, 0.0)
    clock.now = ms(T0 + timedelta(hours=3, minutes=30))  # hour 0 ended 2.5 h ago, hour 1 only 1.5 h ago
    outcomes = service.run("perf")
    assert [o.end for o in outcomes] == [ms(T0) + HOUR_MS]
    assert outcomes[0].result.figures["performance.mae"] == 0.0  # labels arrived, and match


def test_backfill_replays_a_file_without_alerting(
    monitors: tuple[Monitors, Clock], store: MetadataStore, hook: tuple[str, list[Any]], tmp_path: Path
) -> None:
    service, _ = monitors
    url, bodies = hook
    rules = _rules(url, tmp_path)
    rules["rules"][0]["consecutive"] = 1
    service.create(
        "bf", deployment="churn", reference="t.csv", data=_rows(3_000, 0.0, 1), window="1D", rules=rules
    )
    history = pd.concat(
        [
            _rows(400, 8.0 * day, seed=day).assign(timestamp=T0 - timedelta(days=3 - day, hours=-1))
            for day in range(3)
        ]
    )
    outcomes = service.backfill("bf", history, start=ms(T0 - timedelta(days=3)), end=ms(T0))
    assert [o.result.rows for o in outcomes] == [400, 400, 400]
    assert [o.breaches for o in outcomes] == [(), ("data-drift",), ("data-drift",)]
    assert bodies == []
    assert store.list_alerts(monitor="bf") == []
    assert len(store.list_monitor_results("bf")) == 3


def test_bad_definitions_are_refused_before_anything_is_stored(
    monitors: tuple[Monitors, Clock], store: MetadataStore
) -> None:
    service, _ = monitors
    rules = {"rules": [{"figure": "drift.share", "above": 0.5}]}
    with pytest.raises(InvalidInput, match="window '1 hour': expected a pandas frequency"):
        service.create(
            "m", deployment="churn", reference="t.csv", data=_rows(10, 0, 1), window="1 hour", rules=rules
        )
    with pytest.raises(InvalidInput, match="expected a model URI"):
        service.create("m", deployment="churn", reference="t.csv", window="1h", rules=rules)
    with pytest.raises(InvalidInput, match=r"rules\[0\]\.figure"):
        service.create(
            "m",
            deployment="churn",
            reference="t.csv",
            data=_rows(10, 0, 1),
            window="1h",
            rules={"rules": [{"figure": "x", "above": 1}]},
        )
    assert store.list_monitors() == []


def test_the_latest_results_are_prometheus_gauges(
    monitors: tuple[Monitors, Clock], store: MetadataStore, tree: FileTree, tmp_path: Path
) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from slipway.monitoring._gauges import prometheus_text

    service, clock = monitors
    rules = {"rules": [{"name": "data-drift", "figure": "drift.share", "above": 0.4}], "cooldown": "1h"}
    service.create(
        "g", deployment="churn", reference="t.csv", data=_rows(3_000, 0.0, 1), window="1h", rules=rules
    )
    _log_hour(tree, 0, 0.0)
    _log_hour(tree, 1, 8.0)
    clock.now = ms(T0 + timedelta(hours=2))
    service.run("g")

    latest = {"g": store.list_monitor_results("g")[-1]}
    families = {
        f.name: f
        for f in text_string_to_metric_families(prometheus_text(store.list_monitors(), latest).decode())
    }
    figures = {s.labels["figure"]: s.value for s in families["slipway_monitor_figure"].samples}
    assert figures["rows"] == 300
    assert figures["drift.columns.tenure.drifted"] == 1.0
    assert {s.labels["deployment"] for s in families["slipway_monitor_figure"].samples} == {"churn"}
    [breach] = families["slipway_monitor_rule_breached"].samples
    assert (breach.labels, breach.value) == ({"monitor": "g", "rule": "data-drift"}, 1.0)
    [end] = families["slipway_monitor_window_end_timestamp_seconds"].samples
    assert end.value == (ms(T0) + 2 * HOUR_MS) / 1000


def _scored(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """A calibrated binary classifier's outputs on rows, with labels drawn from its probabilities."""
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1, n)
    p = 1 / (1 + np.exp(-2 * x))
    scored: pd.DataFrame = pd.DataFrame(
        {
            "x": x,
            "prediction": (p >= 0.5).astype("int64"),
            "proba_0": 1 - p,
            "proba_1": p,
            "label": (rng.random(n) < p).astype("int64"),
        }
    )
    return scored


def test_performance_is_estimated_in_windows_without_labels(
    monitors: tuple[Monitors, Clock], store: MetadataStore, tree: FileTree
) -> None:
    service, clock = monitors
    estimation = _scored(20_000, seed=1)
    rules = {"rules": [{"name": "auc", "figure": "estimated.roc_auc", "below": 0.5}], "cooldown": "1h"}
    service.create(
        "est", deployment="churn", reference="t.csv", data=estimation[["x"]], estimation=estimation,
        window="1h", rules=rules,
    )  # fmt: skip
    window = _scored(2_000, seed=2, shift=1.5)  # the inputs move: fewer hard cases, a higher AUC
    with PredictionLogWriter(tree, deployment="churn") as writer:
        writer.log(
            PredictionBatch(
                request_ids=[f"r{i}" for i in range(len(window))],
                model_name="churn",
                model_version="1",
                variant="primary",
                inputs=window[["x"]],
                outputs={c: window[c].to_numpy() for c in ("prediction", "proba_0", "proba_1")},
                latency_ms=1.0,
                timestamp=T0 + timedelta(minutes=30),
            )
        )
    clock.now = ms(T0 + timedelta(hours=1))
    [outcome] = service.run("est")

    from sklearn.metrics import roc_auc_score

    f = outcome.result.figures
    realised = roc_auc_score(window["label"], window["proba_1"])  # labels the monitor never saw
    assert f["labelled_rows"] == 0
    assert f["estimated.roc_auc"] == pytest.approx(realised, abs=0.02)
    assert f["estimated.roc_auc.lower"] <= realised <= f["estimated.roc_auc.upper"]
    assert outcome.breaches == ()


def test_estimation_data_without_labels_is_refused(monitors: tuple[Monitors, Clock]) -> None:
    service, _ = monitors
    rules = {"rules": [{"figure": "estimated.roc_auc", "below": 0.5}]}
    with pytest.raises(InvalidInput, match="estimation reference: no labels in column 'label'"):
        service.create(
            "e", deployment="churn", reference="t.csv", data=_rows(10, 0, 1),
            estimation=_scored(100, 1).drop(columns="label"), window="1h", rules=rules,
        )  # fmt: skip
