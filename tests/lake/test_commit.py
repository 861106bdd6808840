"""va_gpt.lake.commit on a real SeaweedFS server and on local disk: the same tests run on both."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.io.storage_fixtures import DAY, Backend
from va_gpt.io.errors import StorageError
from va_gpt.io.filesystem import read_bytes
from va_gpt.lake.commit import (
    cleanup_staging,
    committed_files,
    committed_runs,
    part_url,
    partition_path,
    publish,
    staging_url,
)


def _stage(backend: Backend, run_id: str, table: str, camera: str, n: int = 0) -> str:
    """Write one staged part file for `run_id` and return its staged URL."""
    url = part_url(backend.root, table, DAY, camera, run_id, n, staged=True)
    rel = url[len(backend.root) + 1 :]
    backend.put(rel, f"{run_id}:{table}:{camera}:{n}".encode())
    return url


def _final(backend: Backend, table: str, camera: str, run_id: str, n: int = 0) -> str:
    return part_url(backend.root, table, DAY, camera, run_id, n)


def _bare(url: str) -> str:
    """`url` without its scheme, so local paths, file:// and s3:// URLs compare the same way."""
    return url.split("://", 1)[-1]


def _committed(backend: Backend, table: str) -> list[str]:
    return [_bare(u) for u in committed_files(backend.root, table, backend.options)]


def _paths(*urls: str) -> list[str]:
    return sorted(_bare(u) for u in urls)


@pytest.mark.timeout(180)
def test_atomic_commit_and_supersede(backend):
    opts = backend.options
    staged = {
        "videos": [_stage(backend, "run-1", "videos", "cam01"), _stage(backend, "run-1", "videos", "cam02")],
        "intervals": [
            _stage(backend, "run-1", "intervals", "cam01"),
            _stage(backend, "run-1", "intervals", "cam02"),
        ],
    }
    # The run is "killed" in the middle of publishing: one file already copied, no marker.
    backend.put(_final(backend, "videos", "cam01", "run-1")[len(backend.root) + 1 :], b"partial copy")
    assert _committed(backend, "videos") == [] and _committed(backend, "intervals") == []
    assert committed_runs(backend.root, opts) == []

    commit = publish(backend.root, "run-1", staged, meta={"pipeline_version": "v1"}, storage_options=opts)
    assert commit.files["videos"] == [
        f"videos/date={DAY}/camera_id=cam01/part-run-1-0.parquet",
        f"videos/date={DAY}/camera_id=cam02/part-run-1-0.parquet",
    ]
    run1_videos = [_final(backend, "videos", c, "run-1") for c in ("cam01", "cam02")]
    assert _committed(backend, "videos") == _paths(*run1_videos)
    assert _committed(backend, "intervals") == _paths(
        *(_final(backend, "intervals", c, "run-1") for c in ("cam01", "cam02"))
    )
    # Published content is the staged content (the partial copy was overwritten), staging is gone.
    assert read_bytes(run1_videos[0], opts) == b"run-1:videos:cam01:0"
    assert backend.files_under(staging_url(backend.root, "run-1")) == []
    marker = json.loads(read_bytes(backend.url("_runs/run-1.json"), opts))
    assert marker["run_id"] == "run-1" and marker["meta"] == {"pipeline_version": "v1"}
    assert [r.run_id for r in committed_runs(backend.root, opts)] == ["run-1"]

    # A rerun of cam01 replaces that partition in every table; cam02 stays from run-1.
    rerun = {"videos": [_stage(backend, "run-2", "videos", "cam01")]}
    commit2 = publish(
        backend.root, "run-2", rerun, supersedes=[f"date={DAY}/camera_id=cam01"], storage_options=opts
    )
    assert commit2.superseded_files == [
        f"intervals/date={DAY}/camera_id=cam01/part-run-1-0.parquet",
        f"videos/date={DAY}/camera_id=cam01/part-run-1-0.parquet",
    ]
    assert _committed(backend, "videos") == _paths(
        _final(backend, "videos", "cam01", "run-2"), run1_videos[1]
    )
    assert _committed(backend, "intervals") == _paths(_final(backend, "intervals", "cam02", "run-1"))

    # A table-qualified spec hides one table only; files stay on disk.
    publish(backend.root, "run-3", {}, supersedes=[f"intervals/date={DAY}"], storage_options=opts)
    assert _committed(backend, "intervals") == []
    assert len(_committed(backend, "videos")) == 2
    assert backend.fs_exists(_final(backend, "intervals", "cam02", "run-1"))
    assert [r.run_id for r in committed_runs(backend.root, opts)] == ["run-1", "run-2", "run-3"]

    # The same run cannot commit twice, and a committed file cannot be overwritten by another run.
    with pytest.raises(StorageError, match="already committed"):
        publish(backend.root, "run-2", {}, storage_options=opts)
    backend.put(f"_staging/run-4/videos/date={DAY}/camera_id=cam02/part-run-1-0.parquet", b"clash")
    with pytest.raises(StorageError, match="already published by run 'run-1'"):
        publish(
            backend.root,
            "run-4",
            {"videos": [f"videos/date={DAY}/camera_id=cam02/part-run-1-0.parquet"]},
            storage_options=opts,
        )
    assert read_bytes(run1_videos[1], opts) == b"run-1:videos:cam02:0"


@pytest.mark.timeout(120)
def test_publish_with_missing_staged_file_publishes_nothing(backend):
    present = _stage(backend, "run-x", "videos", "cam01")
    missing = part_url(backend.root, "videos", DAY, "cam02", "run-x", 0, staged=True)
    with pytest.raises(StorageError) as info:
        publish(backend.root, "run-x", {"videos": [present, missing]}, storage_options=backend.options)
    assert _bare(info.value.url) == _bare(missing)
    assert "staged file not found" in info.value.reason
    assert committed_runs(backend.root, backend.options) == []
    assert not backend.fs_exists(_final(backend, "videos", "cam01", "run-x"))


@pytest.mark.timeout(30)
def test_publish_rejects_files_outside_the_table(tmp_path):
    other_run = part_url(str(tmp_path), "videos", DAY, "cam01", "run-b", 0, staged=True)
    with pytest.raises(ValueError, match="staging folder"):
        publish(str(tmp_path), "run-a", {"videos": [other_run]})
    with pytest.raises(ValueError, match="under intervals/"):
        publish(str(tmp_path), "run-a", {"intervals": [f"videos/date={DAY}/camera_id=cam01/p.parquet"]})
    with pytest.raises(ValueError, match="run_id"):
        publish(str(tmp_path), "../evil", {})


@pytest.mark.timeout(180)
def test_cleanup_staging(backend):
    opts = backend.options
    # run-a died mid-publish: staged files and one partial copy in the final layout, no marker.
    _stage(backend, "run-a", "videos", "cam01")
    partial = _final(backend, "videos", "cam01", "run-a")
    backend.put(partial[len(backend.root) + 1 :], b"partial")
    # run-b committed, but a leftover remained in its staging folder.
    publish(
        backend.root, "run-b", {"videos": [_stage(backend, "run-b", "videos", "cam02")]}, storage_options=opts
    )
    leftover = _stage(backend, "run-b", "videos", "cam03")

    assert cleanup_staging(backend.root, timedelta(hours=1), opts) == ["run-b"]
    assert not backend.fs_exists(leftover)
    assert backend.fs_exists(partial)  # run-a is recent: it may still be running

    later = datetime.now(UTC) + timedelta(hours=2)
    assert cleanup_staging(backend.root, timedelta(hours=1), opts, now=later) == ["run-a"]
    assert not backend.fs_exists(partial)
    assert backend.files_under(backend.url("_staging")) == []
    assert _committed(backend, "videos") == _paths(_final(backend, "videos", "cam02", "run-b"))
    assert cleanup_staging(backend.root, timedelta(hours=1), opts, now=later) == []


@pytest.mark.timeout(30)
def test_part_paths():
    assert partition_path("videos", DAY, "cam01") == f"videos/date={DAY}/camera_id=cam01"
    assert part_url("s3://b/results", "frame_scores", DAY, "cam01", "r1", 3) == (
        f"s3://b/results/frame_scores/date={DAY}/camera_id=cam01/part-r1-3.parquet"
    )
    assert part_url("s3://b/results/", "videos", DAY, "cam01", "r1", 0, staged=True) == (
        f"s3://b/results/_staging/r1/videos/date={DAY}/camera_id=cam01/part-r1-0.parquet"
    )
    with pytest.raises(ValueError):
        partition_path("videos", DAY, "a/b")
    with pytest.raises(ValueError):
        partition_path("videos", "2026-02-30", "cam01")
    with pytest.raises(ValueError):
        partition_path("_runs", DAY, "cam01")


@pytest.mark.timeout(60)
def test_corrupt_run_marker_names_file(tmp_path):
    backend = Backend("local", str(tmp_path), None)
    url = backend.put("_runs/run-1.json", b"{oops")
    with pytest.raises(StorageError) as info:
        committed_files(str(tmp_path), "videos")
    assert "corrupt run marker" in info.value.reason and info.value.url == f"file://{url}"
