"""The BentoML anchor: the idiomatic 1.4 service, a numpy-in/numpy-out API over a model from the store.

Run by bench_serving.py inside benchmarks/.venv-bentoml with BENTOML_HOME pointing at the run's own
model store, into which the harness has saved the benchmark's model as ``bench``.
"""

import bentoml
import numpy as np  # noqa: TC002 - BentoML reads the annotations at runtime to build its API
from bentoml.models import BentoModel


@bentoml.service
class Bench:
    bento_model = BentoModel("bench:latest")

    def __init__(self) -> None:
        self.model = bentoml.sklearn.load_model(self.bento_model)

    @bentoml.api
    def predict(self, input: np.ndarray) -> np.ndarray:  # the JSON body's field name
        return self.model.predict(input)
