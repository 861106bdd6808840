"""va_gpt.io.storage on a real SeaweedFS server and on local disk: the same tests run on both."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import botocore.exceptions
import fsspec
import pytest

from va_gpt.io import storage
from va_gpt.io.storage import (
    ArchiveObject,
    Manifest,
    StorageError,
    TransientStorageError,
    committed_files,
    committed_runs,
    list_archive,
    part_url,
    publish,
)

DAY = "2026-11-21"


@dataclass
class Backend:
    """A fresh, empty prefix on one storage backend."""

    name: str
    root: str
    options: dict | None

    def url(self, *parts: str) -> str:
        return storage.join(self.root, *parts)

    def put(self, rel: str, data: bytes = b"video") -> str:
        """Write an object with plain fsspec (not the code under test) and return its URL."""
        url = self.url(rel)
        fs, path = fsspec.core.url_to_fs(url, **(self.options or {}))
        fs.makedirs(fs._parent(path), exist_ok=True)
        fs.pipe_file(path, data)
        return url

    def files_under(self, url: str) -> list[str]:
        """Files (not empty folders: SeaweedFS keeps those after a delete) under `url`."""
        fs, path = fsspec.core.url_to_fs(url, **(self.options or {}))
        fs.invalidate_cache()
        return [p for p, info in fs.find(path, detail=True).items() if info["type"] == "file"]

    def fs_exists(self, url: str) -> bool:
        fs, path = fsspec.core.url_to_fs(url, **(self.options or {}))
        fs.invalidate_cache()
        return fs.exists(path)


@pytest.fixture(params=["local", "s3"])
def backend(request, tmp_path) -> Backend:
    if request.param == "local":
        return Backend("local", str(tmp_path / "store"), None)
    s3 = request.getfixturevalue("s3_store")
    prefix = re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name) + "-" + uuid.uuid4().hex[:8]
    return Backend("s3", s3.url(f"test_storage/{prefix}"), s3.storage_options())


def _uris(objects: list[ArchiveObject]) -> list[str]:
    return [o.uri for o in objects]


# --- URLs and single-object I/O ----------------------------------------------------------------


@pytest.mark.timeout(120)
def test_roundtrip(backend):
    url = backend.url("a/b/blob.bin")
    payload = bytes(range(256)) * 100
    assert not storage.exists(url, backend.options)
    storage.write_bytes(url, payload, backend.options)
    assert storage.exists(url, backend.options)
    assert storage.read_bytes(url, backend.options) == payload
    with storage.open_read(url, backend.options) as f:
        f.seek(256)
        assert f.read(3) == bytes([0, 1, 2])
    storage.write_bytes(url, b"replaced", backend.options)
    assert storage.read_bytes(url, backend.options) == b"replaced"


@pytest.mark.timeout(120)
def test_read_missing_object_is_permanent_error_naming_url(backend):
    url = backend.url("nope.bin")
    with pytest.raises(StorageError) as info:
        storage.read_bytes(url, backend.options)
    assert not isinstance(info.value, TransientStorageError)
    assert info.value.url == url and url in str(info.value)
    assert "not found" in info.value.reason
    with pytest.raises(StorageError, match=re.escape(url)):
        with storage.open_read(url, backend.options):
            pass


@pytest.mark.timeout(30)
def test_join():
    assert storage.join("s3://b/x/", "a", "/c/", "d.json") == "s3://b/x/a/c/d.json"
    assert storage.join("/tmp/r", "t") == "/tmp/r/t"
    assert storage.join("file:///tmp/r/", "", "t") == "file:///tmp/r/t"


# --- listing -----------------------------------------------------------------------------------


def _fill_default_archive(backend: Backend) -> dict[str, str]:
    keys = {
        "a": "archive/cam01/2026-11-21/220000.mp4",
        "b": "archive/cam01/2026-11-21/230500.mp4",
        "c": "archive/cam02/2026-11-21/clipA.mp4",  # a name that is not HHMMSS: no start time
        "d": "archive/cam01/2026-11-22/000500.mp4",
        "e": "archive/cam02/2026-11-20/120000.mp4",
        "bad_date": "archive/cam01/2026-13-40/220000.mp4",
        "txt": "archive/cam01/2026-11-21/notes.txt",
        "deep": "archive/cam01/2026-11-21/sub/x.mp4",
        "top": "archive/README.md",
    }
    return {k: backend.put(v, f"content of {v}".encode()) for k, v in keys.items()}


@pytest.mark.timeout(120)
def test_list_default_pattern(backend, caplog):
    urls = _fill_default_archive(backend)
    with caplog.at_level(logging.WARNING, logger="va_gpt.io.storage"):
        objects = list_archive(backend.url("archive"), storage_options=backend.options)

    # Sorted by (date, camera, uri); non-matching keys ignored; the bad date skipped with a warning.
    expected = [urls["e"], urls["a"], urls["b"], urls["c"], urls["d"]]
    assert _uris(objects) == [u if backend.name == "s3" else f"file://{u}" for u in expected]
    assert "2026-13-40" in caplog.text and "skipping" in caplog.text

    a = objects[1]
    assert (a.camera_id, a.date, a.start_time) == ("cam01", DAY, datetime(2026, 11, 21, 22, 0, 0))
    assert objects[2].start_time == datetime(2026, 11, 21, 23, 5, 0)
    assert objects[3].start_time is None and objects[3].fields == (("name", "clipA"),)
    content = b"content of archive/cam01/2026-11-21/220000.mp4"
    assert a.size == len(content)
    if backend.name == "s3":
        assert (
            a.etag == hashlib.md5(content).hexdigest()
        )  # single-part upload: ETag is the MD5, quotes stripped
    else:
        st = os.stat(a.uri[len("file://") :])
        assert a.etag == f"{st.st_mtime_ns:x}-{st.st_size:x}"
    assert a.video_id == hashlib.sha1(a.uri.encode()).hexdigest()[:16]
    assert len({o.video_id for o in objects}) == len(objects)

    # Stable across reruns: a second listing gives equal objects and ids.
    assert list_archive(backend.url("archive"), storage_options=backend.options) == objects


@pytest.mark.timeout(120)
def test_list_filters(backend):
    _fill_default_archive(backend)
    root = backend.url("archive")

    def names(**filters) -> list[str]:
        objs = list_archive(root, storage_options=backend.options, **filters)
        return [o.uri.rsplit("/archive/", 1)[1] for o in objs]

    assert names(dates=[DAY]) == [
        "cam01/2026-11-21/220000.mp4",
        "cam01/2026-11-21/230500.mp4",
        "cam02/2026-11-21/clipA.mp4",
    ]
    assert names(dates=("2026-11-21", "2026-11-22"), cameras=["cam01"]) == [
        "cam01/2026-11-21/220000.mp4",
        "cam01/2026-11-21/230500.mp4",
        "cam01/2026-11-22/000500.mp4",
    ]
    assert names(cameras=["cam02"]) == ["cam02/2026-11-20/120000.mp4", "cam02/2026-11-21/clipA.mp4"]
    assert names(dates=["2026-11-20", "2026-11-22"]) == [
        "cam02/2026-11-20/120000.mp4",
        "cam01/2026-11-22/000500.mp4",
    ]
    assert names(dates="2026-11-22") == ["cam01/2026-11-22/000500.mp4"]
    assert names(cameras=["cam99"]) == []
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        names(dates=["21.11.2026"])


@pytest.mark.timeout(120)
def test_list_custom_pattern_with_time(backend, caplog):
    backend.put("site=north/2026-11-21/cam07_235959.mkv")
    backend.put("site=north/2026-11-21/cam_08_000001.mkv")  # underscores inside the camera id
    backend.put("site=south/2026-11-20/cam07_120000.mkv")
    backend.put("site=north/2026-11-21/cam07_246000.mkv")  # hour 24: bad time, skipped
    backend.put("site=north/2026-11-21/cam07_235959.mp4")  # other extension: ignored
    backend.put("site=north/2026-11-21/cam07.mkv")  # no time: does not match, ignored
    pattern = "site={site}/{date}/{camera_id}_{time}.mkv"
    with caplog.at_level(logging.WARNING, logger="va_gpt.io.storage"):
        objects = list_archive(backend.root, pattern=pattern, storage_options=backend.options)
    got = [(o.date, o.camera_id, o.start_time, o.fields) for o in objects]
    assert got == [
        ("2026-11-20", "cam07", datetime(2026, 11, 20, 12, 0, 0), (("site", "south"), ("time", "120000"))),
        ("2026-11-21", "cam07", datetime(2026, 11, 21, 23, 59, 59), (("site", "north"), ("time", "235959"))),
        ("2026-11-21", "cam_08", datetime(2026, 11, 21, 0, 0, 1), (("site", "north"), ("time", "000001"))),
    ]
    assert "246000" in caplog.text


@pytest.mark.timeout(30)
def test_bad_patterns_are_rejected():
    with pytest.raises(ValueError, match="camera_id"):
        list_archive("/nonexistent", pattern="{date}/{name}.mp4")
    with pytest.raises(ValueError, match="twice"):
        list_archive("/nonexistent", pattern="{camera_id}/{date}/{date}.mp4")
    with pytest.raises(ValueError, match="brace"):
        list_archive("/nonexistent", pattern="{camera_id}/{date}/{bad-name}.mp4")


@pytest.mark.timeout(120)
def test_missing_archive_root_names_url(backend):
    url = backend.url("no-such-archive")
    with pytest.raises(StorageError) as info:
        list_archive(url, storage_options=backend.options)
    assert info.value.url == url and url in str(info.value)
    assert not isinstance(info.value, TransientStorageError)


@pytest.mark.timeout(120)
def test_missing_bucket_names_url(s3_store):
    url = "s3://no-such-bucket-vagpt/archive"
    with pytest.raises(StorageError, match=re.escape(url)):
        list_archive(url, storage_options=s3_store.storage_options())


@pytest.mark.timeout(60)
def test_file_url_and_plain_path_list_the_same(tmp_path):
    backend = Backend("local", str(tmp_path), None)
    backend.put("cam01/2026-11-21/220000.mp4")
    plain = list_archive(str(tmp_path))
    as_url = list_archive(f"file://{tmp_path}")
    assert plain == as_url and len(plain) == 1
    assert plain[0].uri == f"file://{tmp_path}/cam01/2026-11-21/220000.mp4"


# --- manifest ----------------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_manifest_diff_and_roundtrip(backend):
    backend.put("archive/cam01/2026-11-21/220000.mp4", b"one")
    backend.put("archive/cam01/2026-11-21/230000.mp4", b"two")
    root = backend.url("archive")
    manifest_url = backend.url("state/manifest.json")

    manifest = Manifest.load(manifest_url, backend.options)
    assert len(manifest) == 0  # a missing manifest is an empty one
    objects = list_archive(root, storage_options=backend.options)
    diff = manifest.diff(objects, "v1")
    assert diff.new == objects and diff.changed == [] and diff.unchanged == []

    manifest.record(objects, "v1", run_id="run-1")
    manifest.save()
    loaded = Manifest.load(manifest_url, backend.options)
    assert loaded.entries == manifest.entries and len(loaded) == 2
    assert loaded.get(objects[0].uri).run_id == "run-1"
    assert loaded.diff(objects, "v1").unchanged == objects

    # Changed content (new etag), a new object, and a new pipeline version.
    backend.put("archive/cam01/2026-11-21/230000.mp4", b"two, re-uploaded")
    backend.put("archive/cam02/2026-11-21/010000.mp4", b"three")
    objects = list_archive(root, storage_options=backend.options)
    diff = loaded.diff(objects, "v1")
    assert _uris(diff.unchanged) == [objects[0].uri]
    assert _uris(diff.changed) == [objects[1].uri]
    assert _uris(diff.new) == [objects[2].uri]
    assert diff.to_process == [objects[2], objects[1]]

    diff = loaded.diff(objects, "v2")
    assert _uris(diff.changed) == _uris(objects[:2]) and diff.unchanged == []

    # Recording again replaces entries by uri, it never duplicates them.
    loaded.record(objects, "v2", run_id="run-2")
    loaded.save()
    again = Manifest.load(manifest_url, backend.options)
    assert len(again) == 3 and {e.run_id for e in again.entries.values()} == {"run-2"}
    assert again.diff(objects, "v2").unchanged == objects


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b'{"format": "something-else", "entries": []}',
        b'{"format": "va-gpt-manifest", "format_version": 1, "entries": [{"uri": "x"}]}',
    ],
)
def test_corrupt_manifest_names_file(backend, content):
    url = backend.put("state/manifest.json", content)
    with pytest.raises(StorageError) as info:
        Manifest.load(url, backend.options)
    assert info.value.url == url and url in str(info.value)
    assert "corrupt manifest" in info.value.reason


# --- atomic commit -----------------------------------------------------------------------------


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
    assert storage.read_bytes(run1_videos[0], opts) == b"run-1:videos:cam01:0"
    assert backend.files_under(storage.staging_url(backend.root, "run-1")) == []
    marker = json.loads(storage.read_bytes(backend.url("_runs/run-1.json"), opts))
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
    assert storage.read_bytes(run1_videos[1], opts) == b"run-1:videos:cam02:0"


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

    assert storage.cleanup_staging(backend.root, timedelta(hours=1), opts) == ["run-b"]
    assert not backend.fs_exists(leftover)
    assert backend.fs_exists(partial)  # run-a is recent: it may still be running

    later = datetime.now(UTC) + timedelta(hours=2)
    assert storage.cleanup_staging(backend.root, timedelta(hours=1), opts, now=later) == ["run-a"]
    assert not backend.fs_exists(partial)
    assert backend.files_under(backend.url("_staging")) == []
    assert _committed(backend, "videos") == _paths(_final(backend, "videos", "cam02", "run-b"))
    assert storage.cleanup_staging(backend.root, timedelta(hours=1), opts, now=later) == []


@pytest.mark.timeout(30)
def test_part_paths():
    assert storage.partition_path("videos", DAY, "cam01") == f"videos/date={DAY}/camera_id=cam01"
    assert part_url("s3://b/results", "frame_scores", DAY, "cam01", "r1", 3) == (
        f"s3://b/results/frame_scores/date={DAY}/camera_id=cam01/part-r1-3.parquet"
    )
    assert part_url("s3://b/results/", "videos", DAY, "cam01", "r1", 0, staged=True) == (
        f"s3://b/results/_staging/r1/videos/date={DAY}/camera_id=cam01/part-r1-0.parquet"
    )
    with pytest.raises(ValueError):
        storage.partition_path("videos", DAY, "a/b")
    with pytest.raises(ValueError):
        storage.partition_path("videos", "2026-02-30", "cam01")
    with pytest.raises(ValueError):
        storage.partition_path("_runs", DAY, "cam01")


@pytest.mark.timeout(60)
def test_corrupt_run_marker_names_file(tmp_path):
    backend = Backend("local", str(tmp_path), None)
    url = backend.put("_runs/run-1.json", b"{oops")
    with pytest.raises(StorageError) as info:
        committed_files(str(tmp_path), "videos")
    assert "corrupt run marker" in info.value.reason and info.value.url == f"file://{url}"


# --- errors and retry --------------------------------------------------------------------------


def _client_error(code: str, status: int) -> botocore.exceptions.ClientError:
    response = {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return botocore.exceptions.ClientError(response, "GetObject")


@pytest.mark.timeout(30)
def test_error_classification():
    assert storage.is_transient(_client_error("SlowDown", 503))
    assert storage.is_transient(_client_error("InternalError", 500))
    assert storage.is_transient(_client_error("Whatever", 502))
    assert not storage.is_transient(_client_error("NoSuchKey", 404))
    assert not storage.is_transient(_client_error("AccessDenied", 403))
    assert storage.is_transient(botocore.exceptions.EndpointConnectionError(endpoint_url="http://x"))
    assert storage.is_transient(botocore.exceptions.ReadTimeoutError(endpoint_url="http://x"))
    assert storage.is_transient(ConnectionResetError())
    assert not storage.is_transient(FileNotFoundError("k"))
    assert not storage.is_transient(ValueError("bug"))

    # s3fs turns a 503 SlowDown into OSError(EBUSY) raised from the ClientError, and a 404 into FileNotFoundError.
    wrapped = OSError(16, "SlowDown")
    wrapped.__cause__ = _client_error("SlowDown", 503)
    err = storage.storage_error(wrapped, "s3://b/k", "read")
    assert isinstance(err, TransientStorageError) and err.url == "s3://b/k" and "retryable" in err.reason
    not_found = FileNotFoundError("k")
    not_found.__cause__ = _client_error("NoSuchKey", 404)
    err = storage.storage_error(not_found, "s3://b/k", "read")
    assert type(err) is StorageError and "read: not found" in err.reason


@pytest.mark.timeout(30)
def test_retry_only_transient_with_backoff():
    delays: list[float] = []
    calls = {"n": 0}

    def flaky():
        calls["n"] += 1
        if calls["n"] < 3:
            raise TransientStorageError("s3://b/k", "busy")
        return "ok"

    assert storage.retry(flaky, attempts=4, base_delay=0.5, sleep=delays.append) == "ok"
    assert calls["n"] == 3 and delays == [0.5, 1.0]

    def permanent():
        calls["n"] += 1
        raise StorageError("s3://b/k", "access denied")

    calls["n"] = 0
    with pytest.raises(StorageError, match="access denied"):
        storage.retry(permanent, sleep=delays.append)
    assert calls["n"] == 1

    def always_busy():
        calls["n"] += 1
        raise _client_error("SlowDown", 503)

    calls["n"], delays[:] = 0, []
    with pytest.raises(botocore.exceptions.ClientError):
        storage.retry(always_busy, attempts=5, base_delay=1.0, max_delay=3.0, sleep=delays.append)
    assert calls["n"] == 5 and delays == [1.0, 2.0, 3.0, 3.0]


@pytest.mark.timeout(60)
def test_unreachable_endpoint_is_transient():
    opts = {
        "key": "k",
        "secret": "s",
        "client_kwargs": {"endpoint_url": "http://127.0.0.1:9", "region_name": "us-east-1"},
        "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 2},
    }
    with pytest.raises(TransientStorageError) as info:
        list_archive("s3://vagpt/archive", storage_options=opts)
    assert info.value.url == "s3://vagpt/archive"


@pytest.mark.timeout(60)
def test_wrong_credentials_are_access_denied(s3_store):
    s3_store.filesystem().pipe(s3_store.url("test_storage/creds/x.bin"), b"x")
    opts = {**s3_store.storage_options(), "key": "wrong", "secret": "wrong"}
    url = s3_store.url("test_storage/creds/x.bin")
    with pytest.raises(StorageError) as info:
        storage.read_bytes(url, opts)
    assert not isinstance(info.value, TransientStorageError)
    assert info.value.url == url and "access denied" in info.value.reason
