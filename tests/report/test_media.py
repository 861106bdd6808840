"""va_gpt.report.media: stills under the results root, cut from the source when missing."""

from __future__ import annotations

import os

import pytest

from tests.report.night_fixture import DATE, RUN
from va_gpt.lake.query import query
from va_gpt.report.media import interval_media, media_url, night_media
from va_gpt.report.night import load_night


def test_media_url_follows_from_the_row_and_sql_can_build_it(local_night):
    row = {"date": DATE, "camera_id": "cam01", "video_id": "abc", "run_id": RUN, "interval_id": 1}
    assert media_url("s3://b/res/", row, "key") == f"s3://b/res/media/{DATE}/cam01/abc/{RUN}-1_key.jpg"
    with pytest.raises(ValueError):
        media_url("s3://b/res", row, "gif")
    night = load_night(local_night.results, DATE)
    sql = (
        f"SELECT '{local_night.results}/media/' || date || '/' || camera_id || '/' || video_id || '/' "
        "|| run_id || '-' || interval_id || '_key.jpg' AS u FROM intervals ORDER BY u"
    )
    got = query(local_night.results, sql).column("u").to_pylist()
    assert got == sorted(media_url(local_night.results, r, "key") for r in night.intervals)


def test_cut_once_then_read_back(local_night):
    night = load_night(local_night.results, DATE)
    row = next(r for r in night.intervals if r["label"] == "fight")
    first = interval_media(local_night.results, row)
    assert first.note is None and first.keyframe[:2] == b"\xff\xd8" and first.sheet[:2] == b"\xff\xd8"
    assert os.path.exists(first.key_url) and os.path.exists(first.sheet_url)
    mtime = os.path.getmtime(first.key_url)
    again = interval_media(local_night.results, row)
    assert again.keyframe == first.keyframe and os.path.getmtime(first.key_url) == mtime


def test_gone_source_gives_a_note_not_an_exception(local_night):
    night = load_night(local_night.results, DATE)
    row = next(r for r in night.intervals if r["label"] == "abandoned_object")
    m = interval_media(local_night.results, row)
    assert m.keyframe is None and m.sheet is None
    assert "source object is gone" in m.note and local_night.uris["v2"] in m.note
    assert not os.path.exists(m.key_url)


def test_night_media_on_the_object_store(s3_night, s3_store):
    so = s3_store.storage_options()
    night = load_night(s3_night.results, DATE, storage_options=so)
    media = night_media(s3_night.results, night.intervals, so, workers=2)
    assert [m.keyframe is not None for m in media] == [
        r["label"] != "abandoned_object" for r in night.intervals
    ]
    fs = s3_store.filesystem()
    stored = [m.key_url for m in media if m.keyframe is not None]
    assert stored and all(fs.exists(u) for u in stored)
