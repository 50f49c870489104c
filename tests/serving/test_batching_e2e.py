"""Adaptive batching in a real `slipway serve` process, over real HTTP, with many clients at once.

One server, three deployments of small pyfunc models whose answer depends on the input (``2x + 1``
per row), so a request answered with another's rows or a mis-sliced batch shows:

- ``batched``: a 20 ms model with a large 200 ms window, so a window that was ever waited shows;
- ``tiny``: the same model with ``max_batch_size: 1`` and ``max_queue: 2``, to overflow it;
- ``slow``: a 500 ms model with ``timeout: 100ms``.

The ``batched`` model raises on a negative x, and takes 300 ms on x == 1000: a request holding
that value keeps the model busy while the test queues others behind it.
"""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from tests.serving._models import save_pyfunc
from tests.serving._serve import Server, slipway_serve

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

pytestmark = pytest.mark.e2e

MODEL_SECONDS = 0.02
WINDOW_MS = 200
HOLD = 1000.0  # an x that keeps the model busy for 300 ms


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("batching")
    save_pyfunc(
        root / "affine",
        "batching_affine",
        f"""
        def predict(self, df):
            x = df["x"].to_numpy()
            if (x < 0).any():
                raise ValueError("x must not be negative")
            time.sleep(0.3 if (x == {HOLD}).any() else {MODEL_SECONDS})
            return 2 * x + 1
        """,
    )
    save_pyfunc(
        root / "slow",
        "batching_slow",
        """
        def predict(self, df):
            time.sleep(0.5)
            return df["x"].to_numpy()
        """,
    )
    (root / "deployment.yaml").write_text(
        f"- name: batched\n  model: {root / 'affine'}\n"
        f"  batching: {{max_batch_size: 64, max_latency_ms: {WINDOW_MS}}}\n"
        f"- name: tiny\n  model: {root / 'affine'}\n"
        "  batching: {max_batch_size: 1}\n  max_queue: 2\n"
        f"- name: slow\n  model: {root / 'slow'}\n  timeout: 100ms\n"
    )
    with slipway_serve(["-f", str(root / "deployment.yaml")], cwd=root) as s:
        yield s


def body(xs: list[float], rid: str) -> dict[str, Any]:
    return {"id": rid, "inputs": [{"name": "x", "shape": [len(xs)], "datatype": "FP64", "data": xs}]}


def infer(client: httpx.Client, deployment: str, payload: Any) -> httpx.Response:
    return client.post(f"/v2/models/{deployment}/infer", json=payload)


class Clients:
    """``n`` keep-alive HTTP clients, connected up front, that send one burst at a time."""

    def __init__(self, n: int, url: str) -> None:
        self.clients = [httpx.Client(base_url=url, timeout=30) for _ in range(n)]
        for c in self.clients:
            assert c.get("/v2/health/live").status_code == 200  # connected: a burst is only requests
        self.pool = ThreadPoolExecutor(n)

    def burst(self, task: Callable[[int, httpx.Client], Any]) -> list[Any]:
        """``task(i, client_i)`` on every client at once (released by one barrier); results in order."""
        barrier = threading.Barrier(len(self.clients))

        def one(i: int) -> Any:
            barrier.wait()
            return task(i, self.clients[i])

        return list(self.pool.map(one, range(len(self.clients))))

    def __enter__(self) -> Clients:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown()
        for c in self.clients:
            c.close()


def concurrently(n: int, task: Callable[[int, httpx.Client], Any], url: str) -> list[Any]:
    with Clients(n, url) as clients:
        return clients.burst(task)


def batches(server: Server, deployment: str) -> tuple[float, float, float]:
    """(model calls, calls that held more than one request, requests in them) so far, from /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    _, _, raw = server.request("GET", "/metrics")
    calls = alone = requests = 0.0
    for family in text_string_to_metric_families(raw.decode()):
        if family.name != "slipway_batch_size":
            continue
        for s in family.samples:
            if s.labels.get("deployment") != deployment:
                continue
            if s.name == "slipway_batch_size_count":
                calls += s.value
            elif s.name == "slipway_batch_size_sum":
                requests += s.value
            elif s.name == "slipway_batch_size_bucket" and float(s.labels["le"]) == 1.0:
                alone += s.value
    return calls, calls - alone, requests


def batches_after(
    server: Server, deployment: str, before: tuple[float, float, float], requests: int
) -> tuple[float, float, float]:
    """The change in :func:`batches` since ``before`` once ``requests`` more have been predicted:
    the histogram is fed on the predict thread just after the answers go out, so it may lag them."""
    deadline = time.monotonic() + 5
    while True:
        now = batches(server, deployment)
        delta = (now[0] - before[0], now[1] - before[1], now[2] - before[2])
        if delta[2] >= requests or time.monotonic() > deadline:
            return delta
        time.sleep(0.02)


def test_concurrent_clients_are_batched_and_each_gets_its_own_answer(server: Server) -> None:
    before = batches(server, "batched")

    def client(i: int, c: httpx.Client) -> list[tuple[str, list[float], int, Any]]:
        out = []
        for k in range(8):
            xs = [float(i * 100 + k * 10 + j) for j in range(1 + (i + k) % 3)]  # 1 to 3 rows
            r = infer(c, "batched", body(xs, f"c{i}-{k}"))
            out.append((f"c{i}-{k}", xs, r.status_code, r.json()))
        return out

    results = [r for per_client in concurrently(32, client, server.url) for r in per_client]
    assert len(results) == 32 * 8
    for rid, xs, status, doc in results:
        assert status == 200, doc
        assert doc["id"] == rid
        assert doc["outputs"][0]["data"] == [2 * x + 1 for x in xs], rid
    calls, multi, predicted = batches_after(server, "batched", before, 32 * 8)
    assert predicted == 32 * 8  # each request reached the model once
    assert multi > 0, "no model call held more than one request"
    assert calls < 32 * 8  # fewer model calls than requests


def test_a_lone_request_after_a_burst_does_not_wait_for_the_window(server: Server) -> None:
    concurrently(32, lambda i, c: infer(c, "batched", body([float(i)], f"b{i}")), server.url)
    time.sleep(0.1)
    waits = []
    with httpx.Client(base_url=server.url, timeout=30) as client:
        infer(client, "batched", body([1.0], "warm"))
        for i in range(10):
            start = time.perf_counter()
            r = infer(client, "batched", body([float(i)], f"lone{i}"))
            waits.append(time.perf_counter() - start)
            assert r.status_code == 200
    # the model's own 20 ms plus HTTP, not plus the 200 ms window
    assert statistics.median(waits) < MODEL_SECONDS + 0.03, waits
    assert max(waits) < WINDOW_MS / 1000 * 0.75, waits


def _behind_a_busy_model(server: Server, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    """Send ``bodies`` together while the model is busy with a 300 ms request, so they queue
    behind it; their responses in order. Each of them that gets past decoding must have reached
    the model in one batch, which the batch-size histogram shows (else the test proves nothing)."""
    before = batches(server, "batched")
    with Clients(len(bodies), server.url) as clients, Clients(1, server.url) as holder:
        hold = holder.pool.submit(infer, holder.clients[0], "batched", body([HOLD], "hold"))
        time.sleep(0.1)  # the hold request is inside the model now, for 200 ms more
        responses = clients.burst(lambda i, c: infer(c, "batched", bodies[i]))
        assert hold.result().status_code == 200
    decoded = sum(r.status_code != 400 for r in responses)
    calls, _, predicted = batches_after(server, "batched", before, 1 + decoded)
    assert (calls, predicted) == (2, 1 + decoded), "the hold, then one batch of all the others"
    return responses


def test_a_model_fault_on_one_request_in_a_batch_fails_that_request_only(server: Server) -> None:
    xs = [[float(10 * i), float(10 * i + 1)] for i in range(8)]
    xs[3] = [5.0, -1.0]
    responses = _behind_a_busy_model(server, [body(v, f"f{i}") for i, v in enumerate(xs)])
    for i, (v, r) in enumerate(zip(xs, responses, strict=True)):
        if i == 3:
            assert r.status_code == 500
            assert r.json() == {"error": "model batched failed: ValueError: x must not be negative"}
        else:
            assert r.status_code == 200, r.text
            assert r.json()["outputs"][0]["data"] == [2 * x + 1 for x in v]


def test_a_bad_request_among_good_ones_fails_alone_with_400(server: Server) -> None:
    bodies = [body([float(i)], f"g{i}") for i in range(8)]
    bodies[5] = {"inputs": [{"name": "x", "shape": [1], "datatype": "BYTES", "data": ["five"]}]}
    responses = _behind_a_busy_model(server, bodies)
    for i, r in enumerate(responses):
        if i == 5:
            assert r.status_code == 400
            assert "'x'" in r.json()["error"]
        else:
            assert r.status_code == 200, r.text
            assert r.json()["outputs"][0]["data"] == [2 * i + 1]


def test_a_full_queue_answers_503_with_retry_after_and_the_server_recovers(server: Server) -> None:
    responses = concurrently(24, lambda i, c: infer(c, "tiny", body([float(i)], f"t{i}")), server.url)
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 503}, statuses
    assert statuses.count(503) > 0, statuses
    assert statuses.count(200) >= 2, statuses  # the one predicted and the one queued, at least
    for i, r in enumerate(responses):
        if r.status_code == 503:
            assert r.headers["retry-after"] == "1"
            assert "max_queue 2" in r.json()["error"]
        else:
            assert r.json()["outputs"][0]["data"] == [2 * i + 1]
    assert server.request("GET", "/v2/health/ready")[0] == 200
    status, doc = server.json("POST", "/v2/models/tiny/infer", body([4.0], "after"))
    assert status == 200
    assert doc["outputs"][0]["data"] == [9.0]


def test_a_request_past_the_deployment_timeout_answers_503(server: Server) -> None:
    start = time.perf_counter()
    status, headers, raw = server.request("POST", "/v2/models/slow/infer", body([1.0], "late"))
    elapsed = time.perf_counter() - start
    assert status == 503, raw
    assert headers["retry-after"] == "1"
    assert b"timeout" in raw
    assert elapsed < 0.4  # answered at the 100 ms timeout, not after the 500 ms model
    assert server.request("GET", "/v2/health/ready")[0] == 200
