"""va_gpt.io.archive on a real SeaweedFS server and on local disk: the same tests run on both."""

from __future__ import annotations

import hashlib
import logging
import os
import re
from datetime import datetime

import pytest

import va_gpt.io.archive as archive
from tests.io.storage_fixtures import DAY, Backend
from va_gpt.io.archive import ArchiveObject, Skipped, list_archive, scan_archive
from va_gpt.io.errors import StorageError, TransientStorageError


def _uris(objects: list[ArchiveObject]) -> list[str]:
    return [o.uri for o in objects]


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
    with caplog.at_level(logging.WARNING, logger="va_gpt.io.archive"):
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
    with caplog.at_level(logging.WARNING, logger="va_gpt.io.archive"):
        objects = list_archive(backend.root, pattern=pattern, storage_options=backend.options)
    got = [(o.date, o.camera_id, o.start_time, o.fields) for o in objects]
    assert got == [
        ("2026-11-20", "cam07", datetime(2026, 11, 20, 12, 0, 0), (("site", "south"), ("time", "120000"))),
        ("2026-11-21", "cam07", datetime(2026, 11, 21, 23, 59, 59), (("site", "north"), ("time", "235959"))),
        ("2026-11-21", "cam_08", datetime(2026, 11, 21, 0, 0, 1), (("site", "north"), ("time", "000001"))),
    ]
    assert "246000" in caplog.text


@pytest.mark.timeout(120)
def test_every_skipped_key_is_reported_with_why(backend):
    urls = _fill_default_archive(backend)
    backend.put("archive/cam03/2026-11-21/120000.MP4")  # upper-case extension: an mp4
    listing = scan_archive(backend.url("archive"), storage_options=backend.options)
    assert any(o.uri.endswith("cam03/2026-11-21/120000.MP4") for o in listing.objects)
    assert len(listing.objects) == 6
    reasons = {s.key: s.reason for s in listing.skipped}
    assert set(reasons) == {
        "cam01/2026-13-40/220000.mp4",
        "cam01/2026-11-21/notes.txt",
        "cam01/2026-11-21/sub/x.mp4",
        "README.md",
    }
    assert "2026-13-40" in reasons["cam01/2026-13-40/220000.mp4"]
    assert "4 path segment(s)" in reasons["cam01/2026-11-21/sub/x.mp4"]
    assert (
        "'.txt'" in reasons["cam01/2026-11-21/notes.txt"] and "{ext}" in reasons["cam01/2026-11-21/notes.txt"]
    )
    assert "1 path segment(s)" in reasons["README.md"]
    assert Skipped("README.md", reasons["README.md"]).to_dict() == {
        "key": "README.md",
        "reason": reasons["README.md"],
    }
    # Out of tonight's dates or cameras is not "skipped": it is simply not wanted.
    assert {
        s.key
        for s in scan_archive(backend.url("archive"), storage_options=backend.options, dates=[DAY]).skipped
    } == set(reasons) - {"cam01/2026-13-40/220000.mp4"}
    assert urls  # (the helper's URLs are not needed here)


@pytest.mark.timeout(120)
def test_pattern_extensions_any_case_several_or_ext(backend):
    for key in (
        "a/cam01/2026-11-21/x.mov",
        "a/cam01/2026-11-21/y.MKV",
        "a/cam01/2026-11-21/z.Mp4",
        "a/cam01/2026-11-21/w.txt",
    ):
        backend.put(key)
    root = backend.url("a")

    def names(pattern):
        listing = scan_archive(root, pattern=pattern, storage_options=backend.options)
        return sorted(o.uri.rsplit("/", 1)[1] for o in listing.objects), sorted(
            s.key.rsplit("/", 1)[1] for s in listing.skipped
        )

    assert names("{camera_id}/{date}/{name}.{ext}") == (["x.mov", "y.MKV", "z.Mp4"], ["w.txt"])
    assert names("{camera_id}/{date}/{name}.{mov|mkv}") == (["x.mov", "y.MKV"], ["w.txt", "z.Mp4"])
    assert names("{camera_id}/{date}/{name}.mp4") == (["z.Mp4"], ["w.txt", "x.mov", "y.MKV"])
    (obj,) = [
        o
        for o in scan_archive(
            root, pattern="{camera_id}/{date}/{name}.{ext}", storage_options=backend.options
        ).objects
        if o.uri.endswith(".mov")
    ]
    assert dict(obj.fields) == {"ext": "mov", "name": "x"}


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


@pytest.mark.timeout(120)
def test_listing_is_narrowed_to_the_wanted_prefixes(backend, monkeypatch):
    """With --date/--cameras only `{camera}/{date}/` is listed recursively: a bad key under another
    date is never listed (so not reported), and the videos are those of a whole-archive listing."""
    _fill_default_archive(backend)
    backend.put("archive/cam01/2026-11-19/oops.txt")  # another date: skipped only by a full listing
    root = backend.url("archive")
    full = scan_archive(root, storage_options=backend.options)
    assert "cam01/2026-11-19/oops.txt" in {s.key for s in full.skipped}

    listed: list[str] = []
    real = archive.find_files
    monkeypatch.setattr(archive, "find_files", lambda fs, path, *a: listed.append(path) or real(fs, path, *a))
    for dates, cameras in (
        (["2026-11-21"], None),
        (("2026-11-20", "2026-11-21"), ["cam01"]),
        (None, ["cam02"]),
    ):
        listed.clear()
        narrowed = scan_archive(root, storage_options=backend.options, dates=dates, cameras=cameras)
        keep = archive._date_filter(dates)
        assert narrowed.objects == [
            o for o in full.objects if keep(o.date) and (cameras is None or o.camera_id in cameras)
        ]
        assert "cam01/2026-11-19/oops.txt" not in {s.key for s in narrowed.skipped}
        assert listed and all(p.rstrip("/") != root.split("://")[-1].rstrip("/") for p in listed)
    assert sorted(p.rsplit("/archive/", 1)[1] for p in listed) == ["cam02"]
    # A pattern whose folders give no wanted value is listed whole, as before.
    listed.clear()
    scan_archive(
        root, pattern="{name}/{camera_id}_{date}.mp4", storage_options=backend.options, dates=["2026-11-21"]
    )
    assert len(listed) == 1
