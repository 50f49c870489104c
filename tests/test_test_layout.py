"""The suite's own layout: test modules need unique file names.

tests/ has no ``__init__.py`` files and pytest imports each test module by its file name, so two
``test_metrics.py`` in different folders stop the whole run at collection.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_every_test_module_name_is_unique() -> None:
    names = Counter(p.name for p in TESTS.rglob("test_*.py"))
    assert [name for name, n in names.items() if n > 1] == []
