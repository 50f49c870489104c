"""Reproduce, the pure side: verdicts on metrics and predictions, entry points moved into a checkout."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from slipway.errors import InvalidInput
from slipway.registry import Reproduction, Tolerance, Verdict
from slipway.registry._reproduction import (
    Comparison,
    DataCheck,
    compare_metrics,
    compare_numbers,
    compare_predictions,
    entry_point,
    with_rerun_digest,
)

TOL = Tolerance(rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize(
    ("a", "b", "verdict"),
    [
        (0.5, 0.5, Verdict.IDENTICAL),
        (math.nan, math.nan, Verdict.IDENTICAL),
        (math.inf, math.inf, Verdict.IDENTICAL),
        (1.0, 1.0 + 1e-9, Verdict.WITHIN_TOLERANCE),
        (0.0, 1e-13, Verdict.WITHIN_TOLERANCE),
        (1.0, 1.001, Verdict.DIFFERENT),
        (0.0, 1e-9, Verdict.DIFFERENT),
        (math.inf, 1e308, Verdict.DIFFERENT),
        (math.nan, 0.0, Verdict.DIFFERENT),
        (None, 1.0, Verdict.DIFFERENT),
    ],
)
def test_compare_numbers(a: float | None, b: float | None, verdict: Verdict) -> None:
    assert compare_numbers(a, b, TOL) is verdict


def test_compare_metrics_lists_every_key_of_either_side() -> None:
    got = compare_metrics(
        {"auc": 0.9, "loss": 0.3, "old": 1.0}, {"auc": 0.9, "loss": 0.3000001, "new": 2.0}, TOL
    )
    assert [(c.key, c.verdict) for c in got] == [
        ("auc", Verdict.IDENTICAL),
        ("loss", Verdict.WITHIN_TOLERANCE),
        ("new", Verdict.DIFFERENT),
        ("old", Verdict.DIFFERENT),
    ]
    assert got[2].note == "not logged by the original run"
    assert got[3].note == "not logged by the re-run"
    assert got[1].note.startswith("difference +")
    assert compare_metrics({}, {}, TOL) == ()


def test_compare_predictions() -> None:
    a = np.array([[0.1, 0.9], [0.7, 0.3]])
    assert compare_predictions("p", a, a.copy(), TOL).verdict is Verdict.IDENTICAL
    close = compare_predictions("p", a, a + 1e-9, TOL)
    assert close.verdict is Verdict.WITHIN_TOLERANCE
    assert "largest difference 1e-09" in close.note
    far = compare_predictions("p", a, a[::-1], TOL)
    assert far.verdict is Verdict.DIFFERENT
    assert far.note.startswith("4 of 4 values differ")
    assert compare_predictions("p", a, a[:1], TOL).note == "shape [2, 2] vs [1, 2]"
    labels = compare_predictions("predict", np.array(["yes", "no"]), np.array(["yes", "yes"]), TOL)
    assert (labels.verdict, labels.note) == (Verdict.DIFFERENT, "1 of 2 values differ")
    frame = pd.DataFrame({"x": [1.0, math.nan]})
    assert compare_predictions("p", frame, frame.copy(), TOL).verdict is Verdict.IDENTICAL
    assert compare_predictions("p", [1, 2], np.array([1, 2]), TOL).original == "[1, 2]"


def test_tolerance_must_be_a_non_negative_number() -> None:
    with pytest.raises(InvalidInput, match="rtol"):
        Tolerance(rtol=-1)
    with pytest.raises(InvalidInput, match="atol"):
        Tolerance(atol=math.nan)


def _tags(command: str, name: str = "/repo/train.py", kind: str = "script") -> dict[str, str]:
    return {
        "slipway.source.type": kind,
        "slipway.source.name": name,
        "slipway.source.command": command,
        "slipway.git.root": "/repo",
    }


@pytest.mark.parametrize(
    ("command", "name", "argv", "cwd"),
    [
        (
            "/venv/bin/python train.py --seed 1",
            "/repo/train.py",
            ("py", "/co/train.py", "--seed", "1"),
            "/co",
        ),
        ("python sub/train.py", "/repo/sub/train.py", ("py", "/co/sub/train.py"), "/co"),
        ("python train.py", "/repo/sub/train.py", ("py", "/co/sub/train.py"), "/co/sub"),
        ("python ./train.py", "/repo/train.py", ("py", "/co/train.py"), "/co"),
        ("python /repo/sub/train.py", "/repo/sub/train.py", ("py", "/co/sub/train.py"), "/co"),
        (
            "python -Werror -Xdev -B train.py",
            "/repo/train.py",
            ("py", "-Werror", "-Xdev", "-B", "/co/train.py"),
            "/co",
        ),
        (
            "python -u -W error -X dev train.py -v",
            "/repo/train.py",
            ("py", "-u", "-W", "error", "-X", "dev", "/co/train.py", "-v"),
            "/co",
        ),
        (
            "python train.py --data /repo/data/a.csv --out=/repo/out /elsewhere/b.csv",
            "/repo/train.py",
            ("py", "/co/train.py", "--data", "/co/data/a.csv", "--out=/co/out", "/elsewhere/b.csv"),
            "/co",
        ),
        (
            "python 'my train.py' --name 'a b'",
            "/repo/my train.py",
            ("py", "/co/my train.py", "--name", "a b"),
            "/co",
        ),
    ],
)
def test_entry_point_of_a_script(command: str, name: str, argv: tuple[str, ...], cwd: str) -> None:
    found = entry_point(_tags(command, name), checkout="/co", python="py")
    assert (found.argv, found.cwd) == (argv, cwd)


def test_entry_point_notes_moved_arguments() -> None:
    found = entry_point(_tags("python train.py --data /repo/a.csv"), checkout="/co", python="py")
    assert found.notes == ("argument '/repo/a.csv' points into the repository: using '/co/a.csv'",)


def test_entry_point_of_a_module() -> None:
    tags = _tags("python -m pkg.train --epochs 3", name="pkg.train", kind="module")
    found = entry_point(tags, checkout="/co", python="py")
    assert (found.argv, found.cwd) == (("py", "-m", "pkg.train", "--epochs", "3"), "/co")


@pytest.mark.parametrize(
    ("cwd_tag", "kind", "command", "cwd"),
    [
        ("sub", "module", "python -m pkg.train", "/co/sub"),
        (".", "module", "python -m pkg.train", "/co"),
        ("a/b/", "module", "python -m pkg.train", "/co/a/b"),
        ("sub", "script", "python ../train.py", "/co/sub"),  # the command line could not show it
        ("..", "module", "python -m pkg.train", "/co"),  # outside the repository: its root
        ("/etc", "module", "python -m pkg.train", "/co"),
    ],
)
def test_the_recorded_working_folder_is_used_in_the_checkout(
    cwd_tag: str, kind: str, command: str, cwd: str
) -> None:
    name = "pkg.train" if kind == "module" else "/repo/train.py"
    tags = {**_tags(command, name=name, kind=kind), "slipway.source.cwd": cwd_tag}
    found = entry_point(tags, checkout="/co", python="py")
    assert found.cwd == cwd
    outside = cwd_tag in ("..", "/etc")
    assert any("outside the repository" in n for n in found.notes) is outside


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ({**_tags("python train.py"), "slipway.source.type": "notebook"}, "from a notebook"),
        ({**_tags("python -c 'x'"), "slipway.source.type": "command"}, "from python -c"),
        ({**_tags("python train.py"), "slipway.source.type": ""}, "an unknown way"),
        (_tags(""), "no command line"),
        ({**_tags("python train.py"), "slipway.git.root": ""}, "no git repository"),
        (_tags("python /other/train.py", name="/other/train.py"), "outside the repository"),
        (_tags("python -u"), "names no script"),
        (_tags("python -m", kind="module"), "names no module"),
        (_tags("python 'unclosed"), "cannot be parsed"),
        # a recorded option must never choose the code that runs instead of the checked-out script
        (_tags("python '-cimport os' /repo/train.py", name="/repo/train.py"), "option '-cimport os'"),
        (_tags("python -c 'import os' /repo/train.py", name="/repo/train.py"), "option '-c'"),
        (_tags("python -mhttp.server /repo/train.py", name="/repo/train.py"), "option '-mhttp.server'"),
        (_tags("python -i train.py"), "option '-i'"),
        (_tags("python -x -m pkg.train", name="pkg.train", kind="module"), "option '-x'"),
    ],
)
def test_entry_points_that_cannot_be_rerun(tags: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        entry_point(tags, checkout="/co", python="py")


def _report(**changes: object) -> Reproduction:
    base: dict[str, object] = {
        "uri": "models:/m/1",
        "original_run": "a",
        "reproduced_run": "b",
        "reproduced_model": "runs:/b/model",
        "commit": "c",
        "dirty": False,
        "command": ("py", "t.py"),
        "cwd": "/co",
        "exit_code": 0,
        "tolerance": TOL,
    }
    return Reproduction(**{**base, **changes})  # type: ignore[arg-type]


def _c(verdict: Verdict) -> Comparison:
    return Comparison(key="k", original="1", reproduced="2", verdict=verdict)


def test_what_makes_a_reproduction_fail() -> None:
    same = (_c(Verdict.IDENTICAL),)
    assert _report(metrics=same).ok
    assert _report(metrics=(_c(Verdict.WITHIN_TOLERANCE),), predictions=(_c(Verdict.UNCHECKED),)).ok
    assert _report(metrics=(_c(Verdict.DIFFERENT),)).problems == ["metrics differ: k"]
    assert _report(predictions=(_c(Verdict.DIFFERENT),)).problems == ["predictions differ: k"]
    assert _report(exit_code=3).problems == ["the re-run exited with 3"]
    assert _report(exit_code=None).problems == ["the re-run timed out"]
    assert _report(reproduced_run=None).problems == ["the re-run recorded no run tagged as this reproduction"]
    changed = DataCheck(
        name="train", role="training", recorded="x", path="/d", found="y", verdict=Verdict.DIFFERENT
    )
    unchecked = DataCheck(name="mem", role="", recorded="x", path="", found=None, verdict=Verdict.UNCHECKED)
    assert _report(data=(changed, unchecked), metrics=same).problems == ["training data changed: train"]
    assert _report(data=(unchecked,), metrics=same).ok
    assert _report(metrics=same).to_dict()["ok"] is True


def test_a_reproduction_that_compared_nothing_is_not_reproduced() -> None:
    """A re-run that logged no model, or of which nothing could be judged, proves nothing."""
    nothing = _report()
    assert not nothing.ok
    assert nothing.problems == [
        "nothing was compared: neither run logged a metric and no prediction was checked"
    ]
    assert not _report(predictions=(_c(Verdict.UNCHECKED),)).ok
    no_model = _report(reproduced_model=None, metrics=(_c(Verdict.IDENTICAL),))
    assert no_model.problems == ["the re-run logged no model where the original run had one"]
    assert no_model.to_dict()["ok"] is False


def test_a_check_that_could_not_be_made_fails_the_reproduction() -> None:
    line = "cannot check predictions: the re-run's model raised on the input example (predict): boom"
    report = _report(metrics=(_c(Verdict.IDENTICAL),), unchecked=(line,))
    assert report.problems == [line]
    assert not report.ok


def _data(verdict: Verdict, note: str = "") -> DataCheck:
    found = None if verdict is Verdict.UNCHECKED else "d1"
    return DataCheck(
        name="t", role="training", recorded="d1", path="", found=found, verdict=verdict, note=note
    )


def test_data_that_cannot_be_read_again_is_judged_by_the_rerun_digest() -> None:
    memory = _data(Verdict.UNCHECKED, "cannot check: not a file")
    same = with_rerun_digest(memory, "d1")
    assert (same.verdict, same.found) == (Verdict.IDENTICAL, "d1")
    assert same.note == "not a file: judged by the digest the re-run recorded; the re-run read the same data"
    other = with_rerun_digest(memory, "d2" * 10)
    assert (other.verdict, other.found) == (Verdict.DIFFERENT, "d2" * 10)
    assert other.note.endswith("the re-run read other data (sha256:d2d2d2d2d2d2…)")
    assert _report(data=(other,), metrics=(_c(Verdict.IDENTICAL),)).problems == ["training data changed: t"]
    missing = with_rerun_digest(memory, None)
    assert missing.verdict is Verdict.UNCHECKED
    assert missing.note == "cannot check: not a file; the re-run logged no dataset of that name and role"
    # a file fingerprinted again keeps its own verdict; the re-run's digest is a note
    read = with_rerun_digest(_data(Verdict.IDENTICAL), "d2")
    assert (read.verdict, read.note) == (Verdict.IDENTICAL, "the re-run read other data (sha256:d2…)")
