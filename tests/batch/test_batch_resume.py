"""An interrupted job resumes from its last finished chunk and ends as an uninterrupted one."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import pytest
from tests.batch._batch_data import make_frame

from slipway.artifacts import open_file_tree
from slipway.batch import ScoreProgress, score
from slipway.predlog import read_predictions

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from slipway.models import Model


class Stop(Exception):
    """Stands for a crash: raised from the progress callback after a given chunk."""


def _stop_after(chunk: int) -> Callable[[ScoreProgress], None]:
    def progress(p: ScoreProgress) -> None:
        if p.chunk == chunk:
            raise Stop

    return progress


@pytest.mark.parametrize("out_name", ["out.parquet", "out.csv"])
def test_resume_continues_after_the_last_finished_chunk(model: Model, tmp_path: Path, out_name: str) -> None:
    frame = make_frame(1_000).astype({"age": object})
    frame.loc[[5, 720], "age"] = "bad"
    frame.to_csv(tmp_path / "in.csv", index=False)
    whole = score(model, tmp_path / "in.csv", tmp_path / "whole" / out_name, chunk_rows=150)

    tree = open_file_tree(str(tmp_path / "log"))
    target = tmp_path / "resumed" / out_name
    with pytest.raises(Stop):
        score(model, tmp_path / "in.csv", target, chunk_rows=150, log=tree, progress=_stop_after(2))
    seen: list[ScoreProgress] = []
    result = score(model, tmp_path / "in.csv", target, chunk_rows=150, log=tree, progress=seen.append)
    # Chunk 3 was being written when the callback stopped the job after chunk 2: it was recorded too.
    assert result.resumed_from == 4
    assert seen[0].rows == 600  # the first call's four chunks count as done
    assert (result.rows, result.scored, result.rejected, result.chunks) == (1_000, 998, 2, 7)

    read = pd.read_csv if out_name.endswith(".csv") else pd.read_parquet
    pd.testing.assert_frame_equal(read(target), read(whole.output))
    assert whole.rejects is not None
    assert result.rejects is not None
    pd.testing.assert_frame_equal(read(result.rejects), read(whole.rejects))
    logged = read_predictions(tree, variant="batch")
    assert logged["request_id"].nunique() == 998  # every scored row logged (a chunk at most twice)
    assert logged["request_id"].str.startswith(f"{result.job}-").all()

    again = score(model, tmp_path / "in.csv", target, chunk_rows=150)
    assert again.chunks == 7
    assert again.resumed_from == 7


def test_no_resume_starts_the_same_job_over_and_a_changed_input_is_another_job(
    model: Model, tmp_path: Path
) -> None:
    make_frame(400).to_parquet(tmp_path / "in.parquet")
    with pytest.raises(Stop):
        score(
            model, tmp_path / "in.parquet", tmp_path / "out.parquet", chunk_rows=100, progress=_stop_after(1)
        )
    fresh = score(model, tmp_path / "in.parquet", tmp_path / "out.parquet", chunk_rows=100, resume=False)
    assert fresh.resumed_from == 0
    assert fresh.chunks == 4
    assert len(pd.read_parquet(tmp_path / "out.parquet")) == 400

    make_frame(401).to_parquet(tmp_path / "in.parquet")
    with pytest.raises(Exception, match="is not an earlier run of this job"):
        score(model, tmp_path / "in.parquet", tmp_path / "out.parquet", chunk_rows=100)


def test_a_csv_job_stopped_while_removing_its_parts_keeps_its_whole_output(
    model: Model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    make_frame(1_000).to_csv(tmp_path / "in.csv", index=False)
    out = tmp_path / "out.csv"
    rmtree = shutil.rmtree

    def interrupted(path: Path) -> None:  # Ctrl-C after the first part was removed
        sorted(path.glob("part-*"))[0].unlink()
        raise KeyboardInterrupt

    monkeypatch.setattr("slipway.batch._write.shutil.rmtree", interrupted)
    with pytest.raises(KeyboardInterrupt):
        score(model, tmp_path / "in.csv", out, chunk_rows=150)
    whole = out.read_bytes()
    assert len(pd.read_csv(out)) == 1_000

    monkeypatch.setattr("slipway.batch._write.shutil.rmtree", rmtree)
    again = score(model, tmp_path / "in.csv", out, chunk_rows=150)
    assert again.resumed_from == again.chunks == 7  # complete: nothing joined again
    assert out.read_bytes() == whole
    assert not (tmp_path / ".out.csv.parts").exists()  # what was left of the parts is gone


@pytest.mark.parametrize("out_name", ["out.parquet", "out.csv"])
def test_a_progress_file_whose_output_is_gone_starts_the_job_over(
    model: Model, tmp_path: Path, out_name: str
) -> None:
    import shutil

    make_frame(1_000).to_parquet(tmp_path / "in.parquet", row_group_size=250)
    target = tmp_path / out_name
    parts = target if out_name.endswith(".parquet") else tmp_path / f".{out_name}.parts"
    read = pd.read_csv if out_name.endswith(".csv") else pd.read_parquet
    with pytest.raises(Stop):
        score(model, tmp_path / "in.parquet", target, chunk_rows=100, progress=_stop_after(4))
    shutil.rmtree(parts)  # the progress file stays behind
    rerun = score(model, tmp_path / "in.parquet", target, chunk_rows=100)
    assert (rerun.resumed_from, rerun.rows, len(read(target))) == (0, 1_000, 1_000)

    if target.is_file():  # a complete job's output
        target.unlink()
    else:
        shutil.rmtree(target)
    again = score(model, tmp_path / "in.parquet", target, chunk_rows=100)
    assert (again.resumed_from, again.rows, len(read(target))) == (0, 1_000, 1_000)
