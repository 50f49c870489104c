"""Content-addressed step caching: what reruns a step, what does not, and what `why` says about it."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

import pytest
from tests.pipelines._project import EXAMPLE_PIPELINE, Project, isolated_project

from slipway.pipelines import plan, run, why

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    yield from isolated_project(tmp_path)


@pytest.fixture
def example(project: Project) -> Project:
    project.write_example()
    return project


def _statuses(result: object) -> dict[str, str]:
    return {name: s.status for name, s in result.steps.items()}  # type: ignore[attr-defined]


def test_a_second_run_reuses_every_step_and_restores_its_outputs(example: Project) -> None:
    first = run(example.load())
    second = example.load()()  # calling a pipeline runs it

    assert _statuses(first) == dict.fromkeys(["load", "featurize", "train", "report"], "ran")
    assert _statuses(second) == dict.fromkeys(["load", "featurize", "train", "report"], "cached")
    assert {n: s.cached_from for n, s in second.steps.items()} == {
        n: s.run_id for n, s in first.steps.items()
    }
    assert second.output("train") == {"weights": [2.0, 4.0, 6.0]}
    assert second.output("report") == 15.0
    assert (first.files_hashed, second.files_hashed) == (1, 0)  # the stat cache knew data.txt


def test_a_changed_parameter_reruns_its_step_and_descendants_and_reverting_it_is_free(
    example: Project,
) -> None:
    run(example.load(), params={"C": 1.0})

    changed = run(example.load(), params={"C": 0.5})
    reverted = run(example.load(), params={"C": 1.0})

    assert _statuses(changed) == {"load": "cached", "featurize": "cached", "train": "ran", "report": "ran"}
    assert changed.output("train") == {"weights": [1.0, 2.0, 3.0]}
    assert set(_statuses(reverted).values()) == {"cached"}  # any earlier execution, not only the last
    assert reverted.output("train") == {"weights": [2.0, 4.0, 6.0]}


def test_editing_a_module_the_step_reaches_transitively_is_a_miss_that_why_names(example: Project) -> None:
    run(example.load())
    example.write("helpers.py", "def scale(x):\n    return x * 3\n")

    explained = why(example.load(), "featurize")
    shown = {p.name: p for p in plan(example.load())}
    again = run(example.load())

    assert explained.state == "will run"
    assert explained.reasons == ("module helpers.py changed",)
    assert shown["load"].state == "cached"  # load does not use features: its key did not move
    assert shown["train"].reasons == ("upstream featurize will run",)
    assert _statuses(again) == {"load": "cached", "featurize": "ran", "train": "ran", "report": "ran"}
    assert again.output("train") == {"weights": [3.0, 6.0, 9.0]}


def test_comments_docstrings_and_formatting_do_not_invalidate(example: Project) -> None:
    run(example.load())
    example.write(
        "helpers.py", '"""Scaling."""\n\n\n# twice\ndef scale( x ):\n    """Double."""\n    return x*2\n'
    )

    again = run(example.load())

    assert set(_statuses(again).values()) == {"cached"}


def test_editing_one_step_leaves_the_keys_of_the_others_in_the_same_file(example: Project) -> None:
    run(example.load())
    example.write("train.py", EXAMPLE_PIPELINE.replace("sum(model", "0 + sum(model"))

    assert why(example.load(), "report").reasons == ("the step's code changed",)
    assert why(example.load(), "train").state == "cached"


def test_a_changed_input_file_is_a_miss_and_an_unchanged_one_is_not_hashed_again(example: Project) -> None:
    run(example.load())
    data = example.folder / "data.txt"

    unchanged = run(example.load())
    os.utime(data, ns=(time.time_ns(), time.time_ns() + 10**9))  # touched: hashed again, same content
    touched = run(example.load())
    data.write_text("1 2 3 4\n")
    explained = why(example.load(), "load")
    changed = run(example.load())

    assert (unchanged.files_hashed, touched.files_hashed) == (0, 1)
    assert set(_statuses(touched).values()) == {"cached"}
    assert explained.reasons == ("input data.txt changed",)
    assert changed.steps["load"].status == "ran"
    assert changed.output("report") == 24.0


def test_always_run_and_expires_after(project: Project) -> None:
    project.write(
        "train.py",
        """
        import time
        import slipway

        @slipway.step(always_run=True)
        def fetch():
            return 1

        @slipway.step(expires_after=0.5)
        def snapshot():
            return time.time()

        @slipway.pipeline
        def pipeline():
            fetch()
            snapshot()
        """,
    )
    first = run(project.load())
    soon = run(project.load())
    time.sleep(0.6)
    expired = why(project.load(), "snapshot")
    later = run(project.load())

    assert _statuses(soon) == {"fetch": "ran", "snapshot": "cached"}
    assert why(project.load(), "fetch").reasons == ("always_run: it runs every time",)
    assert expired.reasons[0].startswith("expired: it ran")
    assert later.steps["snapshot"].status == "ran"
    assert later.output("snapshot") > first.output("snapshot")


def test_an_external_fingerprint_that_changes_reruns_the_step(project: Project) -> None:
    project.write(
        "train.py",
        """
        from pathlib import Path
        import slipway

        @slipway.step(external={"orders": lambda: Path("etag.txt").read_text()})
        def download():
            return "rows"

        @slipway.pipeline
        def pipeline():
            download()
        """,
    )
    project.write("etag.txt", "v1")
    run(project.load())
    project.write("etag.txt", "v2")

    assert why(project.load(), "download").reasons == ("external orders: v1 → v2",)
    assert run(project.load()).steps["download"].status == "ran"


def test_identical_upstream_output_keeps_downstream_cached(example: Project) -> None:
    run(example.load())
    example.write("data.txt", "1  2 3")  # other bytes, same parsed rows

    again = run(example.load())

    assert _statuses(again) == {"load": "ran", "featurize": "cached", "train": "cached", "report": "cached"}


def test_no_cache_runs_everything_and_later_runs_reuse_it(example: Project) -> None:
    run(example.load())

    forced = run(example.load(), use_cache=False)
    again = run(example.load())

    assert set(_statuses(forced).values()) == {"ran"}
    assert {s.cached_from for s in again.steps.values()} == {s.run_id for s in forced.steps.values()}


def test_a_changed_environment_names_the_package_that_moved(
    example: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from slipway.tracking import _environment

    run(example.load())
    lock = _environment.package_lock().decode()
    numpy = next(line for line in lock.splitlines() if line.startswith("numpy=="))
    monkeypatch.setattr(_environment, "_lock_cache", lock.replace(numpy, "numpy==0.0.1").encode())

    assert why(example.load(), "load").reasons == (f"environment changed: numpy {numpy[7:]} → 0.0.1",)


def test_given_settings_are_where_run_plan_and_why_look(example: Project) -> None:
    from slipway.config import load_settings

    elsewhere = load_settings({"home": example.folder / "elsewhere"})
    first = run(example.load(), settings=elsewhere)
    again = run(example.load(), settings=elsewhere)

    assert set(_statuses(first).values()) == {"ran"}
    assert set(_statuses(again).values()) == {"cached"}
    assert again.output("train") == {"weights": [2.0, 4.0, 6.0]}
    assert (example.folder / "elsewhere" / "slipway.db").is_file()
    assert not (example.folder / ".slipway" / "slipway.db").exists()  # the default home is untouched
    assert {p.state for p in plan(example.load(), settings=elsewhere)} == {"cached"}
    assert why(example.load(), "train", settings=elsewhere).state == "cached"
    assert why(example.load(), "load").reasons == ("it never ran",)  # the fluent default: ./.slipway


CHAMPION = """
    import slipway

    @slipway.step(always_run=True)
    def champion():
        return {"version": 1}

    @slipway.step
    def prep(champion):
        return champion["version"] + 1

    @slipway.step
    def train(prep):
        return prep * 10

    @slipway.pipeline
    def pipeline():
        train(prep(champion()))
"""


def test_below_an_always_run_step_the_plan_assumes_its_last_output_as_the_run_finds_it(
    project: Project,
) -> None:
    project.write("train.py", CHAMPION)
    run(project.load())
    project.write("train.py", CHAMPION.replace("prep * 10", "prep * 100"))

    shown = {p.name: p for p in plan(project.load())}
    explained = why(project.load(), "prep")
    again = run(project.load())

    assert [(p.name, p.state) for p in shown.values()] == [
        ("champion", "will run"),
        ("prep", "cached if unchanged"),
        ("train", "will run"),
    ]
    assert explained.reasons[0].startswith("cached if champion's output is unchanged (same key as run ")
    assert shown["train"].reasons == ("the step's code changed",)  # not "upstream champion will run"
    assert _statuses(again) == {"champion": "ran", "prep": "cached", "train": "ran"}
