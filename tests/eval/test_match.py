"""The demo's match report: found intervals against a synthetic archive's injected events."""

from __future__ import annotations

import pytest

from va_gpt.eval.match import match_report
from va_gpt.synthetic.scene import Event
from va_gpt.synthetic.truth import ArchiveTruth, VideoTruth


def _video(key: str, events: list[Event]) -> VideoTruth:
    return VideoTruth(
        key=key, camera_id="cam01", date="2026-11-21", start_time="22:00:00", duration_s=10.0, fps=10.0,
        num_frames=100, width=96, height=64, codec="h264", seed=0, camera_seed=0,
        label=events[0].kind if events else "normal", events=events,
    )  # fmt: skip


@pytest.mark.timeout(30)
def test_match_report_counts_overlaps_iou_and_normal_videos():
    fight = Event("fighting", 2.0, 6.0, (0, 0, 10, 10), "two people fight")
    fire = Event("arson", 7.0, 9.0, (0, 0, 10, 10), "a fire")
    truth = ArchiveTruth(
        url="s3://archive",
        seed=0,
        videos=[
            _video("cam01/2026-11-21/220000.mp4", [fight, fire]),
            _video("cam01/2026-11-21/221000.mp4", []),
            _video("cam01/2026-11-21/222000.mp4", []),
        ],
    )
    found = {
        "s3://archive/cam01/2026-11-21/220000.mp4": [(3.0, 6.0), (9.5, 10.0)],  # fight IoU 3/4, fire none
        "s3://archive/cam01/2026-11-21/222000.mp4": [(1.0, 2.0)],  # a normal video given an interval
    }
    lines = match_report(truth, "s3://archive/", found).split("\n")
    assert lines[0] == (
        "matched events: 1/2 (an interval overlaps the event), mean IoU 0.38; "
        "normal videos with an interval: 1/2"
    )
    assert lines[1].split()[:2] == ["cam01/2026-11-21/220000.mp4", "fighting"]
    assert lines[1].endswith("found 3.0-6.0s, 9.5-10.0s  IoU 0.75")
    assert lines[2].endswith("IoU 0.00")
    assert lines[3].split()[1:] == ["normal", "found", "0", "interval(s)"]
    assert lines[4].split()[1:] == ["normal", "found", "1", "interval(s)"]
