"""``slipway pipeline run|show|why``: exit 0 with each step's state, 2 with one line for bad input."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from typing import TYPE_CHECKING

import pytest
from tests.cli._cli import cli
from tests.pipelines._project import Project, forget_modules_below

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def target(tmp_path: Path) -> Iterator[str]:
    path = list(sys.path)
    Project(tmp_path).write_example()
    yield "train.py:pipeline"
    forget_modules_below(tmp_path)
    sys.path[:] = path


def test_run_prints_each_step_and_a_second_run_reuses_them(
    capsys: pytest.CaptureFixture[str], target: str
) -> None:
    code, out, err = cli(capsys, "pipeline", "run", target, "--param", "C=0.5")
    code2, out2, _ = cli(capsys, "pipeline", "run", target, "-p", "C=0.5")

    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert [line.split()[:2] for line in lines[:4]] == [
        ["ran", "load"],
        ["ran", "featurize"],
        ["ran", "train"],
        ["ran", "report"],
    ]
    assert lines[4].startswith("pipeline pipeline: 4 ran, 0 cached in ")
    assert code2 == 0
    assert [line.split()[0] for line in out2.splitlines()[:4]] == ["cached"] * 4
    assert "from run " in out2.splitlines()[0]


def test_run_json(capsys: pytest.CaptureFixture[str], target: str) -> None:
    code, out, _ = cli(capsys, "pipeline", "run", target, "--json")

    result = json.loads(out)
    assert code == 0
    assert result["ok"] is True
    assert [(s["name"], s["status"]) for s in result["steps"]] == [
        ("load", "ran"),
        ("featurize", "ran"),
        ("train", "ran"),
        ("report", "ran"),
    ]
    assert result["steps"][2]["outputs"]["train"]["kind"] == "json"


def test_show_and_why_say_what_would_run_and_why(capsys: pytest.CaptureFixture[str], target: str) -> None:
    cli(capsys, "pipeline", "run", target)

    code, out, _ = cli(capsys, "pipeline", "show", target, "--param", "C=2")
    why_code, why_out, _ = cli(capsys, "pipeline", "why", target, "train", "--param", "C=2")

    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "pipeline: 4 steps, 2 cached, 2 to run"
    assert lines[1].startswith("├─ load       cached    same key as run ")
    assert lines[2].startswith("├─ featurize  cached    ← load  same key as run ")
    assert lines[3] == "├─ train      will run  ← featurize  parameter C: 1.0 → 2.0"
    assert lines[4] == "└─ report     will run  ← train, load  upstream train will run"
    assert why_code == 0
    assert why_out.splitlines() == ["train: will run", "  - parameter C: 1.0 → 2.0"]


def test_a_failed_step_exits_1_with_one_line_and_resume_continues(
    capsys: pytest.CaptureFixture[str], target: str
) -> None:
    code, out, err = cli(capsys, "pipeline", "run", target, "-p", "C=-1")
    resumed, out2, _ = cli(capsys, "pipeline", "run", target, "-p", "C=-1", "--resume")

    assert code == 1
    assert "failed   train" in out
    assert err.startswith("error: step train failed: ValueError: C must be positive, got -1.0 (run ")
    assert len(err.strip().splitlines()) == 1
    assert resumed == 1
    assert [line.split()[:2] for line in out2.splitlines()[:2]] == [
        ["cached", "load"],
        ["cached", "featurize"],
    ]
    assert "resumed from run" in out2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "train.py:pipeline", "-p", "C"], "error: --param 'C': expected NAME=VALUE"),
        (["run", "train.py:pipeline", "-p", "gamma=1"], "parameter 'gamma'"),
        (["run", "train.py:pipeline", "-p", "C=big"], "error: --param C='big': expected float"),
        (["run", "missing.py:pipeline"], "missing.py: no such file"),
        (["run", "train.py:load"], "error: train.py:load: expected a @slipway.pipeline, got Step"),
        (["run", "train.py:pipeline", "-p", "data=nope.txt"], "step load: input 'path': "),
        (
            ["why", "train.py:pipeline", "fit"],
            "error: pipeline pipeline: no step 'fit' (steps: load, featurize, ",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], target: str, args: list[str], message: str
) -> None:
    code, _, err = cli(capsys, "pipeline", *args)

    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_a_cycle_exits_2_naming_it(capsys: pytest.CaptureFixture[str], tmp_path: Path, target: str) -> None:
    (tmp_path / "loop.py").write_text(
        textwrap.dedent(
            """
            import slipway

            @slipway.step
            def a(b):
                return b

            @slipway.step
            def b(a):
                return a

            pipeline = slipway.pipeline(steps=[a, b], name="loop")
            """
        )
    )

    code, _, err = cli(capsys, "pipeline", "show", "loop.py:pipeline")

    assert code == 2
    assert err.strip() == "error: pipeline loop: cycle: a → b → a"


def test_an_unnamed_steps_form_pipeline_is_named_after_its_attribute(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, target: str
) -> None:
    (tmp_path / "wired.py").write_text(
        textwrap.dedent(
            """
            import slipway

            @slipway.step
            def rows(n: int = 3):
                return list(range(n))

            @slipway.step
            def total(rows):
                return sum(rows)

            churn = slipway.pipeline(steps=[rows, total])
            fraud = slipway.pipeline(steps=[rows, total])
            named = slipway.pipeline(steps=[rows, total], name="kept")
            """
        )
    )

    names = [
        json.loads(cli(capsys, "pipeline", "run", f"wired.py:{attr}", "--json")[1])["pipeline"]
        for attr in ("churn", "fraud", "named")
    ]

    assert names == ["churn", "fraud", "kept"]


SLOW = """
    import time
    from pathlib import Path
    import slipway

    @slipway.step
    def slow(naps: int = 1200, nap: float = 0.05):
        Path("started").touch()
        for _ in range(naps):
            time.sleep(nap)
        return 1

    @slipway.step
    def after(x):
        return x

    @slipway.pipeline
    def pipeline(naps: int = 1200, nap: float = 0.05):
        after(slow(naps, nap))
"""
# The command as a shell runs it: a child whose Ctrl-C (SIGINT) raises KeyboardInterrupt.
_COMMAND = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from slipway.cli import main; main(sys.argv[1:])"
)


def _started(folder: Path, *params: str) -> subprocess.Popen[str]:
    """``slipway pipeline run slow.py:pipeline`` in a process of its own, once its step is running."""
    Project(folder).write("slow.py", SLOW)
    args = [a for p in params for a in ("-p", p)]
    proc = subprocess.Popen(
        [sys.executable, "-c", _COMMAND, "pipeline", "run", "slow.py:pipeline", *args],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (folder / "started").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the step never started"
        time.sleep(0.05)
    return proc


def _statuses(folder: Path) -> dict[str | None, str]:
    client = Project(folder).client
    runs = client.search_runs(filter="attributes.status != 'X'", max_results=10).items
    return {r.name: r.status.value for r in runs}


def test_ctrl_c_stops_the_running_step_and_records_it_killed(tmp_path: Path) -> None:
    proc = _started(tmp_path)

    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)  # the step would nap for 60 s

    assert proc.returncode == 130
    assert err.splitlines() == [
        "interrupted; waiting for 1 running step (Ctrl-C again to abandon)",
        "error: interrupted",
    ]
    assert out.split()[:2] == ["killed", "slow"]
    assert _statuses(tmp_path) == {"pipeline": "KILLED", "slow": "KILLED"}
    slow = Project(tmp_path).client.search_runs(filter="attributes.run_name = 'slow'").items[0]
    trace = Project(tmp_path).client.read_artifact(slow.id, "slipway/traceback.txt").decode()
    assert 'slow.py", line' in trace  # stopped inside the step, not after it ran to its end
    assert trace.strip().endswith("KeyboardInterrupt")


def test_a_second_ctrl_c_leaves_at_once_and_ends_the_step_run_killed(tmp_path: Path) -> None:
    proc = _started(tmp_path, "naps=1", "nap=120")  # one long sleep: a C call no Ctrl-C stops
    assert proc.stderr is not None

    proc.send_signal(signal.SIGINT)
    first = proc.stderr.readline()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)

    assert first == "interrupted; waiting for 1 running step (Ctrl-C again to abandon)\n"
    assert proc.returncode == 130
    assert err.strip() == "error: interrupted"
    assert _statuses(tmp_path) == {"pipeline": "KILLED", "slow": "KILLED"}
