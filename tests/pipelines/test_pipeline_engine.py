"""Pipeline steps on an engine (a real 2-worker Dask LocalCluster, and the local process pool).

Each engine is shared by the module's tests, as a long-lived cluster is shared by runs: every test's
project is another folder with its own ``train.py``, so workers must take each step from the files
of the run that sent it.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import pickle
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest
from tests.engines._cluster import running_cluster
from tests.pipelines._project import EXAMPLE_PIPELINE, Project, isolated_project

import slipway
from slipway.config import Settings
from slipway.core import RunStatus
from slipway.engines import DaskEngine, Engine, LocalEngine
from slipway.errors import InvalidInput, Unauthorized
from slipway.pipelines import StepResult, run
from slipway.pipelines._stores import Stores, bound, worker_client

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from concurrent.futures import Future
    from pathlib import Path

    from tests._team_server import TeamServer

pytest.importorskip("distributed")

# The example project (features.py imports helpers.py), with a metric logged inside a step.
PIPELINE = EXAMPLE_PIPELINE.replace(
    '        return {"weights"',
    '        slipway.log_metric("weight_sum", sum(features) * C)\n        return {"weights"',
)
assert PIPELINE != EXAMPLE_PIPELINE

SLEEPERS = """
    import time
    import slipway

    @slipway.step
    def nap(seconds: float, name: str):
        start = time.monotonic()
        time.sleep(seconds)
        return [start, time.monotonic()]

    @slipway.pipeline
    def pipeline():
        nap(1.0, "a")
        nap(1.0, "b")
"""


@pytest.fixture(scope="module")
def dask() -> Iterator[DaskEngine]:
    with DaskEngine.start(2) as engine:
        yield engine


@pytest.fixture(scope="module")
def local() -> Iterator[LocalEngine]:
    with LocalEngine(2) as engine:
        yield engine


@pytest.fixture(params=["local", "dask"])
def engine(request: pytest.FixtureRequest) -> Engine:
    found: Engine = request.getfixturevalue(request.param)
    return found


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    yield from isolated_project(tmp_path)


def _example(project: Project) -> None:
    project.write_example()
    project.write("train.py", PIPELINE)


class Counting:
    """A real engine that counts the tasks handed to it."""

    name = "counting"

    def __init__(self, inner: Engine) -> None:
        self.inner = inner
        self.submitted = 0

    @property
    def workers(self) -> int:
        return self.inner.workers

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.submitted += 1
        return self.inner.submit(fn, *args, **kwargs)

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        raise AssertionError("a pipeline submits its steps one by one")

    def close(self) -> None:
        raise AssertionError("an engine given to run() is left open")

    def __enter__(self) -> Counting:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def test_steps_on_the_engine_give_what_they_give_here_each_in_its_nested_run(
    project: Project, engine: Engine
) -> None:
    _example(project)
    pipe = project.load()

    here = run(pipe)
    there = run(pipe, engine=engine, use_cache=False)

    assert there.ok, there.error
    assert [s.status for s in there.steps.values()] == ["ran"] * 4
    digests = {n: {k: o.digest for k, o in s.outputs.items()} for n, s in there.steps.items()}
    assert digests == {n: {k: o.digest for k, o in s.outputs.items()} for n, s in here.steps.items()}
    assert there.output("report") == here.output("report") == 15  # helpers.scale doubles 1, 2, 3
    client = project.client
    steps = project.children(there.run_id)
    assert sorted(r.name for r in steps) == ["featurize", "load", "report", "train"]
    assert all(r.status is RunStatus.FINISHED for r in steps)
    trained = client.get_run(there.steps["train"].run_id or "")
    assert trained.parent_run_id == there.run_id
    assert trained.metrics == {"weight_sum": 12.0}  # logged inside the step, on the worker
    assert trained.params == {"C": "1.0"}
    assert trained.tags["slipway.step.key"] == there.steps["train"].key == here.steps["train"].key
    artifacts = {e.path for e in client.list_artifacts(trained.id)}
    assert artifacts == {"outputs/train.json", "slipway/cache_key.json"}
    every = client.search_runs(max_results=100).items
    assert len(every) == 2 + 8  # no stray run: the metric went to the step's run


def test_a_second_run_is_all_cached_and_sends_nothing_to_the_engine(
    project: Project, local: LocalEngine
) -> None:
    _example(project)
    pipe = project.load()
    counting = Counting(local)

    first = run(pipe, engine=counting)
    second = run(pipe, engine=counting)

    assert first.ok, first.error
    assert counting.submitted == 4
    assert [s.status for s in second.steps.values()] == ["cached"] * 4
    assert counting.submitted == 4
    assert second.output("report") == 15


def test_a_named_dask_engine_starts_its_cluster_only_when_a_step_must_run(project: Project) -> None:
    _example(project)
    pipe = project.load()
    before = len(multiprocessing.active_children())  # the module's engines, if started
    seen: list[int] = []

    def count(_result: StepResult) -> None:
        seen.append(len(multiprocessing.active_children()) - before)

    first = run(pipe, engine="dask", workers=1, progress=count)
    started, seen[:] = list(seen), []
    second = run(pipe, engine="dask", workers=1, progress=count)

    assert [s.status for s in first.steps.values()] == ["ran"] * 4
    assert started == [1] * 4  # a LocalCluster of one worker process, while the steps ran
    assert [s.status for s in second.steps.values()] == ["cached"] * 4
    assert seen == [0] * 4
    assert len(multiprocessing.active_children()) == before  # and it was shut down


def test_independent_steps_overlap_on_two_workers(project: Project, engine: Engine) -> None:
    project.write("train.py", SLEEPERS)

    result = run(project.load(), engine=engine)

    assert result.ok, result.error
    (a0, a1), (b0, b1) = result.output("nap"), result.output("nap_2")
    assert max(a0, b0) < min(a1, b1), "the two steps ran one after the other"


def test_a_failing_step_on_the_engine_is_the_same_one_line_error_and_resume_continues(
    project: Project, dask: DaskEngine
) -> None:
    _example(project)
    pipe = project.load()

    here = run(pipe, params={"C": -1.0})
    there = run(pipe, params={"C": -1.0}, engine=dask)
    resumed = run(pipe, params={"C": 2.0}, engine=dask, resume=True)

    assert there.error == here.error == "step train failed: ValueError: C must be positive, got -1.0"
    assert {n: s.status for n, s in there.steps.items()} == {
        "load": "cached",
        "featurize": "cached",
        "train": "failed",
        "report": "skipped",
    }
    client = project.client
    assert client.get_run(there.run_id).status is RunStatus.FAILED
    failed = client.get_run(there.steps["train"].run_id or "")
    assert failed.status is RunStatus.FAILED
    assert failed.parent_run_id == there.run_id
    trace = client.read_artifact(failed.id, "slipway/traceback.txt").decode()
    assert "ValueError: C must be positive" in trace
    assert resumed.resumed_from == there.run_id
    assert [s.status for s in resumed.steps.values()] == ["cached", "cached", "ran", "ran"]
    assert resumed.output("report") == 2 * 12 + 3


DIED = "its worker died before it finished (it exited, crashed the interpreter or ran out of memory)"
STARTED_AGAIN = "its worker died before it finished, and the scheduler started it again: it is not run twice"


@pytest.mark.parametrize(
    ("engine", "reason"),
    [
        ("local", DIED),
        ("dask", DIED),  # a LocalCluster of the run's own, 2 workers
        ("scheduler", STARTED_AGAIN),  # a running cluster, which gives a task 3 more tries by default
    ],
)
def test_a_step_whose_worker_dies_fails_in_one_line_runs_once_and_its_run_is_killed(
    project: Project, engine: str, reason: str
) -> None:
    attempts = project.folder / "attempts"
    project.write(
        "train.py",
        f"""
        import os
        import slipway

        @slipway.step
        def crash(code: int = 3):
            with open({str(attempts)!r}, "a") as f:  # a side effect that must not happen twice
                f.write("attempt\\n")
            os._exit(code)

        @slipway.pipeline
        def pipeline():
            crash()
        """,
    )
    options: dict[str, Any] = {"engine": engine, "workers": 2}  # its own pool or cluster: it breaks
    with contextlib.ExitStack() as stack:
        if engine == "scheduler":
            options = {"engine": "dask", "scheduler": stack.enter_context(running_cluster(2))}

        result = run(project.load(), **options)

    assert result.error == f"step crash: {reason}"
    assert attempts.read_text().count("attempt") == 1
    client = project.client
    assert client.get_run(result.run_id).status is RunStatus.FAILED
    (step_run,) = project.children(result.run_id)
    assert step_run.id == result.steps["crash"].run_id
    assert step_run.status is RunStatus.KILLED  # ended by the coordinator: its worker could not


def test_a_worker_runs_the_project_files_as_they_are_now(project: Project, dask: DaskEngine) -> None:
    _example(project)
    before = run(project.load(), engine=dask)
    project.write("helpers.py", "def scale(x):\n    return x * 20\n")  # a module the step imports

    after = run(project.load(), engine=dask)

    assert before.output("report") == 15
    assert [s.status for s in after.steps.values()] == ["cached", "ran", "ran", "ran"]
    assert after.output("report") == 20 + 40 + 60 + 3


def test_steps_of_a_script_run_directly_are_found_by_its_file(tmp_path: Path, dask: DaskEngine) -> None:
    (tmp_path / "helpers.py").write_text("def scale(x):\n    return x * 2\n")
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import slipway
            from helpers import scale
            from slipway.pipelines import StepResult, run

            @slipway.step
            def double(x: int):
                return scale(x)

            @slipway.pipeline
            def pipeline(x: int = 21):
                double(x)

            if __name__ == "__main__":
                result = run(pipeline, engine="dask", scheduler={dask.client.scheduler.address!r})
                print(result.error or result.output("double"))
            """
        )
    )

    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )

    assert (done.returncode, done.stdout.strip()) == (0, "42"), done.stderr


def test_threads_of_one_worker_each_log_through_their_own_binding(tmp_path: Path) -> None:
    clients = [
        Stores.of(
            Settings(tracking_uri=f"sqlite:///{tmp_path}/{i}.db", artifact_uri=str(tmp_path / str(i)))
        ).client(token=None)
        for i in range(2)
    ]
    both_bound = threading.Barrier(2, timeout=10)

    def step(i: int) -> tuple[str, bool]:
        with clients[i].start_run(name=f"step-{i}") as step_run, bound(clients[i], step_run):
            both_bound.wait()  # each thread logs while the other is bound to another store
            slipway.log_metric("who", i)
            mine = slipway.client() is clients[i]
            both_bound.wait()
        return step_run.id, mine

    try:
        with ThreadPoolExecutor(2) as pool:
            done = list(pool.map(step, range(2)))
        for i, (run_id, mine) in enumerate(done):
            assert mine
            assert clients[i].get_run(run_id).metrics == {"who": float(i)}
            assert len(clients[i].search_runs().items) == 1  # nothing strayed into the other store
        assert all(slipway.client() is not c for c in clients)  # the process's own client is untouched
    finally:
        for c in clients:
            c.close()


PROJECT_STEP = """
    import time
    from pathlib import Path
    import slipway

    @slipway.step
    def {name}(started: str, pause: float):
        Path(started).touch()
        time.sleep(pause)
        import late  # imported after the pause, while the other project's step may be running

        return late.VALUE

    @slipway.pipeline
    def pipeline(started: str = "", pause: float = 0.0):
        {name}(started, pause)
"""


def test_a_worker_with_two_threads_keeps_each_steps_project_modules(tmp_path: Path) -> None:
    with contextlib.ExitStack() as stack:
        stack.enter_context(contextlib.contextmanager(isolated_project)(tmp_path))
        engine = stack.enter_context(DaskEngine.connect(stack.enter_context(running_cluster(1, threads=2))))
        first, second = Project(tmp_path / "a"), Project(tmp_path / "b")
        for project, name in ((first, "one"), (second, "two")):
            project.write(f"{name}.py", PROJECT_STEP.replace("{name}", name))
            project.write("late.py", f"VALUE = {name!r}\n")  # one module name, two projects
        pipelines = first.load("one.py"), second.load("two.py")
        started = tmp_path / "started"

        with ThreadPoolExecutor(2) as pool:
            slow = pool.submit(
                run, pipelines[0], params={"started": str(started), "pause": 1.5}, engine=engine
            )
            deadline = time.monotonic() + 60
            while not started.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            assert started.exists(), slow.result()  # the first project's step is running
            fast = pool.submit(run, pipelines[1], params={"started": str(tmp_path / "x")}, engine=engine)
            results = slow.result(), fast.result()

    assert [r.error for r in results] == [None, None]
    assert [r.output(n) for r, n in zip(results, ("one", "two"), strict=True)] == ["one", "two"]


class Pickling(Counting):
    """A real engine that keeps every task as the bytes it travels as."""

    def __init__(self, inner: Engine) -> None:
        super().__init__(inner)
        self.tasks: list[bytes] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.tasks.append(pickle.dumps((fn, args, kwargs)))
        return super().submit(fn, *args, **kwargs)


def test_on_a_team_server_workers_use_their_own_token_and_no_task_carries_it(
    project: Project, team_server: TeamServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLIPWAY_TRACKING_URI", team_server.url)
    monkeypatch.setenv("SLIPWAY_TOKEN", team_server.token)  # this process's, and its workers' (spawned)
    _example(project)
    pipe = project.load()

    with LocalEngine(1) as processes:
        engine = Pickling(processes)
        result = run(pipe, engine=engine)

    assert result.ok, result.error
    assert len(engine.tasks) == 4
    assert not any(team_server.token.encode() in task for task in engine.tasks)
    steps = project.children(result.run_id)  # recorded on the server, by the workers
    assert sorted(r.name for r in steps) == ["featurize", "load", "report", "train"]
    assert all(r.status is RunStatus.FINISHED for r in steps)


def test_a_worker_without_a_token_says_where_to_put_one(tmp_path: Path) -> None:
    stores = Stores.of(
        Settings(tracking_uri="http://team.example:5000", artifact_uri=str(tmp_path), token="t")
    )

    with pytest.raises(Unauthorized) as caught:
        worker_client(stores)  # this process has no SLIPWAY_TOKEN (the tests clear SLIPWAY_*)

    assert str(caught.value) == (
        "tracking store http://team.example:5000: this worker has no token; set SLIPWAY_TOKEN in the "
        "environment of every worker (tasks do not carry the token)"
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"engine": "spark"}, "engine 'spark': expected one of local, dask"),
        ({"scheduler": "tcp://h:8786"}, "scheduler 'tcp://h:8786': choose where the steps run with engine="),
        ({"workers": 2}, "workers 2: choose where the steps run with engine="),
        ({"engine": "local", "scheduler": "tcp://h:8786"}, "scheduler 'tcp://h:8786': only the dask engine"),
        ({"engine": "dask", "workers": 0}, "workers 0: expected a positive whole number"),
        ({"engine": "local", "parallel": 2}, "parallel 2: on an engine its workers run the steps"),
        (
            {"engine": "dask", "scheduler": "tcp://dask.example:8786"},  # refused before connecting
            "tracking store (SLIPWAY_TRACKING_URI) sqlite:///",
        ),
    ],
)
def test_engine_mistakes_are_one_line_before_any_run(
    project: Project, options: dict[str, Any], message: str
) -> None:
    _example(project)
    pipe = project.load()

    with pytest.raises(InvalidInput) as caught:
        run(pipe, **options)

    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)
    assert project.client.search_runs().items == []
