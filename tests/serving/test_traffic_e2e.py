"""`slipway serve` as a real process following a real registry: hot swap, canary, shadow, A/B.

Models are registered in the project's own registry (the default SQLite store and artifact folder
under the server's working folder), and aliases are moved while clients keep sending requests.
Every model is a small pyfunc whose answer says which version gave it.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from tests._team_server import clean_env
from tests.serving._models import save_pyfunc
from tests.serving._serve import Server, slipway_serve

from slipway.core import AuditAction

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from pathlib import Path

    from slipway.registry import Registry

pytestmark = pytest.mark.e2e

BREACH_TAG = "slipway.serving.canary_breach"


# ---------------------------------------------------------------------- the project and its models
class Project:
    """A project folder whose default registry the server reads (it starts with cwd= this folder)."""

    def __init__(self, root: Path) -> None:
        from slipway.artifacts import open_blob_store
        from slipway.registry import Registry
        from slipway.store import open_metadata_store

        self.root = root
        store = open_metadata_store(f"sqlite:///{root / '.slipway' / 'slipway.db'}")
        self.registry: Registry = Registry(store, open_blob_store(str(root / ".slipway" / "artifacts")))
        self._saved = 0

    def register(self, name: str, body: str) -> int:
        """Register the next version of ``name``: a pyfunc with this class body (all versions of a
        model share their module's name, as versions of one project's code do)."""
        self._saved += 1
        folder = save_pyfunc(self.root / "models" / f"{name}-{self._saved}", f"{name}_model", body)
        return self.registry.register(folder, name, actor="tests", reason="test model").version

    def constant(self, name: str, value: float) -> int:
        return self.register(name, f"def predict(self, df):\n    return np.full(len(df), {value!r})\n")

    def alias(self, name: str, alias: str, version: int) -> None:
        self.registry.set_alias(name, alias, version, actor="tests", reason="test move")

    def holder(self, name: str, alias: str) -> int:
        return self.registry.resolve(f"models:/{name}@{alias}").version

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "slipway", *args],
            cwd=self.root,
            env=clean_env(),
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )


def broken_when(flag: Path, value: float) -> str:
    """A model that answers ``value``, and raises for everything once ``flag`` exists (a build that
    saved fine and breaks where it is served)."""
    return f"""
    def predict(self, df):
        import os
        if os.path.exists({str(flag)!r}):
            raise RuntimeError("this build is broken")
        return np.full(len(df), {value!r})
    """


FAILS_ON_TRAFFIC = """
def predict(self, df):
    if (df["x"] >= 3).any():  # the input example (1, 2) passes; callers send 5
        raise RuntimeError("the canary is broken")
    return np.full(len(df), 2.0)
"""

SLOW = """
def predict(self, df):
    time.sleep({seconds!r})
    return np.full(len(df), {value!r})
"""


# ---------------------------------------------------------------------- talking to the server
@dataclass(frozen=True)
class Answer:
    start: float  # time.monotonic() in this process
    end: float
    status: int
    version: str | None  # x-model-version
    variant: str | None  # x-model-variant
    body_version: str | None  # the OIP body's model_version
    value: float | None  # the prediction
    request_id: str | None


def infer(
    server: Server, deployment: str, x: float = 5.0, headers: Mapping[str, str] | None = None
) -> Answer:
    body = {"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [x]}]}
    start = time.monotonic()
    status, head, raw = server.request("POST", f"/v2/models/{deployment}/infer", body, headers=headers)
    end = time.monotonic()
    doc = json.loads(raw) if raw else {}
    value = doc["outputs"][0]["data"][0] if status == 200 else None
    return Answer(
        start,
        end,
        status,
        head.get("x-model-version"),
        head.get("x-model-variant"),
        doc.get("model_version"),
        value,
        head.get("x-request-id"),
    )


class Load:
    """Clients sending requests one after another on several threads until stopped."""

    def __init__(self, server: Server, deployment: str, *, threads: int = 4) -> None:
        self.server = server
        self.deployment = deployment
        self.answers: list[Answer] = []
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.answers.append(infer(self.server, self.deployment))
            except Exception as e:  # a refused or reset connection is a failed request too
                self.errors.append(e)

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)

    def wait_for(self, condition: Callable[[list[Answer]], bool], timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not condition(list(self.answers)):
            assert time.monotonic() < deadline, f"never happened; last answers: {self.answers[-3:]}"
            time.sleep(0.02)

    def count_after(self, t: float) -> Callable[[list[Answer]], bool]:
        return lambda answers: sum(a.start > t for a in answers) >= 40


def check_swap(load: Load, values: Mapping[str, float], *, swapped_at: float) -> None:
    """No request failed; every answer matches its version header; both versions answered, and
    every request sent after ``swapped_at`` was answered by the new version."""
    answers = load.answers
    assert not load.errors, load.errors[:3]
    failed = [a for a in answers if a.status != 200]
    assert not failed, f"{len(failed)} of {len(answers)} requests failed, e.g. {failed[:3]}"
    for a in answers:
        assert a.version in values, a
        assert a.value == values[str(a.version)], a
        assert a.body_version == a.version, a
    old, new = values
    assert {a.version for a in answers} == {old, new}
    late = [a for a in answers if a.start > swapped_at]
    assert late
    assert {a.version for a in late} == {new}, [a for a in late if a.version != new][:3]


def metric(server: Server, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``, parsed by prometheus-client."""
    from prometheus_client.parser import text_string_to_metric_families

    _, _, raw = server.request("GET", "/metrics")
    return sum(
        s.value
        for family in text_string_to_metric_families(raw.decode())
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def eventually(condition: Callable[[], bool], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.05)


def index(server: Server, deployment: str) -> dict[str, dict[str, Any]]:
    status, items = server.json("POST", "/v2/repository/index")
    assert status == 200
    return {i["variant"]: i for i in items if i["name"] == deployment}


# ---------------------------------------------------------------------- one server, many deployments
DEPLOYMENTS = """
- name: reloaded
  model: models:/reloaded@production
  poll_interval: 1h            # only `slipway deployments reload` moves it
- name: polled
  model: models:/polled@production
  poll_interval: 1s
- name: guarded
  model: models:/guarded@production
  poll_interval: 1s
- name: canary_err
  model: models:/ce@production
  canary: {model: models:/ce@challenger, weight: 0.5,
           rollback: {max_error_rate: 0.1, window: 1m, min_requests: 10}}
  poll_interval: 1s
- name: canary_slow
  model: models:/cs@production
  canary: {model: models:/cs@challenger, weight: 0.5,
           rollback: {max_p95_ms: 15, window: 1m, min_requests: 10}}
  poll_interval: 1s
- name: weighted
  model: models:/wc@production
  canary: {model: models:/wc@challenger, weight: 0.2}
- name: baseline
  model: models:/sp@production
- name: shadow_ok
  model: models:/sp@production
  shadow: models:/sok/1
- name: shadow_bad
  model: models:/sp@production
  shadow: models:/sbad/1
- name: shadow_slow
  model: models:/sp@production
  shadow: models:/sslow/1
- name: ab_header
  ab: {key: "header:x-user", arms: {a: {model: models:/ab/1, weight: 3}, b: {model: models:/ab/2, weight: 1}}}
- name: ab_field
  ab: {key: "field:x", arms: {a: {model: models:/ab/1}, b: {model: models:/ab/2}}}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    p = Project(tmp_path_factory.mktemp("traffic"))
    for name in ("reloaded", "polled", "guarded"):
        p.alias(name, "production", p.constant(name, 1.0))
    p.register("guarded", broken_when(p.root / "guarded-broken", 2.0))
    (p.root / "guarded-broken").touch()  # from now on its version 2 raises
    # canaries: the challenger alias held version 1 before the canary, so the rollback has a target
    for name, bad in (("ce", FAILS_ON_TRAFFIC), ("cs", SLOW.format(seconds=0.03, value=2.0))):
        p.alias(name, "production", p.constant(name, 1.0))
        p.alias(name, "challenger", 1)
        p.alias(name, "challenger", p.register(name, bad))
    p.alias("wc", "production", p.constant("wc", 1.0))
    p.alias("wc", "challenger", p.constant("wc", 2.0))
    p.alias("sp", "production", p.constant("sp", 1.0))
    p.constant("sok", 7.0)
    p.register("sbad", FAILS_ON_TRAFFIC)
    p.register("sslow", SLOW.format(seconds=0.2, value=7.0))
    p.constant("ab", 1.0)
    p.constant("ab", 2.0)
    (p.root / "deployment.yaml").write_text(DEPLOYMENTS)
    return p


@pytest.fixture(scope="module")
def server(project: Project) -> Iterator[Server]:
    with slipway_serve(["-f", "deployment.yaml"], cwd=project.root) as s:
        yield s


# ---------------------------------------------------------------------- hot swap
class TestHotSwap:
    def test_a_reload_swaps_the_new_version_in_under_load_and_fails_no_request(
        self, project: Project, server: Server
    ) -> None:
        v2 = project.constant("reloaded", 2.0)
        with Load(server, "reloaded") as load:
            load.wait_for(lambda a: len(a) >= 40)
            project.alias("reloaded", "production", v2)
            time.sleep(0.3)  # the deployment polls hourly: nothing moves until the reload
            assert {a.version for a in load.answers} == {"1"}
            done = project.cli("deployments", "reload", "reloaded", "--url", server.url)
            reloaded = time.monotonic()
            assert done.returncode == 0, done.stderr
            assert f"-> {v2}" in done.stdout
            load.wait_for(load.count_after(reloaded))
        check_swap(load, {"1": 1.0, str(v2): 2.0}, swapped_at=reloaded)
        assert metric(server, "slipway_model_events_total", deployment="reloaded", event="swap") == 1

    def test_polling_notices_the_moved_alias_and_swaps_under_load(
        self, project: Project, server: Server
    ) -> None:
        v2 = project.constant("polled", 2.0)
        with Load(server, "polled") as load:
            load.wait_for(lambda a: len(a) >= 40)
            project.alias("polled", "production", v2)
            load.wait_for(lambda a: any(x.version == str(v2) for x in a), timeout=10)
            first = min(a.end for a in load.answers if a.version == str(v2))
            load.wait_for(load.count_after(first))
        check_swap(load, {"1": 1.0, str(v2): 2.0}, swapped_at=first)

    def test_a_version_failing_its_input_example_is_never_swapped_in(
        self, project: Project, server: Server
    ) -> None:
        with Load(server, "guarded", threads=2) as load:
            load.wait_for(lambda a: len(a) >= 20)
            project.alias("guarded", "production", 2)
            eventually(
                lambda: (
                    metric(server, "slipway_model_events_total", deployment="guarded", event="load_failed")
                    == 1
                ),
                "polling tried version 2",
            )
            time.sleep(1.5)  # more polls: a failed version is not retried (and counted) every second
            status, doc = server.json("POST", "/v2/repository/models/guarded/load")
            load.wait_for(lambda a: len(a) >= 80)
        assert status == 400
        assert "version 2" in doc["error"]
        assert "input example" in doc["error"]
        assert "this build is broken" in doc["error"]
        assert not load.errors
        assert {(a.status, a.version, a.value) for a in load.answers} == {(200, "1", 1.0)}
        # the reload retried it at once: one more failure, and nothing else
        assert metric(server, "slipway_model_events_total", deployment="guarded", event="load_failed") == 2
        assert metric(server, "slipway_model_events_total", deployment="guarded", event="swap") == 0
        primary = index(server, "guarded")["primary"]
        assert primary["state"] == "READY"
        assert primary["version"] == "1"
        assert "version 2" in primary["reason"]
        assert "input example" in primary["reason"]
        listed = project.cli("deployments", "list", "--url", server.url)
        assert listed.returncode == 0, listed.stderr
        assert "input example" in listed.stdout
        # moved back to what it serves: the error is cleared, a reload succeeds
        project.alias("guarded", "production", 1)
        status, doc = server.json("POST", "/v2/repository/models/guarded/load")
        assert status == 200, doc
        assert index(server, "guarded")["primary"]["reason"] == ""


def test_with_two_workers_a_reload_reaches_both_before_it_returns(tmp_path: Path) -> None:
    project = Project(tmp_path)
    project.alias("mw", "production", project.constant("mw", 1.0))
    v2 = project.constant("mw", 2.0)
    (tmp_path / "deployment.yaml").write_text("name: mw\nmodel: models:/mw@production\npoll_interval: 1h\n")
    with slipway_serve(["-f", "deployment.yaml", "--workers", "2"], cwd=tmp_path) as server:
        # both workers loaded (the metric is summed over the workers' files)
        eventually(
            lambda: metric(server, "slipway_model_events_total", deployment="mw", event="load") == 2,
            "both workers loaded the model",
            timeout=60,
        )
        workers = _workers(server.proc.pid)
        assert len(workers) == 2, workers
        for pid, environ in workers.items():  # their orders (and the bearer token) are not in it
            assert b'"deployments"' not in environ, pid
            assert b"SLIPWAY_SERVE_CONFIG=/" in environ, pid  # the 0600 file the orders are in
        with Load(server, "mw") as load:
            load.wait_for(lambda a: len(a) >= 40)
            project.alias("mw", "production", v2)
            done = project.cli("deployments", "reload", "mw", "--url", server.url)
            reloaded = time.monotonic()
            assert done.returncode == 0, done.stderr
            load.wait_for(load.count_after(reloaded))
            load.wait_for(lambda a: sum(x.start > reloaded for x in a) >= 150)
        check_swap(load, {"1": 1.0, str(v2): 2.0}, swapped_at=reloaded)
        assert metric(server, "slipway_model_events_total", deployment="mw", event="swap") == 2


def _workers(supervisor: int) -> dict[int, bytes]:
    """The worker processes the supervisor spawned, with their environment as /proc shows it."""
    from pathlib import Path

    children = [
        int(pid)
        for task in Path(f"/proc/{supervisor}/task").iterdir()
        for pid in (task / "children").read_text().split()
    ]
    return {
        pid: Path(f"/proc/{pid}/environ").read_bytes()
        for pid in children
        if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    }


# ---------------------------------------------------------------------- canary
def _audit(project: Project, model: str) -> list[Any]:
    return list(project.registry.audit(model=model))


class TestCanaryRollback:
    def test_a_failing_canary_is_taken_out_and_its_alias_rolled_back(
        self, project: Project, server: Server
    ) -> None:
        answers = [infer(server, "canary_err") for _ in range(120)]
        canary = [i for i, a in enumerate(answers) if a.variant == "canary"]
        # callers saw the canary's 500s, and only until the tenth (min_requests) took it out
        assert len(canary) == 10, [(a.status, a.variant) for a in answers]
        assert all(answers[i].status == 500 and answers[i].version == "2" for i in canary)
        assert all(
            a.status == 200 and a.variant == "primary" and a.value == 1.0 for a in answers[canary[-1] + 1 :]
        )
        assert [a for a in answers if a.status != 200] == [answers[i] for i in canary]

        eventually(lambda: project.holder("ce", "challenger") == 1, "the challenger alias moved back")
        events = _audit(project, "ce")
        tag = [e for e in events if e.action == AuditAction.TAG and BREACH_TAG in e.details.get("tags", {})]
        assert len(tag) == 1
        assert tag[0].version == 2
        assert tag[0].actor.startswith("slipway-serve@")
        assert "max_error_rate 0.1" in tag[0].details["tags"][BREACH_TAG]
        assert "deployment canary_err" in tag[0].reason
        rollback = [e for e in events if e.action == AuditAction.ROLLBACK]
        assert len(rollback) == 1
        assert (rollback[0].alias, rollback[0].version, rollback[0].previous_version) == ("challenger", 1, 2)
        assert rollback[0].actor == tag[0].actor
        assert "max_error_rate 0.1" in rollback[0].reason
        assert project.registry.get_version("ce", 2).tags[BREACH_TAG] == tag[0].details["tags"][BREACH_TAG]
        audit = project.cli("audit", "--model", "ce", "--format", "jsonl")
        assert audit.returncode == 0, audit.stderr
        lines = [json.loads(line) for line in audit.stdout.splitlines() if line.strip()]
        assert [(e["action"], e["actor"]) for e in lines[-2:]] == [
            ("tag", tag[0].actor),
            ("rollback", tag[0].actor),
        ]

        # polls see the alias moved back to an older version: that is the rollback, not a new canary
        time.sleep(2.5)
        later = [infer(server, "canary_err") for _ in range(40)]
        assert {(a.status, a.variant, a.version) for a in later} == {(200, "primary", "1")}
        arms = index(server, "canary_err")
        assert "max_error_rate" in arms["canary"]["reason"]
        assert metric(server, "slipway_model_events_total", deployment="canary_err", event="rollback") == 1
        assert (
            metric(server, "slipway_requests_total", deployment="canary_err", variant="canary", status="500")
            == 10
        )

    def test_a_slow_canary_is_taken_out_on_its_p95(self, project: Project, server: Server) -> None:
        answers = [infer(server, "canary_slow") for _ in range(150)]
        assert {a.status for a in answers} == {200}
        canary = [i for i, a in enumerate(answers) if a.variant == "canary"]
        assert len(canary) >= 10
        assert canary[-1] < len(answers) - 50, "the canary kept getting traffic"
        assert all(a.variant == "primary" and a.value == 1.0 for a in answers[canary[-1] + 1 :])
        eventually(lambda: project.holder("cs", "challenger") == 1, "the challenger alias moved back")
        reasons = [e.reason for e in _audit(project, "cs") if e.action == AuditAction.ROLLBACK]
        assert len(reasons) == 1
        assert "max_p95_ms 15" in reasons[0]


def test_a_weighted_canary_gets_its_share_and_says_so(server: Server) -> None:
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: infer(server, "weighted"), range(500)))
    assert {a.status for a in answers} == {200}
    canary = [a for a in answers if a.variant == "canary"]
    # binomial(500, 0.2): mean 100, sd 9; these bounds are 4.5 sd away
    assert 60 <= len(canary) <= 140
    assert {(a.version, a.body_version, a.value) for a in canary} == {("2", "2", 2.0)}
    primary = [a for a in answers if a.variant == "primary"]
    assert len(primary) + len(canary) == len(answers)
    assert {(a.version, a.body_version, a.value) for a in primary} == {("1", "1", 1.0)}


# ---------------------------------------------------------------------- shadow
class TestShadow:
    def test_a_working_shadow_is_logged_beside_the_primary_and_never_answers(
        self, project: Project, server: Server
    ) -> None:
        from slipway.artifacts import open_file_tree
        from slipway.predlog import read_predictions

        ids = [f"shadow-ok-{i}" for i in range(30)]
        for rid in ids:
            a = infer(server, "shadow_ok", headers={"x-request-id": rid})
            assert (a.status, a.variant, a.version, a.value, a.request_id) == (200, "primary", "1", 1.0, rid)
        tree = open_file_tree(str(project.root / ".slipway" / "artifacts" / "predlog"))

        def logged() -> Any:
            return read_predictions(tree, deployment="shadow_ok")

        eventually(lambda: len(logged()) >= 2 * len(ids), "both variants' rows in the prediction log")
        frame = logged()
        for variant, value in (("primary", 1.0), ("shadow", 7.0)):
            rows = frame[frame["variant"] == variant]
            assert sorted(rows["request_id"]) == sorted(ids), variant
            assert set(rows["prediction"]) == {value}, variant
            assert set(rows["model_version"]) == {"1"}
        assert metric(server, "slipway_shadow_errors_total", deployment="shadow_ok") == 0

    def test_a_failing_shadow_changes_nothing_for_callers_and_is_counted(self, server: Server) -> None:
        answers = [infer(server, "shadow_bad") for _ in range(30)]
        assert {(a.status, a.variant, a.version, a.value) for a in answers} == {(200, "primary", "1", 1.0)}
        eventually(
            lambda: metric(server, "slipway_shadow_errors_total", deployment="shadow_bad") == 30,
            "every shadow failure counted",
        )

    def test_a_slow_shadow_adds_no_latency(self, server: Server) -> None:
        slow: list[float] = []
        base: list[float] = []
        for _ in range(30):
            for deployment, times in (("shadow_slow", slow), ("baseline", base)):
                a = infer(server, deployment)
                assert (a.status, a.variant, a.value) == (200, "primary", 1.0)
                times.append(a.end - a.start)
        # the shadow sleeps 200 ms per call: a caller waiting for it would take that long every time
        assert statistics.median(slow) < statistics.median(base) + 0.02, (slow, base)
        assert sorted(slow)[-3] < 0.15, slow


# ---------------------------------------------------------------------- A/B
class TestStickyAB:
    def test_a_header_key_always_gets_the_same_arm_and_keys_spread_by_weight(self, server: Server) -> None:
        users = [f"user-{i}" for i in range(200)]
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda u: infer(server, "ab_header", headers={"x-user": u}), users * 2))
        assert {a.status for a in answers} == {200}
        arms: dict[str, set[str | None]] = {}
        for user, a in zip(users * 2, answers, strict=True):
            arms.setdefault(user, set()).add(a.variant)
            assert (a.version, a.value) == {"a": ("1", 1.0), "b": ("2", 2.0)}[str(a.variant)], a
        assert all(len(v) == 1 for v in arms.values()), "a user switched arms"
        share_a = sum(v == {"a"} for v in arms.values()) / len(users)
        assert 0.6 <= share_a <= 0.9, share_a  # weights 3:1

    def test_a_field_key_works_the_same_on_the_input_value(self, server: Server) -> None:
        xs = [1000.0 + i for i in range(100)]
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda x: infer(server, "ab_field", x=x), xs * 2))
        assert {a.status for a in answers} == {200}
        arms: dict[float, set[str | None]] = {}
        for x, a in zip(xs * 2, answers, strict=True):
            arms.setdefault(x, set()).add(a.variant)
            assert a.version == {"a": "1", "b": "2"}[str(a.variant)]
        assert all(len(v) == 1 for v in arms.values()), "an input value switched arms"
        share_a = sum(v == {"a"} for v in arms.values()) / len(xs)
        assert 0.3 <= share_a <= 0.7, share_a  # weights 1:1
