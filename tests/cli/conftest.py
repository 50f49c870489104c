"""CLI tests call the Python API too (register a model, log feedback) in each test's own folder.

The API keeps one client per process, bound to the settings of the folder it was first used in;
resetting it around every test makes `slipway.register_model` here and `slipway …` in the same test
see the same project, whatever ran before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from slipway import _api

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(autouse=True)
def _fresh_api_client(_isolated: None) -> Iterator[None]:
    _api._reset_for_tests()
    yield
    _api._reset_for_tests()
