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

from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import slipway

if TYPE_CHECKING:
    import pandas as pd

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

    version = _register_gate_promote(f"runs:/{best}/model", X_test.assign(target=y_test))
    _serve_and_predict(version, X_test.head(5))
    _watch(X_test)


MODEL = "quickstart-cancer"


def _register_gate_promote(model_uri: str, holdout: pd.DataFrame) -> int:
    """The best model becomes a registered version, passes a gate, and takes the production alias."""
    version = slipway.register_model(model_uri, MODEL, reason="best C of the quickstart sweep")
    policy = {
        "compare": {"alias": "production"},
        "checks": [
            {"kind": "metric", "metric": "roc_auc", "min": 0.95},
            {"kind": "no_regression", "metric": "roc_auc", "tolerance": 0.01},
            {"kind": "latency", "single_row_p95_ms": 50},
            {"kind": "signature"},
        ],
    }
    uri = f"models:/{MODEL}/{version.version}"
    gate = slipway.validate(uri, holdout, target="target", policy=policy, reason="quickstart gate")
    print(f"registered {uri}; gate {'passed' if gate.passed else 'FAILED'}")
    from slipway.registry import Registry

    tracking = slipway.client()
    Registry(tracking.store, tracking.blobs).promote(
        MODEL, version.version, alias="production", actor="quickstart", reason="gate passed"
    )
    print(f"promoted {uri} to models:/{MODEL}@production")
    return version.version


def _serve_and_predict(version: int, rows: pd.DataFrame) -> None:
    """Serve the production alias as a real server process, ask it, record a label, stop it."""
    import json
    import signal
    import socket
    import subprocess
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    cli = str(Path(sys.executable).parent / "slipway")
    server = subprocess.Popen([cli, "serve", f"models:/{MODEL}@production", "--port", str(port)])
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/v2/health/ready", timeout=1):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("slipway serve did not become ready") from None
                time.sleep(0.1)
        body = json.dumps({"dataframe_split": rows.to_dict(orient="split") | {"index": None}}).encode()
        request = urllib.request.Request(
            f"{url}/invocations",
            data=body,
            headers={"content-type": "application/json", "x-request-id": "qs-1"},
        )
        with urllib.request.urlopen(request) as response:
            answer = json.loads(response.read())
            served_by = response.headers["x-model-version"]
            print(f"served by version {served_by}: predictions {answer['predictions']}")
        feedback = json.dumps([{"request_id": "qs-1#0", "label": 1}]).encode()
        urllib.request.urlopen(urllib.request.Request(f"{url}/v2/models/{MODEL}/feedback", data=feedback))
    finally:
        server.send_signal(signal.SIGTERM)  # finishes in-flight requests and flushes the prediction log
        server.wait(timeout=30)
    from slipway.artifacts import open_file_tree
    from slipway.config import load_settings
    from slipway.predlog import join_feedback, read_feedback, read_predictions

    tree = open_file_tree(load_settings().prediction_log_uri())
    logged = join_feedback(read_predictions(tree, deployment=MODEL), read_feedback(tree, deployment=MODEL))
    print(f"prediction log: {len(logged)} rows, {int(logged['label'].notna().sum())} with a label")
    print(f"  serve it yourself: {_slipway_command()} serve models:/{MODEL}@production --port 8080")


def _watch(X_test: pd.DataFrame) -> None:
    """Drift against the training data the model was saved with, a report, and a monitor on the log."""
    import subprocess
    from datetime import date, timedelta

    from slipway.monitoring import dataset_drift, drift_report_html

    reference = slipway.load_model(f"models:/{MODEL}@production").reference()
    assert reference is not None  # autolog saved the training data's summary with the model
    features = [c for c in reference.columns if c not in reference.outputs]
    same = dataset_drift(reference, X_test, columns=features)
    # a new scanner, say, that reads every size 20% larger
    sizes = [c for c in features if "radius" in c or "perimeter" in c or "area" in c]
    shifted = X_test.assign(**{c: X_test[c] * 1.2 for c in sizes})
    moved = dataset_drift(reference, shifted, columns=features)
    print(
        f"drift on held-out data: {len(same.drifted_columns)} of {len(features)} columns; "
        f"on rescaled sizes: {len(moved.drifted_columns)} of {len(features)} "
        f"(dataset drift: {moved.drifted})"
    )
    Path("drift.html").write_text(
        drift_report_html(moved, reference, shifted, title="Quickstart: rescaled sizes")
    )
    print("  drift report: drift.html")

    cli = str(Path(sys.executable).parent / "slipway")
    Path("rules.yaml").write_text("rules:\n  - {name: data-drift, figure: drift.share, above: 0.5}\n")
    production = f"models:/{MODEL}@production"
    create = [
        "create",
        "quickstart",
        "--deployment",
        MODEL,
        "--reference",
        production,
        "--rules",
        "rules.yaml",
    ]
    subprocess.run([cli, "monitor", *create, "--window", "1D", "--replace"], check=True)
    # today's window of the log is not over yet, so replay yesterday's rescaled rows instead:
    # a file, by chunks of rows, each recorded over its rows' time range (the second rescaled)
    import pandas as pd

    midnight = pd.Timestamp(date.today(), tz="UTC")
    history = pd.concat([X_test, shifted], ignore_index=True)
    stamps = pd.date_range(end=midnight - timedelta(minutes=1), periods=len(history), freq="1min")
    history.assign(timestamp=stamps).to_parquet("history.parquet")
    backfill = [cli, "monitor", "backfill", "quickstart", "--input", "history.parquet", "--by"]
    subprocess.run([*backfill, f"rows:{len(X_test)}"], check=True)
    print(f"  watch it: {_slipway_command()} monitor run  (from cron; see docs/monitoring.md)")


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
