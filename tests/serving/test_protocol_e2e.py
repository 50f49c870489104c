"""`slipway serve` as a real process: the Open Inference Protocol v2 and MLflow scoring over HTTP."""

from __future__ import annotations

import json
import signal
import socket
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from tests.serving._models import FEATURES, iris, save_iris_array, save_iris_frame, save_pyfunc, v2_body
from tests.serving._serve import Server, slipway_serve

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("serving")


@pytest.fixture(scope="module")
def server(root: Path) -> Iterator[Server]:
    """Two deployments: ``iris`` (a column signature) and ``iris_np`` (one 2-D tensor)."""
    save_iris_frame(root / "frame")
    save_iris_array(root / "array")
    (root / "deployment.yaml").write_text(
        f"- name: iris\n  model: {root / 'frame'}\n- name: iris_np\n  model: {root / 'array'}\n"
    )
    with slipway_serve(["-f", str(root / "deployment.yaml")], cwd=root) as s:
        yield s


def _predict(rows: list[list[float]]) -> list[int]:
    from sklearn.linear_model import LogisticRegression

    X, y = iris()
    model = LogisticRegression(max_iter=500).fit(X, y)
    import pandas as pd

    return [int(v) for v in model.predict(pd.DataFrame(rows, columns=FEATURES))]


ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]


class TestHealthAndMetadata:
    def test_health_endpoints_answer_200(self, server: Server) -> None:
        for path in ("/v2/health/live", "/v2/health/ready", "/v2/models/iris/ready", "/ping", "/health"):
            assert server.request("GET", path)[0] == 200, path

    def test_server_metadata_has_name_version_and_extensions(self, server: Server) -> None:
        status, doc = server.json("GET", "/v2")
        assert status == 200
        assert doc["name"] == "slipway"
        assert isinstance(doc["version"], str)
        assert doc["version"]
        assert "binary_tensor_data" in doc["extensions"]

    def test_model_metadata_lists_the_signature_and_the_version(self, server: Server) -> None:
        status, doc = server.json("GET", "/v2/models/iris")
        assert status == 200
        assert doc["name"] == "iris"
        assert doc["platform"] == "slipway_sklearn"
        assert [i["name"] for i in doc["inputs"]] == FEATURES
        assert all(i["datatype"] == "FP64" and i["shape"] == [-1] for i in doc["inputs"])
        assert {o["name"] for o in doc["outputs"]} == {"predict", "predict_proba"}
        version = doc["versions"][0]
        status, again = server.json("GET", f"/v2/models/iris/versions/{version}")
        assert status == 200
        assert again["name"] == "iris"
        _, tensor = server.json("GET", "/v2/models/iris_np")
        assert tensor["inputs"] == [{"name": "input-0", "datatype": "FP64", "shape": [-1, 4]}]

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/v2/models/nope"),
            ("GET", "/v2/models/nope/ready"),
            ("POST", "/v2/models/nope/infer"),
            ("GET", "/v2/models/iris/versions/999"),
            ("POST", "/v2/models/iris/versions/999/infer"),
            ("GET", "/no/such/route"),
        ],
    )
    def test_unknown_models_versions_and_routes_are_404_with_an_error_body(
        self, server: Server, method: str, path: str
    ) -> None:
        status, doc = server.json(method, path, v2_body(ROWS) if method == "POST" else None)
        assert status == 404
        assert set(doc) == {"error"}
        assert doc["error"]

    def test_a_wrong_method_is_405(self, server: Server) -> None:
        status, headers, body = server.request("GET", "/v2/models/iris/infer")
        assert status == 405
        assert headers["allow"] == "POST"
        assert "error" in json.loads(body)


class TestInfer:
    def test_flat_data_with_an_id_answers_the_model_prediction(self, server: Server) -> None:
        status, headers, raw = server.request(
            "POST", "/v2/models/iris/infer", v2_body(ROWS, columns=FEATURES, id="req-1")
        )
        assert status == 200
        doc = json.loads(raw)
        assert doc["id"] == "req-1"
        assert doc["model_name"] == "iris"
        (out,) = doc["outputs"]
        assert out["name"] == "predict"
        assert out["datatype"] == "INT64"
        assert out["shape"] == [2]
        assert len(out["data"]) == 2
        assert out["data"] == _predict(ROWS)
        assert headers["x-model-version"] == doc["model_version"]
        assert headers["x-request-id"] == "req-1"
        assert headers["x-model-variant"] == "primary"

    def test_nested_data_and_a_2d_tensor_are_accepted(self, server: Server) -> None:
        body = {"inputs": [{"name": "input-0", "shape": [2, 4], "datatype": "FP64", "data": ROWS}]}
        status, doc = server.json("POST", "/v2/models/iris_np/infer", body)
        assert status == 200
        assert doc["outputs"][0]["shape"] == [2]
        assert doc["outputs"][0]["data"] == _predict(ROWS)
        # the column model also takes one 2-D tensor holding every column in signature order
        status, doc = server.json("POST", "/v2/models/iris/infer", body)
        assert status == 200
        assert doc["outputs"][0]["data"] == _predict(ROWS)

    def test_explicit_outputs_are_honoured_and_unknown_parameters_ignored(self, server: Server) -> None:
        body = v2_body(ROWS[:1], columns=FEATURES, parameters={"whatever": 1, "binary_data_output": False})
        body["outputs"] = [{"name": "predict_proba"}, {"name": "predict"}]
        status, doc = server.json("POST", "/v2/models/iris/infer", body)
        assert status == 200
        assert [o["name"] for o in doc["outputs"]] == ["predict_proba", "predict"]
        proba = doc["outputs"][0]
        assert proba["shape"] == [1, 3]
        assert proba["datatype"] == "FP64"
        assert abs(sum(proba["data"]) - 1) < 1e-9

    def test_a_caller_request_id_header_is_kept_and_one_is_made_otherwise(self, server: Server) -> None:
        _, headers, raw = server.request(
            "POST", "/v2/models/iris/infer", v2_body(ROWS, columns=FEATURES), headers={"x-request-id": "abc"}
        )
        assert headers["x-request-id"] == "abc" == json.loads(raw)["id"]
        _, headers, raw = server.request("POST", "/v2/models/iris/infer", v2_body(ROWS, columns=FEATURES))
        assert len(headers["x-request-id"]) >= 16
        assert headers["x-request-id"] == json.loads(raw)["id"]

    @pytest.mark.parametrize(
        ("body", "names"),
        [
            (b"{not json", "JSON"),
            ({"id": "x"}, "inputs"),
            (
                {"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP99", "data": [1, 2, 3, 4]}]},
                "FP99",
            ),
            (
                {"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3]}]},
                "input-0",
            ),
            (
                {"inputs": [{"name": "input-0", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]},
                "input-0",
            ),
            (
                {
                    "inputs": [
                        {"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": ["a", 2, 3, 4]}
                    ]
                },
                "input-0",
            ),
            (
                {"inputs": [{"name": "input-0", "shape": [-1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}]},
                "negative",
            ),
            (
                {
                    "inputs": [
                        {"name": "input-0", "shape": [1, 4], "datatype": "INT64", "data": [1.5, 2, 3, 4]}
                    ]
                },
                "input-0",
            ),
            ({"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64"}]}, "data"),
            ({**v2_body([[1, 2, 3, 4]]), "outputs": [{"name": "nope"}]}, "nope"),
            (
                {"inputs": [{"name": "input-0", "shape": "1,4", "datatype": "FP64", "data": [1, 2, 3, 4]}]},
                "shape",
            ),
        ],
    )
    def test_malformed_requests_are_400_with_a_message_naming_the_problem(
        self, server: Server, body: Any, names: str
    ) -> None:
        status, _, raw = server.request("POST", "/v2/models/iris_np/infer", body)
        assert status == 400, raw
        doc = json.loads(raw)
        assert set(doc) == {"error"}
        assert names in doc["error"]
        assert "Traceback" not in doc["error"]

    def test_a_missing_or_mistyped_column_is_named(self, server: Server) -> None:
        body = v2_body(ROWS, columns=FEATURES)
        body["inputs"] = body["inputs"][1:]  # type: ignore[index]
        status, doc = server.json("POST", "/v2/models/iris/infer", body)
        assert status == 400
        assert "'sepal_length' is missing" in doc["error"]
        body = v2_body(ROWS, columns=FEATURES)
        body["inputs"][2]["datatype"] = "BYTES"  # type: ignore[index]
        body["inputs"][2]["data"] = ["x", "y"]  # type: ignore[index]
        status, doc = server.json("POST", "/v2/models/iris/infer", body)
        assert status == 400
        assert "petal_length" in doc["error"]

    def test_tritonclient_works_unchanged_with_binary_and_json_tensors(self, server: Server) -> None:
        import tritonclient.http as triton

        client = triton.InferenceServerClient(url=server.url.removeprefix("http://"))
        assert client.is_server_live()
        assert client.is_server_ready()
        assert client.is_model_ready("iris_np")
        assert client.get_model_metadata("iris_np")["name"] == "iris_np"
        data = np.asarray(ROWS, dtype=np.float64)
        for binary in (True, False):
            tensor = triton.InferInput("input-0", list(data.shape), "FP64")
            tensor.set_data_from_numpy(data, binary_data=binary)
            outputs = [triton.InferRequestedOutput("predict", binary_data=binary)]
            result = client.infer("iris_np", [tensor], outputs=outputs, request_id="t-1")
            assert result.as_numpy("predict").tolist() == _predict(ROWS)
            assert result.get_response()["id"] == "t-1"
        bad = triton.InferInput("input-0", [1, 3], "FP64")
        bad.set_data_from_numpy(np.ones((1, 3)), binary_data=True)
        with pytest.raises(triton.InferenceServerException, match="expected shape"):
            client.infer("iris_np", [bad])
        with pytest.raises(triton.InferenceServerException, match="unknown model"):
            client.get_model_metadata("nope")


class TestWireAndFiniteInputs:
    """Each answer leaves in one write (HEAD, 100 Continue and pipelining still work); a tensor
    model that refuses NaN gets it refused by the codec, as a 400."""

    def test_a_null_for_a_model_that_refuses_nan_is_400_naming_the_input(self, server: Server) -> None:
        body = v2_body([[5.1, None, 1.4, 0.2]])  # type: ignore[list-item]
        status, doc = server.json("POST", "/v2/models/iris_np/infer", body)
        assert status == 400
        assert doc == {"error": "input: NaN or infinite values; this model takes only finite numbers"}
        status, doc = server.json("POST", "/v2/models/iris_np/infer", v2_body(ROWS))
        assert status == 200
        assert doc["outputs"][0]["data"] == _predict(ROWS)

    def test_head_then_post_on_one_connection_are_both_answered(self, server: Server) -> None:
        import http.client

        host, port = server.url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            conn.request("HEAD", "/v2/health/live")
            head = conn.getresponse()
            assert head.read() == b""  # the head alone: nothing held back for a body that never comes
            assert head.status in (200, 405)
            conn.request("POST", "/v2/models/iris_np/infer", json.dumps(v2_body(ROWS)))
            answer = conn.getresponse()
            assert answer.status == 200
            assert json.loads(answer.read())["outputs"][0]["data"] == _predict(ROWS)
        finally:
            conn.close()

    def test_expect_100_continue_gets_the_interim_answer_before_the_body(self, server: Server) -> None:
        body = json.dumps(v2_body(ROWS)).encode()
        with _connect(server) as sock:
            sock.sendall(
                b"POST /v2/models/iris_np/infer HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
            )
            reader = _Reader(sock)
            assert reader.until(b"\r\n\r\n").startswith(b"HTTP/1.1 100 ")
            sock.sendall(body)
            status, answer = reader.response()
        assert status == 200
        assert json.loads(answer)["outputs"][0]["data"] == _predict(ROWS)

    def test_a_head_answer_is_not_held_for_the_request_pipelined_behind_it(self, server: Server) -> None:
        body = json.dumps(v2_body(ROWS)).encode()
        with _connect(server) as sock:
            sock.sendall(  # a HEAD, and behind it a POST whose body has not come yet
                b"HEAD /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n"
                b"POST /v2/models/iris_np/infer HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
            )
            reader = _Reader(sock)
            head = reader.until(b"\r\n\r\n")  # times out (10 s) if the HEAD's answer waits for the POST
            assert head.split(b" ", 2)[1] in (b"200", b"405")
            sock.sendall(body)
            status, answer = reader.response()
        assert status == 200
        assert json.loads(answer)["outputs"][0]["data"] == _predict(ROWS)

    def test_pipelined_requests_are_answered_in_order(self, server: Server) -> None:
        first, second = ([ROWS[0]], [ROWS[1]])
        raw = b""
        for rows, rid in ((first, "one"), (second, "two")):
            body = json.dumps(v2_body(rows, id=rid)).encode()
            raw += (
                b"POST /v2/models/iris_np/infer HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
            ) + body
        with _connect(server) as sock:
            sock.sendall(raw)  # both requests before either answer
            reader = _Reader(sock)
            answers = [reader.response(), reader.response()]
        assert [status for status, _ in answers] == [200, 200]
        docs = [json.loads(body) for _, body in answers]
        assert [d["id"] for d in docs] == ["one", "two"]
        assert [d["outputs"][0]["data"] for d in docs] == [_predict(first), _predict(second)]


def _connect(server: Server) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


class _Reader:
    """Read HTTP/1.1 answers off a socket, one at a time, keeping what arrived past each one."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffered = bytearray()

    def _more(self) -> None:
        chunk = self.sock.recv(65536)
        assert chunk, f"the server closed the connection after {bytes(self.buffered)!r}"
        self.buffered += chunk

    def until(self, end: bytes) -> bytes:
        while end not in self.buffered:
            self._more()
        cut = self.buffered.index(end) + len(end)
        out = bytes(self.buffered[:cut])
        del self.buffered[:cut]
        return out

    def response(self) -> tuple[int, bytes]:
        """One answer with a Content-Length: its status and body."""
        head = self.until(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        length = next(int(v.split(b":", 1)[1]) for v in lines if v.lower().startswith(b"content-length:"))
        while len(self.buffered) < length:
            self._more()
        body = bytes(self.buffered[:length])
        del self.buffered[:length]
        return int(lines[0].split(b" ", 2)[1]), body


def _samples(server: Server) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of ``/metrics``, parsed with prometheus-client's own parser: (name, labels) -> value."""
    from prometheus_client.parser import text_string_to_metric_families

    _, _, raw = server.request("GET", "/metrics")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(raw.decode())
        for s in family.samples
    }


def _key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


class TestMetrics:
    def test_requests_are_counted_exactly_and_nothing_is_in_flight_once_idle(self, server: Server) -> None:
        """One good and one bad request add exactly one each to their own series and nothing else."""
        before = _samples(server)
        status, headers, _ = server.request("POST", "/v2/models/iris_np/infer", v2_body(ROWS))
        assert status == 200
        assert server.request("POST", "/v2/models/iris_np/infer", b"{")[0] == 400
        time.sleep(0.3)  # a moment of idleness: every answer delivered, every future done
        after = _samples(server)
        # the model label is the model that answered (a folder's is the deployment's name)
        answered = {
            "deployment": "iris_np",
            "model": headers["x-model-name"],
            "version": headers["x-model-version"],
            "variant": "primary",
        }
        changed = {
            k: v - before.get(k, 0.0)
            for k, v in after.items()
            if k[0] == "slipway_requests_total" and v != before.get(k, 0.0)
        }
        assert changed == {
            _key("slipway_requests_total", **answered, status="200"): 1.0,
            _key("slipway_requests_total", **answered, status="400"): 1.0,
        }
        latency = _key("slipway_request_duration_seconds_count", deployment="iris_np", variant="primary")
        assert after[latency] == before.get(latency, 0.0) + 2
        assert after[_key("slipway_inflight_requests")] == 0
        batches = _key("slipway_batch_size_count", deployment="iris_np", variant="primary")
        assert after[batches] == before.get(batches, 0.0) + 1  # the bad request never reached the model
        assert (
            after[_key("slipway_model_events_total", deployment="iris", variant="primary", event="load")] == 1
        )

    def test_the_queue_depth_is_zero_once_idle(self, server: Server) -> None:
        assert server.request("POST", "/v2/models/iris_np/infer", v2_body(ROWS))[0] == 200
        time.sleep(0.3)
        assert _samples(server)[_key("slipway_queue_depth", deployment="iris_np", variant="primary")] == 0


@pytest.fixture(scope="module")
def single(root: Path, server: Server) -> Iterator[Server]:
    """The column model alone (``/invocations`` serves a single deployment)."""
    with slipway_serve([str(root / "frame"), "--name", "iris"], cwd=root) as s:
        yield s


class TestInvocations:
    @pytest.mark.parametrize(
        "body",
        [
            {"dataframe_split": {"columns": FEATURES, "data": ROWS}},
            {"dataframe_records": [dict(zip(FEATURES, r, strict=True)) for r in ROWS]},
            {"instances": [dict(zip(FEATURES, r, strict=True)) for r in ROWS]},
            {"instances": ROWS},
            {"inputs": {f: [r[j] for r in ROWS] for j, f in enumerate(FEATURES)}},
        ],
    )
    def test_every_mlflow_json_format_answers_predictions(self, single: Server, body: dict[str, Any]) -> None:
        status, doc = single.json("POST", "/invocations", body, headers={"content-type": "application/json"})
        assert status == 200, doc
        assert doc == {"predictions": _predict(ROWS)}

    def test_csv_is_accepted(self, single: Server) -> None:
        csv = ",".join(FEATURES) + "\n" + "\n".join(",".join(map(str, r)) for r in ROWS) + "\n"
        status, doc = single.json("POST", "/invocations", csv.encode(), headers={"content-type": "text/csv"})
        assert status == 200
        assert doc == {"predictions": _predict(ROWS)}

    @pytest.mark.parametrize(
        ("body", "names"),
        [
            ({"dataframe_split": {"columns": FEATURES[:3], "data": [r[:3] for r in ROWS]}}, "petal_width"),
            (
                {"dataframe_records": [{**dict(zip(FEATURES, ROWS[0], strict=True)), "sepal_width": "wide"}]},
                "sepal_width",
            ),
            ({"instances": ROWS, "inputs": ROWS}, "exactly one"),
            (
                {"dataframe_split": {"columns": FEATURES, "data": ROWS}, "params": {"threshold": 1}},
                "threshold",
            ),
        ],
    )
    def test_bad_bodies_are_400_naming_the_problem(self, single: Server, body: Any, names: str) -> None:
        status, doc = single.json("POST", "/invocations", body, headers={"content-type": "application/json"})
        assert status == 400
        assert names in doc["error"]

    def test_ping_health_and_version(self, single: Server) -> None:
        assert single.request("GET", "/ping")[0] == 200
        status, headers, raw = single.request("GET", "/version")
        assert status == 200
        assert headers["content-type"].startswith("text/plain")
        assert raw


class TestLimitsAuthAndFaults:
    def test_a_body_over_the_limit_is_413(self, root: Path) -> None:
        with slipway_serve([str(root / "array"), "--max-body-mb", "0.001"], cwd=root) as s:
            big = v2_body([[1.0, 2.0, 3.0, 4.0]] * 200)
            status, doc = s.json("POST", "/v2/models/array/infer", big)
            assert status == 413
            assert "limit" in doc["error"]
            assert s.json("POST", "/v2/models/array/infer", v2_body(ROWS))[0] == 200
            # without a Content-Length, a body sent as one chunk is measured as it arrives
            raw = json.dumps(big).encode()
            status, answer = _chunked(s, "/v2/models/array/infer", raw)
            assert status == 413, answer
            assert "limit" in json.loads(answer)["error"]
            assert _chunked(s, "/v2/models/array/infer", json.dumps(v2_body(ROWS)).encode())[0] == 200

    def test_a_token_guards_everything_but_health(self, root: Path) -> None:
        """Health (the server's and a model's readiness, OIP counts both as health) stays open."""
        with slipway_serve([str(root / "array"), "--token", "s3cret"], cwd=root) as s:
            for path in ("/ping", "/health", "/v2/health/live", "/v2/health/ready", "/v2/models/array/ready"):
                assert s.request("GET", path)[0] == 200, path
            # an unknown model's readiness is open too, but names no deployment to a stranger
            status, doc = s.json("GET", "/v2/models/nope/ready")
            assert status == 404
            assert "array" not in doc["error"]
            guarded = [
                ("POST", "/v2/models/array/infer", v2_body(ROWS)),
                ("GET", "/v2/models/array", None),
                ("POST", "/v2/models/array/feedback", {"request_id": "r", "label": 1}),
                ("POST", "/invocations", {"instances": ROWS}),
                ("GET", "/v2", None),
                ("GET", "/version", None),
                ("GET", "/openapi.json", None),
                ("GET", "/metrics", None),
                ("POST", "/v2/repository/index", None),
                ("POST", "/v2/repository/models/array/load", None),
            ]
            good = {"authorization": "Bearer s3cret", "content-type": "application/json"}
            for method, path, body in guarded:
                status, headers, raw = s.request(method, path, body)
                assert status == 401, path
                assert headers["www-authenticate"] == "Bearer"
                assert "token" in json.loads(raw)["error"]
                wrong = {"authorization": "Bearer nope"}
                assert s.request(method, path, body, headers=wrong)[0] == 401, path
                assert s.request(method, path, body, headers=good)[0] == 200, path

    def test_a_model_fault_is_500_with_its_message_and_is_counted(self, root: Path) -> None:
        save_pyfunc(
            root / "faulty",
            "faulty_model",
            """
            def predict(self, df):
                if (df["x"] < 0).any():
                    raise ValueError("x must not be negative")
                return df["x"].to_numpy() * 2
            """,
        )
        with slipway_serve([str(root / "faulty")], cwd=root) as s:
            body = {"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [-1.0]}]}
            status, doc = s.json("POST", "/v2/models/faulty/infer", body)
            assert status == 500
            assert doc == {"error": "model faulty failed: ValueError: x must not be negative"}
            body["inputs"][0]["data"] = [3.0]
            status, doc = s.json("POST", "/v2/models/faulty/infer", body)
            assert status == 200
            assert doc["outputs"][0]["data"] == [6.0]
            _, _, raw = s.request("GET", "/metrics")
            assert 'status="500"' in raw.decode()
            assert "Traceback" not in s.log.read_text()


def _chunked(server: Server, path: str, body: bytes) -> tuple[int, bytes]:
    """POST ``body`` as a single chunk of a chunked request: no Content-Length to check up front."""
    import http.client

    host, port = server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.putrequest("POST", path)
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        conn.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_sigterm_under_load_finishes_in_flight_requests_and_logs_every_answered_one(root: Path) -> None:
    """Clients keep sending while SIGTERM arrives: every request that got a 200 is in the log."""
    import threading

    from slipway.artifacts import open_file_tree
    from slipway.predlog import read_predictions

    home = root / "graceful"
    home.mkdir()
    save_pyfunc(
        home / "m",
        "slowish_model",
        """
        def predict(self, df):
            time.sleep(0.02)  # requests are in flight when the signal lands
            return df["x"].to_numpy() * 2
        """,
    )
    answered: list[str] = []
    refused = 0
    stop = threading.Event()
    lock = threading.Lock()

    def client(n: int, s: Server) -> None:
        nonlocal refused
        i = 0
        while not stop.is_set():
            rid = f"c{n}-{i}"
            i += 1
            body = {"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [float(i)]}]}
            try:
                status, headers, _ = s.request(
                    "POST", "/v2/models/g/infer", body, headers={"x-request-id": rid}
                )
            except OSError:  # the server stopped accepting: expected once it got the signal
                with lock:
                    refused += 1
                return
            with lock:
                if status == 200:
                    answered.append(headers["x-request-id"])
                else:
                    assert status == 503, status  # at most "shutting down"; never a 5xx of its own

    with slipway_serve([str(home / "m"), "--name", "g"], cwd=home) as s:
        threads = [threading.Thread(target=client, args=(n, s)) for n in range(8)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(answered) < 80 and time.monotonic() < deadline:
            time.sleep(0.01)
        s.proc.send_signal(signal.SIGTERM)
        # uvicorn re-raises the signal once it has shut down gracefully, so the status says SIGTERM
        assert s.proc.wait(timeout=30) in (0, -signal.SIGTERM)
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert len(answered) >= 80
    frame = read_predictions(open_file_tree(str(home / ".slipway" / "artifacts" / "predlog")), deployment="g")
    assert sorted(frame["request_id"]) == sorted(answered)
    assert set(frame["variant"]) == {"primary"}
    assert {"x", "prediction", "latency_ms"} <= set(frame.columns)


def test_the_log_has_a_tensor_model_inputs_as_columns_and_its_probabilities(root: Path) -> None:
    from slipway.artifacts import open_file_tree
    from slipway.predlog import read_predictions

    home = root / "columns"
    home.mkdir()
    save_iris_array(home / "m")
    with slipway_serve([str(home / "m"), "--name", "t"], cwd=home) as s:
        for i in range(3):
            status, _, _ = s.request(
                "POST", "/v2/models/t/infer", v2_body(ROWS), headers={"x-request-id": f"r{i}"}
            )
            assert status == 200
    frame = read_predictions(open_file_tree(str(home / ".slipway" / "artifacts" / "predlog")), deployment="t")
    assert sorted(frame["request_id"]) == sorted(f"r{i}#{j}" for i in range(3) for j in range(2))
    assert list(frame.sort_values("request_id")["x2"])[:2] == [ROWS[0][2], ROWS[1][2]]
    proba = frame[["proba_0", "proba_1", "proba_2"]].to_numpy()
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert list(frame["prediction"]) == list(proba.argmax(axis=1))
