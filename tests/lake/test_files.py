"""va_gpt.lake.files: data files written by workers, committed by the driver in one Delta commit."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from schemas.tables import conform
from va_gpt.lake.delta import open_table, replace_rows
from va_gpt.lake.files import data_files, replace_with_files, write_data_file

DAY = "2026-11-21"
pytestmark = pytest.mark.timeout(180)


def _frames(video_id: str, run_id: str, n: int = 3, camera_id: str = "cam=1") -> list[dict]:
    start = dt.datetime(2026, 11, 21, 22)
    return [
        dict(
            video_id=video_id,
            camera_id=camera_id,
            date=DAY,
            t=i / 2,
            timestamp=start + dt.timedelta(seconds=i / 2),
            score=i / 10,
            diff_energy=1.0,
            run_id=run_id,
        )  # fmt: skip
        for i in range(n)
    ]


def _read(root, so):
    rows = pa.table(open_table(root, "frame_scores", so).to_pyarrow_table()).to_pylist()
    return sorted(rows, key=lambda r: (r["video_id"], r["t"]))


def test_worker_files_replace_a_videos_rows_in_one_commit(backend):
    root, so = backend.url("files_results"), backend.options
    # Rows written the old way (several videos to a file), then a run that redoes "a" from worker files.
    replace_rows(
        root,
        "frame_scores",
        conform("frame_scores", _frames("a", "r1") + _frames("b", "r1")),
        "video_id",
        ["a", "b"],
        so,
    )
    before = open_table(root, "frame_scores", so).version()
    spec_a = write_data_file(root, "frame_scores", conform("frame_scores", _frames("a", "r2", 4)), so)
    spec_c = write_data_file(
        root, "frame_scores", conform("frame_scores", _frames("c", "r2", 2, "cam02")), so
    )
    assert spec_a["num_records"] == 4 and spec_a["partition_values"] == {"date": DAY, "camera_id": "cam=1"}
    version = replace_with_files(root, "frame_scores", [spec_a, spec_c], "video_id", ["a", "c"], so)
    assert version == before + 1  # one commit
    rows = _read(root, so)
    assert [(r["video_id"], r["run_id"]) for r in rows] == [("a", "r2")] * 4 + [("b", "r1")] * 3 + [
        ("c", "r2")
    ] * 2
    assert (
        rows[1]["timestamp"] == dt.datetime(2026, 11, 21, 22, 0, 0, 500000)
        and rows[0]["camera_id"] == "cam=1"
    )
    assert rows[-1]["camera_id"] == "cam02"
    # A rerun of "a" removes its worker file whole; "b" (rewritten beside the old "a") stays; and the
    # same specs committed twice (a retry after a commit that landed) change nothing.
    again = write_data_file(root, "frame_scores", conform("frame_scores", _frames("a", "r3", 1)), so)
    replace_with_files(root, "frame_scores", [again], "video_id", ["a"], so)
    replace_with_files(root, "frame_scores", [again], "video_id", ["a"], so)
    rows = _read(root, so)
    assert [(r["video_id"], r["run_id"]) for r in rows] == [("a", "r3")] + [("b", "r1")] * 3 + [
        ("c", "r2")
    ] * 2
    assert spec_a["path"] not in data_files(root, "frame_scores", so)
    # A video with no frames any more: its rows go, nothing is added.
    replace_with_files(root, "frame_scores", [], "video_id", ["c"], so)
    assert {r["video_id"] for r in _read(root, so)} == {"a", "b"}
