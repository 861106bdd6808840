"""va_gpt.report.night: the night's rows through the result views."""

from __future__ import annotations

import pytest

from tests.report.night_fixture import DATE
from va_gpt.report.night import ReportError, load_night


def test_load_night_reads_the_views(local_night):
    night = load_night(local_night.results, DATE)
    assert night.cameras == ["cam01", "cam02"]
    assert len(night.videos) == 4 and len(night.intervals) == local_night.n_intervals == 3
    assert [v["status"] for v in night.videos_of("cam02")] == ["ok", "corrupt"]
    assert set(night.scores) == {v["video_id"] for v in night.videos if v["status"] == "ok"}
    by_label = {i["label"]: i for i in night.intervals}
    assert by_label["fight"]["peak_t"] == pytest.approx(4.5)
    assert by_label["fight"]["uri"] == local_night.uris["v0"]
    assert by_label["fall"]["summary"].startswith("A fall")
    assert by_label["fall"]["summary_kind"] == "normal" and by_label["fight"]["summary_kind"] == "fight"
    assert [r.run_id for r in night.runs] and night.runs[0].meta["processed"] > 0


def test_cameras_filter(local_night):
    night = load_night(local_night.results, DATE, cameras=["cam02"])
    assert night.cameras == ["cam02"] and len(night.intervals) == 1


def test_a_night_without_results_is_empty_and_names_the_nights_that_have_some(local_night):
    night = load_night(local_night.results, "2026-11-20")
    assert night.videos == [] and night.intervals == [] and night.other_dates == [DATE]


def test_a_folder_without_tables_is_a_clear_error(tmp_path):
    (tmp_path / "junk.txt").write_text("x")
    with pytest.raises(ReportError, match="no committed results"):
        load_night(str(tmp_path), DATE)
    with pytest.raises(ReportError, match="no committed results"):
        load_night(str(tmp_path / "does-not-exist"), DATE)


def test_bad_date(local_night):
    with pytest.raises(ReportError, match="--date"):
        load_night(local_night.results, "21/11/2026")
