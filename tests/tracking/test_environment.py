"""Reproducibility capture: git state of a real temporary repository, entry point, packages."""

from __future__ import annotations

import subprocess
import sys
import types
from typing import TYPE_CHECKING

import pytest

from slipway.tracking import DIFF_ARTIFACT, LOCK_ARTIFACT
from slipway.tracking._environment import capture, git_state, package_lock, parse_lock

if TYPE_CHECKING:
    from pathlib import Path

    from slipway.tracking import TrackingClient


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    (root / "train.py").write_text("C = 1.0\n")
    _git(root, "add", "train.py")
    _git(root, "commit", "-q", "-m", "first")
    return root


def test_a_clean_tree_records_commit_and_branch(repo: Path) -> None:
    state = git_state(repo)
    assert state is not None
    assert state.commit == _git(repo, "rev-parse", "HEAD")
    assert state.branch == "main"
    assert not state.dirty
    assert state.diff == b""


def test_a_dirty_tree_records_the_diff_and_untracked_files(repo: Path) -> None:
    (repo / "train.py").write_text("C = 0.1\n")
    (repo / "notes.md").write_text("new")
    (repo / ".slipway").mkdir()  # slipway's own home does not make a tree dirty
    (repo / ".slipway" / "slipway.db").write_text("")
    env = capture(cwd=repo, argv=["-c"])

    assert env.tags["slipway.git.dirty"] == "true"
    assert env.tags["slipway.git.branch"] == "main"
    assert env.tags["slipway.git.commit"] == _git(repo, "rev-parse", "HEAD")
    diff = env.artifacts[DIFF_ARTIFACT].decode()
    assert "-C = 1.0" in diff
    assert "+C = 0.1" in diff
    assert "# untracked: notes.md" in diff
    assert ".slipway" not in diff
    assert len(env.tags["slipway.git.diff_digest"]) == 64


def test_only_untracked_slipway_home_is_still_clean(repo: Path) -> None:
    (repo / ".slipway").mkdir()
    (repo / ".slipway" / "x").write_text("")
    state = git_state(repo)
    assert state is not None
    assert not state.dirty


def test_remote_credentials_are_not_recorded(repo: Path) -> None:
    _git(repo, "remote", "add", "origin", "https://user:s3cret@example.com/team/repo.git")
    env = capture(cwd=repo, argv=["-c"])
    assert env.tags["slipway.git.remote"] == "https://example.com/team/repo.git"
    assert "s3cret" not in str(env.tags)


def test_outside_a_repository_there_are_no_git_tags(tmp_path: Path) -> None:
    env = capture(cwd=tmp_path, argv=["-c"])
    assert not any(k.startswith("slipway.git.") for k in env.tags)
    assert DIFF_ARTIFACT not in env.artifacts


def test_python_platform_source_and_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "train.py"
    script.write_text("")
    # As `python train.py` has it, whether this test runs under `pytest` or `python -m pytest`.
    main = types.ModuleType("__main__")
    main.__file__ = str(script)
    main.__spec__ = None
    monkeypatch.setitem(sys.modules, "__main__", main)
    env = capture(cwd=tmp_path, argv=[str(script), "--epochs", "3"])
    assert env.tags["slipway.python.version"] == ".".join(map(str, sys.version_info[:3]))
    assert env.tags["slipway.platform"]
    assert env.tags["slipway.source.type"] == "script"
    assert env.tags["slipway.source.name"] == str(script)
    assert "pytest" in env.tags["slipway.source.command"]  # the real command line of this process
    lock = env.artifacts[LOCK_ARTIFACT].decode()
    names = list(parse_lock(lock))
    assert names == sorted(names)
    assert parse_lock(lock)["pytest"] == __import__("pytest").__version__
    assert env.tags["slipway.packages.count"] == str(len(names))
    assert package_lock() is package_lock()  # read once per process


def test_every_run_carries_the_capture(
    client: TrackingClient, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)
    (repo / "train.py").write_text("C = 0.5\n")
    monkeypatch.setattr(sys, "argv", ["-c"])
    with client.start_run() as run:
        pass
    got = client.get_run(run.id)
    assert got.tags["slipway.git.dirty"] == "true"
    assert got.tags["slipway.git.commit"] == _git(repo, "rev-parse", "HEAD")
    assert b"+C = 0.5" in client.read_artifact(run.id, DIFF_ARTIFACT)
    assert client.read_artifact(run.id, LOCK_ARTIFACT) == package_lock()
