"""va_gpt.report.timeline: the score strip as standalone SVG."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import numpy as np

from va_gpt.report.timeline import card_id, timeline_svg, video_offsets

NS = "{http://www.w3.org/2000/svg}"


def _video(vid, start, dur=60.0, status="ok"):
    return {
        "video_id": vid,
        "uri": f"s3://a/{vid}.mp4",
        "start_time": start,
        "duration_s": dur,
        "status": status,
    }


def test_offsets_use_wall_clock_and_chain_videos_without_one():
    t0 = dt.datetime(2026, 11, 21, 22, 0)
    vs = [_video("a", t0), _video("b", t0 + dt.timedelta(minutes=10)), _video("c", None, 30.0)]
    off, origin, length = video_offsets(vs)
    assert origin == t0 and off == {"a": 0.0, "b": 600.0, "c": 660.0} and length == 690.0
    off, origin, length = video_offsets([_video("x", None), _video("y", None)])
    assert origin is None and off == {"x": 0.0, "y": 60.0} and length == 120.0


def test_svg_is_valid_and_marks_every_interval_with_a_link_to_its_card():
    t0 = dt.datetime(2026, 11, 21, 22, 0)
    vs = [
        _video("a" * 40, t0),
        _video("b" * 40, t0 + dt.timedelta(minutes=5)),
        _video("c" * 40, None, status="corrupt"),
    ]
    t = np.arange(0, 60, 0.5)
    scores = {vs[0]["video_id"]: (t, np.abs(np.sin(t))), vs[1]["video_id"]: (t, np.zeros_like(t))}
    ivs = [
        {
            "video_id": "a" * 40,
            "interval_id": 0,
            "start_s": 10.0,
            "end_s": 20.0,
            "peak_score": 0.9,
            "label": "fight",
        },
        {
            "video_id": "b" * 40,
            "interval_id": 0,
            "start_s": 1.0,
            "end_s": 2.0,
            "peak_score": 0.8,
            "label": None,
        },
    ]
    svg = timeline_svg(vs, scores, ivs, width=800, height=120)
    root = ET.fromstring(svg)
    links = root.findall(f"{NS}a")
    assert [a.get("href") for a in links] == [f"#{card_id(r)}" for r in ivs]
    assert len(root.findall(f"{NS}polyline")) == 2
    labels = [e.text for e in root.findall(f"{NS}text")]
    assert "22:00:00" in labels  # wall-clock ticks (seconds on a strip under 10 min)
    # Long score series are cut to about one point per pixel, keeping the peak.
    long_t = np.arange(0, 60, 0.01)
    long_s = np.zeros_like(long_t)
    long_s[3000] = 1.0
    svg = timeline_svg([vs[0]], {vs[0]["video_id"]: (long_t, long_s)}, [], width=400)
    pts = ET.fromstring(svg).find(f"{NS}polyline").get("points").split()
    assert len(pts) <= 400 and min(float(p.split(",")[1]) for p in pts) < 10.0
