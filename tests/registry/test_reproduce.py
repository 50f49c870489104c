"""``slipway reproduce`` on real git repositories made here, with a real training script run twice.

Each test builds a repository with a ``train.py`` that reads a CSV file, logs params, metrics, the
dataset and a scikit-learn model, commits it, runs it as a process against a SLIPWAY_HOME in the
test's folder, registers the model, then reproduces it through the CLI (``main``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
from typing import TYPE_CHECKING, Any

import pytest

from slipway.artifacts import open_blob_store
from slipway.cli import main
from slipway.errors import InvalidInput
from slipway.registry import Registry, _reproduce
from slipway.store import open_metadata_store

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from slipway.registry import Reproduction

pytestmark = pytest.mark.slow

# The REPRO_* variables are knobs only the tests' re-runs set (they inherit the test's environment,
# the original training does not): a tiny change, other in-memory data, no model, a raising model.
TRAIN = textwrap.dedent(
    """
    import argparse
    import os

    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    import slipway

    if os.environ.get("REPRO_RAISE"):
        import raising

        raising.TRAINING = True
        LogisticRegression = raising.Raising

    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="data.csv")
    parser.add_argument("--seed", default="7")
    parser.add_argument("--C", type=float, default=C_VALUE)
    args = parser.parse_args()
    seed = None if args.seed == "none" else int(args.seed)

    frame = pd.read_csv(args.data)
    X, y = frame[["a", "b", "c"]], frame["y"]
    # random sample weights: reproducible with a seed, different at every run without one
    weights = np.random.default_rng(seed).uniform(0.5, 1.5, len(frame))
    weights *= 1 + float(os.environ.get("REPRO_JITTER", "0"))
    with slipway.start_run(experiment="repro"):
        slipway.log_params({"seed": args.seed, "C": args.C})
        slipway.log_dataset(args.data, name="train", role="training")
        # logged from memory: no file to read again, only the digest the re-run records
        sample = X.head(20) + float(os.environ.get("REPRO_SAMPLE_SHIFT", "0"))
        slipway.log_dataset(sample, name="sample", role="evaluation")
        model = LogisticRegression(C=args.C).fit(X, y, sample_weight=weights)
        slipway.log_metric("mean_proba", float(model.predict_proba(X)[:, 1].mean()))
        slipway.log_metric("accuracy", float((model.predict(X) == y).mean()))
        if not os.environ.get("REPRO_NO_MODEL"):
            slipway.log_model(model, "model", input_example=X.head(5))
    """
)

RAISING = textwrap.dedent(
    """
    from sklearn.linear_model import LogisticRegression

    TRAINING = False  # train.py sets it: loaded anywhere else, predict_proba raises


    class Raising(LogisticRegression):
        def predict_proba(self, X):
            if not TRAINING:
                raise ValueError("boom: predict_proba outside training\\nsecond line")
            return super().predict_proba(X)
    """
)


def _csv(path: Path, seed: int, rows: int = 120) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, 3)), columns=["a", "b", "c"])
    frame["y"] = (frame["a"] + 0.5 * rng.normal(size=rows) > 0).astype(int)
    frame.to_csv(path, index=False)


class Project:
    """A git repository with train.py, a home for the stores, and helpers to run and register."""

    def __init__(self, root: Path, home: Path) -> None:
        self.root, self.home = root, home
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")},
            "SLIPWAY_HOME": str(home),
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com",
        }

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=self.root, env=self.env, check=True, capture_output=True, text=True
        ).stdout

    def write_train(self, c: float = 1.0) -> None:
        (self.root / "train.py").write_text(TRAIN.replace("C_VALUE", repr(c)))

    def train(self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
        """``python train.py ARGS`` (or ``python -m …`` when ARGS start with ``-m``) from ``cwd``."""
        program = list(args) if args[:1] == ("-m",) else ["train.py", *args]
        done = subprocess.run(
            [sys.executable, *program],
            cwd=cwd or self.root,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr

    def commit(self, *paths: str, message: str = "change") -> None:
        self.git("add", *paths)
        self.git("commit", "--quiet", "-m", message)

    def register(self) -> int:
        store = open_metadata_store(f"sqlite:///{self.home / 'slipway.db'}")
        try:
            registry = Registry(store, open_blob_store(str(self.home / "artifacts")))
            run = store.search_runs(max_results=1).items[0]
            return registry.register(f"runs:/{run.id}/model", "m", actor="t").version
        finally:
            store.close()

    def worktrees(self) -> str:
        return self.git("worktree", "list")

    def run_tags(self, run_id: str) -> dict[str, str]:
        store = open_metadata_store(f"sqlite:///{self.home / 'slipway.db'}")
        try:
            return dict(store.get_run(run_id).tags)
        finally:
            store.close()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    root = tmp_path / "repo"
    root.mkdir()
    p = Project(root, tmp_path / "home")
    p.git("init", "--quiet", "--initial-branch=main")
    p.write_train()
    _csv(root / "data.csv", seed=1)
    (root / ".gitignore").write_text("ignored/\n")
    p.git("add", "train.py", "data.csv", ".gitignore")
    p.git("commit", "--quiet", "-m", "train")
    monkeypatch.setenv("SLIPWAY_HOME", str(p.home))
    monkeypatch.setenv("COLUMNS", "200")
    for key in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(key, p.env[key])
    yield p
    assert p.worktrees().count("\n") == 1, p.worktrees()  # the temporary worktree was removed


def reproduce(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(["reproduce", *argv])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def as_json(
    capsys: pytest.CaptureFixture[str], project: Project, *argv: str
) -> tuple[int, dict[str, object]]:
    code, out, err = reproduce(capsys, "models:/m/1", "--repo", str(project.root), "--json", *argv)
    assert code in (0, 1), err
    return code, json.loads(out)


def verdicts(report: dict[str, object], key: str) -> dict[str, str]:
    items = report[key]
    assert isinstance(items, list)
    return {str(c.get("key") or c.get("name")): str(c["verdict"]) for c in items}


def test_a_clean_commit_reproduces_identically(capsys: pytest.CaptureFixture[str], project: Project) -> None:
    project.train()
    assert project.register() == 1
    code, out, err = reproduce(capsys, "models:/m/1", "--repo", str(project.root))
    assert code == 0, out + err
    assert "result: reproduced" in out
    assert "identical" in out
    assert "different" not in out

    code, report = as_json(capsys, project)
    assert code == 0
    assert report["ok"] is True
    assert report["dirty"] is False
    assert verdicts(report, "metrics") == {"accuracy": "identical", "mean_proba": "identical"}
    assert verdicts(report, "predictions") == {"predict": "identical", "predict_proba": "identical"}
    assert verdicts(report, "data") == {"train": "identical", "sample": "identical"}
    assert report["packages"] == []
    assert report["environment"] == []
    assert report["reproduced_model"] == f"runs:/{report['reproduced_run']}/model"

    tags = project.run_tags(str(report["reproduced_run"]))
    assert re.fullmatch(r"models:/m/1#[0-9a-f]{32}", tags["slipway.reproduces"])  # this call's nonce
    assert tags["slipway.git.commit"] == report["commit"]
    assert tags["slipway.source.cwd"] == "."


def test_a_dirty_tree_is_rebuilt_from_the_recorded_diff(
    capsys: pytest.CaptureFixture[str], project: Project
) -> None:
    project.write_train(c=0.05)  # uncommitted: the commit alone would train with C=1.0
    (project.root / "helper.txt").write_text("an untracked file, recorded in the diff\n")
    (project.root / "ignored").mkdir()
    _csv(project.root / "ignored" / "extra.csv", seed=5)  # git-ignored data, read by absolute path
    project.train("--data", str(project.root / "ignored" / "extra.csv"))
    project.register()
    code, report = as_json(capsys, project)
    assert code == 0, report
    assert report["dirty"] is True
    assert verdicts(report, "metrics") == {"accuracy": "identical", "mean_proba": "identical"}
    assert verdicts(report, "predictions") == {"predict": "identical", "predict_proba": "identical"}
    assert report["params"] == []  # C=0.05 again: the diff was applied
    assert verdicts(report, "data") == {"train": "identical", "sample": "identical"}
    notes = " ".join(map(str, report["notes"]))  # type: ignore[call-overload]
    assert "applied the run's uncommitted changes" in notes
    assert "linked the untracked data file" in notes
    assert "points into the repository" in notes


def test_changed_data_is_reported_and_fails(
    capsys: pytest.CaptureFixture[str], project: Project, tmp_path: Path
) -> None:
    outside = tmp_path / "shared" / "train.csv"
    outside.parent.mkdir()
    _csv(outside, seed=2)
    project.train("--data", str(outside))
    project.register()
    _csv(outside, seed=3)  # the data changed after training

    code, out, _ = reproduce(capsys, "models:/m/1", "--repo", str(project.root))
    assert code == 1
    assert "training data changed: train" in out
    code, report = as_json(capsys, project)
    assert code == 1
    assert verdicts(report, "data") == {"train": "different", "sample": "different"}  # read from it
    check = report["data"][0]  # type: ignore[index]
    assert check["path"] == str(outside)
    assert "the re-run read other data" in check["note"]


def test_nondeterministic_training_is_different(capsys: pytest.CaptureFixture[str], project: Project) -> None:
    project.train("--seed", "none")
    project.register()
    code, out, _ = reproduce(capsys, "models:/m/1", "--repo", str(project.root))
    assert code == 1
    assert "result: NOT reproduced" in out
    assert "predictions differ" in out


def test_bad_input_is_one_line_with_exit_2(
    capsys: pytest.CaptureFixture[str], project: Project, tmp_path: Path
) -> None:
    project.train()
    project.register()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    other = Project(tmp_path / "other", project.home)
    other.root.mkdir()
    other.git("init", "--quiet")
    other.git("commit", "--quiet", "--allow-empty", "-m", "unrelated")
    for argv, needle in (
        (("models:/nope/1", "--repo", str(project.root)), "'nope'"),
        (("models:/m/4", "--repo", str(project.root)), "4"),
        (("models:/m/1", "--repo", str(elsewhere)), "not a git repository"),
        (("models:/m/1", "--repo", str(other.root)), "is not in the repository"),
        (("runs:/abc/model", "--repo", str(project.root)), "models:/"),
    ):
        code, out, err = reproduce(capsys, *argv)
        assert code == 2, (argv, out, err)
        assert err.startswith("error:"), err
        assert err.count("\n") == 1, err
        assert needle in err, err
    assert other.worktrees().count("\n") == 1


def test_a_changed_binary_file_is_rebuilt_from_the_recorded_diff(
    capsys: pytest.CaptureFixture[str], project: Project
) -> None:
    (project.root / "weights.bin").write_bytes(b"\x00\x01binary")
    project.git("add", "weights.bin")
    project.git("commit", "--quiet", "-m", "weights")
    (project.root / "weights.bin").write_bytes(b"\x00\x02changed")  # uncommitted: only the diff has it
    project.train()
    project.register()
    code, out, err = reproduce(capsys, "models:/m/1", "--repo", str(project.root))
    assert code == 0, out + err
    assert "with the run's uncommitted changes" in out


def test_a_tiny_difference_is_within_tolerance(
    capsys: pytest.CaptureFixture[str], project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.train()
    project.register()
    monkeypatch.setenv("REPRO_JITTER", "1e-6")  # the re-run's weights differ in the 7th digit
    code, report = as_json(capsys, project)
    assert code == 0, report["problems"]
    assert verdicts(report, "metrics") == {"accuracy": "identical", "mean_proba": "within tolerance"}
    assert verdicts(report, "predictions") == {"predict": "identical", "predict_proba": "within tolerance"}
    code, report = as_json(capsys, project, "--rtol", "0", "--atol", "0")
    assert code == 1
    assert report["problems"] == ["metrics differ: mean_proba", "predictions differ: predict_proba"]


def test_a_rerun_that_logs_no_model_is_not_reproduced(
    capsys: pytest.CaptureFixture[str], project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.train()
    project.register()
    monkeypatch.setenv("REPRO_NO_MODEL", "1")
    code, out, _ = reproduce(capsys, "models:/m/1", "--repo", str(project.root))
    assert code == 1, out
    assert "result: NOT reproduced: the re-run logged no model where the original run had one" in out
    assert "  model:   - (none logged)" in out


def test_data_logged_from_memory_is_judged_by_the_rerun_digest(
    capsys: pytest.CaptureFixture[str], project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.train()
    project.register()
    monkeypatch.setenv("REPRO_SAMPLE_SHIFT", "1")  # the re-run logs other rows under the same name
    code, report = as_json(capsys, project)
    assert code == 1
    assert report["problems"] == ["training data changed: sample"]
    assert verdicts(report, "data") == {"train": "identical", "sample": "different"}
    sample = report["data"][1]  # type: ignore[index]
    assert sample["path"] == ""
    assert sample["note"].startswith("not a file: judged by the digest the re-run recorded")


@pytest.mark.parametrize("layout", ["src", "subfolder"])
def test_a_module_reruns_the_checked_out_code(
    capsys: pytest.CaptureFixture[str], project: Project, monkeypatch: pytest.MonkeyPatch, layout: str
) -> None:
    """``python -m pkg.train`` imports the checkout, never today's tree, from the folder it started in.

    ``src``: run from the root with ``PYTHONPATH=src`` (as an editable install has it), and the
    package changes after training: the re-run must import the commit's ``src/pkg``, not today's.
    ``subfolder``: run from ``sub/``, where ``pkg`` is: the re-run must start there too.
    """
    base = project.root / ("src" if layout == "src" else "sub")
    (base / "pkg").mkdir(parents=True)
    (base / "pkg" / "__init__.py").write_text("")
    (base / "pkg" / "helper.py").write_text("C = 0.05\n")
    module = TRAIN.replace("C_VALUE", "C").replace(
        "import slipway\n", "import slipway\nfrom pkg.helper import C\n"
    )
    (base / "pkg" / "train.py").write_text(module)
    project.commit(str(base))
    data = str(project.root / "data.csv")
    if layout == "src":
        project.train("-m", "pkg.train", "--data", data, env={"PYTHONPATH": str(base)})
        (base / "pkg" / "helper.py").write_text("C = 3.0\n")  # today's code is not the model's
        project.commit(str(base))
        monkeypatch.setenv("PYTHONPATH", str(base))
    else:
        project.train("-m", "pkg.train", "--data", data, cwd=base)
    project.register()
    code, report = as_json(capsys, project)
    assert code == 0, (report["problems"], report["log_tail"])
    assert report["params"] == []  # C=0.05, as trained
    assert verdicts(report, "metrics") == {"accuracy": "identical", "mean_proba": "identical"}
    assert tuple(report["command"])[1:3] == ("-m", "pkg.train")  # type: ignore[arg-type]
    assert str(report["cwd"]).endswith("/tree/sub" if layout == "subfolder" else "/tree")
    tags = project.run_tags(str(report["original_run"]))
    assert tags["slipway.source.cwd"] == ("sub" if layout == "subfolder" else ".")


def direct(project: Project) -> Reproduction:
    """``Registry.reproduce`` of models:/m/1, in this process (so that tests can patch its steps)."""
    store = open_metadata_store(f"sqlite:///{project.home / 'slipway.db'}")
    try:
        registry = Registry(store, open_blob_store(str(project.home / "artifacts")))
        return registry.reproduce(
            "models:/m/1",
            repo=project.root,
            python=sys.executable,
            environ=dict(os.environ),
            cache_dir=project.home / "cache",
        )
    finally:
        store.close()


def test_concurrent_reproductions_of_a_version_each_find_their_own_run(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.train()
    project.register()
    real = _reproduce._rerun
    started: list[bool] = []
    others: list[Reproduction] = []

    def rerun_then_another(*args: Any, **kwargs: Any) -> Any:
        done = real(*args, **kwargs)
        if not started:  # once, after the first call's re-run: a second reproduction of the version
            started.append(True)
            others.append(direct(project))
        return done

    monkeypatch.setattr(_reproduce, "_rerun", rerun_then_another)
    first = direct(project)
    second = others[0]
    assert first.ok, first.problems
    assert second.ok, second.problems
    assert first.reproduced_run != second.reproduced_run  # neither picked the other's (newer) run
    assert (
        project.run_tags(str(first.reproduced_run))["slipway.reproduces"]
        != project.run_tags(str(second.reproduced_run))["slipway.reproduces"]
    )


@pytest.mark.parametrize("failing", ["load", "predict"])
def test_a_model_that_fails_to_load_or_predict_cannot_be_checked(
    capsys: pytest.CaptureFixture[str],
    project: Project,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    failing: str,
) -> None:
    (project.root / "raising.py").write_text(RAISING)
    project.commit("raising.py")
    project.train()
    project.register()
    if failing == "predict":
        monkeypatch.setenv("REPRO_RAISE", "1")  # the re-run's model raises in predict_proba here
        monkeypatch.syspath_prepend(str(project.root))  # where its class is (no code/ in sklearn's)
        request.addfinalizer(lambda: sys.modules.pop("raising", None))
        expected = (
            "cannot check predictions: the re-run's model's predict_proba on the input example raised: "
            "ValueError: boom: predict_proba outside training"
        )
    else:
        import slipway.models
        from slipway.errors import IntegrityViolation

        real = slipway.models.load_model

        def load_model(uri: str | os.PathLike[str], **kwargs: Any) -> Any:
            if str(uri).startswith("runs:/"):
                raise IntegrityViolation("model.pkl: digest mismatch\nmore")
            return real(uri, **kwargs)

        monkeypatch.setattr(slipway.models, "load_model", load_model)
        expected = "did not load: model.pkl: digest mismatch"
    code, report = as_json(capsys, project)  # exit code 1, not 2, and no traceback (it would raise)
    assert code == 1
    problems = report["problems"]
    assert isinstance(problems, list)
    assert len(problems) == 1
    problem = str(problems[0])
    assert problem.startswith("cannot check predictions: ")
    assert expected in problem
    assert "\n" not in problem


@pytest.mark.parametrize(
    "stop", ["worktree add interrupted", "worktree add failed", "re-run interrupted", "comparing failed"]
)
def test_nothing_is_left_behind_when_reproduce_stops(
    project: Project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, stop: str
) -> None:
    project.train()
    project.register()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    error: BaseException = KeyboardInterrupt() if "interrupted" in stop else InvalidInput("git failed")
    real_git = _reproduce._git

    def git(args: list[str], cwd: Path, *, check: bool = True) -> Any:
        done = real_git(args, cwd, check=check)
        if args[:2] == ["worktree", "add"]:
            raise error  # git made its worktree entry, then stopped (Ctrl-C) or failed half-way
        return done

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise error if stop == "re-run interrupted" else RuntimeError("comparing failed")

    if stop.startswith("worktree add"):
        monkeypatch.setattr(_reproduce, "_git", git)
    else:
        monkeypatch.setattr(_reproduce, "_rerun" if stop == "re-run interrupted" else "_compared", fail)
    with pytest.raises((KeyboardInterrupt, InvalidInput, RuntimeError)):
        direct(project)
    assert list(scratch.iterdir()) == []  # the temporary worktree folder is gone
    assert project.worktrees().count("\n") == 1, project.worktrees()  # and git lists no other
    assert not list((project.root / ".git" / "worktrees").glob("*"))
