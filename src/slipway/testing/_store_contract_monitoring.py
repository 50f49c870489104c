"""The monitoring part of the metadata-store contract: monitors, window results, alerts, triggers.

Every test works on monitors of its own (unique names), so the suite runs against a shared
database or a remote server that other tests use at the same time.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

import pytest

from slipway.core import AlertStatus, AuditAction, Monitor, MonitorResult
from slipway.errors import AlreadyExists, InvalidInput, MonitorNotFound

if TYPE_CHECKING:
    from collections.abc import Callable

    from slipway.store import MetadataStore

_HOUR = 3_600_000
_T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def new_monitor_name() -> str:
    """A monitor name no other test (or test session) shares."""
    return f"contract-monitor-{uuid.uuid4().hex}"


def monitor(name: str, **fields: Any) -> Monitor:
    """A monitor definition as ``slipway monitor create`` would store it."""
    fields.setdefault("deployment", "churn")
    fields.setdefault("reference", "models:/churn@production")
    fields.setdefault("window", "1h")
    return Monitor(name=name, **fields)


def result(name: str, hour: int, **fields: Any) -> MonitorResult:
    """The result of the ``hour``-th one-hour window after _T0."""
    fields.setdefault("figures", {"drift.share": 0.1 * hour, "performance.roc_auc": None})
    fields.setdefault("rows", 100 + hour)
    return MonitorResult(
        monitor=name, window_start=_T0 + hour * _HOUR, window_end=_T0 + (hour + 1) * _HOUR, **fields
    )


def _now() -> int:
    return time.time_ns() // 1_000_000


def _threads(work: Callable[[], None], n: int) -> list[BaseException]:
    """Run ``work`` on ``n`` threads released together; the failures they raised."""
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(timeout=30)
            work()
        except BaseException as exc:  # collected: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


class MonitoringContract:
    """Monitor definitions, idempotent window results with a forward-only cursor, alerts, triggers."""

    # ------------------------------------------------------------------ definitions

    def test_a_monitor_round_trips(self, store: MetadataStore) -> None:
        name = new_monitor_name()
        rules = [
            {"name": "data-drift", "figure": "drift.share", "above": 0.5, "min_rows": 500, "consecutive": 2},
            {"figure": "performance.roc_auc", "below": 0.8, "severity": "critical"},
        ]
        actions = [{"command": ["slipway", "pipeline", "run", "retrain.py:pipeline"]}]
        options = {"drift": {"mode": "default", "alpha": 0.05}, "cooldown": "1h", "nested": [1, None, "x"]}
        digest = hashlib.sha256(b"reference").hexdigest()
        before = _now()

        created = store.create_monitor(
            monitor(
                name,
                rules=rules,
                actions=actions,
                options=options,
                reference_digest=digest,
                description="churn drift, hourly",
                created_at=1,  # ignored: the store's clock says when
                updated_at=2,
            )
        )

        assert (created.name, created.deployment, created.reference, created.window) == (
            name,
            "churn",
            "models:/churn@production",
            "1h",
        )
        assert (created.rules, created.actions, created.options) == (rules, actions, options)
        assert (created.reference_digest, created.description, created.cursor) == (
            digest,
            "churn drift, hourly",
            None,
        )
        assert before - 5_000 <= created.created_at == created.updated_at <= _now() + 5_000
        assert store.get_monitor(name) == created
        assert created in store.list_monitors()

    def test_monitors_are_listed_by_name(self, store: MetadataStore) -> None:
        stem = new_monitor_name()
        for suffix in ("b", "a", "c"):
            store.create_monitor(monitor(f"{stem}-{suffix}"))

        mine = [m.name for m in store.list_monitors() if m.name.startswith(stem)]
        assert mine == [f"{stem}-a", f"{stem}-b", f"{stem}-c"]

    def test_a_taken_name_is_already_exists_unless_replaced(self, store: MetadataStore) -> None:
        name = new_monitor_name()
        first = store.create_monitor(monitor(name, window="1h", cursor=_T0))
        store.record_monitor_result(result(name, 0))

        with pytest.raises(AlreadyExists, match=name):
            store.create_monitor(monitor(name, window="1D"))
        assert store.get_monitor(name).window == "1h"  # unchanged

        time.sleep(0.01)
        replaced = store.create_monitor(
            monitor(name, window="1D", deployment="fraud", rules=[{"figure": "drift.share", "above": 0.3}]),
            replace=True,
        )

        assert (replaced.window, replaced.deployment, replaced.rules) == (
            "1D",
            "fraud",
            [{"figure": "drift.share", "above": 0.3}],
        )
        assert replaced.created_at == first.created_at
        assert replaced.updated_at > first.updated_at
        assert replaced.cursor == _T0 + _HOUR  # the evaluated windows stay evaluated
        assert store.get_monitor(name) == replaced
        assert len(store.list_monitor_results(name)) == 1

    def test_replace_creates_a_missing_monitor(self, store: MetadataStore) -> None:
        name = new_monitor_name()

        created = store.create_monitor(monitor(name, cursor=_T0), replace=True)

        assert created.cursor == _T0
        assert store.get_monitor(name) == created

    def test_threads_creating_one_monitor_at_once_leave_exactly_one(self, store: MetadataStore) -> None:
        name = new_monitor_name()
        won: list[int] = []
        lost: list[int] = []

        def work() -> None:
            try:
                store.create_monitor(monitor(name))
                won.append(1)
            except AlreadyExists:
                lost.append(1)

        assert _threads(work, 6) == []
        assert (len(won), len(lost)) == (1, 5)

    def test_unknown_monitors_are_not_found(self, store: MetadataStore) -> None:
        name = new_monitor_name()

        with pytest.raises(MonitorNotFound, match=name):
            store.get_monitor(name)
        with pytest.raises(MonitorNotFound, match=name):
            store.delete_monitor(name)
        with pytest.raises(MonitorNotFound, match=name):
            store.set_monitor_cursor(name, _T0)
        with pytest.raises(MonitorNotFound, match=name):
            store.record_monitor_result(result(name, 0))
        with pytest.raises(MonitorNotFound, match=name):
            store.list_monitor_results(name)
        with pytest.raises(MonitorNotFound, match=name):
            store.record_alert(monitor=name, rule="r", window_end=_T0, status="fired", channel="log")
        assert store.list_alerts(monitor=name) == []

    @pytest.mark.parametrize(
        "bad",
        [
            {"name": ""},
            {"name": "-leading-dash"},
            {"name": "has space"},
            {"name": "a/b"},
            {"name": "n" * 129},
            {"deployment": ""},
            {"deployment": "with/slash"},
            {"reference": ""},
            {"window": ""},
            {"window": "  "},
            {"window": " 1h"},
            {"rules": [1]},
            {"rules": {"figure": "drift.share"}},
            {"actions": ["retrain"]},
            {"options": [1, 2]},
            {"reference_digest": "abc"},
            {"description": "x\x00y"},
        ],
    )
    def test_bad_definitions_are_invalid_and_write_nothing(
        self, store: MetadataStore, bad: dict[str, Any]
    ) -> None:
        fields = {"name": new_monitor_name(), **bad}

        with pytest.raises(InvalidInput):
            store.create_monitor(monitor(**fields))
        with pytest.raises(MonitorNotFound):
            store.get_monitor(fields["name"])

    def test_delete_removes_the_monitor_its_results_and_alerts(self, store: MetadataStore) -> None:
        name, other = new_monitor_name(), new_monitor_name()
        for n in (name, other):
            store.create_monitor(monitor(n))
            store.record_monitor_result(result(n, 0))
            store.record_alert(monitor=n, rule="drift", window_end=_T0 + _HOUR, status="fired", channel="log")

        store.delete_monitor(name)

        with pytest.raises(MonitorNotFound):
            store.get_monitor(name)
        assert name not in [m.name for m in store.list_monitors()]
        assert store.list_alerts(monitor=name) == []
        assert len(store.list_monitor_results(other)) == 1  # others keep theirs
        assert len(store.list_alerts(monitor=other)) == 1
        # the name is free again, with nothing of the old monitor
        store.create_monitor(monitor(name))
        assert store.list_monitor_results(name) == []
        assert store.get_monitor(name).cursor is None

    # ------------------------------------------------------------------ results and the cursor

    def test_a_result_round_trips_and_moves_the_cursor(self, store: MetadataStore) -> None:
        name = new_monitor_name()
        store.create_monitor(monitor(name))
        full = {
            "drift": {"share": 0.5, "columns": {"age": {"test": "ks", "p_value": 1e-12, "drifted": True}}},
            "quality": {"missing": {"age": 0.0}},
            "not_enough_data": [],
        }
        recorded = result(
            name,
            2,
            figures={"drift.share": 0.5, "drift.column.age.score": 0.31, "performance.roc_auc": None},
            breaches=["data-drift"],
            result=full,
            rows=1234,
            created_at=_T0 + 3 * _HOUR + 5,
        )

        assert store.record_monitor_result(recorded) is True

        assert store.list_monitor_results(name) == [recorded]
        assert store.get_monitor(name).cursor == recorded.window_end

    def test_created_at_zero_is_stamped_by_the_store(self, store: MetadataStore) -> None:
        name = new_monitor_name()
        store.create_monitor(monitor(name))
        before = _now()

        store.record_monitor_result(result(name, 0))

        (got,) = store.list_monitor_results(name)
        assert before - 5_000 <= got.created_at <= _now() + 5_000

    def test_recording_a_window_again_changes_nothing(self, store: MetadataStore) -> None:
        name = new_monitor_name()
        store.create_monitor(monitor(name))
        first = result(name, 0, figures={"drift.share": 0.2}, breaches=[], created_at=_T0 + _HOUR)

        assert store.record_monitor_result(first) is True
        again = result(
            name, 0, figures={"drift.share": 0.9}, breaches=["data-drift"], created_at=_T0 + 2 * _HOUR
        )
        assert store.record_monitor_result(again) is False

        assert store.list_monitor_results(name) == [first]
        assert store.get_monitor(name).cursor == first.window_end
        # another window with the same start (a different chunking) is another result
        longer = MonitorResult(monitor=name, window_start=first.window_start, window_end=_T0 + 2 * _HOUR)
        assert store.record_monitor_result(longer) is True

    def test_the_cursor_only_moves_forward(self, store: MetadataStore) -> None:
        name = new_monitor_name()
        store.create_monitor(monitor(name))

        store.record_monitor_result(result(name, 5))
        assert store.get_monitor(name).cursor == _T0 + 6 * _HOUR
        store.record_monitor_result(result(name, 2))  # a backfill of an older window
        assert store.get_monitor(name).cursor == _T0 + 6 * _HOUR
        store.record_monitor_result(result(name, 7))
        assert store.get_monitor(name).cursor == _T0 + 8 * _HOUR

    def test_the_cursor_is_set_for_backfill_and_reset(self, store: MetadataStore) -> None:
        name = new_monitor_name()
        store.create_monitor(monitor(name))
        for hour in range(3):
            store.record_monitor_result(result(name, hour))

        back = store.set_monitor_cursor(name, _T0 + _HOUR)
        assert back.cursor == _T0 + _HOUR == store.get_monitor(name).cursor
        # re-running a recorded window after a reset keeps its result but catches the cursor up
        assert store.record_monitor_result(result(name, 1, figures={"drift.share": 9.0})) is False
        assert store.get_monitor(name).cursor == _T0 + 2 * _HOUR
        assert store.list_monitor_results(name)[1].figures == result(name, 1).figures

        assert store.set_monitor_cursor(name, None).cursor is None
        assert store.get_monitor(name).cursor is None
        assert len(store.list_monitor_results(name)) == 3

    def test_threads_recording_one_window_get_exactly_one_true(self, store: MetadataStore) -> None:
        name = new_monitor_name()
        store.create_monitor(monitor(name))
        answers: list[bool] = []

        def work() -> None:
            for hour in range(3):
                answers.append(store.record_monitor_result(result(name, hour)))

        assert _threads(work, 6) == []
        assert sorted(answers) == [False] * 15 + [True] * 3
        assert [r.window_start for r in store.list_monitor_results(name)] == [
            _T0 + h * _HOUR for h in range(3)
        ]
        assert store.get_monitor(name).cursor == _T0 + 3 * _HOUR

    def test_threads_recording_windows_out_of_order_leave_the_latest_end(self, store: MetadataStore) -> None:
        name = new_monitor_name()
        store.create_monitor(monitor(name))
        hours = iter(range(24))
        lock = threading.Lock()

        def work() -> None:
            while True:
                with lock:
                    hour = next(hours, None)
                if hour is None:
                    return
                assert store.record_monitor_result(result(name, 23 - hour)) is True

        assert _threads(work, 4) == []
        assert store.get_monitor(name).cursor == _T0 + 24 * _HOUR
        assert len(store.list_monitor_results(name)) == 24

    def test_results_come_oldest_first_and_filter_on_window_start(self, store: MetadataStore) -> None:
        name, other = new_monitor_name(), new_monitor_name()
        store.create_monitor(monitor(name))
        store.create_monitor(monitor(other))
        for hour in (3, 0, 4, 1, 2):
            store.record_monitor_result(result(name, hour))
        store.record_monitor_result(result(other, 0))

        starts = [r.window_start for r in store.list_monitor_results(name)]
        assert starts == [_T0 + h * _HOUR for h in range(5)]
        assert all(r.monitor == name for r in store.list_monitor_results(name))

        def hours(**filters: Any) -> list[int]:
            return [(r.window_start - _T0) // _HOUR for r in store.list_monitor_results(name, **filters)]

        assert hours(since=_T0 + _HOUR) == [1, 2, 3, 4]
        assert hours(since=_T0 + _HOUR + 1) == [2, 3, 4]
        assert hours(until=_T0 + 2 * _HOUR) == [0, 1]  # exclusive
        assert hours(since=_T0 + _HOUR, until=_T0 + 3 * _HOUR) == [1, 2]
        assert hours(max_results=2) == [0, 1]
        assert hours(since=_T0 + 2 * _HOUR, max_results=2) == [2, 3]
        for bad in (0, 10_001):
            with pytest.raises(InvalidInput, match="max_results"):
                store.list_monitor_results(name, max_results=bad)

    @pytest.mark.parametrize(
        "bad",
        [
            {"window_start": _T0 + _HOUR, "window_end": _T0},
            {"window_end": 2**63},
            {"rows": -1},
            {"figures": {"drift.share": "high"}},
            {"figures": {"": 1.0}},
            {"breaches": "data-drift"},
            {"result": {"x": object()}},
        ],
    )
    def test_bad_results_are_invalid_and_write_nothing(
        self, store: MetadataStore, bad: dict[str, Any]
    ) -> None:
        name = new_monitor_name()
        store.create_monitor(monitor(name))
        fields: dict[str, Any] = {"monitor": name, "window_start": _T0, "window_end": _T0 + _HOUR, **bad}

        with pytest.raises(InvalidInput):
            store.record_monitor_result(MonitorResult(**fields))

        assert store.list_monitor_results(name) == []
        assert store.get_monitor(name).cursor is None

    def test_non_finite_figures_round_trip(self, store: MetadataStore) -> None:
        name = new_monitor_name()
        store.create_monitor(monitor(name))
        store.record_monitor_result(result(name, 0, figures={"drift.column.x.kl": float("inf"), "m": -0.0}))

        (got,) = store.list_monitor_results(name)
        assert got.figures == {"drift.column.x.kl": float("inf"), "m": 0.0}

    # ------------------------------------------------------------------ alerts

    def test_an_alert_round_trips_with_a_store_id(self, store: MetadataStore) -> None:
        name = new_monitor_name()
        store.create_monitor(monitor(name))
        before = _now()

        alert = store.record_alert(
            monitor=name,
            rule="data-drift",
            window_end=_T0 + _HOUR,
            status=AlertStatus.FIRED,
            channel="webhook",
            message="drift.share 0.62 above 0.5 for 2 windows",
            details={"url": "https://example.com/hook", "value": 0.62, "http_status": 200},
        )

        assert (alert.monitor, alert.rule, alert.window_end, alert.channel) == (
            name,
            "data-drift",
            _T0 + _HOUR,
            "webhook",
        )
        assert alert.status is AlertStatus.FIRED
        assert isinstance(alert.status, str)
        assert alert.status.value == "fired"  # a str enum: "fired" works wherever a status goes
        assert alert.details == {"url": "https://example.com/hook", "value": 0.62, "http_status": 200}
        assert before - 5_000 <= alert.at <= _now() + 5_000
        assert store.list_alerts(monitor=name) == [alert]

    def test_alerts_come_newest_first_and_filter(self, store: MetadataStore) -> None:
        name, other = new_monitor_name(), new_monitor_name()
        store.create_monitor(monitor(name))
        store.create_monitor(monitor(other))

        def alert(rule: str, status: str, at: int, who: str = name) -> Any:
            return store.record_alert(
                monitor=who, rule=rule, window_end=at, status=status, channel="log", at=at
            )

        a = alert("drift", "fired", _T0)
        b = alert("drift", "suppressed", _T0 + 1)
        c = alert("auc", "failed", _T0 + 2)
        d = alert("drift", "fired", _T0 + 3)
        e = alert("drift", "fired", _T0 + 3)  # same time: the later id is newer
        alert("drift", "fired", _T0 + 4, who=other)

        assert a.id < b.id < c.id < d.id < e.id
        assert store.list_alerts(monitor=name) == [e, d, c, b, a]
        assert store.list_alerts(monitor=name, rule="drift") == [e, d, b, a]
        assert store.list_alerts(monitor=name, rule="drift", status="fired", max_results=1) == [e]
        assert store.list_alerts(monitor=name, status=AlertStatus.SUPPRESSED) == [b]
        assert store.list_alerts(monitor=name, since=_T0 + 2) == [e, d, c]
        assert store.list_alerts(monitor=name, rule=f"nothing-{uuid.uuid4().hex}") == []
        shared = f"rule-{uuid.uuid4().hex}"  # unfiltered by monitor: both monitors' alerts
        f = alert(shared, "fired", _T0 + 5, who=other)
        g = alert(shared, "fired", _T0 + 6)
        assert store.list_alerts(rule=shared) == [g, f]
        with pytest.raises(InvalidInput, match="alert status"):
            store.list_alerts(monitor=name, status="sent")
        for bad in (0, 10_001):
            with pytest.raises(InvalidInput, match="max_results"):
                store.list_alerts(monitor=name, max_results=bad)

    @pytest.mark.parametrize(
        "bad",
        [
            {"status": "sent"},
            {"rule": ""},
            {"channel": ""},
            {"channel": "c" * 65},
            {"details": {"x": object()}},
            {"window_end": "soon"},
        ],
    )
    def test_bad_alerts_are_invalid_and_write_nothing(
        self, store: MetadataStore, bad: dict[str, Any]
    ) -> None:
        name = new_monitor_name()
        store.create_monitor(monitor(name))
        fields: dict[str, Any] = {
            "monitor": name,
            "rule": "drift",
            "window_end": _T0,
            "status": "fired",
            "channel": "log",
            **bad,
        }

        with pytest.raises(InvalidInput):
            store.record_alert(**fields)
        assert store.list_alerts(monitor=name) == []

    # ------------------------------------------------------------------ the trigger in the audit log

    def test_a_trigger_is_appended_to_the_audit_log(self, store: MetadataStore) -> None:
        model = f"contract-model-{uuid.uuid4().hex}"  # need not be registered
        details = {"monitor": "churn-drift", "rule": "data-drift", "window_end": _T0, "pipeline": "retrain"}

        event = store.record_audit_event(
            model=model,
            action=AuditAction.MONITOR_TRIGGER,
            actor="ada",
            reason="drift.share above 0.5 for 2 windows",
            version=3,
            details=details,
        )

        assert (event.action, event.model, event.version, event.alias, event.previous_version) == (
            AuditAction.MONITOR_TRIGGER,
            model,
            3,
            None,
            None,
        )
        assert (event.actor, event.reason, event.details) == (
            self.expected_actor("ada"),
            "drift.share above 0.5 for 2 windows",
            details,
        )
        assert abs(event.at - _now()) < 60_000
        assert store.search_audit(model=model).items == [event]
        assert store.search_audit(model=model, action=AuditAction.MONITOR_TRIGGER).items == [event]
        assert store.record_audit_event(model=model, action="monitor.trigger", actor="ada").id > event.id  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        "action",
        [a for a in AuditAction if not a.external],
    )
    def test_actions_the_store_writes_itself_are_refused(
        self, store: MetadataStore, action: AuditAction
    ) -> None:
        model = f"contract-model-{uuid.uuid4().hex}"

        with pytest.raises(InvalidInput, match="record_audit_event"):
            store.record_audit_event(model=model, action=action, actor="ada", version=1)
        assert store.search_audit(model=model).items == []

    def test_bad_trigger_input_is_invalid(self, store: MetadataStore) -> None:
        with pytest.raises(InvalidInput, match="audit action"):
            store.record_audit_event(model="churn", action="retrain", actor="ada")  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="model name"):
            store.record_audit_event(model="bad name", action=AuditAction.MONITOR_TRIGGER, actor="ada")
        model = f"contract-model-{uuid.uuid4().hex}"
        with pytest.raises(InvalidInput):
            store.record_audit_event(
                model=model, action=AuditAction.MONITOR_TRIGGER, actor="ada", details={"x": object()}
            )
        assert store.search_audit(model=model).items == []

    def expected_actor(self, claimed: str) -> str:
        """The actor the store records when a caller claims ``claimed`` (RegistryContract's hook)."""
        return claimed
