"""A real sklearn classifier saved as a slipway model, and the data it scores."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest
from tests._s3 import aws_env, s3_endpoint, s3_prefix
from tests.batch._batch_data import make_frame

from slipway.models import Model, load_model, save_model

__all__ = ["aws_env", "model", "model_dir", "s3_endpoint", "s3_prefix"]

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sklearn.linear_model import LogisticRegression

    train = make_frame(500, seed=1)
    y = np.where(train["tickets"] + (train["age"] < 30) * 3 > 5, "churn", "stay")
    clf = LogisticRegression(max_iter=500).fit(train, y)
    path = tmp_path_factory.mktemp("models") / "churn"
    save_model(clf, path, input_example=train.head(5), reference_rows=0)
    return path


@pytest.fixture
def model(model_dir: Path) -> Model:
    return load_model(model_dir)
