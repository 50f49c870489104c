"""Deployments at run time: which model answers a request, hot swaps, and canary rollback.

Each deployment holds arms: the primary, a weighted canary, the arms of a sticky A/B split, and a
shadow. An arm follows a model URI; what it serves now is a :class:`Live` (a loaded model and its
batcher), replaced as a whole. Everything that changes an arm runs on the event loop's thread, and a
request reads the arm and queues its payload in the same synchronous step, so a swap can never
catch a request between the two: requests queued on the old model finish there, new ones go to the
new model. Loading and checking the new model happens on a worker thread, off the loop.

Refreshes of one arm are serialised (a reload that arrives while a poll is loading waits for it,
then re-resolves), and a version that failed to load is retried by polling at most once a minute
(an explicit reload retries it at once). A canary taken out of traffic stays out when its alias is
moved back to an older version (the rollback, by this worker or another replica); it returns only
when the alias moves to a newer version than the one that breached.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import functools
import logging
import math
import random
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from slipway.errors import InvalidInput, SlipwayError
from slipway.serving._batcher import Batcher
from slipway.serving._served import Prediction, ServedModel

if TYPE_CHECKING:
    from slipway.serving._codec import Payload
    from slipway.serving._metrics import ServingMetrics
    from slipway.serving._source import ModelSource, Resolved
    from slipway.serving._spec import DeploymentSpec, RollbackSpec

__all__ = ["Arm", "DeploymentRuntime", "Live", "LogBatch"]

log = logging.getLogger("slipway.serving")

RETRY_FAILED = 60.0
"""Seconds before polling tries again a version that failed to load (a reload tries at once)."""

LogBatch = Callable[[str, ServedModel, str, Sequence["Payload"], Sequence[Any], list[float]], None]
"""(deployment, model, variant, payloads, results, latencies): hands a batch to the prediction log.

Called on the predict thread after the batch's answers went out; it should only hand the batch on
(the next batch waits for it), as :meth:`ServingLog.log_batch` does.
"""


@dataclass(slots=True)
class Live:
    """What an arm serves now: a loaded version, its batcher, and the headers its answers carry."""

    served: ServedModel
    batcher: Batcher[Payload, Prediction]
    resolved: Resolved
    headers: tuple[tuple[bytes, bytes], ...] = ()  # x-model-name, x-model-version, x-model-variant


_RATIO = 1.05
"""Latency buckets of the canary's window: each edge 5% above the last (the p95's resolution)."""
_EDGES: tuple[float, ...] = tuple(
    5e-5 * _RATIO**i for i in range(math.ceil(math.log(1000.0 / 5e-5, _RATIO)) + 1)
)  # upper edges in seconds, from 50 µs to 1000 s; one more bucket holds anything longer


@dataclass(slots=True)
class _Second:
    """The outcomes of one second: requests, failures and a sparse latency histogram."""

    second: int
    requests: int = 0
    errors: int = 0
    buckets: dict[int, int] = field(default_factory=dict)


class _Window:
    """The canary's recent outcomes, to decide a rollback on error rate and p95 latency.

    Outcomes are kept per second (a ring of the window's seconds, each a histogram over fixed
    bucket edges) and summed over the window as they come and go, so judging the window costs one
    pass over the buckets however many requests it holds, not a sort of every latency. A second
    leaves the window once all of it is older than ``window``.
    """

    def __init__(self, spec: RollbackSpec) -> None:
        self.spec = spec
        self._seconds: collections.deque[_Second] = collections.deque()
        self._buckets = [0] * (len(_EDGES) + 1)  # over the window
        self._requests = 0
        self._errors = 0
        self._checked = 0.0

    def add(self, now: float, failed: bool, seconds: float) -> str | None:
        """Record an outcome at ``now`` (monotonic seconds); the reason to take the canary out, if any."""
        second = int(now)
        slots = self._seconds
        if not slots or second > slots[-1].second:
            slots.append(_Second(second))
            self._expire(now)
        slot = slots[-1]
        bucket = bisect.bisect_left(_EDGES, seconds)
        slot.buckets[bucket] = slot.buckets.get(bucket, 0) + 1
        slot.requests += 1
        slot.errors += failed
        self._buckets[bucket] += 1
        self._requests += 1
        self._errors += failed
        if now - self._checked < 0.2 and not failed:
            return None  # judged at most five times a second; a failure is judged at once
        return self.check(now)

    def _expire(self, now: float) -> None:
        horizon = now - self.spec.window
        slots = self._seconds
        while slots and slots[0].second + 1 <= horizon:
            old = slots.popleft()
            self._requests -= old.requests
            self._errors -= old.errors
            for bucket, count in old.buckets.items():
                self._buckets[bucket] -= count

    def check(self, now: float) -> str | None:
        """The reason to take the canary out over the window ending at ``now``, or None."""
        self._checked = now
        self._expire(now)
        n = self._requests
        if n < self.spec.min_requests:
            return None
        window = f"over the last {self.spec.window:g} s ({n} requests)"
        rate = self._errors / n
        if self.spec.max_error_rate is not None and rate > self.spec.max_error_rate:
            return f"error rate {rate:.3f} > max_error_rate {self.spec.max_error_rate:g} {window}"
        if self.spec.max_p95_ms is not None:
            p95 = self.p95() * 1000
            if p95 > self.spec.max_p95_ms:
                return f"p95 latency {p95:.1f} ms > max_p95_ms {self.spec.max_p95_ms:g} {window}"
        return None

    def p95(self) -> float:
        """The window's 95th percentile latency in seconds: the upper edge of its bucket (0 if empty)."""
        n = self._requests
        if n == 0:
            return 0.0
        rank = min(n - 1, int(0.95 * n))  # the latency with this many below it, counting from 0
        seen = 0
        for bucket, count in enumerate(self._buckets):
            seen += count
            if seen > rank:
                return _EDGES[bucket] if bucket < len(_EDGES) else math.inf
        return math.inf  # pragma: no cover - the counts add up to n


@dataclass(slots=True)
class Arm:
    """One way a deployment answers: a role ("primary", "canary", an A/B arm, "shadow") and a URI."""

    role: str
    uri: str
    weight: float = 1.0
    live: Live | None = None
    out: str | None = None  # why it was taken out of traffic, if it was
    window: _Window | None = None
    error: str | None = None  # the last load failure
    history: list[str] = field(default_factory=list)
    failed: str | None = None  # the version whose load failed, not retried by polling before retry_at
    retry_at: float = 0.0
    unrecorded: list[tuple[Resolved, str]] = field(default_factory=list)  # take-outs to record
    recording: bool = False  # a take-out is being recorded in the registry now
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one refresh of this arm at a time


class DeploymentRuntime:
    """A deployment's arms, routing, swaps and canary rollback, inside one worker process."""

    def __init__(
        self,
        spec: DeploymentSpec,
        *,
        source: ModelSource,
        metrics: ServingMetrics,
        log_batch: LogBatch | None = None,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.source = source
        self.metrics = metrics
        self.log_batch = log_batch if spec.log_predictions else None
        self.arms: list[Arm] = []
        self.canary: Arm | None = None
        self.shadow: Arm | None = None
        if spec.ab is not None:
            self.arms = [Arm(name, arm.model, arm.weight) for name, arm in spec.ab.arms.items()]
            kind, _, key = spec.ab.key.partition(":")
            self.ab_header = key if kind == "header" else None
            self.ab_field = key if kind == "field" else None
        else:
            assert spec.model is not None
            self.arms = [Arm("primary", spec.model)]
            self.ab_header = self.ab_field = None
            if spec.canary is not None:
                self.canary = Arm("canary", spec.canary.model, spec.canary.weight)
                if spec.canary.rollback is not None:
                    self.canary.window = _Window(spec.canary.rollback)
        if spec.shadow is not None:
            self.shadow = Arm("shadow", spec.shadow)
        # the A/B key's header (lower-case already) as bytes, the way ASGI servers give header names
        self.ab_header_name = self.ab_header.encode() if self.ab_header is not None else None
        self._total = sum(a.weight for a in self.arms)
        self._random = random.Random()
        # swapped-out batchers (with their arm's role) still answering what they hold; joined by
        # close(), so their last batches reach the prediction log before it is closed
        self._retired: list[tuple[str, Batcher[Payload, Prediction]]] = []
        self._recording: set[asyncio.Task[None]] = set()

    def all_arms(self) -> list[Arm]:
        return [*self.arms, *(a for a in (self.canary, self.shadow) if a is not None)]

    @property
    def ready(self) -> bool:
        """Every arm that takes traffic on its own is loaded (canary and shadow are extras)."""
        return all(a.live is not None for a in self.arms)

    # ------------------------------------------------------------------ routing (event loop)
    def route(self, key: str | None) -> Arm:
        """The arm for this request: A/B by key hash, else canary by weight, else the primary."""
        if len(self.arms) > 1:
            if key is not None:
                point = (zlib.crc32(key.encode()) / 2**32) * self._total
            else:
                point = self._random.random() * self._total
            for arm in self.arms:
                if point < arm.weight:
                    return arm
                point -= arm.weight
            return self.arms[-1]
        canary = self.canary
        if (
            canary is not None
            and canary.live is not None
            and canary.out is None
            and self._random.random() < canary.weight
        ):
            return canary
        return self.arms[0]

    def observe(self, arm: Arm, live: Live, failed: bool, seconds: float) -> None:
        """Feed the canary's rollback window with an answer ``live`` gave; take it out on a breach.

        An answer of a version swapped out since is not held against the new one.
        """
        if arm.window is None or arm.out is not None or arm.live is not live:
            return
        reason = arm.window.add(time.monotonic(), failed, seconds)
        if reason is not None:
            self._take_out(arm, reason)

    def _take_out(self, arm: Arm, reason: str) -> None:
        assert arm.live is not None
        arm.out = reason
        resolved = arm.live.resolved
        self.metrics.event(self.name, arm.role, "rollback")
        log.warning("deployment %s: canary %s taken out of traffic: %s", self.name, resolved.version, reason)
        arm.unrecorded.append((resolved, reason))
        task = asyncio.get_running_loop().create_task(self._record_take_outs(arm))
        self._recording.add(task)  # held until done: the loop keeps only a weak reference
        task.add_done_callback(self._recording.discard)

    async def _record_take_outs(self, arm: Arm) -> None:
        """Tag the breached versions and roll their alias moves back, in the registry.

        A take-out that cannot be recorded (the store is down) stays in ``arm.unrecorded`` and is
        tried again at every poll until it is: the canary is out of this worker's traffic at once,
        but other workers and replicas learn of it, and the alias moves back, only from the record.
        """
        if arm.recording:
            return  # the one in progress takes the rest too
        arm.recording = True
        loop = asyncio.get_running_loop()
        try:
            while arm.unrecorded:
                resolved, reason = arm.unrecorded[0]
                try:
                    take_out = functools.partial(
                        self.source.take_out, resolved, deployment=self.name, reason=reason
                    )
                    outcome = await loop.run_in_executor(None, take_out)
                except Exception as e:
                    message = str(e) if isinstance(e, SlipwayError) else f"{type(e).__name__}: {e}"
                    log.warning(
                        "deployment %s: canary %s is out of traffic, but recording it in the registry "
                        "failed (%s); trying again at the next poll",
                        self.name,
                        resolved.version,
                        message,
                    )
                    return
                arm.unrecorded.pop(0)
                arm.history.append(f"canary {resolved.version} out: {reason}; {outcome}")
                log.warning("deployment %s: %s", self.name, outcome)
        finally:
            arm.recording = False

    # ------------------------------------------------------------------ loading and swapping
    async def load_all(self) -> None:
        await asyncio.gather(*(self.refresh(arm, initial=True) for arm in self.all_arms()))

    async def poll(self, *, force: bool = False) -> None:
        """Re-resolve every arm that follows an alias (or is not loaded yet); swap in what moved.

        ``force`` (a reload) also retries at once a version that failed to load. A canary take-out
        that could not be recorded in the registry is tried again first.
        """
        await asyncio.gather(*(self._record_take_outs(arm) for arm in self.all_arms() if arm.unrecorded))
        await asyncio.gather(
            *(
                self.refresh(arm, force=force)
                for arm in self.all_arms()
                if arm.live is None or arm.live.resolved.follows
            )
        )

    async def refresh(self, arm: Arm, *, initial: bool = False, force: bool = False) -> None:
        """Resolve the arm's URI; load, check and swap in a version other than the one it serves.

        One refresh of an arm runs at a time: a reload arriving during a poll's load waits for it
        and then resolves again, so it never answers before the alias it was asked about is seen.
        """
        async with arm.lock:
            loop = asyncio.get_running_loop()
            version: str | None = None
            try:
                resolved = await loop.run_in_executor(
                    None, lambda: self.source.resolve(arm.uri, default_name=self.name)
                )
                version = resolved.version
                current = arm.live
                if current is not None and current.served.version == version:
                    arm.error = arm.failed = None  # what the URI names is what is served
                    if arm is self.canary and resolved.breached and arm.out is None:
                        self._hold_out(arm, f"version {version} was taken out by another worker or replica")
                    return
                if arm is self.canary and await self._keep_out(arm, resolved):
                    return
                if not force and arm.failed == version and time.monotonic() < arm.retry_at:
                    return  # failed a moment ago; polling tries it again later, a reload at once
                served = await loop.run_in_executor(None, self._load_checked, resolved)
            except Exception as e:
                self._failed(arm, version, e)
                return
            self._swap(arm, served, resolved, initial=initial)

    async def _keep_out(self, arm: Arm, resolved: Resolved) -> bool:
        """Whether the canary stays out of traffic instead of loading ``resolved``.

        A breached version never comes back. After a breach, the alias is moved back to an older
        version (the rollback, by this worker or another): that is not a new canary, so the arm
        stays out until the alias moves to a version newer than the breached one. Another worker's
        breach is noticed here by the tag on the version this worker serves.
        """
        if resolved.breached:
            self._hold_out(arm, f"version {resolved.version} was taken out before: {resolved.breached}")
            return True
        current = arm.live
        if current is None or current.resolved.registered is None or resolved.registered is None:
            return False
        breached = current.resolved.registered.version
        if resolved.registered.version > breached:
            return False  # a newer challenger: a new canary
        if arm.out is None:
            loop = asyncio.get_running_loop()
            reason = await loop.run_in_executor(None, self.source.breach_of, current.resolved)
            if reason is None:
                return False  # moved back by hand, not by a breach: serve what it names
            self._hold_out(arm, f"version {breached} was taken out by another worker or replica: {reason}")
        return True

    def _hold_out(self, arm: Arm, reason: str) -> None:
        if arm.out is None:
            log.warning("deployment %s: %s out of traffic: %s", self.name, arm.role, reason)
            arm.out = reason

    def _failed(self, arm: Arm, version: str | None, error: Exception) -> None:
        """Record a failed resolve or load: the arm keeps serving what it served."""
        message = str(error) if isinstance(error, SlipwayError) else f"{type(error).__name__}: {error}"
        if version is not None:
            message = f"version {version}: {message}"
        repeated = message == arm.error
        arm.error = message
        arm.failed = version
        arm.retry_at = time.monotonic() + RETRY_FAILED
        self.metrics.event(self.name, arm.role, "load_failed")
        serving = f"; still serving version {arm.live.served.version}" if arm.live is not None else ""
        (log.debug if repeated else log.error)(
            "deployment %s: %s %s not loaded: %s%s", self.name, arm.role, arm.uri, message, serving
        )

    def _load_checked(self, resolved: Resolved) -> ServedModel:
        """Load on a worker thread and predict the input example before any request sees it."""
        model = self.source.load(resolved, extra_columns=self.spec.extra_columns)
        served = ServedModel(
            model,
            name=self.name,
            model_name=resolved.name,
            version=resolved.version,
            source=resolved.uri,
            extra_columns=self.spec.extra_columns,
            log_probabilities=self.log_batch is not None and self.spec.log_probabilities,
        )
        example = model.input_example
        if example is not None:
            try:
                model.predict(example)
                if "predict_proba" in served.outputs:
                    model.predict_proba(example)
            except Exception as e:
                raise InvalidInput(
                    f"predicting its input example failed ({type(e).__name__}: {e}), so it is not served"
                ) from None
        return served

    def _swap(self, arm: Arm, served: ServedModel, resolved: Resolved, *, initial: bool) -> None:
        old = arm.live
        batching = self.spec.batching
        role = arm.role

        def on_batch(payloads: Sequence[Payload], results: Sequence[Any], latencies: list[float]) -> None:
            self.metrics.batch(self.name, role, len(payloads))
            if self.log_batch is not None:
                self.log_batch(self.name, served, role, payloads, results, latencies)

        batcher: Batcher[Payload, Prediction] = Batcher(
            served.predict,
            name=f"{self.name}/{role}/{served.version}",
            max_batch_size=batching.max_batch_size,
            max_latency_ms=batching.max_latency_ms,
            max_queue=self.spec.max_queue,
            timeout=self.spec.timeout,
            on_batch=on_batch,
            on_start=served.prepare_thread,
        )
        headers = (
            (b"x-model-name", served.model_name.encode()),
            (b"x-model-version", served.version.encode()),
            (b"x-model-variant", role.encode()),
        )
        arm.live = Live(served, batcher, resolved, headers)
        arm.error = None
        if arm is self.canary:
            arm.out = None
            if self.spec.canary is not None and self.spec.canary.rollback is not None:
                arm.window = _Window(self.spec.canary.rollback)
        event = "load" if old is None else "swap"
        self.metrics.event(self.name, role, event)
        arm.history.append(f"{event} {served.version}")
        if old is not None:
            log.info(
                "deployment %s: %s swapped %s -> %s", self.name, role, old.served.version, served.version
            )
            old.batcher.close(wait=False)  # what it holds is still predicted; then its thread ends
            self._retired = [(r, b) for r, b in self._retired if b.running]
            self._retired.append((role, old.batcher))
        elif not initial:
            log.info("deployment %s: %s loaded %s", self.name, role, served.version)

    def close(self) -> None:
        """Stop taking requests; return once every batcher, retired ones too, answered what it held."""
        for arm in self.all_arms():
            if arm.live is not None:
                arm.live.batcher.close(wait=True)
        for _, batcher in self._retired:
            batcher.close(wait=True)  # closed at the swap already: this waits for its thread
        self._retired.clear()

    def queue_depths(self) -> dict[str, int]:
        """The requests each role's batchers hold now, the loaded one's and those swapped out.

        While a swap drains the old version's batcher, both it and the new one hold requests of the
        same role: the queue-depth gauge is their sum. Read on the event loop's thread, where the
        depths change.
        """
        depths = {arm.role: arm.live.batcher.depth for arm in self.all_arms() if arm.live is not None}
        for role, batcher in self._retired:
            if batcher.depth:
                depths[role] = depths.get(role, 0) + batcher.depth
        return depths

    # ------------------------------------------------------------------ shadow
    def send_shadow(self, decode: Callable[[ServedModel], Payload]) -> None:
        """Queue a copy for the shadow, decoded by its own codec; its answer is logged, never returned.

        Nothing the shadow does reaches the caller: a request it cannot decode, a full queue or a
        failed prediction is only counted (``slipway_shadow_errors_total``).
        """
        shadow = self.shadow
        if shadow is None or shadow.live is None:
            return
        try:
            future = shadow.live.batcher.submit(decode(shadow.live.served))
        except Exception:
            self.metrics.shadow_error(self.name)
            return
        future.add_done_callback(self._shadow_done)

    def _shadow_done(self, future: asyncio.Future[Prediction]) -> None:
        if future.cancelled() or future.exception() is not None:
            self.metrics.shadow_error(self.name)

    def describe(self) -> dict[str, Any]:
        """State for ``/v2/repository/index`` and ``slipway deployments``."""
        return {
            "name": self.name,
            "ready": self.ready,
            "arms": [
                {
                    "role": a.role,
                    "uri": a.uri,
                    "weight": a.weight,
                    "version": a.live.served.version if a.live is not None else None,
                    "out": a.out,
                    "error": a.error,
                }
                for a in self.all_arms()
            ],
        }
