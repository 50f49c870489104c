"""``slipway sweep TARGET``: exit codes, the table and --json, one-line errors."""

from __future__ import annotations

import json
import textwrap
from typing import TYPE_CHECKING

import pytest
from tests.cli._cli import cli

if TYPE_CHECKING:
    from pathlib import Path

pytest.importorskip("optuna")

OBJECTIVE = """
    import slipway
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    def objective(trial, log_model=True):
        X, y = load_iris(return_X_y=True, as_frame=True)
        depth = trial.suggest_int("max_depth", 1, 4)
        model = DecisionTreeClassifier(max_depth=depth, random_state=0).fit(X, y)
        if log_model:
            slipway.log_model(model, input_example=X.head(2))
        return model.score(X, y)
"""


@pytest.fixture
def train(tmp_path: Path) -> str:
    (tmp_path / "train_cli.py").write_text(textwrap.dedent(OBJECTIVE))
    return "train_cli.py:objective"


def test_sweep_prints_the_best_trials_and_registers_the_best_model(
    capsys: pytest.CaptureFixture[str], train: str
) -> None:
    code, out, err = cli(
        capsys,
        "sweep",
        train,
        "--trials",
        "3",
        "--seed",
        "0",
        "--direction",
        "maximize",
        "--register",
        "iris",
    )

    assert (code, err) == (0, "")
    assert "best trials of this sweep" in out
    assert "trials: 3 complete; sweep run " in out
    assert "best: trial " in out
    assert "registered iris version 1" in out


def test_sweep_json_names_the_study_its_trials_and_the_best_run(
    capsys: pytest.CaptureFixture[str], train: str
) -> None:
    code, out, _ = cli(
        capsys, "sweep", train, "-n", "2", "--study", "depth", "--param", "log_model=false", "--json"
    )
    again, out2, _ = cli(capsys, "sweep", train, "-n", "1", "--study", "depth", "--json")

    assert (code, again) == (0, 0)
    first, second = json.loads(out), json.loads(out2)
    assert first["study"] == second["study"] == "depth"
    assert [t["number"] for t in second["trials"]] == [2]  # the study went on where it stopped
    assert first["states"] == {"COMPLETE": 2, "PRUNED": 0, "FAIL": 0}
    assert first["best_run_id"] in {t["run_id"] for t in first["trials"]}
    assert first["registered"] is None


def test_registering_a_best_trial_without_a_model_is_one_line(
    capsys: pytest.CaptureFixture[str], train: str
) -> None:
    code, _, err = cli(capsys, "sweep", train, "-n", "1", "--param", "log_model=false", "--register", "iris")

    assert code == 2
    assert err.count("\n") == 1
    assert "logged no model; call slipway.log_model(model) in the objective" in err


def test_when_every_trial_fails_the_command_exits_2_with_the_first_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "broken_cli.py").write_text("def objective(trial):\n    raise KeyError('label')\n")

    code, out, err = cli(capsys, "sweep", "broken_cli.py:objective", "-n", "2")

    assert (code, out) == (2, "")
    assert err == "error: all 2 trials failed; trial 0: KeyError: 'label'\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["values_cli.py:objective"],
            "values_cli.py:objective: expected a function objective(trial) -> float",
        ),
        (["values_cli.py:missing"], "has no 'missing'"),
        (["nowhere.py:objective"], "nowhere.py: no such file"),
        (["values_cli.py:fn", "--trials", "0"], "trials 0: expected a whole number of at least 1"),
        (["values_cli.py:fn", "--engine", "spark"], "engine 'spark': expected one of local, dask"),
        (["values_cli.py:fn", "--param", "oops"], "--param 'oops': expected NAME=VALUE"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], message: str
) -> None:
    (tmp_path / "values_cli.py").write_text("objective = 3\n\ndef fn(trial):\n    return 1.0\n")

    code, out, err = cli(capsys, "sweep", *argv)

    assert (code, out) == (2, "")
    assert err.startswith("error: ")
    assert err.count("\n") == 1
    assert message in err
