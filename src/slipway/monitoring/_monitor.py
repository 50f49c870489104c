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
monitor on the same deployment keeps none. Whatever the delay, a window waits a fixed grace period
(``GRACE_MS``, a minute) after its end, for rows the log writer has not flushed yet.

Estimated performance (``estimated.*``) is judged against alert thresholds from windows of the
estimation data the size of the window judged (see ``SizedEstimators``), fitted once per run and
size.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from slipway.core import Monitor, MonitorResult, now_ms
from slipway.errors import InvalidInput
from slipway.monitoring._alerts import iso, judge
from slipway.monitoring._estimators import SizedEstimators
from slipway.monitoring._firing import fire
from slipway.monitoring._names import check_names
from slipway.monitoring._replay import Backfill, chunk_spans, stamped
from slipway.monitoring._rules import MonitorRules, parse_rules
from slipway.monitoring._window import WindowResult, evaluate_window
from slipway.monitoring._windows import (
    GRACE_MS,
    complete_windows,
    earlier,
    floor,
    latest_results,
    results_before,
    window_offset,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

    import pandas as pd
    from pandas.tseries.offsets import BaseOffset

    from slipway.artifacts import BlobStore, FileTree
    from slipway.models import ReferenceSummary
    from slipway.store import MetadataStore

__all__ = ["Backfill", "Monitors", "WindowOutcome"]

_HISTORY = 50  # earlier windows read to judge `consecutive` rules
_LABEL_HORIZON_MS = 30 * 86_400_000  # a backfill joins labels that arrived within 30 days (or the delay)
_ESTIMATION_ROWS = 50_000  # rows of estimation data kept with a monitor


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowOutcome:
    """What one window of a run produced: its result, whether it was new, and the alerts sent."""

    start: int
    end: int
    result: WindowResult
    recorded: bool
    breaches: tuple[str, ...]
    alerts: tuple[tuple[str, str, str], ...] = field(default=())  # (rule, channel, status)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Context:
    """What every window of one run or backfill is evaluated with."""

    monitor: Monitor
    rules: MonitorRules
    reference: ReferenceSummary
    digest: str
    estimators: SizedEstimators | None
    alert: bool


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
        offset = window_offset(window)
        digest = None
        if _is_model(reference):
            summary, _ = self._model_reference(reference)  # fails now, not at the first run
        elif data is None:
            raise InvalidInput(f"reference {reference!r}: expected a model URI (models:/NAME@ALIAS) or data")
        else:
            summary = as_reference(data)
        check_names(parsed, summary, estimation=estimation)  # a typo is a rule that never fires
        if not _is_model(reference):
            digest = self.blobs.put_bytes(summary.to_bytes()).digest
        options: dict[str, Any] = {"document": dict(rules), "rules": _summary(parsed)}
        if estimation is not None:
            SizedEstimators.check(estimation, parsed)  # a reference it cannot learn from fails here
            kept = as_reference(estimation, max_rows=_ESTIMATION_ROWS)
            options["estimation_digest"] = self.blobs.put_bytes(kept.to_bytes()).digest
        start = floor(self.clock(), offset)
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

    def estimators(self, monitor: Monitor, rules: MonitorRules) -> SizedEstimators | None:
        """The monitor's performance estimators, fitted on its estimation data by window size."""
        from slipway.models import ReferenceSummary

        digest = monitor.options.get("estimation_digest")
        if not digest or not rules.performance.estimate:
            return None
        data = ReferenceSummary.from_bytes(self.blobs.get_bytes(digest), source=f"monitor {monitor.name}")
        return SizedEstimators(data.sample, rules)

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
        """Evaluate every complete window since the cursor (up to ``until``, default now).

        A window is complete ``delay`` plus the fixed ``GRACE_MS`` after its end, so rows still in
        the log writer's buffer when it ends are not missed.
        """
        monitor = self.store.get_monitor(name)
        rules = self.rules(monitor)
        offset = window_offset(monitor.window)
        now = self.clock() if until is None else until
        start = monitor.cursor if monitor.cursor is not None else floor(now, offset)
        bounds = complete_windows(start, self._limit(rules, now), offset)
        if not bounds:
            return []
        ctx = self._context(monitor, rules, alert=True)
        outcomes = []
        for lo, hi in bounds:  # one window in memory at a time
            rows = self._read(monitor.deployment, lo, hi, now, rules.variants)
            outcomes.append(self._evaluate(ctx, rows, lo, hi, lookback=earlier(lo, offset, _HISTORY + 1)))
        return outcomes

    def backfill(
        self,
        name: str,
        frame: pd.DataFrame | None = None,
        *,
        start: int | None = None,
        end: int | None = None,
        chunker: str | None = None,
    ) -> Backfill:
        """Evaluate past windows and record them, never alerting.

        Without ``chunker``: the monitor's windows in ``[start, end)`` of the log (or of ``frame``),
        ``end`` clamped to the last complete window (now less the delay and the grace period).
        With ``chunker`` (``column:month``, ``rows:5000``...): ``frame``'s chunks, each recorded over
        the time range of its rows (``frame`` needs a ``timestamp`` column); ``start``/``end`` then
        only select rows.
        """
        monitor = self.store.get_monitor(name)
        rules = self.rules(monitor)
        offset = window_offset(monitor.window)
        limit = self._limit(rules, self.clock())
        if chunker is not None:
            if frame is None:
                raise InvalidInput(
                    f"backfill by {chunker}: expected a file to replay; the log is replayed by the "
                    f"monitor's {monitor.window} windows (--start/--end)"
                )
            spans, left_out = chunk_spans(frame, chunker, start=start, end=end, limit=limit)
            ctx = self._context(monitor, rules, alert=False)
            return Backfill(
                outcomes=tuple(
                    self._evaluate(ctx, rows, lo, hi, lookback=_lookback(lo, hi, offset))
                    for lo, hi, rows in spans
                ),
                notes=left_out,
            )
        if start is None or end is None:
            raise InvalidInput("backfill: expected a start and an end (or a chunker for a file)")
        notes: tuple[str, ...] = ()
        if end > limit:
            notes = (
                f"windows ending after {iso(limit)} (now, less the delay and the "
                f"{GRACE_MS // 1000} s grace period) are not complete yet: not evaluated",
            )
            end = limit
        bounds = complete_windows(floor(start, offset), end, offset)
        if not bounds:
            raise InvalidInput(
                f"backfill: no complete {monitor.window} window between the two times (windows "
                f"end at most at {iso(limit)}: now, less the delay and the grace period)"
            )
        ctx = self._context(monitor, rules, alert=False)
        given = None if frame is None else stamped(frame)
        horizon = max(int(rules.delay_s * 1000), _LABEL_HORIZON_MS)
        outcomes = []
        for lo, hi in bounds:  # one window in memory at a time, however long the log
            rows = (
                self._read(monitor.deployment, lo, hi, hi + horizon, rules.variants)
                if given is None
                else _slice(given, lo, hi)
            )
            outcomes.append(self._evaluate(ctx, rows, lo, hi, lookback=earlier(lo, offset, _HISTORY + 1)))
        return Backfill(outcomes=tuple(outcomes), notes=notes)

    def latest(self, monitor: Monitor, count: int = 1) -> list[MonitorResult]:
        """The monitor's ``count`` latest results (by window start), oldest first."""
        offset = window_offset(monitor.window)
        near = monitor.cursor if monitor.cursor is not None else self.clock()
        span = near - earlier(near, offset, count + 1)
        return latest_results(self.store, monitor.name, near=near, span=span, count=count)

    @staticmethod
    def _limit(rules: MonitorRules, now: int) -> int:
        """The latest end of a complete window: now, less the delay and the grace period."""
        return now - int(rules.delay_s * 1000) - GRACE_MS

    def _context(self, monitor: Monitor, rules: MonitorRules, *, alert: bool) -> _Context:
        reference, digest = self.reference(monitor)
        return _Context(
            monitor=monitor,
            rules=rules,
            reference=reference,
            digest=digest,
            estimators=self.estimators(monitor, rules),
            alert=alert,
        )

    def _read(
        self, deployment: str, lo: int, hi: int, labels_until: int, variants: tuple[str, ...]
    ) -> pd.DataFrame:
        """The window's predictions (of ``variants``) with the labels that arrived by ``labels_until``."""
        from slipway.predlog import join_feedback, read_feedback, read_predictions

        def at(ms: int) -> datetime:
            return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)

        predictions = read_predictions(
            self.log, deployment=deployment, start=at(lo), end=at(hi), variant=list(variants)
        )
        ids: list[str] = predictions["request_id"].astype(str).unique().tolist() if len(predictions) else []
        feedback = read_feedback(
            self.log, deployment=deployment, start=at(lo), end=at(max(labels_until, hi)), request_ids=ids
        )
        return stamped(join_feedback(predictions, feedback))

    def _evaluate(
        self, ctx: _Context, rows: pd.DataFrame, lo: int, hi: int, *, lookback: int
    ) -> WindowOutcome:
        """Evaluate, judge against the windows before (those starting from ``lookback``), record."""
        monitor, rules = ctx.monitor, ctx.rules
        estimator = ctx.estimators.for_rows(len(rows)) if ctx.estimators is not None and len(rows) else None
        result = evaluate_window(ctx.reference, rows, rules, estimator=estimator)
        before = results_before(self.store, monitor.name, before=lo, since=lookback, count=_HISTORY)
        history = [r.figures for r in reversed(before)]
        verdicts = judge(rules.rules, result.figures, history)
        fires = [v for v in verdicts if v.fires]
        recorded = self.store.record_monitor_result(
            MonitorResult(
                monitor=monitor.name,
                window_start=lo,
                window_end=hi,
                figures=result.figures,
                breaches=[v.rule.name for v in fires],
                result={**result.to_dict(), "reference_digest": ctx.digest},
                rows=result.rows,
            )
        )
        sent: list[tuple[str, str, str]] = []
        if recorded and ctx.alert and fires:
            sent = fire(self.store, monitor, rules, fires, lo, hi, now=self.clock(), actor=self.actor)
        return WindowOutcome(
            start=lo,
            end=hi,
            result=result,
            recorded=recorded,
            breaches=tuple(v.rule.name for v in fires),
            alerts=tuple(sent),
        )


def _is_model(reference: str) -> bool:
    return reference.startswith(("models:", "runs:/"))


def _summary(rules: MonitorRules) -> list[dict[str, Any]]:
    return [{"name": r.name, "figure": r.figure, "above": r.above, "below": r.below} for r in rules.rules]


def _lookback(lo: int, hi: int, offset: BaseOffset) -> int:
    """Where the history of a chunk ``[lo, hi)`` starts: the longer of its span and the window's."""
    return min(earlier(lo, offset, _HISTORY + 1), lo - (_HISTORY + 1) * (hi - lo))


def _slice(rows: pd.DataFrame, lo: int, hi: int) -> pd.DataFrame:
    import pandas as pd

    ts = rows["timestamp"]
    mask = (ts >= pd.Timestamp(lo, unit="ms", tz="UTC")) & (ts < pd.Timestamp(hi, unit="ms", tz="UTC"))
    window: pd.DataFrame = rows.loc[mask.to_numpy()]
    return window
