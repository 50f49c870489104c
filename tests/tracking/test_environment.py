"""Reproducibility capture: git state of a real temporary repository, entry point, packages."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import types
from typing import TYPE_CHECKING

import pytest

from slipway.tracking import DIFF_ARTIFACT, LOCK_ARTIFACT
from slipway.tracking import _environment as environment
from slipway.tracking._environment import capture, git_state, package_lock, parse_lock

if TYPE_CHECKING:
    from pathlib import Path

    from slipway.tracking import TrackingClient


needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


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
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
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


@needs_git
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
    # the real command line of this process, whatever ran the tests
    real = getattr(sys, "orig_argv", None) or [sys.executable, str(script), "--epochs", "3"]
    assert env.tags["slipway.source.command"] == shlex.join(real)[:5_000]
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


def test_running_from_a_subfolder_ignores_its_slipway_home(repo: Path) -> None:
    project = repo / "projects" / "churn"
    project.mkdir(parents=True)
    (project / "train.py").write_text("C = 1.0\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "project")
    (project / ".slipway" / "artifacts").mkdir(parents=True)  # the home of a run started from here
    (project / ".slipway" / "slipway.db").write_text("")
    state = git_state(project)
    assert state is not None
    assert not state.dirty
    (project / "notes.md").write_text("x")
    state = git_state(project)
    assert state is not None
    assert state.untracked == ("projects/churn/notes.md",)
    assert b".slipway" not in state.diff


def test_untracked_text_files_are_in_the_diff_and_git_apply_rebuilds_the_tree(
    repo: Path, tmp_path: Path
) -> None:
    (repo / "train.py").write_text("C = 0.1\n")
    (repo / "notes.md").write_text("line one\nno newline at the end")
    (repo / "empty.txt").write_text("")
    (repo / "src").mkdir()
    (repo / "src" / "features.py").write_text("def f():\n    return 1\n")
    (repo / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (repo / "run.sh").chmod(0o755)
    (repo / "weights.bin").write_bytes(b"\x00\x01" * 100)
    (repo / "big.csv").write_text("a,b\n" * 300_000)  # 1.2 MB
    state = git_state(repo)
    assert state is not None
    diff = state.diff.decode()

    assert "# untracked: notes.md\n" in diff
    assert "# untracked: weights.bin (not included: binary)" in diff
    assert "# untracked: big.csv (not included: 1.2 MB, over 1 MB)" in diff
    assert "+def f():" in diff
    assert "a,b" not in diff

    copy = tmp_path / "copy"
    subprocess.run(["git", "clone", "-q", str(repo), str(copy)], check=True)
    (copy / "slipway.diff").write_bytes(state.diff)
    _git(copy, "apply", "slipway.diff")
    for name in ("train.py", "notes.md", "empty.txt", "src/features.py", "run.sh"):
        assert (copy / name).read_bytes() == (repo / name).read_bytes(), name
    assert os.access(copy / "run.sh", os.X_OK)


def test_a_changed_tracked_binary_file_travels_in_the_diff(repo: Path, tmp_path: Path) -> None:
    (repo / "weights.bin").write_bytes(bytes(range(256)) * 4)
    _git(repo, "add", "weights.bin")
    _git(repo, "commit", "-q", "-m", "weights")
    (repo / "weights.bin").write_bytes(bytes(reversed(range(256))) * 4)  # changed, not committed
    state = git_state(repo)
    assert state is not None
    assert b"GIT binary patch" in state.diff

    copy = tmp_path / "copy"
    subprocess.run(["git", "clone", "-q", str(repo), str(copy)], check=True)
    (copy / "slipway.diff").write_bytes(state.diff)
    _git(copy, "apply", "slipway.diff")  # what reproduce does in its worktree
    assert (copy / "weights.bin").read_bytes() == (repo / "weights.bin").read_bytes()


def _fake_distribution(site: Path, folder: str, metadata: str, direct_url: dict[str, object] | None) -> None:
    info = site / folder
    info.mkdir(parents=True)
    (info / "METADATA").write_text(metadata)
    if direct_url is not None:
        (info / "direct_url.json").write_text(json.dumps(direct_url))


def test_the_lock_names_distributions_by_their_metadata_and_records_direct_urls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    _fake_distribution(site, "Weird.Folder-1.0.dist-info", "Name: Real_Name\nVersion: 2.0\n\nbody\n", None)
    _fake_distribution(
        site,
        "from_git-0.3.dist-info",
        "Metadata-Version: 2.1\nName: from.git\nVersion: 0.3\n",
        {"url": "https://user:tok@example.com/x.git", "vcs_info": {"vcs": "git", "commit_id": "abc123"}},
    )
    _fake_distribution(
        site,
        "mine-0.1.dist-info",
        "Name: mine\nVersion: 0.1\n",
        {"url": "file:///home/me/mine", "dir_info": {"editable": True}},
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(environment, "_lock_cache", None)
    lines = package_lock().decode().splitlines()

    assert "real-name==2.0" in lines
    assert "from-git @ git+https://example.com/x.git@abc123  # 0.3" in lines
    assert "mine @ file:///home/me/mine  # 0.1" in lines
    assert not any(line.startswith("weird") for line in lines)
    parsed = parse_lock("\n".join(lines))
    assert parsed["real-name"] == "2.0"
    assert parsed["from-git"] == "0.3 @ git+https://example.com/x.git@abc123"
    assert parsed["mine"] == "0.1 @ file:///home/me/mine"
