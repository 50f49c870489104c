"""Real processes: metrics survive every way a script can end, and a killed run turns DIED."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pathlib import Path

N = 20_000


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    env.update({"SLIPWAY_HOME": str(tmp_path / ".slipway"), **extra})
    return env


def _script(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "train.py"
    path.write_text("import slipway\n" + textwrap.dedent(body))
    return [sys.executable, str(path)]


def _rows(tmp_path: Path) -> tuple[str, int, str]:
    with sqlite3.connect(tmp_path / ".slipway" / "slipway.db") as db:
        run_id, status = db.execute("SELECT id, status FROM runs").fetchone()
        (count,) = db.execute("SELECT count(*) FROM metrics WHERE run_id = ?", (run_id,)).fetchone()
    return status, count, run_id


@pytest.mark.parametrize(
    ("ending", "status", "returncode"),
    [
        ("pass", "FINISHED", 0),  # start_run() without `with`, then simply exits
        ("raise RuntimeError('boom')", "FAILED", 1),
        ("raise KeyboardInterrupt", "KILLED", -signal.SIGINT),
        ("os.kill(os.getpid(), signal.SIGINT); time.sleep(5)", "KILLED", -signal.SIGINT),  # a real Ctrl-C
        # how Kubernetes and job schedulers stop a process: the conventional exit code 128 + 15
        ("os.kill(os.getpid(), signal.SIGTERM); time.sleep(5)", "KILLED", 128 + signal.SIGTERM),
    ],
)
def test_metrics_are_never_lost_however_the_script_ends(
    tmp_path: Path, ending: str, status: str, returncode: int
) -> None:
    argv = _script(
        tmp_path,
        f"""
        import os, signal, time
        run = slipway.start_run(experiment="e")
        for i in range({N}):
            slipway.log_metric("loss", 1.0 / (i + 1), step=i)
        {ending}
        """,
    )
    out = subprocess.run(argv, env=_env(tmp_path), cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode == returncode, out.stderr
    assert _rows(tmp_path)[:2] == (status, N)


def test_sigterm_inside_a_with_block_ends_the_run_killed_with_every_metric(tmp_path: Path) -> None:
    argv = _script(
        tmp_path,
        f"""
        import os, signal, time
        with slipway.start_run(experiment="e"):
            for i in range({N}):
                slipway.log_metric("loss", 1.0 / (i + 1), step=i)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        """,
    )
    out = subprocess.run(argv, env=_env(tmp_path), cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode == 128 + signal.SIGTERM, out.stderr
    assert _rows(tmp_path)[:2] == ("KILLED", N)


def test_a_program_that_handles_sigterm_itself_keeps_its_handler(tmp_path: Path) -> None:
    argv = _script(
        tmp_path,
        """
        import os, signal, sys
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(7))
        run = slipway.start_run(experiment="e")
        slipway.log_metric("loss", 1.0)
        os.kill(os.getpid(), signal.SIGTERM)
        """,
    )
    out = subprocess.run(argv, env=_env(tmp_path), cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode == 7, out.stderr
    assert _rows(tmp_path)[1] == 1


def test_a_killed_process_shows_as_died_on_the_next_search(tmp_path: Path) -> None:
    argv = _script(
        tmp_path,
        """
        import time
        run = slipway.start_run(experiment="e")
        print(run.id, flush=True)
        i = 0
        while True:
            slipway.log_metric("loss", 1.0, step=i)
            i += 1
            if i % 1000 == 0:
                time.sleep(0.01)
        """,
    )
    dead_after = 5.0
    env = _env(
        tmp_path,
        SLIPWAY_HEARTBEAT_INTERVAL="0.2",
        SLIPWAY_DEAD_AFTER=str(dead_after),
        SLIPWAY_FLUSH_INTERVAL="0.1",
    )
    with subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            run_id = proc.stdout.readline().strip()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # alive: beating and flushing
                time.sleep(0.3)
                if _rows(tmp_path)[1] > 0:
                    break
        finally:
            proc.send_signal(signal.SIGKILL)  # kill -9: no atexit, no flush, no end_run
    # Read straight from the file: nothing has had a chance to mark it yet, however slow this machine.
    with sqlite3.connect(tmp_path / ".slipway" / "slipway.db") as db:
        status, count, last_beat = db.execute(
            "SELECT status, (SELECT count(*) FROM metrics WHERE run_id = runs.id), "
            "coalesce(heartbeat_at, start_time) FROM runs WHERE id = ?",
            (run_id,),
        ).fetchone()
    assert status == "RUNNING"
    assert count > 0
    # Past dead_after since its last beat (the clock the searching process uses), it reads DIED.
    time.sleep(max(0.0, last_beat / 1000 + dead_after + 0.5 - time.time()))
    search = textwrap.dedent(
        """
        import slipway
        runs = slipway.search_runs("e").items
        print(runs[0].id, runs[0].status.value)
        """
    )
    after = subprocess.run(
        [sys.executable, "-c", search], env=env, cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert after.stdout.split() == [run_id, "DIED"]
    assert _rows(tmp_path)[0] == "DIED"  # marked in the store, not only read so


@pytest.mark.slow
def test_eight_processes_log_at_once_to_a_sqlite_file_none_has_created(tmp_path: Path) -> None:
    go = tmp_path / "go"
    argv = _script(
        tmp_path,
        f"""
        import sys, time
        from pathlib import Path
        while not Path({str(go)!r}).exists():  # all start together, on a file that does not exist yet
            time.sleep(0.005)
        with slipway.start_run(experiment="shared", name=sys.argv[1]):
            slipway.log_params({{"worker": sys.argv[1], "lr": 0.01}})
            for i in range(2_000):
                slipway.log_metric("loss", 1.0 / (i + 1), step=i)
                if i % 200 == 0:
                    time.sleep(0.01)  # let beats and flushes interleave with the other processes
        """,
    )
    env = _env(tmp_path, SLIPWAY_HEARTBEAT_INTERVAL="0.05", SLIPWAY_FLUSH_INTERVAL="0.02")
    procs = [
        subprocess.Popen(
            [*argv, f"w{k}"], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for k in range(8)
    ]
    go.touch()
    results = [p.communicate(timeout=120) for p in procs]
    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert "database is locked" not in err
    with sqlite3.connect(tmp_path / ".slipway" / "slipway.db") as db:
        runs = db.execute("SELECT id, name, status FROM runs").fetchall()
        counts = dict(db.execute("SELECT run_id, count(*) FROM metrics GROUP BY run_id").fetchall())
        (experiments,) = db.execute("SELECT count(*) FROM experiments WHERE name = 'shared'").fetchone()
    assert sorted(name for _, name, _ in runs) == [f"w{k}" for k in range(8)]
    assert {status for _, _, status in runs} == {"FINISHED"}
    assert [counts.get(run_id) for run_id, _, _ in runs] == [2_000] * 8
    assert experiments == 1
