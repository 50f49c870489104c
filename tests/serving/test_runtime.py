"""Deployments at run time, on a real event loop with a model source that records what it is asked.

The source stands in for the registry: aliases are a dict, tags a dict, and each "model" answers a
constant. Where the order of events matters, a load is held on a :class:`threading.Event`.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from slipway.artifacts import open_file_tree
from slipway.core import ModelVersion
from slipway.errors import StoreUnavailable
from slipway.predlog import read_predictions
from slipway.serving._app import _Reloads
from slipway.serving._codec import Payload
from slipway.serving._metrics import ServingMetrics
from slipway.serving._predlog import ServingLog
from slipway.serving._runtime import DeploymentRuntime
from slipway.serving._source import BREACH_TAG, Resolved
from slipway.serving._spec import DeploymentSpec

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from pathlib import Path

    import pytest

    from slipway.serving._runtime import Live
    from slipway.serving._source import ModelSource


class ConstantModel:
    """What ServedModel needs of a model: no signature, ``predict`` answering ``value``.

    With ``proba_gate`` it also has ``predict_proba``, which waits for that gate (but not for the
    input example).
    """

    signature = None
    flavor = "pyfunc"
    raw = None

    def __init__(
        self,
        value: float,
        *,
        broken: bool = False,
        gate: threading.Event | None = None,
        sleep: float = 0.0,
        proba_gate: threading.Event | None = None,
    ) -> None:
        self.value = value
        self.broken = broken
        self.input_example = np.zeros((1, 1))
        self.gate = gate  # when given, requests (not the input example) wait for it
        self.sleep = sleep  # seconds each request's call takes
        self.entered = threading.Event()
        self.proba_gate = proba_gate
        self.in_proba = threading.Event()
        self.methods = ("predict",) if proba_gate is None else ("predict", "predict_proba")

    def predict_proba(self, data: Any, params: Any = None) -> Any:
        if data is not self.input_example and self.proba_gate is not None:
            self.in_proba.set()
            assert self.proba_gate.wait(10)
        return np.tile([0.75, 0.25], (len(data), 1))

    def predict(self, data: Any, params: Any = None) -> Any:
        if self.broken:
            raise RuntimeError("broken build")
        if data is not self.input_example:
            self.entered.set()
            if self.gate is not None:
                assert self.gate.wait(10)
            time.sleep(self.sleep)
        return np.full(len(data), self.value)


class Registry:
    """The registry as the runtime's ModelSource sees it: aliases, tags, versions, rollbacks."""

    def __init__(self, aliases: dict[str, int], broken: frozenset[int] = frozenset()) -> None:
        self.aliases = aliases
        self.tags: dict[int, dict[str, str]] = {}
        self.broken = broken
        self.loads: list[int] = []
        self.hold: threading.Event | None = None  # when set, a load waits for it
        self.loading = threading.Event()
        self.taken_out: list[tuple[int, str]] = []
        self.gate: threading.Event | None = None  # given to the models it loads
        self.sleep = 0.0  # likewise
        self.proba_gate: threading.Event | None = None  # likewise

    def resolve(self, uri: str, *, default_name: str) -> Resolved:
        alias = uri.rsplit("@", 1)[1]
        version = self.aliases[alias]
        mv = ModelVersion(
            name="m",
            version=version,
            created_at=0,
            source="/m",
            manifest_digest="0" * 64,
            tags=dict(self.tags.get(version, {})),
        )
        return Resolved(uri, "m", str(version), alias, mv)

    def load(self, resolved: Resolved, *, extra_columns: str = "drop") -> Any:
        version = int(resolved.version)
        self.loads.append(version)
        self.loading.set()
        if self.hold is not None:
            assert self.hold.wait(10)
        return ConstantModel(
            float(version),
            broken=version in self.broken,
            gate=self.gate,
            sleep=self.sleep,
            proba_gate=self.proba_gate,
        )

    def breach_of(self, resolved: Resolved) -> str | None:
        return self.tags.get(int(resolved.version), {}).get(BREACH_TAG)

    def take_out(self, resolved: Resolved, *, deployment: str, reason: str) -> str:
        version = int(resolved.version)
        self.tags.setdefault(version, {})[BREACH_TAG] = reason
        self.taken_out.append((version, reason))
        self.aliases[cast("str", resolved.alias)] = 1  # the rollback, to the earlier holder
        return "rolled back to version 1"


def runtime(registry: Registry, *, log: ServingLog | None = None, **spec: Any) -> DeploymentRuntime:
    return DeploymentRuntime(
        DeploymentSpec.model_validate({"name": "m", **spec}),
        source=cast("ModelSource", registry),
        metrics=log.metrics if log is not None and log.metrics is not None else ServingMetrics(),
        log_batch=log.log_batch if log is not None else None,
    )


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coro)


def payload(request_id: str | None = None) -> Payload:
    return Payload(rows=1, data=np.zeros((1, 1)), id=request_id)


def model_of(live: Live | None) -> ConstantModel:
    assert live is not None
    return cast("ConstantModel", live.served.model)


async def until(condition: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        await asyncio.sleep(0.005)


def version_of(dep: DeploymentRuntime, role: str) -> str | None:
    arm = next(a for a in dep.all_arms() if a.role == role)
    return arm.live.served.version if arm.live is not None else None


class TestRefresh:
    def test_a_reload_during_a_polls_load_waits_for_it_then_sees_the_latest_alias(self) -> None:
        registry = Registry({"production": 1})
        dep = runtime(registry, model="models:/m@production")

        async def body() -> None:
            await dep.load_all()
            registry.hold = threading.Event()
            registry.loading.clear()
            registry.aliases["production"] = 2
            poll = asyncio.ensure_future(dep.poll())
            await asyncio.get_running_loop().run_in_executor(None, registry.loading.wait, 10)
            registry.aliases["production"] = 3  # moved again while version 2 loads
            reload = asyncio.ensure_future(dep.poll(force=True))
            await asyncio.sleep(0.05)
            assert not reload.done(), "the reload answered before the alias it was asked about was seen"
            registry.hold.set()
            await asyncio.gather(poll, reload)
            assert version_of(dep, "primary") == "3"
            dep.close()

        run(body())
        assert registry.loads == [1, 2, 3]

    def test_a_version_that_failed_is_retried_by_a_reload_not_by_every_poll(self) -> None:
        registry = Registry({"production": 1}, broken=frozenset({2}))
        dep = runtime(registry, model="models:/m@production")

        async def body() -> None:
            await dep.load_all()
            registry.aliases["production"] = 2
            await dep.poll()
            await dep.poll()
            error = dep.arms[0].error
            assert error is not None
            assert "version 2" in error
            assert "input example" in error
            assert registry.loads == [1, 2]
            await dep.poll(force=True)
            assert registry.loads == [1, 2, 2]
            assert version_of(dep, "primary") == "1"
            registry.aliases["production"] = 1
            await dep.poll()
            assert dep.arms[0].error is None
            dep.close()

        run(body())


CANARY: dict[str, Any] = {
    "model": "models:/m@production",
    "canary": {
        "model": "models:/m@challenger",
        "weight": 0.5,
        "rollback": {"max_error_rate": 0.1, "window": "1m", "min_requests": 3},
    },
}


def routes(dep: DeploymentRuntime, n: int = 200) -> set[str]:
    return {dep.route(None).role for _ in range(n)}


class TestCanary:
    def test_after_its_rollback_the_canary_stays_out_until_a_newer_version(self) -> None:
        registry = Registry({"production": 1, "challenger": 2})
        dep = runtime(registry, **CANARY)

        async def body() -> None:
            await dep.load_all()
            canary = cast("Any", dep.canary)
            assert routes(dep) == {"primary", "canary"}
            for _ in range(3):
                dep.observe(canary, canary.live, True, 0.001)
            assert canary.out is not None
            assert "max_error_rate" in canary.out
            while not registry.taken_out:  # recorded on a worker thread
                await asyncio.sleep(0.01)
            assert registry.aliases["challenger"] == 1
            await dep.poll()
            assert version_of(dep, "canary") == "2"  # version 1 was not loaded as a new canary
            assert routes(dep) == {"primary"}
            registry.aliases["challenger"] = 3
            await dep.poll()
            assert version_of(dep, "canary") == "3"
            assert canary.out is None
            assert routes(dep) == {"primary", "canary"}
            dep.close()

        run(body())
        assert registry.loads.count(1) == 1  # only as the primary

    def test_another_workers_breach_takes_this_workers_canary_out(self) -> None:
        registry = Registry({"production": 1, "challenger": 2})
        dep = runtime(registry, **CANARY)

        async def body() -> None:
            await dep.load_all()
            registry.tags[2] = {BREACH_TAG: "error rate 0.5 > max_error_rate 0.1"}
            registry.aliases["challenger"] = 1  # the other worker's rollback
            await dep.poll()
            canary = cast("Any", dep.canary)
            assert canary.out is not None
            assert "another worker" in canary.out
            assert routes(dep) == {"primary"}
            dep.close()

        run(body())

    def test_a_canary_moved_back_by_hand_is_served(self) -> None:
        registry = Registry({"production": 1, "challenger": 2})
        dep = runtime(registry, **CANARY)

        async def body() -> None:
            await dep.load_all()
            registry.aliases["challenger"] = 1
            await dep.poll()
            assert version_of(dep, "canary") == "1"
            assert routes(dep) == {"primary", "canary"}
            dep.close()

        run(body())

    def test_an_answer_of_a_swapped_out_version_is_not_held_against_the_new_one(self) -> None:
        registry = Registry({"production": 1, "challenger": 2})
        dep = runtime(registry, **CANARY)

        async def body() -> None:
            await dep.load_all()
            canary = cast("Any", dep.canary)
            old = canary.live
            registry.aliases["challenger"] = 3
            await dep.poll()
            for _ in range(5):
                dep.observe(canary, old, True, 0.001)
            assert canary.out is None
            dep.close()

        run(body())


class StoreDownOnce(Registry):
    """The registry, whose store is down for the first take-out."""

    attempts = 0

    def take_out(self, resolved: Resolved, *, deployment: str, reason: str) -> str:
        self.attempts += 1
        if self.attempts == 1:
            raise StoreUnavailable("the metadata store does not answer")
        return super().take_out(resolved, deployment=deployment, reason=reason)


def test_a_take_out_the_registry_missed_is_recorded_at_the_next_poll() -> None:
    registry = StoreDownOnce({"production": 1, "challenger": 2})
    dep = runtime(registry, **CANARY)

    async def body() -> None:
        await dep.load_all()
        canary = cast("Any", dep.canary)
        for _ in range(3):
            dep.observe(canary, canary.live, True, 0.001)
        assert canary.out is not None
        await until(lambda: registry.attempts == 1, "the first attempt to record it")
        await asyncio.sleep(0.05)
        assert registry.taken_out == []
        assert registry.aliases["challenger"] == 2
        assert routes(dep) == {"primary"}  # out of this worker's traffic all the same
        await dep.poll()
        assert registry.attempts == 2
        assert [v for v, _ in registry.taken_out] == [2]
        assert "max_error_rate" in registry.taken_out[0][1]
        assert registry.aliases["challenger"] == 1  # the rollback, recorded at last
        await dep.poll()
        await dep.poll()
        assert registry.attempts == 2  # recorded once, never again
        assert routes(dep) == {"primary"}
        dep.close()

    run(body())


class TestRollbackWindow:
    def test_judging_a_window_of_150k_requests_is_cheap_and_its_p95_within_a_bucket(self) -> None:
        """5 minutes at 500 requests/s; a failure is judged at once, so every one pays a check."""
        from slipway.serving._runtime import _RATIO, _Window
        from slipway.serving._spec import RollbackSpec

        spec = RollbackSpec.model_validate({"max_p95_ms": 60_000, "window": "5m", "min_requests": 20})
        window = _Window(spec)
        n = 150_000
        latencies = np.random.default_rng(7).lognormal(np.log(0.005), 0.6, n).tolist()
        times = (1000.0 + np.arange(n) / 500.0).tolist()
        for t, seconds in zip(times, latencies, strict=True):
            assert window.add(t, False, seconds) is None
        now = times[-1]
        exact = sorted(latencies)[int(0.95 * n)]
        p95 = window.p95()
        assert exact <= p95 <= exact * _RATIO, (exact, p95)

        def judged() -> float:
            start = time.perf_counter()
            assert window.add(now, True, 0.005) is None
            assert window.check(now) is None
            return time.perf_counter() - start

        assert min(judged() for _ in range(5)) < 0.001

    def test_a_slow_window_breaches_on_p95_and_old_seconds_leave_it(self) -> None:
        from slipway.serving._runtime import _Window
        from slipway.serving._spec import RollbackSpec

        spec = RollbackSpec.model_validate({"max_p95_ms": 15, "window": "10s", "min_requests": 20})
        window = _Window(spec)
        reasons = [window.add(100.0 + i / 10, False, 0.030) for i in range(20)]
        assert reasons[:19] == [None] * 19
        reason = reasons[19]
        assert reason is not None
        assert "max_p95_ms 15" in reason
        assert "(20 requests)" in reason
        assert 30.0 <= float(reason.split()[2]) <= 31.5  # "p95 latency 30.x ms"
        assert window.check(112.5) is None  # every one of those seconds is past the window
        assert window.p95() == 0.0


class TestReloads:
    def test_a_reload_waits_for_every_live_worker_and_a_later_one_covers_it(self, tmp_path: Path) -> None:
        control = tmp_path / "reload"
        control.touch()
        mine = _Reloads(control)
        mine.acknowledge("", {})
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
        gone = tmp_path / f"reload.{int(dead.stdout)}.ack"
        gone.write_text('{"id": ""}')
        first = mine.request()
        assert first is not None
        assert control.read_text() == first
        mine.acknowledge(first, {"m": []})
        assert mine.pending(first, "m") == ([], [])
        assert not gone.exists(), "a dead worker's file is removed, not waited for"

        other = tmp_path / f"reload.{os.getppid()}.ack"  # a live process that has not acknowledged
        other.write_text('{"id": ""}')
        assert mine.pending(first, "m")[0] == [os.getppid()]
        second = mine.request()
        assert second is not None
        assert second > first
        other.write_text(f'{{"id": "{second}", "errors": {{"m": ["primary: version 2: broken"]}}}}')
        assert mine.pending(first, "m") == ([], ["primary: version 2: broken"])
        mine.acknowledge(second, {})
        mine.acknowledge(first, {})  # late, from a slow turn: it never replaces the newer one
        assert mine.pending(second, "m")[0] == [], "this worker went back to an older reload"
        mine.leave()
        assert not mine.ack.exists()


class TestQueueDepthGauge:
    def test_the_gauge_sums_the_old_and_new_versions_queues_and_returns_to_zero(self) -> None:
        registry = Registry({"production": 1})
        gate = registry.gate = threading.Event()
        dep = runtime(registry, model="models:/m@production")

        def depth() -> float | None:
            """The gauge as a scrape publishes it."""
            depths = {(dep.name, role): n for role, n in dep.queue_depths().items()}
            dep.metrics.flush(inflight=0, queue_depths=depths)
            labels = {"deployment": "m", "variant": "primary"}
            return dep.metrics.registry.get_sample_value("slipway_queue_depth", labels)

        async def body() -> None:
            await dep.load_all()
            old = dep.arms[0].live
            assert old is not None
            futures = [old.batcher.submit(payload()) for _ in range(3)]
            await until(model_of(old).entered.is_set, "the model took the first request")
            assert depth() == 3  # one inside the model, two waiting
            registry.aliases["production"] = 2
            await dep.poll()
            new = dep.arms[0].live
            assert new is not None
            assert new.served.version == "2"
            futures += [new.batcher.submit(payload()) for _ in range(2)]
            assert depth() == 5  # the retired version still holds its three
            gate.set()
            answers = await asyncio.gather(*futures)
            assert [float(p.outputs["predict"][0]) for p in answers] == [1.0, 1.0, 1.0, 2.0, 2.0]
            await until(lambda: depth() == 0, "the gauge back at zero")
            dep.close()
            assert depth() == 0

        run(body())


# ---------------------------------------------------------------------- the prediction log
def rows_logged(metrics: ServingMetrics, outcome: str) -> float:
    labels = {"deployment": "m", "outcome": outcome}
    return metrics.registry.get_sample_value("slipway_prediction_log_rows_total", labels) or 0.0


class TestPredictionLog:
    def test_requests_a_swapped_out_version_answers_during_shutdown_are_all_logged(
        self, tmp_path: Path
    ) -> None:
        """Slow model, 20 requests queued, swap, then graceful shutdown: the retired batcher's last
        batches are joined before the log closes, so no answered request is missing from it."""
        registry = Registry({"production": 1})
        registry.sleep = 0.05
        tree = open_file_tree(str(tmp_path / "predlog"))
        predlog = ServingLog(tree, metrics=ServingMetrics(), flush_interval=3600)
        dep = runtime(registry, log=predlog, model="models:/m@production", batching={"max_batch_size": 4})
        ids = [f"r{i}" for i in range(20)]
        answered: list[str] = []

        async def body() -> None:
            await dep.load_all()
            old = dep.arms[0].live
            assert old is not None
            futures = [old.batcher.submit(payload(rid)) for rid in ids]
            registry.aliases["production"] = 2
            await dep.poll()
            assert version_of(dep, "primary") == "2"
            assert not all(f.done() for f in futures), "the old version should still be answering"
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, dep.close)  # as the app's shutdown does
            await loop.run_in_executor(None, predlog.close)
            for rid, future in zip(ids, futures, strict=True):
                assert future.done()
                if future.exception() is None:
                    answered.append(rid)

        run(body())
        assert answered == ids
        logged = read_predictions(tree, deployment="m")
        assert sorted(logged["request_id"]) == sorted(answered)
        assert set(logged["model_version"]) == {"1"}
        assert predlog.metrics is not None
        assert rows_logged(predlog.metrics, "written") == 20
        assert rows_logged(predlog.metrics, "dropped") == 0

    def test_the_predict_thread_answers_the_next_batch_while_the_log_computes_probabilities(
        self, tmp_path: Path
    ) -> None:
        registry = Registry({"production": 1})
        gate = registry.proba_gate = threading.Event()
        tree = open_file_tree(str(tmp_path / "predlog"))
        predlog = ServingLog(tree, metrics=ServingMetrics(), flush_interval=3600)
        dep = runtime(registry, log=predlog, model="models:/m@production")

        async def body() -> None:
            await dep.load_all()
            live = dep.arms[0].live
            assert live is not None
            try:
                await asyncio.wait_for(live.batcher.submit(payload("a")), 5)
                await until(model_of(live).in_proba.is_set, "the log computing a's probabilities")
                # the predict thread is free: b is answered while a's probabilities are still held
                await asyncio.wait_for(live.batcher.submit(payload("b")), 2)
            finally:
                gate.set()
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, dep.close)
            await loop.run_in_executor(None, predlog.close)

        run(body())
        logged = read_predictions(tree, deployment="m")
        assert sorted(logged["request_id"]) == ["a", "b"]
        assert [list(p) for p in logged["probabilities"]] == [[0.75, 0.25], [0.75, 0.25]]

    def test_tensors_of_any_rank_and_named_tensors_are_logged_as_their_rows(self, tmp_path: Path) -> None:
        from slipway.serving._served import ServedModel

        tree = open_file_tree(str(tmp_path / "predlog"))
        predlog = ServingLog(tree, flush_interval=3600)
        model = ServedModel(cast("Any", ConstantModel(1.0)), name="m", version="1", source="test")
        images = np.arange(2 * 2 * 3, dtype=np.float64).reshape(2, 2, 3)
        payloads = [
            Payload(rows=2, data=images, id="cube"),  # one 3-D tensor
            Payload(rows=1, data=np.array([[5.0, 6.0]]), id="flat"),  # a 2-D one, in the same batch
            Payload(  # named tensors, one of them 2-D per row
                rows=2,
                data={"image": images[:, 0, :2], "scale": np.array([0.5, 2.0])},
                id="named",
            ),
        ]
        predlog.log_batch("m", model, "primary", payloads, model.predict(payloads), [0.001] * 3)
        predlog.close()
        frame = read_predictions(tree, deployment="m").set_index("request_id")
        cube = frame.loc[["cube#0", "cube#1"], "x"]
        assert [[list(r) for r in row] for row in cube] == images.tolist()
        assert frame.loc["flat", ["x0", "x1"]].tolist() == [5.0, 6.0]
        named = frame.loc[["named#0", "named#1"]]
        assert [list(v) for v in named["image"]] == [[0.0, 1.0], [6.0, 7.0]]
        assert named["scale"].tolist() == [0.5, 2.0]


def test_a_worker_takes_its_orders_and_the_token_out_of_its_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker's orders carry the bearer token: they come in a file only its user can read, and
    the variable naming it is gone once read (a model's subprocesses do not inherit it)."""
    import json
    import os

    from slipway.serving._server import CONFIG_ENV, app_factory

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    config = {
        "deployments": [{"name": "m", "model": str(tmp_path / "model")}],
        "options": {"token": "s3cret", "log_predictions": False},
    }
    orders = tmp_path / "config.json"
    orders.write_text(json.dumps(config))
    monkeypatch.setenv(CONFIG_ENV, str(orders))
    app = app_factory()
    assert CONFIG_ENV not in os.environ
    assert list(app.deployments) == ["m"]
    assert app._token == b"s3cret"
