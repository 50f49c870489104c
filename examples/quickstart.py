"""Quickstart: train and track a scikit-learn model end to end on the embedded default.

    python examples/quickstart.py

Everything lands in ./.slipway/ (a SQLite file and an artifact folder): no server, no setup.
One experiment, one parent run with a small sweep of nested runs (different C), each with
autologged params, training metrics and model, a logged dataset, a per-"epoch" learning curve,
test metrics and a matplotlib figure.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display needed

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import slipway

EXPERIMENT = "quickstart"


def main() -> None:
    slipway.seed(42)
    data = load_breast_cancer(as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.25, random_state=42, stratify=data.target
    )
    slipway.autolog()  # every fit below logs params, training metrics, data fingerprints and the model

    with slipway.start_run(experiment=EXPERIMENT, name="sweep-C") as parent:
        slipway.log_dataset(X_train.assign(target=y_train), name="train", role="training")
        slipway.log_dataset(X_test.assign(target=y_test), name="test", role="evaluation")
        best_auc, best_c = -1.0, 0.0
        children: dict[str, float] = {}  # run id -> test AUC
        rng = np.random.default_rng(0)
        for c in (0.01, 0.1, 1.0, 10.0):
            with slipway.start_run(name=f"C={c}") as child:  # nested under the sweep
                model = Pipeline(
                    [("scale", StandardScaler()), ("clf", LogisticRegression(C=c, max_iter=1000))]
                )
                model.fit(X_train, y_train)  # autologged
                proba = model.predict_proba(X_test)[:, 1]
                # A loop that logs a metric per step (an epoch loop would look the same): bootstrap
                # resamples of the test set. Each call is buffered; none waits on the database.
                for step in range(200):
                    idx = rng.integers(0, len(y_test), len(y_test))
                    slipway.log_metric(
                        "test_auc_bootstrap", roc_auc_score(y_test.iloc[idx], proba[idx]), step=step
                    )
                auc = roc_auc_score(y_test, proba)
                slipway.log_metrics({"test_auc": auc, "test_accuracy": model.score(X_test, y_test)})
                children[child.id] = auc
                fig = _roc_figure(y_test.to_numpy(), proba, title=f"C={c}: AUC {auc:.3f}")
                slipway.log_figure(fig, "roc.png")
                plt.close(fig)
                if auc > best_auc:
                    best_auc, best_c = auc, c
        slipway.log_metrics({"best_test_auc": best_auc})
        slipway.set_tag("best_C", str(best_c))

    slipway.autolog(disable=True)
    print(f"tracked run {parent.id} (experiment {EXPERIMENT!r}): best C={best_c}, test AUC {best_auc:.4f}")
    best, worst = max(children, key=children.__getitem__), min(children, key=children.__getitem__)
    cli = _slipway_command()
    print("look at it:")
    print(f'  {cli} runs list --experiment {EXPERIMENT} --order-by "metrics.test_auc desc"')
    print(f"  {cli} runs show {best[:8]}")
    print(f"  {cli} runs compare {worst[:8]} {best[:8]}")
    print("  everything is stored in ./.slipway/ (slipway.db and artifacts/)")


def _slipway_command() -> str:
    """`slipway` if the shell finds this venv's command, else its path, so the lines can be pasted."""
    here = Path(sys.executable).parent / "slipway"
    found = shutil.which("slipway")
    if found is not None and Path(found).resolve() == here.resolve():
        return "slipway"
    try:
        return str(here.relative_to(Path.cwd()))
    except ValueError:
        return str(here)


def _roc_figure(y: np.ndarray, proba: np.ndarray, *, title: str) -> plt.Figure:
    fpr, tpr, _ = roc_curve(y, proba)
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot(fpr, tpr)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=title)
    return fig


if __name__ == "__main__":
    main()
