"""The nightly pipeline end to end: real SeaweedFS, real local Ray (2 CPUs), tiny models.

One synthetic archive is written to the embedded S3 store per module; each test
works on its own results prefix (and copies of the archive where it mutates it).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os

import numpy as np
import pyarrow as pa
import pytest
import ray

from schemas.tables import TABLES
from va_gpt.config import load_preset
from va_gpt.io.archive import ArchiveObject, list_archive
from va_gpt.lake.delta import open_table
from va_gpt.lake.delta import runs as committed_runs
from va_gpt.lake.query import QueryError, connect, query
from va_gpt.pipeline.nightly import NightlyArgs, run_nightly
from va_gpt.pipeline.run import Job, run_local, run_ray
from va_gpt.pipeline.tables import bad_key_result, build_tables
from va_gpt.synthetic.archive import generate_archive
from va_gpt.synthetic.mp4 import write_mp4
from va_gpt.synthetic.scene import make_scene

pytestmark = pytest.mark.timeout(300)

QUERIES = os.path.join(os.path.dirname(__file__), "..", "..", "schemas", "queries")


@pytest.fixture(scope="module")
def ray_local(tmp_path_factory):
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    os.environ["RAY_AUTH_MODE"] = "disabled"
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _temp_dir=str(tmp_path_factory.mktemp("ray")),
        log_to_driver=False,
    )
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def preset():
    return load_preset("tiny")


@pytest.fixture(scope="module")
def archive(s3_store):
    """2 cameras x 3 videos of 12 s at 160x120: anomalies of several kinds plus normal videos."""
    url = s3_store.url("test_pipeline/archive")
    truth = generate_archive(
        url,
        cameras=2,
        videos_per_camera=3,
        duration_s=12.0,
        width=160,
        height=120,
        seed=7,
        normal_fraction=0.34,
        storage_options=s3_store.storage_options(),
    )
    return url, truth


def _args(s3_store, archive_url, results, preset, **kw):
    return NightlyArgs(
        archive=archive_url,
        results=results,
        preset=preset,
        storage_options=s3_store.storage_options(),
        describe=kw.pop("describe", False),
        **kw,
    )


def _count(results, so, table="videos"):
    return query(results, f"SELECT count(*) AS n FROM {table}", so).column("n")[0].as_py()


def test_end_to_end_on_ray_writes_all_four_tables_to_schema(s3_store, archive, preset, ray_local):
    url, truth = archive
    so = s3_store.storage_options()
    results = s3_store.url("test_pipeline/e2e")
    summary = run_nightly(_args(s3_store, url, results, preset, describe=True))
    assert summary.processed == summary.listed == len(truth.videos) == 6
    assert summary.ok == 6 and summary.failed == 0
    # Every Delta table has its schema's columns and types (Delta keeps timestamps in microseconds).
    us = lambda t: pa.timestamp("us", t.tz) if pa.types.is_timestamp(t) else t  # noqa: E731
    for table, schema in TABLES.items():
        got = pa.schema(open_table(results, table, so).schema().to_arrow())
        assert got.names == schema.names, table
        for f in schema:
            want = pa.list_(pa.float32()) if pa.types.is_fixed_size_list(f.type) else us(f.type)
            assert (
                pa.types.is_string(got.field(f.name).type)
                if pa.types.is_string(want)
                else (
                    got.field(f.name).type.equals(want)
                    or (pa.types.is_list(want) and pa.types.is_list(got.field(f.name).type))
                )
            ), (table, f.name, got.field(f.name).type)
    run = committed_runs(results, so)[-1]
    assert (run["run_id"], run["ok"], run["processed"]) == (summary.run_id, 6, 6)
    videos = query(results, "SELECT * FROM videos ORDER BY uri", so).to_pylist()
    assert {v["status"] for v in videos} == {"ok"}
    assert all(
        v["frames_sampled"] == pytest.approx(v["duration_s"] * preset.decode.fps, abs=2) for v in videos
    )
    # Frame scores cover each video at the sampling rate, timestamps from the file name.
    fs_rows = query(
        results,
        "SELECT video_id, count(*) n, min(t) t0, max(t) t1, min(timestamp) ts FROM frame_scores GROUP BY 1",
        so,
    ).to_pylist()
    assert len(fs_rows) == 6
    for r in fs_rows:
        assert r["t0"] == pytest.approx(0.0, abs=0.5) and r["t1"] == pytest.approx(12.0, abs=1.0)
        assert r["ts"].hour == 22  # the archive's night starts at 22:00:00
    # Describe ran on exactly the intervals found.
    n_int = _count(results, so, "intervals")
    assert _count(results, so, "summaries WHERE interval_id IS NOT NULL") == n_int == summary.intervals
    # ... plus one whole-video summary (interval_id NULL) per video with an interval.
    with_intervals = _count(results, so, "(SELECT DISTINCT video_id FROM intervals)")
    assert _count(results, so, "summaries WHERE interval_id IS NULL") == with_intervals
    # The example queries run against it.
    for name in sorted(os.listdir(QUERIES)):
        with open(os.path.join(QUERIES, name)) as f:
            query(results, f.read(), so)


def test_second_run_adds_nothing_and_force_replaces(s3_store, archive, preset):
    url, _ = archive
    so = s3_store.storage_options()
    results = s3_store.url("test_pipeline/rerun")
    first = run_nightly(_args(s3_store, url, results, preset, local=True))
    n_videos, n_scores = _count(results, so), _count(results, so, "frame_scores")
    again = run_nightly(_args(s3_store, url, results, preset, local=True))
    assert again.processed == 0 and again.skipped == first.listed and not again.committed
    assert len(committed_runs(results, so)) == 1
    seen_during = []

    def read_mid_run():  # the forced run's tables are committed, its runs row is not
        seen_during.append(
            query(results, "SELECT DISTINCT run_id FROM videos", so).column("run_id").to_pylist()
        )

    forced = run_nightly(
        _args(s3_store, url, results, preset, local=True, force=True, before_publish=read_mid_run)
    )
    assert seen_during == [[first.run_id]]  # a reader mid-run sees the previous run
    assert forced.processed == first.listed
    assert _count(results, so) == n_videos and _count(results, so, "frame_scores") == n_scores
    runs = query(results, "SELECT DISTINCT run_id FROM videos", so).column("run_id").to_pylist()
    assert runs == [forced.run_id]
    # Replaced in the tables themselves, not only hidden by the views.
    assert set(open_table(results, "videos", so).to_pandas()["run_id"]) == {forced.run_id}
    # A new model version (here: other interval thresholds) reprocesses without --force.
    retuned = dataclasses.replace(preset, intervals=dataclasses.replace(preset.intervals, high=0.7))
    assert run_nightly(_args(s3_store, url, results, retuned, local=True)).processed == first.listed
    assert _count(results, so) == n_videos


def test_changed_object_is_reprocessed_and_bad_file_is_a_row(s3_store, archive, preset):
    url, truth = archive
    so = s3_store.storage_options()
    fs = s3_store.filesystem()
    copy = s3_store.url("test_pipeline/archive_copy")
    fs.copy(url + "/cam01", copy + "/cam01", recursive=True)
    fs.copy(url + "/cam02", copy + "/cam02", recursive=True)
    results = s3_store.url("test_pipeline/changed")
    run_nightly(_args(s3_store, copy, results, preset, local=True))
    before = {r["uri"]: r for r in query(results, "SELECT uri, run_id FROM videos", so).to_pylist()}

    # One object replaced (new etag), one bad file added beside the good ones.
    keys = sorted(before)
    changed = keys[0]
    other = make_scene(99, None, duration_s=6.0, width=160, height=120)
    write_mp4(other, changed, storage_options=so)
    bad = copy + "/cam02/2026-11-21/235900.mp4"
    fs.pipe(bad, b"this is not a video at all")
    second = run_nightly(_args(s3_store, copy, results, preset, local=True))
    assert second.processed == 2 and second.ok == 1 and second.failed == 1
    rows = {r["uri"]: r for r in query(results, "SELECT * FROM videos", so).to_pylist()}
    assert len(rows) == len(before) + 1  # replaced, not duplicated
    assert rows[changed]["run_id"] == second.run_id
    assert rows[changed]["duration_s"] == pytest.approx(6.0, abs=0.5)
    assert rows[bad]["status"] == "not_video" and "235900.mp4" in rows[bad]["error_message"]
    for k in keys[1:]:
        assert rows[k]["run_id"] == before[k]["run_id"]  # untouched videos keep their rows
    failed = query(results, open(os.path.join(QUERIES, "failed_videos.sql")).read(), so).to_pylist()
    assert [f["uri"] for f in failed] == [bad]
    # A bad file is processed (recorded), so the next night does not retry it forever.
    assert run_nightly(_args(s3_store, copy, results, preset, local=True)).processed == 0


def test_run_killed_before_commit_leaves_nothing_visible(s3_store, archive, preset):
    url, truth = archive
    so = s3_store.storage_options()
    results = s3_store.url("test_pipeline/killed")

    def die():
        raise KeyboardInterrupt("killed before publish")

    with pytest.raises(KeyboardInterrupt):
        run_nightly(_args(s3_store, url, results, preset, local=True, before_publish=die))
    assert committed_runs(results, so) == []
    assert _count(results, so) == 0 and _count(results, so, "frame_scores") == 0
    # The next run completes the night.
    summary = run_nightly(_args(s3_store, url, results, preset, local=True))
    assert summary.processed == len(truth.videos)
    assert _count(results, so) == len(truth.videos)


def test_run_local_and_ray_agree(s3_store, archive, preset, ray_local):
    url, truth = archive
    so = s3_store.storage_options()
    objects = list_archive(url, storage_options=so)[:3]
    rows = [{"video_id": o.video_id, "uri": o.uri} for o in objects]
    job = Job(preset=preset, storage_options=so, describe=False)
    local, _ = run_local(rows, job)
    distributed, _ = run_ray(rows, job)
    by_id = {r["video_id"]: r for r in distributed}
    assert set(by_id) == {r["video_id"] for r in local}
    for r in local:
        d = by_id[r["video_id"]]
        np.testing.assert_allclose(np.asarray(d["score"]), np.asarray(r["score"]), atol=1e-5)
        got, want = json.loads(d["intervals"]), json.loads(r["intervals"])
        assert [(i["start_s"], i["end_s"]) for i in got] == [(i["start_s"], i["end_s"]) for i in want]
        assert [i["peak_score"] for i in got] == pytest.approx([i["peak_score"] for i in want], abs=1e-5)
        # the kind head's call on each interval: its anomaly kind and its own share for "normal"
        assert [i["normal_p"] for i in got] == pytest.approx([i["normal_p"] for i in want], abs=1e-5)
        for i in want:
            assert (i["label"] is None) == (i["normal_p"] is None)
            assert i["normal_p"] is None or 0.0 <= i["normal_p"] <= 1.0


def test_query_is_read_only_and_names_bad_sql(s3_store, archive, preset, tmp_path):
    results = str(tmp_path / "empty_results")
    os.makedirs(results)
    assert _count(results, None) == 0  # empty results folder: views exist, no rows
    for sql in ("DROP VIEW videos", "COPY (SELECT 1) TO 'x.csv'", "CREATE TABLE x AS SELECT 1"):
        with pytest.raises(QueryError, match="read-only"):
            query(results, sql)
    with pytest.raises(QueryError, match="no_such_column"):
        query(results, "SELECT no_such_column FROM videos")
    con = connect(results)
    assert {
        r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
    } >= set(TABLES)


def test_code_error_stops_the_run_with_a_clear_message(s3_store, archive, preset):
    url, _ = archive
    broken = dataclasses.replace(preset, decode=dataclasses.replace(preset.decode, clip_len=1))
    with pytest.raises(ValueError, match="clip_len"):
        run_nightly(_args(s3_store, url, s3_store.url("test_pipeline/broken"), broken, local=True))


def test_odd_camera_ids_untimed_keys_and_camera_time_zones(s3_store, archive, preset):
    """`cam=1` is a fine Delta partition value; a key with no time is reported, never silently null;
    a camera's zone turns its wall clock into UTC."""
    url, _ = archive
    so = s3_store.storage_options()
    fs = s3_store.filesystem()
    src = sorted(o.uri for o in list_archive(url, storage_options=so))[0]
    copy = s3_store.url("test_pipeline/archive_odd")
    fs.copy(src, copy + "/cam=1/2026-11-21/220000.mp4")
    fs.copy(src, copy + "/cam02/2026-11-21/evening.mp4")
    results = s3_store.url("test_pipeline/odd")
    summary = run_nightly(
        _args(s3_store, copy, results, preset, local=True, camera_tz={"cam=1": "Europe/Paris"})
    )
    assert summary.processed == 2 and summary.ok == 2
    assert summary.untimed_keys == [copy + "/cam02/2026-11-21/evening.mp4"]
    assert "no start time" in summary.render()
    assert committed_runs(results, so)[-1]["untimed_keys"] == 1
    rows = {r["camera_id"]: r for r in query(results, "SELECT * FROM videos", so).to_pylist()}
    assert rows["cam=1"]["camera_tz"] == "Europe/Paris"
    assert rows["cam=1"]["start_utc"].hour == 21  # 22:00 in Paris in November is 21:00 UTC
    assert rows["cam02"]["start_time"] is None and rows["cam02"]["camera_tz"] == "UTC"


def test_a_camera_id_that_cannot_be_a_partition_is_an_error_row():
    obj = ArchiveObject("s3://a/cam\t1/2026-11-21/220000.mp4", 1, "e", "cam\t1", "2026-11-21")
    row = bad_key_result(obj)
    assert row["status"] == "bad_key" and "cam\\t1" in row["error_message"]
    assert bad_key_result(ArchiveObject("s3://a/cam=1/x.mp4", 1, "e", "cam=1", "2026-11-21")) is None
    tables = build_tables(
        {obj.video_id: obj}, [row], [], run_id="r", model_version="m", processed_at=dt.datetime.now(dt.UTC)
    )
    assert (
        tables["videos"][0]["camera_id"].startswith("_bad_key_")
        and "\t" not in tables["videos"][0]["camera_id"]
    )
