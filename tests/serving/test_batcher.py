"""The micro-batcher on a real event loop and thread, with a predict function that records its calls.

Where the order of events matters, a "slow" predict is held on a :class:`threading.Event` rather
than slowed by a sleep, so what the tests assert does not depend on how fast the machine is.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from slipway.errors import Overloaded
from slipway.serving._batcher import Batcher

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Iterator, Sequence
    from pathlib import Path

    from slipway.serving._codec import Payload
    from slipway.serving._served import Prediction, ServedModel


def run(coro: Coroutine[Any, Any, None]) -> None:
    """Run one test's body on a fresh event loop (the batcher completes futures on it)."""
    asyncio.run(coro)


class Recorder:
    """A predict function ``x -> 10 * x`` that records each call's payloads.

    With ``hold`` every call waits until the test sets ``gate``; ``sleep`` slows each call. A
    payload below zero makes the whole call raise ValueError, as a model does on one bad row.
    """

    def __init__(self, *, hold: bool = False, sleep: float = 0.0) -> None:
        self.calls: list[list[int]] = []
        self.entered = threading.Event()
        self.gate = threading.Event()
        if not hold:
            self.gate.set()
        self.sleep = sleep

    def __call__(self, payloads: Sequence[int]) -> list[int]:
        self.calls.append(list(payloads))
        self.entered.set()
        if not self.gate.wait(10):
            raise TimeoutError("the test never released the predict call")
        if self.sleep:
            time.sleep(self.sleep)
        bad = [p for p in payloads if p < 0]
        if bad:
            raise ValueError(f"x must not be negative, got {bad[0]}")
        return [10 * p for p in payloads]

    @property
    def sizes(self) -> list[int]:
        return [len(c) for c in self.calls]

    async def busy(self) -> None:
        """Wait, without blocking the loop, until the predict thread is inside a call."""
        assert await asyncio.to_thread(self.entered.wait, 5)


@pytest.fixture
def make() -> Iterator[Callable[..., Batcher[int, int]]]:
    """Build batchers named ``m``; each is closed (and its thread gone) after the test."""
    made: list[Batcher[int, int]] = []

    def build(predict: Callable[[Sequence[int]], Any], **kw: Any) -> Batcher[int, int]:
        b: Batcher[int, int] = Batcher(predict, name="m", **kw)
        made.append(b)
        return b

    yield build
    for b in made:
        b.close(wait=True)
        assert not b._thread.is_alive()


class TestLightTraffic:
    def test_a_lone_request_is_predicted_at_once_and_alone(
        self, make: Callable[..., Batcher[int, int]]
    ) -> None:
        rec = Recorder()
        b = make(rec, max_latency_ms=50)

        waits: list[float] = []

        async def body() -> None:
            for i in range(30):
                start = time.perf_counter()
                assert await b.submit(i) == 10 * i
                waits.append(time.perf_counter() - start)

        run(body())
        assert rec.sizes == [1] * 30
        # the 50 ms window is never waited: a thread hand-off is tens of microseconds
        assert statistics.median(waits) < 0.003, waits
        assert max(waits) < 0.025, waits

    def test_a_lone_request_after_a_burst_is_not_delayed(
        self, make: Callable[..., Batcher[int, int]]
    ) -> None:
        rec = Recorder(hold=True)
        b = make(rec, max_latency_ms=50)

        async def body() -> None:
            first = b.submit(0)
            await rec.busy()
            burst = [b.submit(i) for i in range(1, 20)]
            rec.gate.set()
            await asyncio.gather(first, *burst)
            await asyncio.sleep(0.01)
            start = time.perf_counter()
            assert await b.submit(99) == 990
            assert time.perf_counter() - start < 0.025

        run(body())
        assert rec.sizes == [1, 19, 1]


class TestBatchesUnderLoad:
    def test_requests_that_arrive_while_the_model_is_busy_go_together(
        self, make: Callable[..., Batcher[int, int]]
    ) -> None:
        rec = Recorder(hold=True)
        b = make(rec, max_batch_size=64, max_latency_ms=1000)

        async def body() -> None:
            first = b.submit(0)
            await rec.busy()
            waiting = [b.submit(i) for i in range(1, 11)]
            rec.gate.set()
            assert await asyncio.gather(first, *waiting) == [10 * i for i in range(11)]

        run(body())
        assert rec.calls == [[0], list(range(1, 11))]

    def test_a_batch_holds_at_most_max_batch_size_requests(
        self, make: Callable[..., Batcher[int, int]]
    ) -> None:
        rec = Recorder(hold=True)
        b = make(rec, max_batch_size=4, max_latency_ms=1000)

        async def body() -> None:
            first = b.submit(0)
            await rec.busy()
            waiting = [b.submit(i) for i in range(1, 11)]
            rec.gate.set()
            await asyncio.gather(first, *waiting)

        run(body())
        assert rec.calls == [[0], [1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]

    def test_everything_that_waited_behind_a_long_call_goes_into_one_batch(
        self, make: Callable[..., Batcher[int, int]]
    ) -> None:
        """However long the running call takes (here far past max_latency_ms), what waited behind it
        is one batch: closing batches by arrival span would leave a busy model ever further behind."""
        rec = Recorder(hold=True)
        b = make(rec, max_batch_size=64, max_latency_ms=30)

        async def body() -> None:
            first = b.submit(0)
            await rec.busy()
            early = [b.submit(1), b.submit(2)]
            await asyncio.sleep(0.08)  # well past max_latency_ms
            late = [b.submit(3), b.submit(4)]
            rec.gate.set()
            assert await asyncio.gather(first, *early, *late) == [0, 10, 20, 30, 40]

        run(body())
        assert rec.calls == [[0], [1, 2, 3, 4]]

    def test_results_are_split_back_in_order_to_their_own_requests(
        self, make: Callable[..., Batcher[int, int]]
    ) -> None:
        rec = Recorder(hold=True)
        b = make(rec, max_batch_size=8, max_latency_ms=1000)

        async def body() -> None:
            first = b.submit(1000)
            await rec.busy()
            futures = {x: b.submit(x) for x in (7, 3, 11, 5, 2, 13, 17, 19, 23, 29)}
            rec.gate.set()
            await first
            for x, future in futures.items():
                assert await future == 10 * x

        run(body())
        assert rec.sizes == [1, 8, 2]

    def test_the_event_loop_keeps_running_while_the_model_computes(
        self, make: Callable[..., Batcher[int, int]]
    ) -> None:
        rec = Recorder(sleep=0.3)
        b = make(rec)
        gaps: list[float] = []

        async def ticker(stop: asyncio.Event) -> None:
            last = time.perf_counter()
            while not stop.is_set():
                await asyncio.sleep(0.005)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        async def body() -> None:
            stop = asyncio.Event()
            tick = asyncio.create_task(ticker(stop))
            assert await b.submit(1) == 10
            stop.set()
            await tick

        run(body())
        assert len(gaps) >= 20, gaps  # ~60 ticks of 5 ms fit in 300 ms of predict
        assert max(gaps) < 0.1, max(gaps)


class TestFaults:
    def test_a_batch_that_raises_is_retried_per_request_and_only_the_bad_one_fails(
        self, make: Callable[..., Batcher[int, int]]
    ) -> None:
        rec = Recorder(hold=True)
        b = make(rec, max_latency_ms=1000)

        async def body() -> None:
            first = b.submit(0)
            await rec.busy()
            good1, bad, good2 = b.submit(1), b.submit(-5), b.submit(2)
            rec.gate.set()
            assert await first == 0
            assert await good1 == 10
            assert await good2 == 20
            with pytest.raises(ValueError, match="got -5"):
                await bad

        run(body())
        assert rec.calls == [[0], [1, -5, 2], [1], [-5], [2]]

    def test_a_lone_bad_request_is_not_retried(self, make: Callable[..., Batcher[int, int]]) -> None:
        rec = Recorder()
        b = make(rec)

        async def body() -> None:
            with pytest.raises(ValueError, match="got -1"):
                await b.submit(-1)
            assert await b.submit(4) == 40

        run(body())
        assert rec.calls == [[-1], [4]]

    def test_a_predict_that_returns_the_wrong_number_of_results_fails_those_requests(
        self, make: Callable[..., Batcher[int, int]]
    ) -> None:
        b = make(lambda payloads: [])

        async def body() -> None:
            with pytest.raises(RuntimeError, match="0 results for 1"):
                await asyncio.wait_for(b.submit(1), 5)

        run(body())

    @pytest.mark.parametrize("exc", [SystemExit(3), KeyboardInterrupt()])
    def test_a_model_that_raises_a_base_exception_fails_the_request_not_the_thread(
        self, make: Callable[..., Batcher[int, int]], exc: BaseException
    ) -> None:
        def predict(payloads: Sequence[int]) -> list[int]:
            if payloads[0] == 0:
                raise exc
            return [10 * p for p in payloads]

        b = make(predict)

        async def body() -> None:
            with pytest.raises(RuntimeError, match=type(exc).__name__):
                await asyncio.wait_for(b.submit(0), 5)
            assert await asyncio.wait_for(b.submit(2), 5) == 20

        run(body())


class TestOverload:
    def test_a_full_queue_refuses_with_overloaded_and_frees_as_answers_go(
        self, make: Callable[..., Batcher[int, int]]
    ) -> None:
        rec = Recorder(hold=True)
        b = make(rec, max_queue=3, max_latency_ms=1000)

        async def body() -> None:
            held = [b.submit(0)]
            await rec.busy()
            held += [b.submit(1), b.submit(2)]
            assert b.depth == 3  # the one being predicted counts
            with pytest.raises(Overloaded, match="max_queue 3"):
                b.submit(3)
            assert b.depth == 3
            rec.gate.set()
            assert await asyncio.gather(*held) == [0, 10, 20]
            assert b.depth == 0
            assert await b.submit(4) == 40

        run(body())
        assert 3 not in [p for call in rec.calls for p in call]

    def test_a_request_that_waited_past_its_timeout_is_refused_without_a_prediction(
        self, make: Callable[..., Batcher[int, int]]
    ) -> None:
        rec = Recorder(hold=True)
        b = make(rec, timeout=0.05, max_latency_ms=1000)

        async def body() -> None:
            first = b.submit(0)
            await rec.busy()
            stale = b.submit(1)
            await asyncio.sleep(0.1)
            fresh = b.submit(2)
            rec.gate.set()
            assert await first == 0
            with pytest.raises(Overloaded, match=r"waited more than 0\.05 s"):
                await stale
            assert await fresh == 20
            await asyncio.sleep(0)  # depth drops in the futures' done callbacks, one loop turn later
            assert b.depth == 0

        run(body())
        assert rec.calls == [[0], [2]]

    def test_a_request_answered_or_cancelled_while_queued_is_not_predicted(
        self, make: Callable[..., Batcher[int, int]]
    ) -> None:
        rec = Recorder(hold=True)
        b = make(rec, max_latency_ms=1000)

        async def body() -> None:
            first = b.submit(0)
            await rec.busy()
            cancelled, expired, kept = b.submit(1), b.submit(2), b.submit(3)
            cancelled.cancel()
            expired.set_exception(Overloaded("the server's own timer"))  # as the app's timeout does
            rec.gate.set()
            assert await first == 0
            assert await kept == 30
            with pytest.raises(Overloaded, match="own timer"):
                await expired
            await asyncio.sleep(0)
            assert b.depth == 0

        run(body())
        assert rec.calls == [[0], [3]]

    def test_requests_answered_by_the_servers_timer_count_until_the_predict_thread_drops_them(
        self, make: Callable[..., Batcher[int, int]]
    ) -> None:
        """A hung model: the server's timer answers the callers, but their payloads stay queued until
        the predict thread reaches them, so they still count against max_queue; else every timeout
        would admit another max_queue payloads and memory would grow without bound."""
        rec = Recorder(hold=True)
        b = make(rec, max_queue=3, max_latency_ms=1000)

        async def body() -> None:
            held = [b.submit(0)]
            await rec.busy()
            held += [b.submit(1), b.submit(2)]
            for future in held:
                future.set_exception(Overloaded("the server's own timer"))
            await asyncio.sleep(0.01)
            assert b.depth == 3
            with pytest.raises(Overloaded, match="max_queue 3"):
                b.submit(3)
            rec.gate.set()
            for _ in range(500):
                if b.depth == 0:
                    break
                await asyncio.sleep(0.01)
            assert b.depth == 0
            assert await b.submit(4) == 40
            for future in held:
                assert isinstance(future.exception(), Overloaded)

        run(body())
        assert rec.calls == [[0], [4]]  # what the timer answered is never predicted

    def test_the_depth_counts_what_the_batcher_holds_and_returns_to_zero(
        self, make: Callable[..., Batcher[int, int]]
    ) -> None:
        rec = Recorder(hold=True)
        b = make(rec, max_latency_ms=1000)

        async def body() -> None:
            first = b.submit(0)
            await rec.busy()
            others = [b.submit(i) for i in range(1, 5)]
            assert b.depth == 5  # one inside the model, four waiting
            others[0].cancel()
            assert b.depth == 5  # a cancelled request is held until the predict thread drops it
            rec.gate.set()
            await asyncio.gather(first, *others[1:])
            for _ in range(500):  # the release of the cancelled one may come a callback later
                if b.depth == 0:
                    break
                await asyncio.sleep(0.01)
            assert b.depth == 0

        run(body())


class TestClose:
    def test_close_predicts_what_was_queued_then_refuses(
        self, make: Callable[..., Batcher[int, int]]
    ) -> None:
        rec = Recorder(hold=True)
        b = make(rec, max_latency_ms=1000)

        async def body() -> None:
            queued = [b.submit(0)]
            await rec.busy()
            queued += [b.submit(i) for i in range(1, 6)]
            threading.Timer(0.05, rec.gate.set).start()
            await asyncio.to_thread(b.close)  # the server closes from a worker thread
            assert not b._thread.is_alive()
            assert await asyncio.gather(*queued) == [0, 10, 20, 30, 40, 50]
            with pytest.raises(Overloaded, match="retry"):
                b.submit(6)

        run(body())
        assert rec.calls == [[0], [1, 2, 3, 4, 5]]

    def test_close_without_waiting_returns_at_once_and_still_answers(
        self, make: Callable[..., Batcher[int, int]]
    ) -> None:
        rec = Recorder(hold=True)
        b = make(rec)

        async def body() -> None:
            queued = [b.submit(0), b.submit(1)]
            await rec.busy()
            b.close(wait=False)
            rec.gate.set()
            assert await asyncio.gather(*queued) == [0, 10]

        run(body())


class TestOnBatch:
    def test_on_batch_gets_payloads_results_and_each_request_latency(
        self, make: Callable[..., Batcher[int, int]]
    ) -> None:
        rec = Recorder(hold=True)
        seen: list[tuple[list[int], list[Any], list[float], str]] = []

        def on_batch(payloads: Sequence[int], results: Sequence[Any], latencies: list[float]) -> None:
            seen.append((list(payloads), list(results), latencies, threading.current_thread().name))

        b = make(rec, max_latency_ms=1000, on_batch=on_batch)

        async def body() -> None:
            first = b.submit(0)
            await rec.busy()
            others = [b.submit(1), b.submit(-1), b.submit(2)]
            await asyncio.sleep(0.05)
            rec.gate.set()
            await asyncio.gather(first, *others, return_exceptions=True)

        run(body())
        b.close()  # on_batch runs after the answers are posted: let it finish
        assert [s[0] for s in seen] == [[0], [1, -1, 2]]
        assert seen[0][1] == [0]
        assert seen[1][1][0] == 10
        assert isinstance(seen[1][1][1], ValueError)
        assert seen[1][1][2] == 20
        assert all(lat >= 0.05 for lat in seen[0][2] + seen[1][2])  # they all waited for the gate
        assert {s[3] for s in seen} == {"slipway-predict-m"}  # off the event loop

    def test_an_on_batch_that_raises_changes_nothing(self, make: Callable[..., Batcher[int, int]]) -> None:
        calls = []

        def on_batch(payloads: Sequence[int], results: Sequence[Any], latencies: list[float]) -> None:
            calls.append(list(payloads))
            raise RuntimeError("the log is broken")

        b = make(Recorder(), on_batch=on_batch)

        async def body() -> None:
            assert await b.submit(1) == 10
            assert await b.submit(2) == 20

        run(body())
        b.close()
        assert calls == [[1], [2]]


# ---------------------------------------------------------------------- ServedModel.predict
_SCALER = """
import numpy as np


class Scaler:
    \"\"\"x * scale + z (z optional), recording each call's row count; predict_proba may fail.\"\"\"

    def __init__(self):
        self.calls = []
        self.proba_fails = False

    def predict(self, df, params=None):
        self.calls.append(len(df))
        z = df["z"].to_numpy() if "z" in df.columns else 0.0
        return df["x"].to_numpy() * (params or {}).get("scale", 1.0) + z

    def predict_proba(self, df, params=None):  # params: slipway passes predict's defaults here too
        if self.proba_fails:
            raise ValueError("no probabilities today")
        p = np.clip(df["x"].to_numpy() / 100.0, 0.0, 1.0)
        return np.stack([1.0 - p, p], axis=1)
"""


_DTYPES = """
import numpy as np


class Dtypes:
    # no signature: answers each row with the dtype and row width of the array it was given

    def predict(self, x):
        return np.array([f"{x.dtype}/{x.shape[1]}"] * len(x), dtype=object)
"""


def _save_module_model(root: Path, module: str, source: str, cls: str, **kw: Any) -> Path:
    """Save ``module.cls()`` (its source written under ``root``) as a pyfunc model at root/model."""
    import importlib
    import sys

    from slipway.models import save_model

    (root / f"{module}.py").write_text(source)
    sys.path.insert(0, str(root))
    try:
        obj = getattr(importlib.import_module(module), cls)()
        save_model(obj, root / "model", code_paths=[root / f"{module}.py"], **kw)
    finally:
        sys.path.remove(str(root))
        sys.modules.pop(module, None)
    return root / "model"


@pytest.fixture(scope="module")
def scaler(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pyfunc model with an optional column ``z`` and a parameter ``scale``, saved once."""
    from slipway.core import ColumnSpec, ParamSpec, Schema, Signature

    signature = Signature(
        inputs=Schema(
            columns=(
                ColumnSpec(name="x", dtype="float64"),
                ColumnSpec(name="z", dtype="float64", optional=True),
            )
        ),
        params=(ParamSpec(name="scale", dtype="float64", default=1.0),),
    )
    root = tmp_path_factory.mktemp("scaler")
    return _save_module_model(root, "served_scaler", _SCALER, "Scaler", signature=signature)


@pytest.fixture(scope="module")
def dtypes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _save_module_model(tmp_path_factory.mktemp("dtypes"), "served_dtypes", _DTYPES, "Dtypes")


def _served(path: Path, *, log_probabilities: bool = False) -> ServedModel:
    from slipway.models import load_model
    from slipway.serving._served import ServedModel

    return ServedModel(
        load_model(path), name="s", version="1", source=str(path), log_probabilities=log_probabilities
    )


def _payload(served: ServedModel, body: dict[str, Any]) -> Payload:
    """Decode as the server does for ``/invocations``: codec, then the model's params."""
    import json

    payload = served.codec.decode_invocations(json.dumps(body).encode(), "application/json")
    payload.params = served.model_params(payload, strict=True)
    return payload


def _rows(x: list[float], z: list[float] | None = None, **params: float) -> dict[str, Any]:
    columns = {"x": x} if z is None else {"x": x, "z": z}
    return {"inputs": columns, **({"params": params} if params else {})}


def _values(predictions: Sequence[Prediction]) -> list[list[Any]]:
    return [list(p.outputs["predict"]) for p in predictions]


class TestServedModelPredict:
    def test_a_batch_is_one_call_split_back_by_each_request_row_count(self, scaler: Path) -> None:
        served = _served(scaler)
        payloads = [_payload(served, _rows(x)) for x in ([1.0, 2.0], [3.0], [4.0, 5.0, 6.0])]
        assert _values(served.predict(payloads)) == [[1.0, 2.0], [3.0], [4.0, 5.0, 6.0]]
        assert served.model.raw.calls == [6]  # type: ignore[attr-defined]

    def test_requests_with_and_without_an_optional_column_each_get_their_own_answer(
        self, scaler: Path
    ) -> None:
        served = _served(scaler)
        payloads = [
            _payload(served, _rows([1.0])),
            _payload(served, _rows([2.0], z=[10.0])),
            _payload(served, _rows([3.0])),
            _payload(served, _rows([4.0], z=[20.0])),
        ]
        assert _values(served.predict(payloads)) == [[1.0], [12.0], [3.0], [24.0]]
        # one call per set of columns, not one per request
        assert served.model.raw.calls == [2, 2]  # type: ignore[attr-defined]

    def test_the_optional_column_is_kept_when_the_first_request_lacks_it(self, scaler: Path) -> None:
        served = _served(scaler)
        payloads = [_payload(served, _rows([1.0])), _payload(served, _rows([2.0], z=[10.0]))]
        assert _values(served.predict(payloads)) == [[1.0], [12.0]]

    def test_requests_with_different_params_are_grouped_by_params(self, scaler: Path) -> None:
        served = _served(scaler)
        payloads = [
            _payload(served, _rows([1.0], scale=2.0)),
            _payload(served, _rows([1.0])),
            _payload(served, _rows([2.0], scale=2.0)),
            _payload(served, _rows([3.0], scale=3.0)),
            _payload(served, _rows([2.0])),
        ]
        assert _values(served.predict(payloads)) == [[2.0], [1.0], [4.0], [9.0], [2.0]]
        assert served.model.raw.calls == [2, 2, 1]  # type: ignore[attr-defined]

    def test_probabilities_wanted_only_for_the_log_never_fail_a_request(self, scaler: Path) -> None:
        served = _served(scaler, log_probabilities=True)
        assert served.log_probabilities
        payloads = [_payload(served, _rows([1.0])), _payload(served, _rows([50.0]))]
        answered = served.predict(payloads)
        assert all("predict_proba" not in p.outputs for p in answered)  # not on the caller's path
        logged = served.probabilities_for_log(payloads, answered)
        assert logged is not None
        assert [list(p[:, 1]) for p in logged] == [[0.01], [0.5]]
        served.model.raw.proba_fails = True  # type: ignore[attr-defined]
        answered = served.predict(payloads)
        assert _values(answered) == [[1.0], [50.0]]
        assert served.probabilities_for_log(payloads, answered) is None  # the log goes without
        asked = _payload(served, _rows([1.0]))
        asked.outputs = ("predict", "predict_proba")
        with pytest.raises(ValueError, match="no probabilities today"):
            served.predict([asked])

    def test_without_a_signature_arrays_of_other_types_or_widths_are_never_concatenated(
        self, dtypes: Path
    ) -> None:
        import json

        served = _served(dtypes)
        assert served.codec.kind == "any"

        def tensor(datatype: str, rows: list[list[float]]) -> Payload:
            flat = [v for r in rows for v in r]
            body = {
                "inputs": [
                    {"name": "t", "datatype": datatype, "shape": [len(rows), len(rows[0])], "data": flat}
                ]
            }
            return served.codec.decode_v2(json.dumps(body).encode())

        payloads = [
            tensor("INT64", [[1, 2], [3, 4]]),
            tensor("FP64", [[1.5, 2.5]]),
            tensor("FP64", [[1.0, 2.0, 3.0]]),
            tensor("INT64", [[5, 6]]),
        ]
        assert _values(served.predict(payloads)) == [
            ["int64/2", "int64/2"],
            ["float64/2"],
            ["float64/3"],
            ["int64/2"],
        ]
