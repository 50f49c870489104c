"""Real datasets beside the project (../shared/datasets), loaded once per test session."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd
import pytest

DATASETS = Path(__file__).parents[2].parent / "shared" / "datasets"


def dataset(name: str) -> Path:
    """The dataset's folder, or skip the test saying where it was looked for."""
    folder = DATASETS / name
    if not folder.is_dir():
        pytest.skip(f"dataset {name!r} not found at {folder} (the shared datasets live beside the project)")
    return folder


@lru_cache(maxsize=1)
def _census(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    columns = {"employed": "label", "predicted_probability": "proba_1"}
    reference = pd.read_parquet(folder / "employment_MA_reference.pq").rename(columns=columns)
    analysis = pd.read_parquet(folder / "employment_MA_analysis.pq")
    target = pd.read_parquet(folder / "employment_MA_analysis_target.pq")
    analysis = analysis.merge(target, on="id", how="left", validate="one_to_one").rename(columns=columns)
    return reference, analysis


def census() -> tuple[pd.DataFrame, pd.DataFrame]:
    """NannyML's US census employment data: reference 2015 and analysis 2016-2018 with their labels,
    columns named as in the prediction log (``label``, ``prediction``, ``proba_1``).
    """
    reference, analysis = _census(dataset("nannyml_us_census_employment_ma"))
    return reference.copy(), analysis.copy()


@lru_cache(maxsize=1)
def _bike_hours(folder: Path) -> pd.DataFrame:
    hours: pd.DataFrame = pd.read_csv(folder / "hour.csv")
    day = pd.to_datetime(hours["dteday"], format="%Y-%m-%d").dt.tz_localize("UTC")
    hours["timestamp"] = day + pd.to_timedelta(hours["hr"], unit="h")
    return hours


def bike_hours() -> pd.DataFrame:
    """UCI bike sharing, hourly, with a UTC ``timestamp`` column."""
    hours: pd.DataFrame = _bike_hours(dataset("bike_sharing")).copy()
    return hours
