"""Running pipelines: parallel steps, failures in one line, --resume, and the runs they record."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from tests.pipelines._project import Project, isolated_project

from slipway.core import RunStatus
from slipway.pipelines import run

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    yield from isolated_project(tmp_path)


SLEEPERS = """
    import time
    import slipway

    @slipway.step
    def left(seconds: float = 1.0):
        start = time.monotonic()
        time.sleep(seconds)
        return [start, time.monotonic()]

    @slipway.step
    def right(seconds: float = 1.0):
        start = time.monotonic()
        time.sleep(seconds)
        return [start, time.monotonic()]

    @slipway.step
    def both(a, b):
        return [min(a[0], b[0]), max(a[1], b[1])]

    @slipway.pipeline
    def pipeline():
        both(left(), right())
"""


def test_independent_steps_run_at_the_same_time(project: Project) -> None:
    project.write("train.py", SLEEPERS)

    result = run(project.load(), parallel=2)

    # Each step's own clock, not the wall time of the run: a loaded machine can slow the run
    # down, but not make two sleeps that overlapped stop overlapping.
    (a_start, a_end), (b_start, b_end) = result.output("left"), result.output("right")
    assert max(a_start, b_start) < min(a_end, b_end)


def test_one_at_a_time_when_parallel_is_one(project: Project) -> None:
    project.write("train.py", SLEEPERS.replace("seconds: float = 1.0", "seconds: float = 0.2"))

    result = run(project.load(), parallel=1)

    (a_start, a_end), (b_start, b_end) = result.output("left"), result.output("right")
    assert a_end <= b_start or b_end <= a_start


FLAKY = """
    from pathlib import Path
    import slipway

    @slipway.step(always_run=True)
    def prepare():
        with open("prepared.log", "a") as f:
            f.write("x")
        return 1

    @slipway.step
    def flaky(x):
        if Path("broken").exists():
            raise RuntimeError("the data source is down\\nsecond line")
        return x + 1

    @slipway.step
    def final(y):
        return y * 10

    @slipway.pipeline
    def pipeline():
        final(flaky(prepare()))
"""


def test_a_failed_step_fails_the_run_in_one_line_and_resume_continues_from_it(project: Project) -> None:
    project.write("train.py", FLAKY)
    project.write("broken", "")

    failed = run(project.load())
    (project.folder / "broken").unlink()
    resumed = run(project.load(), resume=True)

    assert {n: s.status for n, s in failed.steps.items()} == {
        "prepare": "ran",
        "flaky": "failed",
        "final": "skipped",
    }
    assert failed.error == "step flaky failed: RuntimeError: the data source is down"
    assert not failed.ok
    assert project.client.get_run(failed.run_id).status is RunStatus.FAILED
    trace = project.client.read_artifact(failed.steps["flaky"].run_id or "", "slipway/traceback.txt")
    assert b"RuntimeError: the data source is down" in trace
    assert resumed.resumed_from == failed.run_id
    assert {n: s.status for n, s in resumed.steps.items()} == {
        "prepare": "cached",  # always_run, but it finished in the run being resumed
        "flaky": "ran",
        "final": "ran",
    }
    assert resumed.output("final") == 20
    assert (project.folder / "prepared.log").read_text() == "x"


def test_resume_after_a_finished_run_resumes_nothing(project: Project) -> None:
    project.write("train.py", FLAKY)
    run(project.load())

    again = run(project.load(), resume=True)

    assert again.resumed_from is None
    assert again.steps["prepare"].status == "ran"  # always_run


def test_an_output_that_cannot_be_stored_is_one_line_naming_the_step_and_type(project: Project) -> None:
    project.write(
        "train.py",
        """
        import threading
        import slipway

        @slipway.step
        def locked():
            return threading.Lock()

        @slipway.pipeline
        def pipeline():
            locked()
        """,
    )

    result = run(project.load())

    assert result.steps["locked"].status == "failed"
    assert result.error is not None
    assert result.error.startswith("step locked: output 'locked' of type _thread.lock cannot be stored (")
    assert "\n" not in result.error


def test_a_tuple_result_that_does_not_match_the_declared_outputs_fails_that_step(project: Project) -> None:
    project.write(
        "train.py",
        """
        import slipway

        @slipway.step(outputs=("train", "test"))
        def split():
            return [1, 2, 3]

        @slipway.pipeline
        def pipeline():
            split()
        """,
    )

    result = run(project.load())

    assert result.error == "step split: declared outputs train, test, but it returned 3 items"


def test_a_pipeline_run_is_a_tracked_run_with_a_nested_run_per_step(project: Project) -> None:
    project.write(
        "train.py",
        """
        import slipway

        @slipway.step
        def fit(C: float):
            slipway.log_metric("score", 0.9)
            return C * 2

        @slipway.step
        def evaluate(model):
            return model + 1

        @slipway.pipeline(name="churn")
        def pipeline(C: float = 0.5):
            evaluate(fit(C))
        """,
    )
    first = run(project.load())
    second = run(project.load())

    parent = project.client.get_run(first.run_id)
    assert parent.tags["slipway.pipeline.name"] == "churn"
    assert parent.params == {"C": "0.5"}
    assert parent.status is RunStatus.FINISHED
    assert "slipway/requirements.lock" in {a.path for a in project.client.list_artifacts(first.run_id)}
    fit, evaluate = project.children(first.run_id)
    assert (fit.name, evaluate.name) == ("fit", "evaluate")
    assert fit.metrics == {"score": 0.9}  # slipway.log_metric inside a step lands on the step's run
    assert fit.params == {"C": "0.5"}
    assert fit.tags["slipway.step.status"] == "ran"
    assert json.loads(fit.tags["slipway.step.outputs"])[0]["kind"] == "json"
    assert {a.path for a in project.client.list_artifacts(fit.id)} == {
        "outputs/fit.json",
        "slipway/cache_key.json",
    }
    reused = project.children(second.run_id)[0]
    assert reused.tags["slipway.step.status"] == "cached"
    assert reused.tags["slipway.step.cached_from"] == fit.id
    assert {a.path for a in project.client.list_artifacts(reused.id)} == {
        "outputs/fit.json",
        "slipway/cache_key.json",
    }
    assert project.client.get_experiment_by_name("churn").id == parent.experiment_id


def test_a_step_called_outside_a_pipeline_is_its_function(project: Project) -> None:
    project.write("train.py", SLEEPERS)
    project.load()
    import train  # type: ignore[import-not-found]

    assert train.both([1, 2], [0, 5]) == [0, 5]


def test_a_step_task_runs_in_a_fresh_worker_process_that_lacks_the_project_folder(
    project: Project, tmp_path: Path
) -> None:
    import sys

    from slipway.engines import open_engine
    from slipway.pipelines import StepTask, execute_step
    from slipway.pipelines._values import load_value, store_value

    project.write(
        "train.py",
        """
        import slipway

        @slipway.step
        def scale(rows, factor: int = 2):
            return [r * factor for r in rows]

        @slipway.pipeline
        def pipeline():
            scale([1])
        """,
    )
    project.load()
    import train

    blobs = project.client.blobs
    rows = store_value([1, 2, 3], blobs=blobs, scratch=tmp_path / "scratch", step="load", output="rows")
    task = StepTask(
        step=train.scale,
        node="scale",
        arguments={"factor": 3},
        inputs={"rows": rows},
        blobs=blobs,
        cache=tmp_path / "cache",
        scratch=tmp_path / "scratch",
    )
    sys.path[:] = [p for p in sys.path if p != str(tmp_path)]  # the worker must find train.py by its file

    with open_engine("local", workers=1) as engine:
        (out,) = engine.submit(execute_step, task).result(timeout=60)

    assert out.name == "scale"
    assert load_value(out, blobs=blobs, cache=tmp_path / "cache") == [3, 6, 9]
