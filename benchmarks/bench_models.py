"""Model logging and loading, slipway beside MLflow on the same machine in one run, as ratios.

    python benchmarks/bench_models.py [--repeats 7]

Both sides fit the same LogisticRegression on scikit-learn's breast-cancer data, then, on SQLite
and a local artifact folder:

- log: ``log_model`` with an input example (signature inference, requirements, files stored),
  timed inside an active run; the first call of the process and the median of the later ones;
- load: ``load_model`` of the logged model by its ``runs:/`` URI (slipway checks every file's
  digest and the environment; MLflow downloads and unpickles), first and median, then one
  prediction on a row so the model is known to work;
- load by ``models:/NAME/VERSION``: other logged models, each registered, then loaded once (the
  registry resolves the version, pins its manifest digest, downloads into the cache).

Targets (issue 3): logging at most 1/10 of MLflow's time; loading no slower than MLflow's.
Enforcement overhead of one prediction (a single row of 10 columns) is measured on slipway's side.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import ANCHOR_PYTHON, python_env, require_anchor, run_json, save

COMMON = """
import json, statistics, sys, time, warnings
warnings.simplefilter("ignore")
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
X, y = load_breast_cancer(return_X_y=True, as_frame=True)
model = LogisticRegression(max_iter=5000).fit(X, y)
example = X.head(3)
repeats = int(sys.argv[1])
def timed(fn):
    t0 = time.perf_counter(); out = fn(); return time.perf_counter() - t0, out
"""

SLIPWAY = (
    COMMON
    + """
import slipway
import pandas as pd
from slipway.models import InputEnforcer
logs, loads, uris = [], [], []
with slipway.start_run(experiment="bench"):
    for i in range(repeats):
        s, info = timed(lambda: slipway.log_model(model, f"model{i}", input_example=example))
        logs.append(s); uris.append(info.uri)
for uri in uris:  # each a different model: the first load of each downloads it into the cache
    s, m = timed(lambda: slipway.load_model(uri)); loads.append(s)
cached = [timed(lambda: slipway.load_model(uris[0]))[0] for _ in range(repeats)]
folder = [timed(lambda: slipway.load_model(m.path))[0] for _ in range(repeats)]
assert m.predict(X.head(1)).shape == (1,)

# models:/ loads: versions of models logged apart (the cache is keyed by digests, so a model loaded
# by runs:/ above would already be cached), each loaded once cold, then one alias again and again
with slipway.start_run(experiment="bench"):
    fresh = [slipway.log_model(model, f"reg{i}", input_example=example).uri for i in range(repeats)]
versions = [slipway.register_model(uri, "bench").version for uri in fresh]
registry_loads = []
for v in versions:
    s, rm = timed(lambda: slipway.load_model(f"models:/bench/{v}")); registry_loads.append(s)
from slipway.registry import Registry
Registry(slipway.client().store, slipway.client().blobs).set_alias("bench", "production", 1, actor="bench")
registry_cached = [timed(lambda: slipway.load_model("models:/bench@production"))[0] for _ in range(repeats)]
assert rm.predict(X.head(1)).shape == (1,)

# enforcement overhead: one row, 10 columns (8 float, 1 int, 1 string), signature already compiled
cols = {f"f{i}": [float(i)] for i in range(8)} | {"n": [3], "s": ["x"]}
row = pd.DataFrame(cols)
enforce = InputEnforcer(slipway.models.infer_schema(row))
def per_call(arg, n=5000):
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n):
            enforce(arg)
        best = min(best, (time.perf_counter() - t0) / n)
    return best * 1e6
enforcement = {
    "frame_us": per_call(row),
    "records_us": per_call(row.to_dict("records")),
    "one_cast_us": per_call(row.astype({"n": "int32"})),
}
print(json.dumps({"log_first_s": logs[0], "log_median_s": statistics.median(logs[1:]),
                  "load_first_s": loads[0], "load_median_s": statistics.median(loads[1:]),
                  "load_cached_median_s": statistics.median(cached),
                  "load_folder_median_s": statistics.median(folder),
                  "load_models_first_s": registry_loads[0],
                  "load_models_median_s": statistics.median(registry_loads[1:]),
                  "load_models_cached_median_s": statistics.median(registry_cached),
                  "enforcement": enforcement}))
"""
)

MLFLOW = (
    COMMON
    + """
import mlflow, mlflow.sklearn, mlflow.pyfunc
mlflow.set_tracking_uri(sys.argv[2])
mlflow.set_experiment("bench")
logs, loads, uris = [], [], []
with mlflow.start_run():
    for i in range(repeats):
        s, info = timed(lambda: mlflow.sklearn.log_model(model, name=f"model{i}", input_example=example))
        logs.append(s); uris.append(info.model_uri)
for uri in uris:
    s, m = timed(lambda: mlflow.pyfunc.load_model(uri)); loads.append(s)
again = [timed(lambda: mlflow.pyfunc.load_model(uris[0]))[0] for _ in range(repeats)]
assert m.predict(X.head(1)).shape == (1,)
with mlflow.start_run():
    fresh = [mlflow.sklearn.log_model(model, name=f"reg{i}", input_example=example).model_uri
             for i in range(repeats)]
versions = [mlflow.register_model(uri, "bench").version for uri in fresh]
registry_loads = []
for v in versions:
    s, rm = timed(lambda: mlflow.pyfunc.load_model(f"models:/bench/{v}")); registry_loads.append(s)
assert rm.predict(X.head(1)).shape == (1,)
print(json.dumps({"log_first_s": logs[0], "log_median_s": statistics.median(logs[1:]),
                  "load_first_s": loads[0], "load_median_s": statistics.median(loads[1:]),
                  "load_again_median_s": statistics.median(again),
                  "load_models_first_s": registry_loads[0],
                  "load_models_median_s": statistics.median(registry_loads[1:])}))
"""
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    require_anchor()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "s").mkdir()
        (d / "m").mkdir()
        s = run_json(
            [sys.executable, "-c", SLIPWAY, str(args.repeats)],
            env=python_env(SLIPWAY_HOME=str(d / "s" / ".slipway")),
            cwd=d / "s",
        )
        m = run_json(
            [str(ANCHOR_PYTHON), "-c", MLFLOW, str(args.repeats), f"sqlite:///{d / 'm' / 'mlflow.db'}"],
            env=python_env(),
            cwd=d / "m",
        )
    results: dict[str, Any] = {
        "slipway": s,
        "mlflow": m,
        "log_ratio_first": m["log_first_s"] / s["log_first_s"],
        "log_ratio_median": m["log_median_s"] / s["log_median_s"],
        "load_ratio_first": m["load_first_s"] / s["load_first_s"],
        "load_ratio_median": m["load_median_s"] / s["load_median_s"],
        "load_models_ratio_median": m["load_models_median_s"] / s["load_models_median_s"],
    }
    ms = lambda x: f"{x * 1000:,.0f} ms"  # noqa: E731
    print(
        f"log_model, first call: slipway {ms(s['log_first_s'])}, mlflow {ms(m['log_first_s'])}: "
        f"{results['log_ratio_first']:.0f}x (target >= 10x)"
    )
    print(
        f"log_model, median:     slipway {ms(s['log_median_s'])}, mlflow {ms(m['log_median_s'])}: "
        f"{results['log_ratio_median']:.0f}x (target >= 10x)"
    )
    print(
        f"load_model runs:/, first: slipway {ms(s['load_first_s'])}, mlflow {ms(m['load_first_s'])}; "
        f"median of new models: slipway {ms(s['load_median_s'])}, mlflow {ms(m['load_median_s'])}: "
        f"{results['load_ratio_median']:.1f}x (target >= 1x)"
    )
    print(
        f"load_model again (slipway: from its digest cache) {ms(s['load_cached_median_s'])}, "
        f"from a folder {ms(s['load_folder_median_s'])}; mlflow again {ms(m['load_again_median_s'])}"
    )
    print(
        f"load_model models:/NAME/VERSION, first: slipway {ms(s['load_models_first_s'])}, "
        f"mlflow {ms(m['load_models_first_s'])}; median of new versions: slipway "
        f"{ms(s['load_models_median_s'])}, mlflow {ms(m['load_models_median_s'])}: "
        f"{results['load_models_ratio_median']:.1f}x (target >= 1x); slipway models:/NAME@ALIAS again "
        f"{ms(s['load_models_cached_median_s'])}"
    )
    e = s["enforcement"]
    print(
        f"enforcement, 1 row x 10 columns: matching DataFrame {e['frame_us']:.0f} us, "
        f"records {e['records_us']:.0f} us, one column cast {e['one_cast_us']:.0f} us"
    )
    print(f"saved {save('models', results)}")


if __name__ == "__main__":
    main()
