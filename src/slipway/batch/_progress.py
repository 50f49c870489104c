"""The progress file of a scoring job: what it is, how far it got, and which parts it wrote.

``<output>.progress.json`` beside the output (one PUT beside an object-store output), written
atomically after every finished chunk: the job's fingerprint (input files, model, options), the
chunks finished in order, the rows scored and rejected, how many output and rejects parts those
chunks wrote, and whether the job is complete (every chunk finished and a CSV output joined).

A rerun trusts the file only as far as the parts it names are still there: an output removed (or
a part lost) since means the job starts over rather than claiming rows its output lacks.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slipway.errors import Conflict

if TYPE_CHECKING:
    from slipway.artifacts import FileTree
    from slipway.batch._write import Sink

__all__ = ["Progress"]


class Progress:
    """The job's progress file: written atomically after every finished chunk."""

    def __init__(self, output: Path | str, fingerprint: str, job: str, chunk_rows: int) -> None:
        self.tree: FileTree | None = None
        if isinstance(output, str):  # an object-store URL: the file is one PUT beside the output
            from slipway.artifacts import open_file_tree

            parent, _, name = output.rstrip("/").rpartition("/")
            self.tree, self.name = open_file_tree(parent), f"{name}.progress.json"
            self.path: Path | str = f"{parent}/{self.name}"
        else:
            self.path = output.with_name(f"{output.name}.progress.json")
        self.fingerprint = fingerprint
        self.job = job
        self.chunk_rows = chunk_rows
        self.chunks = 0
        self.scored = 0
        self.rejected = 0
        self.parts = [0, 0]  # parts written by the finished chunks: output, rejects
        self.complete = False

    @property
    def rows(self) -> int:
        return self.scored + self.rejected

    def begin(self, out: Sink, rej: Sink, *, resume: bool) -> int:
        """The first chunk to score; Conflict if the output is not an earlier run of this job.

        An earlier run whose parts are not all there any more is started over.
        """
        doc = self._read()
        ours = doc is not None and doc.get("fingerprint") == self.fingerprint
        for sink in (out, rej):
            if sink.exists() and not ours:
                raise Conflict(
                    f"{sink.path} exists and is not an earlier run of this job (same input, model "
                    "and options); remove it or choose another output"
                )
        if doc is not None and not ours:
            self._remove()  # a stale progress file whose outputs are gone
        if ours and resume and doc is not None and self._intact(doc, out, rej):
            self.chunks = int(doc["chunks"])
            self.scored = int(doc["scored"])
            self.rejected = int(doc["rejected"])
            self.parts = [int(n) for n in doc["parts"]]
            self.complete = bool(doc.get("complete"))
            for sink in (out, rej):
                if self.complete:
                    sink.tidy()  # stopped after it was recorded complete, while removing its parts
                else:
                    sink.drop_from(self.chunks)
            return self.chunks
        out.clear()
        rej.clear()
        self._write()
        return 0

    def finished(self, chunk: int, *, scored: int, rejected: int) -> None:
        self.chunks = chunk + 1
        self.scored += scored
        self.rejected += rejected
        self.parts[0] += scored > 0
        self.parts[1] += rejected > 0
        self._write()

    def done(self, *, parts: int = 0) -> None:
        """Every chunk finished and the output joined; ``parts`` output parts written at the end."""
        self.parts[0] += parts
        self.complete = True
        self._write()

    @staticmethod
    def _intact(doc: dict[str, Any], out: Sink, rej: Sink) -> bool:
        """Whether the parts the file records are still there (a joined CSV: its file)."""
        parts = doc.get("parts")
        if not (isinstance(parts, list) and len(parts) == 2 and isinstance(doc.get("chunks"), int)):
            return False  # written by an older slipway: nothing to check it against
        complete = bool(doc.get("complete"))
        below = None if complete else doc["chunks"]  # complete: every part is the job's
        return out.holds(int(parts[0]), below=below, joined=complete) and rej.holds(
            int(parts[1]), below=below, joined=complete
        )

    def _read(self) -> dict[str, Any] | None:
        from slipway.errors import ArtifactNotFound

        try:
            if self.tree is not None:
                doc = json.loads(self.tree.read_bytes(self.name))
            else:
                assert isinstance(self.path, Path)
                doc = json.loads(self.path.read_text())
        except (FileNotFoundError, ArtifactNotFound, ValueError):
            return None
        return doc if isinstance(doc, dict) else None

    def _remove(self) -> None:
        if self.tree is not None:
            self.tree.remove([self.name])
        else:
            assert isinstance(self.path, Path)
            self.path.unlink(missing_ok=True)

    def _write(self) -> None:
        doc = {
            "job": self.job,
            "fingerprint": self.fingerprint,
            "chunk_rows": self.chunk_rows,
            "chunks": self.chunks,
            "scored": self.scored,
            "rejected": self.rejected,
            "parts": self.parts,
            "complete": self.complete,
        }
        text = json.dumps(doc, indent=1) + "\n"
        if self.tree is not None:
            self.tree.write_atomic(self.name, text.encode())
            return
        assert isinstance(self.path, Path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, self.path)
