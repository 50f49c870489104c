from __future__ import annotations

import random
from typing import TYPE_CHECKING

import numpy as np
import pytest

from slipway.errors import InvalidInput
from slipway.tracking import current_seed, seed_everything

if TYPE_CHECKING:
    from slipway.tracking import TrackingClient


def test_seed_makes_random_and_numpy_repeat() -> None:
    seed_everything(7)
    first = (random.random(), np.random.rand())
    seed_everything(7)
    assert (random.random(), np.random.rand()) == first
    assert current_seed() == 7


def test_runs_started_after_a_seed_record_it(client: TrackingClient) -> None:
    seed_everything(42)
    with client.start_run() as run:
        pass
    assert client.get_run(run.id).tags["slipway.seed"] == "42"


@pytest.mark.parametrize("bad", [-1, 2**32, 1.5, True])
def test_bad_seeds_are_refused(bad: object) -> None:
    with pytest.raises(InvalidInput, match="seed"):
        seed_everything(bad)  # type: ignore[arg-type]
