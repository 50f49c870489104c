"""`slipway serve` as a real process: what the ASGI app answers when something is not the caller's fault.

A bug in the server, a model answer that cannot be encoded, a prediction log that cannot be written:
each is a JSON answer with ``{"error": ...}``, counted, and never a traceback. Also: feedback end to
end, which versions a caller can reach (never the shadow, never a canary out of traffic), the
``Retry-After`` of every "not loaded yet", the echoed request id, and the framing of every answer.
"""

from __future__ import annotations

import json
import signal
import time
from typing import TYPE_CHECKING, Any

import pytest
from tests._team_server import clean_env
from tests.serving._models import save_module, save_pyfunc
from tests.serving._serve import Server, slipway_serve

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.e2e


def x_body(*xs: float, **extra: Any) -> dict[str, Any]:
    """An OIP request for the pyfunc models of ``save_pyfunc``: one FP64 column ``x``."""
    return {"inputs": [{"name": "x", "shape": [len(xs)], "datatype": "FP64", "data": list(xs)}], **extra}


def requests_total(server: Server, deployment: str) -> dict[tuple[str, str, str, str], float]:
    """``slipway_requests_total`` of one deployment: (model, version, variant, status) -> count."""
    from prometheus_client.parser import text_string_to_metric_families

    _, _, raw = server.request("GET", "/metrics")
    out: dict[tuple[str, str, str, str], float] = {}
    for family in text_string_to_metric_families(raw.decode()):
        for s in family.samples:
            if s.name == "slipway_requests_total" and s.labels["deployment"] == deployment:
                key = (s.labels["model"], s.labels["version"], s.labels["variant"], s.labels["status"])
                out[key] = s.value
    return out


def by_status(counts: dict[tuple[str, str, str, str], float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for (_, _, _, status), n in counts.items():
        out[status] = out.get(status, 0) + n
    return out


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("app")


# ---------------------------------------------------------------------- a bug in the server
INJECTED_BUG = """
import os

import numpy as np

if os.environ.get("APP_E2E_INJECT_BUG"):  # only in the server this test starts, never in pytest
    from slipway.serving import _codec, _served

    def _bug(*args, **kwargs):
        raise RuntimeError("an injected server bug")

    _served.ServedModel.check_outputs = _bug  # on every inference request, before predict
    _codec.InputCodec.metadata_inputs = _bug  # on GET /v2/models/{m}


class Model:
    def predict(self, df):
        return df["x"].to_numpy() * 2
"""


def test_an_exception_escaping_a_handler_is_a_counted_json_500_without_a_traceback(root: Path) -> None:
    """A bug outside the model (here injected into the server by the model's module when it is
    imported there) answers 500 ``internal error: <type>``, never uvicorn's plain-text 500."""
    home = root / "bug"
    home.mkdir()
    save_module(home / "m", "app_injected_bug_model", INJECTED_BUG)
    env = clean_env(APP_E2E_INJECT_BUG="1")
    with slipway_serve([str(home / "m"), "--name", "bug"], cwd=home, env=env) as s:
        status, headers, raw = s.request("POST", "/v2/models/bug/infer", x_body(1.0))
        assert status == 500
        assert headers["content-type"] == "application/json"
        assert json.loads(raw) == {"error": "internal error: RuntimeError"}
        assert headers["x-model-version"]
        assert headers["x-model-variant"] == "primary"
        status, headers, raw = s.request("GET", "/v2/models/bug")
        assert status == 500
        assert json.loads(raw) == {"error": "internal error: RuntimeError"}
        assert by_status(requests_total(s, "bug")) == {"500": 2}
        assert s.request("GET", "/v2/health/ready")[0] == 200  # the server keeps serving
    text = s.log.read_text()
    assert "Traceback" not in text
    lines = [line for line in text.splitlines() if "internal error" in line]
    assert len(lines) == 2, text
    assert "RuntimeError: an injected server bug" in lines[0]


# ---------------------------------------------------------------------- answers that cannot be encoded
UNENCODABLE = """
def predict(self, df):
    x = df["x"].to_numpy()
    if (x >= 10).any():  # Python integers past 64 bits: JSON encoders refuse them as numbers
        out = np.empty(len(x), dtype=object)
        out[:] = [2**70 + int(v) for v in x]
        return out
    if (x >= 3).any():  # an np.matrix (what scipy.sparse sums return): an ndarray orjson refuses
        return np.asmatrix(x.reshape(-1, 1))
    return x  # the input example (1, 2) encodes
"""


@pytest.fixture(scope="module")
def unencodable(root: Path) -> Iterator[Server]:
    """A model whose answers orjson cannot write; served without a prediction log."""
    home = root / "unencodable"
    home.mkdir()
    save_pyfunc(home / "m", "app_unencodable_model", UNENCODABLE)
    with slipway_serve([str(home / "m"), "--name", "odd", "--no-log-predictions"], cwd=home) as s:
        yield s


@pytest.mark.parametrize(
    ("path", "x"),
    [("/v2/models/odd/infer", 5.0), ("/invocations", 5.0), ("/invocations", 20.0)],
)
def test_an_answer_that_cannot_be_encoded_is_a_counted_model_fault_with_its_headers(
    unencodable: Server, path: str, x: float
) -> None:
    before = by_status(requests_total(unencodable, "odd")).get("500", 0)
    if path == "/invocations":
        body: dict[str, Any] = {"dataframe_split": {"columns": ["x"], "data": [[1.0], [x]]}}
    else:
        body = x_body(1.0, x)
    json_body = {"content-type": "application/json"}
    status, headers, raw = unencodable.request("POST", path, body, headers=json_body)
    assert status == 500
    assert headers["content-type"] == "application/json"
    error = json.loads(raw)["error"]
    assert error.startswith("model odd failed: TypeError: "), error
    assert headers["x-model-variant"] == "primary"
    assert headers["x-model-version"]
    assert by_status(requests_total(unencodable, "odd"))["500"] == before + 1
    fine = x_body(1.0, 2.0) if "v2" in path else {"instances": [{"x": 1.0}]}
    assert unencodable.json("POST", path, fine, headers=json_body)[0] == 200
    assert "Traceback" not in unencodable.log.read_text()


def test_feedback_without_a_prediction_log_is_501(unencodable: Server) -> None:
    status, doc = unencodable.json("POST", "/v2/models/odd/feedback", {"request_id": "r", "label": 1})
    assert status == 501
    assert "prediction log" in doc["error"]


# ---------------------------------------------------------------------- feedback end to end
def test_feedback_is_recorded_end_to_end_and_bad_feedback_is_a_4xx_or_a_503(root: Path) -> None:
    from slipway.artifacts import open_file_tree
    from slipway.predlog import join_feedback, read_feedback, read_predictions

    home = root / "feedback"
    home.mkdir()
    save_pyfunc(
        home / "m", "app_feedback_model", "def predict(self, df):\n    return df['x'].to_numpy() * 2\n"
    )
    predlog = home / ".slipway" / "artifacts" / "predlog"
    with slipway_serve([str(home / "m"), "--name", "fb"], cwd=home) as s:
        status, headers, _ = s.request(
            "POST", "/v2/models/fb/infer", x_body(4.0), headers={"x-request-id": "fb-1"}
        )
        assert status == 200
        assert headers["x-request-id"] == "fb-1"

        # the log cannot be written (a file where its feedback folder goes): 503, try again later
        predlog.mkdir(parents=True, exist_ok=True)
        (predlog / "feedback").write_text("in the way")
        status, headers, raw = s.request("POST", "/v2/models/fb/feedback", {"request_id": "fb-1", "label": 1})
        assert status == 503, raw
        assert headers["retry-after"] == "1"
        assert set(json.loads(raw)) == {"error"}
        assert str(home) not in raw.decode()  # the server's paths stay in its log
        (predlog / "feedback").unlink()

        for bad in (
            b"not json",
            {"label": 1},
            {"request_id": "", "label": 1},
            {"request_id": "fb-1", "label": {"nested": 1}},
            {"request_id": "fb-1"},
            [],
            # each fits a JSON integer, but no one 64-bit column holds both
            [{"request_id": "a", "label": 18446744073709551615}, {"request_id": "b", "label": -1}],
        ):
            status, _, raw = s.request("POST", "/v2/models/fb/feedback", bad)
            assert status == 400, (bad, raw)
            assert set(json.loads(raw)) == {"error"}, raw

        status, doc = s.json("POST", "/v2/models/fb/feedback", {"request_id": "fb-1", "label": 1})
        assert (status, doc) == (200, {"accepted": 1})
        s.proc.send_signal(signal.SIGTERM)
        assert s.proc.wait(timeout=30) in (0, -signal.SIGTERM)
    assert "Traceback" not in s.log.read_text()
    tree = open_file_tree(str(predlog))
    joined = join_feedback(read_predictions(tree, deployment="fb"), read_feedback(tree, deployment="fb"))
    (row,) = joined[joined["request_id"] == "fb-1"].to_dict(orient="records")
    assert row["prediction"] == 8.0
    assert row["label"] == 1


# ---------------------------------------------------------------------- who answers a version
CANARY = """
def predict(self, df):
    if (df["x"] >= 3).any():  # the input example (1, 2) passes; callers send 5
        raise RuntimeError("the canary is broken")
    return np.full(len(df), 2.0)
"""


@pytest.fixture(scope="module")
def traffic(root: Path) -> Iterator[tuple[Server, dict[str, str]]]:
    """Deployment ``d``: a primary (answers 1), a canary out of the random split (weight 0) that
    breaks on traffic and is taken out at its first failure, and a shadow (answers 3).
    Yields the server and each variant's version."""
    home = root / "traffic"
    home.mkdir()
    save_pyfunc(
        home / "primary", "app_primary_model", "def predict(self, df):\n    return np.full(len(df), 1.0)\n"
    )
    save_pyfunc(home / "canary", "app_canary_model", CANARY)
    save_pyfunc(
        home / "shadow", "app_shadow_model", "def predict(self, df):\n    return np.full(len(df), 3.0)\n"
    )
    (home / "deployment.yaml").write_text(
        f"name: d\nmodel: {home / 'primary'}\n"
        f"canary: {{model: {home / 'canary'}, weight: 0, rollback: {{max_error_rate: 0, min_requests: 1}}}}\n"
        f"shadow: {home / 'shadow'}\n"
    )
    with slipway_serve(["-f", str(home / "deployment.yaml")], cwd=home) as s:
        deadline = time.monotonic() + 60
        while True:
            _, index = s.json("POST", "/v2/repository/index")
            if all(item["state"] == "READY" for item in index) and len(index) == 3:
                break
            assert time.monotonic() < deadline, index
            time.sleep(0.05)
        yield s, {item["variant"]: item["version"] for item in index}


def test_the_shadow_never_answers_a_caller_that_names_its_version(
    traffic: tuple[Server, dict[str, str]],
) -> None:
    s, versions = traffic
    shadow = versions["shadow"]
    assert len(set(versions.values())) == 3
    _, doc = s.json("GET", "/v2/models/d")
    assert shadow not in doc["versions"]
    for method, path in (
        ("POST", f"/v2/models/d/versions/{shadow}/infer"),
        ("GET", f"/v2/models/d/versions/{shadow}"),
        ("GET", f"/v2/models/d/versions/{shadow}/ready"),
    ):
        status, doc = s.json(method, path, x_body(1.0) if method == "POST" else None)
        assert status == 404, (path, doc)
        assert shadow in doc["error"]
    status, doc = s.json("POST", f"/v2/models/d/versions/{versions['primary']}/infer", x_body(1.0))
    assert status == 200
    assert doc["outputs"][0]["data"] == [1.0]


def test_a_canary_out_of_traffic_cannot_be_called_by_its_version(
    traffic: tuple[Server, dict[str, str]],
) -> None:
    s, versions = traffic
    canary = versions["canary"]
    path = f"/v2/models/d/versions/{canary}/infer"
    status, headers, _ = s.request("POST", path, x_body(1.0))
    assert status == 200  # in traffic, a canary answers a caller that names it
    assert headers["x-model-variant"] == "canary"
    assert canary in s.json("GET", "/v2/models/d")[1]["versions"]
    status, headers, _ = s.request("POST", path, x_body(5.0))  # its first failure takes it out
    assert status == 500
    assert headers["x-model-variant"] == "canary"
    _, index = s.json("POST", "/v2/repository/index")
    assert [i["reason"] for i in index if i["variant"] == "canary"] != [""]
    status, doc = s.json("POST", path, x_body(1.0))
    assert status == 404, doc
    assert s.json("GET", f"/v2/models/d/versions/{canary}")[0] == 404
    assert s.json("GET", f"/v2/models/d/versions/{canary}/ready")[0] == 404
    assert s.json("GET", "/v2/models/d")[1]["versions"] == [versions["primary"]]


def test_a_present_id_is_echoed_even_when_empty(traffic: tuple[Server, dict[str, str]]) -> None:
    s, _ = traffic
    status, headers, raw = s.request("POST", "/v2/models/d/infer", x_body(1.0, id=""))
    assert status == 200
    assert json.loads(raw)["id"] == ""
    assert headers["x-request-id"] == ""


# ---------------------------------------------------------------------- framing, and not loaded yet
def test_every_answer_has_a_content_length_and_no_chunked_framing(
    traffic: tuple[Server, dict[str, str]],
) -> None:
    s, _ = traffic
    for method, path, body in (
        ("POST", "/v2/models/d/infer", x_body(1.0)),
        ("POST", "/v2/models/d/infer", b"{"),
        ("GET", "/v2/models/d/infer", None),
        ("GET", "/v2/models/nope", None),
        ("GET", "/v2", None),
        ("GET", "/v2/models/d", None),
        ("GET", "/v2/health/ready", None),
        ("GET", "/metrics", None),
        ("GET", "/version", None),
        ("GET", "/openapi.json", None),
        ("POST", "/v2/repository/index", None),
        ("POST", "/invocations", {"instances": [{"x": 1.0}]}),
    ):
        status, headers, raw = s.request(method, path, body)
        assert "transfer-encoding" not in headers, (path, headers)
        assert int(headers["content-length"]) == len(raw), (path, status)


def test_every_not_loaded_yet_is_a_503_with_retry_after(root: Path) -> None:
    home = root / "ghost"
    home.mkdir()
    with slipway_serve(["models:/ghost@production", "--name", "ghost"], cwd=home, ready=False) as s:
        for method, path, body in (
            ("GET", "/v2/health/ready", None),
            ("GET", "/health", None),
            ("GET", "/ping", None),
            ("GET", "/v2/models/ghost/ready", None),
            ("GET", "/v2/models/ghost", None),
            ("POST", "/v2/models/ghost/infer", x_body(1.0)),
            ("POST", "/invocations", {"instances": [{"x": 1.0}]}),
        ):
            status, headers, raw = s.request(method, path, body)
            assert status == 503, (path, raw)
            assert headers.get("retry-after") == "1", (path, headers)
            assert "error" in json.loads(raw)
        assert s.request("GET", "/v2/health/live")[0] == 200
