"""One call that seeds every random generator in use, so the seed is recorded instead of remembered.

The seed is kept for the process (it is a fact about the process, like the Python version) and
recorded as the ``slipway.seed`` tag on the active run and on every run started after it.
"""

from __future__ import annotations

import random
import sys

from slipway.errors import InvalidInput

__all__ = ["current_seed", "seed_everything"]

_seed: int | None = None


def seed_everything(n: int) -> list[str]:
    """Seed ``random``, NumPy's global generator, and torch/TensorFlow if the program imported them.

    Returns the names of what was seeded. Python's hash seed cannot change in a running process;
    set ``PYTHONHASHSEED`` before starting it if set ordering matters.
    """
    global _seed
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < 2**32:
        raise InvalidInput(f"seed {n!r}: expected an integer between 0 and 2**32 - 1")
    random.seed(n)
    seeded = ["random"]
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    else:
        np.random.seed(n)
        seeded.append("numpy")
    # torch and TensorFlow take seconds to import: seed them only when the program already uses them.
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(n)
        cuda = getattr(torch, "cuda", None)
        if cuda is not None and cuda.is_available():
            cuda.manual_seed_all(n)
        seeded.append("torch")
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        tf.random.set_seed(n)
        seeded.append("tensorflow")
    _seed = n
    return seeded


def current_seed() -> int | None:
    """The last seed set in this process, recorded on runs started after it."""
    return _seed
