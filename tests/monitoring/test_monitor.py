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
from slipway.models import ReferenceSummary
from slipway.monitoring._monitor import Monitors
from slipway.predlog import PredictionBatch, PredictionLogWriter, log_feedback
from slipway.store import open_metadata_store

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from slipway.artifacts import FileTree
    from slipway.monitoring._monitor import WindowOutcome
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
    clock.now = ms(T0 + timedelta(hours=2, minutes=1))  # the windows have ended, and the grace minute too
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


@pytest.mark.parametrize("window", ["1 hour", "0h", "-1h", "0D", "-1MS"])
def test_a_window_must_be_a_positive_frequency(
    monitors: tuple[Monitors, Clock], store: MetadataStore, window: str
) -> None:
    service, _ = monitors
    rules = {"rules": [{"figure": "drift.share", "above": 0.5}]}
    with pytest.raises(InvalidInput, match=f"window '{window}': expected a positive pandas frequency"):
        service.create(
            "m", deployment="churn", reference="t.csv", data=_rows(10, 0, 1), window=window, rules=rules
        )
    assert store.list_monitors() == []


def test_bad_definitions_are_refused_before_anything_is_stored(
    monitors: tuple[Monitors, Clock], store: MetadataStore
) -> None:
    service, _ = monitors
    rules = {"rules": [{"figure": "drift.share", "above": 0.5}]}
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
    clock.now = ms(T0 + timedelta(hours=2, minutes=1))  # the windows have ended, and the grace minute too
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
    clock.now = ms(T0 + timedelta(hours=1, minutes=1))
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


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"rules": [{"name": "age", "figure": "drift.columns.tenur.score", "above": 0.2}]},
            r"rule 'age' \(drift\.columns\.tenur\.score\): 'tenur' is not one of the columns "
            r".*\(tenure, plan\)",
        ),
        (
            {"rules": [{"figure": "quality.columns.plna.missing_share", "above": 0.2}]},
            r"'plna' is not one of the columns drift and quality are computed on \(tenure, plan\)",
        ),
        (
            {"rules": [{"figure": "prediction_drift.columns.proba_1.score", "above": 0.2}]},
            r"'proba_1' is not one of the model's outputs in the reference \(none\)",
        ),
        (
            {"rules": [{"figure": "performance.rocauc", "below": 0.8}]},
            r"'rocauc' is not one of the metrics of the task \(accuracy, .*roc_auc.*mae",
        ),
        (
            {"rules": [{"figure": "estimated.roc_auc", "below": 0.8}]},
            "estimated figures need an estimation reference",
        ),
        (
            {"rules": [{"figure": "drift.share", "above": 0.5}], "drift": {"methods": {"tenur": "psi"}}},
            r"drift\.methods: 'tenur' is not one of the columns drift is tested on \(tenure, plan\)",
        ),
        (
            {"rules": [{"figure": "drift.share", "above": 0.5}], "drift": {"weights": {"x": 1}}},
            r"drift\.weights: 'x' is not one",
        ),
        (
            {"rules": [{"figure": "drift.share", "above": 0.5}], "drift": {"columns": ["tenure", "pl"]}},
            r"drift\.columns: 'pl' is not one of the reference's columns",
        ),
        (
            {
                "rules": [{"figure": "drift.columns.plan.score", "above": 0.5}],
                "drift": {"columns": ["tenure"]},
            },
            r"'plan' is not one of the columns drift and quality are computed on \(tenure\)",
        ),
    ],
)
def test_names_the_reference_lacks_are_refused_at_create(
    monitors: tuple[Monitors, Clock], store: MetadataStore, document: dict[str, Any], message: str
) -> None:
    service, _ = monitors
    with pytest.raises(InvalidInput, match=message) as caught:
        service.create(
            "m", deployment="churn", reference="t.csv", data=_rows(50, 0, 1), window="1h", rules=document
        )
    assert len(str(caught.value).splitlines()) == 1
    assert store.list_monitors() == []


def test_a_classifier_reference_allows_only_classification_metrics(monitors: tuple[Monitors, Clock]) -> None:
    service, _ = monitors
    scored = _scored(500, seed=1)
    reference = ReferenceSummary.from_frame(scored[["x"]]).with_outputs(scored[["prediction", "proba_1"]])
    with pytest.raises(InvalidInput, match=r"'mae' is not one of the metrics of the task \(accuracy"):
        service.create(
            "m", deployment="churn", reference="t.csv", data=reference, window="1h",
            rules={"rules": [{"figure": "performance.mae", "above": 1}]},
        )  # fmt: skip
    service.create(
        "m", deployment="churn", reference="t.csv", data=reference, window="1h",
        rules={"rules": [{"figure": "performance.roc_auc", "below": 0.7},
                         {"figure": "prediction_drift.columns.proba_1.score", "above": 0.2}]},
    )  # fmt: skip


def test_a_window_waits_a_grace_minute_for_rows_still_being_written(
    monitors: tuple[Monitors, Clock], tree: FileTree
) -> None:
    service, clock = monitors
    rules = {"rules": [{"figure": "drift.share", "above": 0.5}]}  # no delay
    service.create(
        "g", deployment="churn", reference="t.csv", data=_rows(1_000, 0.0, 1), window="1h", rules=rules
    )
    _log_hour(tree, 0, 0.0)
    clock.now = ms(T0 + timedelta(hours=1, seconds=30))  # the writer may still hold the hour's last rows
    assert service.run("g") == []
    clock.now = ms(T0 + timedelta(hours=1, seconds=60))
    assert [(o.end, o.result.rows) for o in service.run("g")] == [(ms(T0) + HOUR_MS, 300)]


def test_a_backfill_into_the_future_stops_at_the_last_complete_window(
    monitors: tuple[Monitors, Clock], store: MetadataStore, tree: FileTree
) -> None:
    service, clock = monitors  # now: T0 + 10 min
    rules = {"rules": [{"figure": "drift.share", "above": 0.5}]}
    service.create(
        "f", deployment="churn", reference="t.csv", data=_rows(1_000, 0.0, 1), window="1h", rules=rules
    )
    done = service.backfill("f", start=ms(T0 - timedelta(hours=2)), end=ms(T0 + timedelta(days=1)))

    assert [o.end for o in done] == [ms(T0) - HOUR_MS, ms(T0)]  # the hour in progress is not recorded
    assert "not complete yet: not evaluated" in done.notes[0]
    assert store.get_monitor("f").cursor == ms(T0)
    assert [r.window_end for r in store.list_monitor_results("f")] == [ms(T0) - HOUR_MS, ms(T0)]
    # the monitor is not muted: the hour's rows are evaluated once it is over
    _log_hour(tree, 0, 0.0)
    clock.now = ms(T0 + timedelta(hours=1, minutes=1))
    assert [(o.end, o.result.rows) for o in service.run("f")] == [(ms(T0) + HOUR_MS, 300)]
    with pytest.raises(InvalidInput, match="no complete 1h window between the two times"):
        service.backfill("f", start=ms(T0 + timedelta(hours=1)), end=ms(T0 + timedelta(days=1)))


def test_history_and_latest_are_read_near_the_window_however_long_the_history(
    monitors: tuple[Monitors, Clock], store: MetadataStore
) -> None:
    """More results than one store page: `consecutive` and `latest` still see the newest windows."""
    from slipway.core import MonitorResult

    service, _ = monitors
    rules = {"rules": [{"name": "quiet", "figure": "rows", "below": 1, "consecutive": 2}]}
    service.create(
        "h", deployment="churn", reference="t.csv", data=_rows(1_000, 0.0, 1), window="1min", rules=rules
    )
    base, minute, n = ms(T0 - timedelta(days=8)), 60_000, 10_050
    for i in range(n):  # empty windows (breaches), then one with rows (within bounds)
        rows = 5.0 if i == n - 1 else 0.0
        store.record_monitor_result(
            MonitorResult(
                monitor="h",
                window_start=base + i * minute,
                window_end=base + (i + 1) * minute,
                figures={"rows": rows},
                breaches=[],
                result={},
                rows=int(rows),
            )
        )
    empty = pd.DataFrame({"tenure": [1.0], "plan": ["basic"], "timestamp": [T0 - timedelta(days=30)]})
    lo = base + n * minute
    [outcome] = service.backfill("h", empty, start=lo, end=lo + minute)

    assert outcome.result.rows == 0
    assert outcome.breaches == ()  # the window before had rows: a run of one, not two
    latest = service.latest(store.get_monitor("h"), 3)
    assert [r.window_start for r in latest] == [lo - 2 * minute, lo - minute, lo]


def test_estimated_thresholds_come_from_windows_of_the_judged_size(
    monitors: tuple[Monitors, Clock], tree: FileTree
) -> None:
    service, clock = monitors
    estimation = _scored(20_000, seed=1)
    rules = {"rules": [{"name": "auc", "figure": "estimated.roc_auc", "below": 0.5}]}
    service.create(
        "sz", deployment="churn", reference="t.csv", data=estimation[["x"]], estimation=estimation,
        window="1h", rules=rules,
    )  # fmt: skip
    with PredictionLogWriter(tree, deployment="churn") as writer:
        for hour, n in enumerate([100, 5_000]):
            window = _scored(n, seed=2 + hour)
            writer.log(
                PredictionBatch(
                    request_ids=[f"r{hour}-{i}" for i in range(n)],
                    model_name="churn",
                    model_version="1",
                    variant="primary",
                    inputs=window[["x"]],
                    outputs={c: window[c].to_numpy() for c in ("prediction", "proba_0", "proba_1")},
                    latency_ms=1.0,
                    timestamp=T0 + timedelta(hours=hour, minutes=30),
                )
            )
    clock.now = ms(T0 + timedelta(hours=2, minutes=1))
    small, large = service.run("sz")

    def width(outcome: WindowOutcome) -> float:
        assert outcome.result.estimated is not None
        auc = outcome.result.estimated.metric("roc_auc")
        assert auc.lower_threshold is not None
        assert auc.upper_threshold is not None
        return auc.upper_threshold - auc.lower_threshold

    # the spread of AUC over 100-row windows is about 7 times that over 5,000-row ones
    assert width(small) > 3 * width(large)


def _log_variant(tree: FileTree, variant: str, shift: float, seed: int) -> None:
    rows = _rows(200, shift, seed)
    with PredictionLogWriter(tree, deployment="churn") as writer:
        writer.log(
            PredictionBatch(
                request_ids=[f"{variant}-{i}" for i in range(len(rows))],
                model_name="churn",
                model_version="2" if variant == "canary" else "1",
                variant=variant,
                inputs=rows,
                outputs={"prediction": np.zeros(len(rows))},
                latency_ms=1.0,
                timestamp=T0 + timedelta(minutes=20),
            )
        )


@pytest.mark.parametrize(
    ("variants", "rows", "drifted"),
    [(None, 400, 0.0), (["canary"], 200, 1.0), (["primary", "batch", "canary"], 600, 1.0)],
)
def test_a_monitor_watches_the_primary_and_batch_variants_unless_told(
    monitors: tuple[Monitors, Clock],
    tree: FileTree,
    variants: list[str] | None,
    rows: int,
    drifted: float,
) -> None:
    service, clock = monitors
    rules: dict[str, Any] = {"rules": [{"figure": "drift.share", "above": 0.9}]}
    if variants is not None:
        rules["variants"] = variants
    service.create(
        "v", deployment="churn", reference="t.csv", data=_rows(3_000, 0.0, 1), window="1h", rules=rules
    )
    _log_variant(tree, "primary", 0.0, seed=2)
    _log_variant(tree, "batch", 0.0, seed=3)
    _log_variant(tree, "canary", 12.0, seed=4)  # a new model on a sliver of traffic
    clock.now = ms(T0 + timedelta(hours=1, minutes=1))
    [outcome] = service.run("v")
    assert outcome.result.rows == rows
    assert outcome.result.figures["drift.columns.tenure.drifted"] == drifted


def _months() -> pd.DataFrame:
    """Three months of history with a month column; tenure moves in the third."""
    frames = [
        _rows(300, 8.0 if m == 3 else 0.0, seed=m + 20).assign(
            month=f"2025-{9 + m:02d}",
            timestamp=[T0 - timedelta(days=100 - 30 * m, hours=i % 24) for i in range(300)],
        )
        for m in range(1, 4)
    ]
    shuffled: pd.DataFrame = pd.concat(frames, ignore_index=True).sample(frac=1.0, random_state=0)
    return shuffled  # out of time order


def test_a_file_is_replayed_by_a_column_each_chunk_over_its_rows_time_range(
    monitors: tuple[Monitors, Clock], store: MetadataStore
) -> None:
    service, _ = monitors
    rules = {"rules": [{"name": "tenure", "figure": "drift.columns.tenure.drifted", "above": 0.5}]}
    service.create(
        "by", deployment="churn", reference="t.csv", data=_rows(3_000, 0.0, 1), window="1h", rules=rules
    )
    history = _months()
    done = service.backfill("by", history, chunker="column:month")

    assert [o.result.rows for o in done] == [300, 300, 300]
    assert [o.breaches for o in done] == [(), (), ("tenure",)]
    for outcome, month in zip(done, ["2025-10", "2025-11", "2025-12"], strict=True):
        stamps = history.loc[history["month"] == month, "timestamp"]
        assert outcome.start == ms(stamps.min())
        assert outcome.end == ms(stamps.max()) + 1
    assert [r.window_start for r in store.list_monitor_results("by")] == [o.start for o in done]
    again = service.backfill("by", history, chunker="column:month")  # the same chunks: recorded once
    assert [o.recorded for o in again] == [False, False, False]

    by_rows = service.backfill("by", history, chunker="rows:450")  # in time order, whatever the file's
    assert [o.result.rows for o in by_rows] == [450, 450]
    assert by_rows[0].end <= by_rows[1].start + 1


def test_replaying_by_chunks_needs_a_file_with_timestamps(monitors: tuple[Monitors, Clock]) -> None:
    service, _ = monitors
    rules = {"rules": [{"figure": "drift.share", "above": 0.5}]}
    service.create(
        "by", deployment="churn", reference="t.csv", data=_rows(1_000, 0.0, 1), window="1h", rules=rules
    )
    with pytest.raises(InvalidInput, match="expected a timestamp column"):
        service.backfill("by", _months().drop(columns="timestamp"), chunker="column:month")
    with pytest.raises(InvalidInput, match="expected a file to replay"):
        service.backfill("by", chunker="column:month")
    with pytest.raises(InvalidInput, match="chunker 'weeks:2'"):
        service.backfill("by", _months(), chunker="weeks:2")


def test_chunks_that_end_after_now_are_left_out(monitors: tuple[Monitors, Clock]) -> None:
    service, _ = monitors  # now: T0 + 10 min
    rules = {"rules": [{"figure": "drift.share", "above": 0.5}]}
    service.create(
        "by", deployment="churn", reference="t.csv", data=_rows(1_000, 0.0, 1), window="1h", rules=rules
    )
    history = _rows(200, 0.0, 2).assign(
        month=["old"] * 100 + ["current"] * 100,
        timestamp=[T0 - timedelta(days=40)] * 100 + [T0 + timedelta(minutes=9, seconds=30)] * 100,
    )
    done = service.backfill("by", history, chunker="column:month")
    assert [o.result.rows for o in done] == [100]
    assert done.notes == (
        "1 chunk(s) ending after now (less the delay and the grace period) are not complete yet: "
        "not evaluated",
    )


def test_column_weights_and_kinds_from_the_rules_reach_the_drift_figures(
    monitors: tuple[Monitors, Clock],
) -> None:
    service, _ = monitors
    rules = {
        "rules": [{"figure": "drift.share", "above": 0.4}],
        "drift": {"weights": {"tenure": 0}, "kinds": {"plan": "categorical"}},
    }
    service.create(
        "w", deployment="churn", reference="t.csv", data=_rows(3_000, 0.0, 1), window="1h", rules=rules
    )
    shifted = _rows(500, 8.0, seed=5).assign(timestamp=T0 - timedelta(hours=5, minutes=30))
    [outcome] = service.backfill(
        "w", shifted, start=ms(T0 - timedelta(hours=6)), end=ms(T0 - timedelta(hours=5))
    )
    assert outcome.result.figures["drift.columns.tenure.drifted"] == 1.0
    assert outcome.result.figures["drift.share"] == 0.0  # tenure weighs nothing
    assert outcome.breaches == ()
