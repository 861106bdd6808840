"""va_gpt.lake.delta: the result tables as Delta tables, on local disk and on a real SeaweedFS store."""

from __future__ import annotations

import datetime as dt
import glob
import os
import time

import duckdb
import pytest

from va_gpt.lake.delta import delta_options, open_table, run_versions, runs, table_url, vacuum
from va_gpt.lake.query import query
from va_gpt.pipeline.tables import commit_tables, write_run

DAY = "2026-11-21"
pytestmark = pytest.mark.timeout(180)


def _video(video_id: str, run_id: str, camera_id: str = "cam01") -> dict:
    return dict(
        video_id=video_id, uri=f"s3://archive/{camera_id}/{DAY}/{video_id}.mp4", etag="e", size=1,
        camera_id=camera_id, date=DAY, status="ok", pipeline_version="p", model_version="m",
        run_id=run_id, processed_at=dt.datetime(2026, 11, 22, tzinfo=dt.UTC), camera_tz="UTC",
    )  # fmt: skip


def _interval(video_id: str, k: int, run_id: str) -> dict:
    return dict(
        video_id=video_id, interval_id=k, camera_id="cam01", date=DAY, start_s=float(k), end_s=k + 1.0,
        peak_score=0.9 - k / 10, mean_score=0.5, run_id=run_id, camera_tz="UTC",
    )  # fmt: skip


def _rows(root, sql, options, **kw):
    return query(root, sql, options, **kw).to_pylist()


def test_rerun_replaces_rows_and_time_travel_reads_the_old_ones(backend):
    root, so = backend.url("results"), backend.options
    write_run(root, "r1", {
        "videos": [_video("a", "r1"), _video("b", "r1")],
        "intervals": [_interval("a", 0, "r1"), _interval("a", 1, "r1"), _interval("b", 0, "r1")],
    }, so)  # fmt: skip
    # r2 redoes video a only: now one interval instead of two; b is untouched.
    write_run(root, "r2", {"videos": [_video("a", "r2")], "intervals": [_interval("a", 0, "r2")]}, so)
    got = _rows(root, "SELECT video_id, interval_id, run_id FROM intervals ORDER BY ALL", so)
    assert got == [
        {"video_id": "a", "interval_id": 0, "run_id": "r2"},
        {"video_id": "b", "interval_id": 0, "run_id": "r1"},
    ]
    assert _rows(root, "SELECT count(*) AS n FROM videos", so) == [{"n": 2}]
    old = _rows(root, "SELECT video_id, run_id FROM intervals ORDER BY ALL", so, as_of_run="r1")
    assert [r["run_id"] for r in old] == ["r1", "r1", "r1"]
    assert [r["run_id"] for r in runs(root, so)] == ["r1", "r2"]
    # The review view: intervals with their video, highest peak first.
    review = _rows(root, "SELECT video_id, peak_score, uri FROM review", so)
    assert [r["video_id"] for r in review] == ["a", "b"] and review[0]["uri"].endswith("a.mp4")
    # with VA-GPT's judgement beside the classifier's label; none yet (no summaries)
    assert _rows(root, "SELECT label, kind FROM review WHERE video_id = 'b'", so) == [
        {"label": None, "kind": None}
    ]
    summary = dict(video_id="b", interval_id=0, camera_id="cam01", date=DAY, text="Judgement: normal.",
                   kind="normal", judgement="normal", model_version="m", prompt_version="p", run_id="r3")  # fmt: skip
    write_run(root, "r3", {"videos": [_video("b", "r3")], "intervals": [_interval("b", 0, "r3")],
                           "summaries": [summary]}, so)  # fmt: skip
    assert _rows(root, "SELECT kind, summary FROM review WHERE video_id = 'b'", so) == [
        {"kind": "normal", "summary": "Judgement: normal."}
    ]
    with pytest.raises(Exception, match="not a committed run"):
        query(root, "SELECT 1", so, as_of_run="nope")


def test_half_written_run_is_invisible_until_its_runs_row(backend):
    root, so = backend.url("results"), backend.options
    write_run(root, "r1", {"videos": [_video("a", "r1")]}, so)
    before = run_versions(root, so)
    # A run that committed its tables but died before the runs row (or is still writing).
    commit_tables(root, {"videos": [_video("a", "r2"), _video("c", "r2")]}, ["a", "c"], so)
    assert open_table(root, "videos", so).version() > before["videos"]
    assert _rows(root, "SELECT video_id, run_id FROM videos", so) == [{"video_id": "a", "run_id": "r1"}]


def test_plain_duckdb_and_deltalake_read_the_tables(backend):
    """What a user outside va_gpt runs: DuckDB's delta extension, and deltalake -> pandas."""
    root, so = backend.url("results"), backend.options
    write_run(root, "r1", {"videos": [_video("a", "r1"), _video("b", "r1", camera_id="cam=1")]}, so)
    con = duckdb.connect()
    ext = glob.glob(
        os.path.join(os.path.dirname(duckdb.__file__), "..", "duckdb_ext", "extensions", "*", "*")
    )[0]
    con.execute(f"LOAD '{ext}/delta.duckdb_extension'")
    if backend.name == "s3":
        opts = delta_options(root, so)
        host = opts["AWS_ENDPOINT_URL"].split("://", 1)[1]
        con.execute(f"LOAD '{ext}/httpfs.duckdb_extension'")
        con.execute(
            f"CREATE SECRET (TYPE s3, KEY_ID '{opts['AWS_ACCESS_KEY_ID']}', SECRET '{opts['AWS_SECRET_ACCESS_KEY']}', "
            f"REGION 'us-east-1', ENDPOINT '{host}', URL_STYLE 'path', USE_SSL false)"
        )
    got = con.execute(
        f"SELECT video_id, camera_id FROM delta_scan('{table_url(root, 'videos')}') ORDER BY 1"
    ).fetchall()
    assert got == [("a", "cam01"), ("b", "cam=1")]
    frame = open_table(root, "videos", so).to_pandas()
    assert sorted(frame["video_id"]) == ["a", "b"]


def test_vacuum_deletes_only_files_no_version_needs(backend):
    root, so = backend.url("results"), backend.options
    write_run(root, "r1", {"videos": [_video("a", "r1")]}, so)
    write_run(root, "r2", {"videos": [_video("a", "r2")]}, so)
    assert vacuum(root, 24, so)["videos"] == []  # all files younger than the retention
    time.sleep(1.1)
    removed = vacuum(root, 0, so)
    assert len(removed["videos"]) == 1
    assert _rows(root, "SELECT run_id FROM videos", so) == [{"run_id": "r2"}]
