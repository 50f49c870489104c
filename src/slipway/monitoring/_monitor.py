"""Monitors: a deployment's prediction log watched window by window against a reference, under rules.

``create`` stores the definition; ``run`` evaluates every complete window since the monitor's
cursor, records each window's result once (re-running the same window changes nothing, in this
process or any other: the store decides), judges the rules over consecutive windows, and fires
alerts with a cooldown per rule; ``backfill`` replays history (the log between two dates, or a
file) without alerting.

The reference is summarised once. A model URI (``models:/churn@production``) uses the summary saved
with the model when it was logged; its digest is recorded on each run, so a moved alias (a new
champion with a new training set) is visible in the results. A data file is summarised when the
monitor is created and kept in the blob store by digest.

Labels arrive late, so a window is evaluated only once ``delay`` has passed after its end (0 by
default): a monitor of measured performance sets a delay as long as its labels take, and a drift
monitor on the same deployment keeps none.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from slipway.core import AlertStatus, AuditAction, Monitor, MonitorResult, now_ms
from slipway.errors import InvalidInput
from slipway.monitoring._alerts import Verdict, deliver, judge, payload
from slipway.monitoring._rules import MonitorRules, parse_rules
from slipway.monitoring._window import WindowResult, evaluate_window

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

    import pandas as pd

    from slipway.artifacts import BlobStore, FileTree
    from slipway.models import ReferenceSummary
    from slipway.monitoring._dle import DLE
    from slipway.monitoring._estimate import CBPE
    from slipway.store import MetadataStore

__all__ = ["Monitors", "WindowOutcome"]

_HISTORY = 50  # earlier windows read to judge `consecutive` rules
_MAX_WINDOWS = 10_000  # windows one run evaluates at most (a monitor left alone for years)
_LABEL_HORIZON_MS = 30 * 86_400_000  # a backfill joins labels that arrived within 30 days (or the delay)
_ESTIMATION_ROWS = 50_000  # rows of estimation data kept with a monitor
_ESTIMATION_CHUNKS = "count:10"  # reference windows the estimator's alert thresholds come from


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowOutcome:
    """What one window of a run produced: its result, whether it was new, and the alerts sent."""

    start: int
    end: int
    result: WindowResult
    recorded: bool
    breaches: tuple[str, ...]
    alerts: tuple[tuple[str, str, str], ...] = field(default=())  # (rule, channel, status)


class Monitors:
    """Create, run and backfill monitors over a metadata store, a blob store and the prediction log.

    Args:
        store: where monitors, their results and alerts live (and the audit log).
        blobs: where reference summaries of data files are kept, and registered models' files.
        log: the prediction log's file tree.
        cache_dir: where registered models are downloaded to read their reference summary.
        actor: who the audit log says started an action.
    """

    def __init__(
        self,
        store: MetadataStore,
        blobs: BlobStore,
        log: FileTree,
        *,
        cache_dir: Path,
        actor: str = "slipway-monitor",
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.log = log
        self.cache_dir = cache_dir
        self.actor = actor
        self.clock = clock

    # ------------------------------------------------------------------ definition
    def create(
        self,
        name: str,
        *,
        deployment: str,
        reference: str,
        window: str,
        rules: Mapping[str, Any],
        data: pd.DataFrame | ReferenceSummary | None = None,
        estimation: pd.DataFrame | None = None,
        description: str = "",
        replace: bool = False,
        source: str = "rules",
    ) -> Monitor:
        """Check everything (window, rules, reference) and store the monitor; it starts now.

        ``reference`` is a model URI, or names the data file whose rows (or summary) ``data`` holds.
        ``estimation`` is labelled data the model did not train on, with its outputs (``proba_<class>``
        for a binary classifier, ``prediction`` and the features for a regressor): performance is
        then estimated in every window before its labels arrive (``estimated.*`` figures).
        """
        from slipway.models import as_reference

        parsed = parse_rules(dict(rules), source=source)
        offset = _offset(window)
        digest = None
        if _is_model(reference):
            self._model_reference(reference)  # fails now, not at the first run, if it has none
        elif data is None:
            raise InvalidInput(f"reference {reference!r}: expected a model URI (models:/NAME@ALIAS) or data")
        else:
            digest = self.blobs.put_bytes(as_reference(data).to_bytes()).digest
        options: dict[str, Any] = {"document": dict(rules), "rules": _summary(parsed)}
        if estimation is not None:
            _estimator(estimation, parsed)  # fit once now: a reference it cannot learn from fails here
            kept = as_reference(estimation, max_rows=_ESTIMATION_ROWS)
            options["estimation_digest"] = self.blobs.put_bytes(kept.to_bytes()).digest
        start = _floor(self.clock(), offset)
        return self.store.create_monitor(
            Monitor(
                name=name,
                deployment=deployment,
                reference=reference,
                window=window,
                rules=[dict(r) for r in rules["rules"]],
                actions=[{"alerts": rules.get("alerts")}, {"action": rules.get("action")}],
                options=options,
                cursor=start,
                reference_digest=digest,
                description=description,
            ),
            replace=replace,
        )

    def rules(self, monitor: Monitor) -> MonitorRules:
        return parse_rules(monitor.options.get("document") or {}, source=f"monitor {monitor.name}")

    def reference(self, monitor: Monitor) -> tuple[ReferenceSummary, str]:
        """The monitor's reference summary and its digest (a model's, resolved now)."""
        from slipway.models import ReferenceSummary

        if _is_model(monitor.reference):
            return self._model_reference(monitor.reference)
        if monitor.reference_digest is None:
            raise InvalidInput(f"monitor {monitor.name}: no reference summary stored; create it again")
        data = self.blobs.get_bytes(monitor.reference_digest)
        return ReferenceSummary.from_bytes(data, source=monitor.reference), monitor.reference_digest

    def estimator(self, monitor: Monitor, rules: MonitorRules) -> CBPE | DLE | None:
        """The performance estimator fitted on the monitor's estimation data (None without it)."""
        from slipway.models import ReferenceSummary

        digest = monitor.options.get("estimation_digest")
        if not digest or not rules.performance.estimate:
            return None
        data = ReferenceSummary.from_bytes(self.blobs.get_bytes(digest), source=f"monitor {monitor.name}")
        return _estimator(data.sample, rules)

    def _model_reference(self, uri: str) -> tuple[ReferenceSummary, str]:
        from slipway.models import REFERENCE_FILE
        from slipway.registry import Registry

        if uri.startswith("models:"):
            model = Registry(self.store, self.blobs).load(uri, cache_dir=self.cache_dir)
        else:
            from slipway.models import load_model

            model = load_model(uri, store=self.store, blobs=self.blobs, cache_dir=self.cache_dir)
        summary = model.reference()
        if summary is None:
            raise InvalidInput(
                f"reference {uri}: the model was saved without training_data, so it has no reference "
                "summary; log it with training_data=..., or give a data file as the reference"
            )
        digest = hashlib.sha256((model.path / REFERENCE_FILE).read_bytes()).hexdigest()
        return summary, digest

    # ------------------------------------------------------------------ evaluation
    def run(self, name: str, *, until: int | None = None) -> list[WindowOutcome]:
        """Evaluate every complete window since the cursor (up to ``until``, default now)."""
        monitor = self.store.get_monitor(name)
        rules = self.rules(monitor)
        offset = _offset(monitor.window)
        now = self.clock() if until is None else until
        start = monitor.cursor if monitor.cursor is not None else _floor(now, offset)
        bounds = _windows(start, now - int(rules.delay_s * 1000), offset)
        if not bounds:
            return []
        reference, digest = self.reference(monitor)
        estimator = self.estimator(monitor, rules)
        outcomes = []
        for lo, hi in bounds:  # one window in memory at a time
            rows = self._read(monitor.deployment, lo, hi, now)
            outcomes.append(
                self._evaluate(monitor, rules, reference, digest, estimator, rows, lo, hi, alert=True)
            )
        return outcomes

    def backfill(
        self, name: str, frame: pd.DataFrame | None = None, *, start: int, end: int
    ) -> list[WindowOutcome]:
        """Evaluate the windows in ``[start, end)`` of the log (or of ``frame``); records, never alerts."""
        monitor = self.store.get_monitor(name)
        rules = self.rules(monitor)
        offset = _offset(monitor.window)
        bounds = _windows(_floor(start, offset), end, offset)
        if not bounds:
            raise InvalidInput(f"backfill: no complete {monitor.window} window between the two times")
        reference, digest = self.reference(monitor)
        estimator = self.estimator(monitor, rules)
        given = None if frame is None else _stamped(frame)
        horizon = max(int(rules.delay_s * 1000), _LABEL_HORIZON_MS)
        outcomes = []
        for lo, hi in bounds:  # one window in memory at a time, however long the log
            rows = (
                self._read(monitor.deployment, lo, hi, hi + horizon)
                if given is None
                else _slice(given, lo, hi)
            )
            outcomes.append(
                self._evaluate(monitor, rules, reference, digest, estimator, rows, lo, hi, alert=False)
            )
        return outcomes

    def _read(self, deployment: str, lo: int, hi: int, labels_until: int) -> pd.DataFrame:
        """The window's predictions with the labels that arrived for them by ``labels_until``."""
        from slipway.predlog import join_feedback, read_feedback, read_predictions

        def at(ms: int) -> datetime:
            return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)

        predictions = read_predictions(self.log, deployment=deployment, start=at(lo), end=at(hi))
        ids: list[str] = predictions["request_id"].astype(str).unique().tolist() if len(predictions) else []
        feedback = read_feedback(
            self.log, deployment=deployment, start=at(lo), end=at(max(labels_until, hi)), request_ids=ids
        )
        return _stamped(join_feedback(predictions, feedback))

    def _evaluate(
        self,
        monitor: Monitor,
        rules: MonitorRules,
        reference: ReferenceSummary,
        digest: str,
        estimator: CBPE | DLE | None,
        rows: pd.DataFrame,
        lo: int,
        hi: int,
        *,
        alert: bool,
    ) -> WindowOutcome:
        result = evaluate_window(reference, rows, rules, estimator=estimator)
        earlier = self.store.list_monitor_results(monitor.name, until=lo, max_results=10_000)[-_HISTORY:]
        history = [r.figures for r in reversed(earlier)]
        verdicts = judge(rules.rules, result.figures, history)
        fires = [v for v in verdicts if v.fires]
        recorded = self.store.record_monitor_result(
            MonitorResult(
                monitor=monitor.name,
                window_start=lo,
                window_end=hi,
                figures=result.figures,
                breaches=[v.rule.name for v in fires],
                result={**result.to_dict(), "reference_digest": digest},
                rows=result.rows,
            )
        )
        sent: list[tuple[str, str, str]] = []
        if recorded and alert and fires:
            sent = self._alert(monitor, rules, fires, lo, hi)
        return WindowOutcome(
            start=lo,
            end=hi,
            result=result,
            recorded=recorded,
            breaches=tuple(v.rule.name for v in fires),
            alerts=tuple(sent),
        )

    def _alert(
        self, monitor: Monitor, rules: MonitorRules, fires: list[Verdict], lo: int, hi: int
    ) -> list[tuple[str, str, str]]:
        sent: list[tuple[str, str, str]] = []
        now = self.clock()
        started = False
        for verdict in fires:
            rule = verdict.rule.name
            body = payload(
                monitor=monitor.name,
                deployment=monitor.deployment,
                verdict=verdict,
                window_start=lo,
                window_end=hi,
            )
            last = self.store.list_alerts(monitor=monitor.name, rule=rule, status="fired", max_results=1)
            if last and now - last[0].at < rules.cooldown_s * 1000:
                self.store.record_alert(
                    monitor=monitor.name,
                    rule=rule,
                    window_end=hi,
                    status=AlertStatus.SUPPRESSED,
                    channel="cooldown",
                    message=f"{body['message']} (in cooldown since {last[0].at})",
                    details=body,
                )
                sent.append((rule, "cooldown", "suppressed"))
                continue
            for channel in rules.alerts:
                status, why = deliver(channel, body)
                self.store.record_alert(
                    monitor=monitor.name,
                    rule=rule,
                    window_end=hi,
                    status=status,
                    channel=channel.kind,
                    message=why or body["message"],
                    details=body,
                )
                sent.append((rule, channel.kind, status))
            action = rules.action
            if action is not None and not started and (not action.rules or rule in action.rules):
                started = True  # one action per window, however many rules it answers
                sent.append((rule, "action", self._start(monitor, action.command, body)))
        return sent

    def _start(self, monitor: Monitor, command: tuple[str, ...], body: Mapping[str, Any]) -> str:
        """Start the action in the background, and write the trigger to the audit log first."""
        self.store.record_audit_event(
            model=_model_name(monitor),
            action=AuditAction.MONITOR_TRIGGER,
            actor=self.actor,
            reason=str(body["message"]),
            details={"monitor": monitor.name, "command": list(command), "window": body["window"]},
        )
        env = {
            **os.environ,  # noqa: TID251  # the child inherits the environment; no setting is read
            "SLIPWAY_MONITOR": monitor.name,
            "SLIPWAY_MONITOR_RULE": str(body["rule"]),
            "SLIPWAY_MONITOR_WINDOW_END": str(body["window"]["end"]),
        }
        try:
            child = subprocess.Popen(list(command), env=env, stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            status, message = AlertStatus.FAILED, f"action {command[0]}: {exc.strerror or exc}"
        else:
            # reaped by a thread, so the action outlives this call without becoming a zombie
            threading.Thread(target=child.wait, name=f"action-{monitor.name}", daemon=True).start()
            status, message = AlertStatus.FIRED, f"started: {' '.join(command)}"
        self.store.record_alert(
            monitor=monitor.name,
            rule=str(body["rule"]),
            window_end=_end_ms(body),
            status=status,
            channel="action",
            message=message,
            details=dict(body),
        )
        return status.value


def _estimator(data: pd.DataFrame, rules: MonitorRules) -> CBPE | DLE:
    """The estimator the estimation data calls for (CBPE or DLE), fitted on it."""
    from slipway.monitoring._estimate import fit_estimator
    from slipway.monitoring._window import infer_task

    return fit_estimator(
        data,
        task=infer_task(data),
        label=rules.performance.label,
        pos_label=rules.performance.pos_label,
        chunker=_ESTIMATION_CHUNKS,
    )


def _end_ms(body: Mapping[str, Any]) -> int:
    import pandas as pd

    return int(pd.Timestamp(body["window"]["end"]).value // 1_000_000)


def _model_name(monitor: Monitor) -> str:
    """The registered model a monitor's audit events belong to (its deployment for a file reference)."""
    from slipway.core import parse_model_uri

    if monitor.reference.startswith("models:"):
        ref = parse_model_uri(monitor.reference)
        return str(getattr(ref, "name", monitor.deployment))
    return monitor.deployment


def _is_model(reference: str) -> bool:
    return reference.startswith(("models:", "runs:/"))


def _summary(rules: MonitorRules) -> list[dict[str, Any]]:
    return [{"name": r.name, "figure": r.figure, "above": r.above, "below": r.below} for r in rules.rules]


def _offset(window: str) -> Any:
    from pandas.tseries.frequencies import to_offset

    try:
        offset = to_offset(window)
    except ValueError:
        raise InvalidInput(
            f"window {window!r}: expected a pandas frequency such as 15min, 1h, 1D, W or MS"
        ) from None
    return offset


def _floor(ms: int, offset: Any) -> int:
    """The start of the window holding ``ms`` (fixed offsets from the epoch; calendar ones rolled back)."""
    import pandas as pd
    from pandas.tseries.offsets import Tick

    ts = pd.Timestamp(ms, unit="ms", tz="UTC")
    if isinstance(offset, Tick):
        step = offset.nanos
        return int((ts.value // step) * step // 1_000_000)
    start = offset.rollback(ts.normalize())
    return int(pd.Timestamp(start).value // 1_000_000)


def _windows(start: int, end: int, offset: Any) -> list[tuple[int, int]]:
    """Complete windows ``[lo, hi)`` from ``start`` whose end is at most ``end``."""
    import pandas as pd

    out: list[tuple[int, int]] = []
    lo = pd.Timestamp(start, unit="ms", tz="UTC")
    while len(out) < _MAX_WINDOWS:
        hi = lo + offset
        hi_ms = int(hi.value // 1_000_000)
        if hi_ms > end:
            break
        out.append((int(lo.value // 1_000_000), hi_ms))
        lo = hi
    return out


def _stamped(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows with a UTC ``timestamp`` column (the log's; a file must have one to be windowed)."""
    import pandas as pd

    if "timestamp" not in frame.columns:
        raise InvalidInput("rows to monitor: expected a timestamp column")
    ts = pd.to_datetime(frame["timestamp"], utc=True)
    stamped: pd.DataFrame = frame.assign(timestamp=ts)
    return stamped


def _slice(rows: pd.DataFrame, lo: int, hi: int) -> pd.DataFrame:
    import pandas as pd

    ts = rows["timestamp"]
    mask = (ts >= pd.Timestamp(lo, unit="ms", tz="UTC")) & (ts < pd.Timestamp(hi, unit="ms", tz="UTC"))
    window: pd.DataFrame = rows.loc[mask.to_numpy()]
    return window
