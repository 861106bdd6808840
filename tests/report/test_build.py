"""va_gpt.report.build: the night's pages and stills, on a local folder and on the object store."""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser

import pytest

from tests.report.night_fixture import DATE
from va_gpt.report.build import camera_file, write_report
from va_gpt.report.night import ReportError


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags(html: str) -> list[tuple[str, dict]]:
    p = _Tags()
    p.feed(html)
    return p.tags


def cards(html: str) -> list[dict]:
    return [a for t, a in tags(html) if t == "article" and "card" in a.get("class", "")]


def test_local_report_has_one_card_per_interval_and_every_image_is_there(local_night, tmp_path):
    index = write_report(local_night.results, DATE, str(tmp_path / "out"))
    assert index == str(tmp_path / "out" / DATE / "index.html")
    html = open(index).read()
    for cam in ("cam01", "cam02"):
        assert f'href="{camera_file(cam)}"' in html
    assert "corrupt" in html and "moov missing" in html  # the failed video, status and message
    assert "footage hours" in html and "wall_s" in html  # overview and the run's timings
    total = 0
    for cam, n in local_night.intervals_per_camera.items():
        page = open(tmp_path / "out" / DATE / camera_file(cam)).read()
        assert len(cards(page)) == n
        total += n
        for t, a in tags(page):
            if t == "img":
                assert (
                    not re.match(r"^[a-z]+:", a["src"])
                    and os.path.getsize(tmp_path / "out" / DATE / a["src"]) > 0
                )
        assert (
            "<svg" in page
            and "<script" not in page
            and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
        )
    assert total == local_night.n_intervals
    cam02 = open(tmp_path / "out" / DATE / camera_file("cam02")).read()
    assert "source object is gone" in cam02 and "No keyframe" in cam02
    assert "&lt;gate&gt; &amp; door" in cam02  # summaries are escaped
    cam01 = open(tmp_path / "out" / DATE / camera_file("cam01")).read()
    assert cam01.count('class="keyframe"') == 2 and cam01.count('class="sheet"') == 2
    assert "2026-11-21 22:00:03" in cam01  # wall-clock start of the first interval
    assert "<dt>VA-GPT judged</dt><dd>normal</dd>" in cam01  # beside the classifier's "fall"


def test_cameras_option_limits_the_pages(local_night, tmp_path):
    write_report(local_night.results, DATE, str(tmp_path), cameras=["cam01"])
    assert sorted(os.listdir(tmp_path / DATE)) == ["camera-cam01.html", "index.html", "media"]


def test_night_without_results_says_so(local_night, tmp_path):
    index = write_report(local_night.results, "2026-11-19", str(tmp_path))
    html = open(index).read()
    assert 'id="no-results"' in html or "id='no-results'" in html
    assert "No results for 2026-11-19" in html and DATE in html


def test_results_url_without_tables_is_a_clear_error(tmp_path):
    with pytest.raises(ReportError, match="no committed results"):
        write_report(str(tmp_path / "empty"), DATE, str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_report_on_the_object_store(s3_night, s3_store, tmp_path):
    so = s3_store.storage_options()
    out = s3_store.url("test_report/test_build/site")
    index = write_report(s3_night.results, DATE, out, storage_options=so)
    assert index == f"{out}/{DATE}/index.html"
    fs = s3_store.filesystem()
    files = {p.split(f"/{DATE}/", 1)[1] for p in fs.find(f"{out}/{DATE}".removeprefix("s3://"))}
    assert {"index.html", "camera-cam01.html", "camera-cam02.html"} <= files
    assert sum(f.endswith("_key.jpg") for f in files) == 2  # the third interval's source is gone
    page = fs.cat(f"{out}/{DATE}/camera-cam01.html".removeprefix("s3://")).decode()
    srcs = [a["src"] for t, a in tags(page) if t == "img"]
    assert srcs and all(s in files for s in srcs)
