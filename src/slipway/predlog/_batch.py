"""What a writer logs: one batch of scored rows, as the caller already holds them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slipway.errors import InvalidInput
from slipway.predlog._layout import INPUT_PREFIX, JOINED, OUTPUT_PREFIX, RESERVED

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime
    from typing import TypeAlias

    import numpy as np
    import pandas as pd

    #: One column: a list, a 1-D numpy array or a pandas Series; outputs may be n-D arrays.
    Column: TypeAlias = Sequence[Any] | np.ndarray[Any, Any] | pd.Series[Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class PredictionBatch:
    """Rows scored together (one request, or one chunk of a batch-scoring job), one per request id.

    Args:
        request_ids: one per row; strings (other values are stored as their ``str``).
        model_name: the registered model's name.
        model_version: its version (an int is stored as a string).
        variant: ``"primary"``, ``"canary"``, ``"shadow"``, an A/B arm's name, or ``"batch"``.
        inputs: feature name -> column, or a pandas DataFrame; a feature named like a reserved
            column (``timestamp``, ``label``, …) or like an output is stored as ``input.<name>``.
        outputs: output name -> column (``"prediction"``, ``"proba_<class>"``, …); an output
            named like a reserved column is stored as ``output.<name>``. Arrays of more than one
            dimension are stored as list columns.
        latency_ms: the batch's latency, or one per row.
        timestamp: when the batch was scored (a naive datetime is taken as UTC); the time of the
            ``log()`` call when None.

    The writer keeps references to the columns until its next flush: do not change them in place
    after logging.

    .. versionadded:: 0.1
    """

    request_ids: Column
    model_name: str
    model_version: str | int
    variant: str
    inputs: Mapping[str, Column] | pd.DataFrame
    outputs: Mapping[str, Column]
    latency_ms: float | Column
    timestamp: datetime | None = None


_TAKEN = frozenset(RESERVED) | frozenset(JOINED)


def stored_names(inputs: tuple[Any, ...], outputs: tuple[Any, ...]) -> tuple[str, ...]:
    """The column names a column set is stored under (checked once per column set, then cached)."""
    for kind, names in (("input", inputs), ("output", outputs)):
        for name in names:
            if not isinstance(name, str) or not name:
                raise InvalidInput(f"{kind} column name {name!r}: expected a non-empty string")
    out = tuple(OUTPUT_PREFIX + name if name in _TAKEN else name for name in outputs)
    taken = _TAKEN | set(outputs)
    stored = tuple(INPUT_PREFIX + name if name in taken else name for name in inputs) + out
    if len(set(stored)) != len(stored):
        dup = next(name for name in stored if stored.count(name) > 1)
        raise InvalidInput(f"column {dup!r}: two inputs or outputs would be stored under this name")
    return stored
