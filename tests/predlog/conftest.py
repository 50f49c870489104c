"""A prediction log in a fresh folder, and a tree whose storage can be made to fail."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from slipway.artifacts import FileTree, open_file_tree

if TYPE_CHECKING:
    from pathlib import Path


class FlakyTree(FileTree):
    """A folder whose writes fail while ``failing`` is set, as storage that is down would."""

    def __init__(self, tree: FileTree) -> None:
        super().__init__(tree.fs, tree.root)
        self.failing = False
        self.attempts = 0

    def write_atomic(self, relpath: str, data: bytes) -> None:
        self.attempts += 1
        if self.failing:
            raise OSError("storage is down")
        super().write_atomic(relpath, data)


@pytest.fixture
def tree(tmp_path: Path) -> FileTree:
    return open_file_tree(str(tmp_path / "predlog"))


@pytest.fixture
def flaky(tree: FileTree) -> FlakyTree:
    return FlakyTree(tree)
