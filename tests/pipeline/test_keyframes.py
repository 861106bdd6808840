"""The keyframe stage (va_gpt.pipeline.keyframes): each committed interval carries the URIs of its
keyframe and preview JPEGs under the results root, the report shows those same stills, and a
failed cut leaves the URIs null without failing the video."""

from __future__ import annotations

import json
import logging
import os

import numpy as np
import pyarrow as pa
import pytest

from tests.report.test_build import tags
from va_gpt.config import load_preset
from va_gpt.demo import write_reports
from va_gpt.lake.delta import open_table, run_versions
from va_gpt.lake.media import media_url
from va_gpt.pipeline.keyframes import add_keyframes
from va_gpt.pipeline.nightly import NightlyArgs, run_nightly
from va_gpt.report import media as report_media
from va_gpt.report.build import camera_file

pytestmark = pytest.mark.timeout(300)

JPEG = b"\xff\xd8"


def committed_intervals(results: str) -> list[dict]:
    version = run_versions(results)["intervals"]
    return pa.table(open_table(results, "intervals", version=version).to_pyarrow_table()).to_pylist()


def nightly(archive: str, results: str, **kw):
    args = NightlyArgs(archive=archive, results=results, preset=load_preset("tiny"), local=True, **kw)
    return run_nightly(args)


@pytest.fixture(scope="module")
def night(tiny_archive, tmp_path_factory) -> str:
    results = str(tmp_path_factory.mktemp("keyframes") / "results")
    summary = nightly(tiny_archive, results, describe=False)
    assert summary.ok == 4
    return results


def test_committed_intervals_carry_stored_jpeg_stills(night):
    rows = committed_intervals(night)
    assert rows
    for r in rows:
        assert r["start_s"] - 1e-6 <= r["peak_s"] <= r["end_s"] + 1e-6
        assert r["keyframe_uri"] == media_url(night, r, "key")
        assert r["preview_uri"] == media_url(night, r, "sheet")
        for uri in (r["keyframe_uri"], r["preview_uri"]):
            with open(uri, "rb") as f:
                assert f.read(2) == JPEG, uri


def test_the_report_shows_the_stored_stills_without_cutting_again(night, tmp_path, monkeypatch):
    """The demo's report step (make run) on the night: every card's pictures are copies of the
    stills the `intervals` rows name, and the report cut none itself."""

    def no_cut(*a, **k):
        raise AssertionError("the report cut a still the pipeline had stored")

    monkeypatch.setattr(report_media, "cut_interval_media", no_cut)
    (index,) = write_reports(night, str(tmp_path / "report"))
    root = os.path.dirname(index)
    rows = committed_intervals(night)
    stored = {r["keyframe_uri"]: r for r in rows} | {r["preview_uri"]: r for r in rows}
    seen = set()
    for cam in sorted({r["camera_id"] for r in rows}):
        page = open(os.path.join(root, camera_file(cam))).read()
        for src, uri in _imgs(page):
            assert uri in stored, uri
            with open(os.path.join(root, src), "rb") as a, open(uri, "rb") as b:
                assert a.read() == b.read()
            seen.add(uri)
    assert seen == set(stored)  # every stored still is on a card


def _imgs(page: str) -> list[tuple[str, str]]:
    return [(a["src"], a["data-stored"]) for t, a in tags(page) if t == "img" and "data-stored" in a]


def test_no_keyframes_leaves_the_uris_null_and_the_report_cuts_them(tiny_archive, tmp_path):
    results = str(tmp_path / "results")
    nightly(tiny_archive, results, describe=False, keyframes=False)
    rows = committed_intervals(results)
    assert rows and all(r["keyframe_uri"] is None and r["preview_uri"] is None for r in rows)
    assert all(r["peak_s"] is not None for r in rows)
    assert not os.path.exists(os.path.join(results, "media"))
    (index,) = write_reports(results, str(tmp_path / "report"))
    page = open(os.path.join(os.path.dirname(index), camera_file(rows[0]["camera_id"]))).read()
    assert 'class="keyframe"' in page and "No keyframe." not in page


def test_a_failed_cut_leaves_the_uris_null_and_warns(tmp_path, caplog):
    intervals = '[{"interval_id": 0, "start_s": 1.0, "end_s": 2.0, "box": null}]'
    with caplog.at_level(logging.WARNING, logger="va_gpt.pipeline.keyframes"):
        out = add_keyframes(
            intervals, uri=str(tmp_path / "gone.mp4"), t=np.array([1.0, 1.5, 2.0]),
            score=np.array([0.2, 0.9, 0.3]), results=str(tmp_path / "results"), run_id="r1",
            video_id="v", camera_id="cam", date="2026-01-01",
        )  # fmt: skip
    (iv,) = json.loads(out)
    assert iv["peak_s"] == 1.5 and iv["keyframe_uri"] is None and iv["preview_uri"] is None
    assert "no keyframe for v interval 0" in caplog.text
    assert not os.path.exists(tmp_path / "results")
