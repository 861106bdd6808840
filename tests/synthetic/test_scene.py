"""Synthetic scenes: determinism, the camera/video seeds, normal videos, event timing, labels and captions.

Most scenes are 320x240 or 160x120 and a few seconds long; one smoke test renders
the default 640x480 and reports the render speed.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from va_gpt.synthetic.anomalies import ALL_KINDS
from va_gpt.synthetic.scene import Event, make_scene

W, H = 320, 240
DUR = 6.0


@pytest.mark.timeout(120)
def test_same_seed_same_video_different_seed_differs():
    a = make_scene(11, "fighting", 3.0, 160, 120)
    b = make_scene(11, "fighting", 3.0, 160, 120)
    c = make_scene(12, "fighting", 3.0, 160, 120)
    assert a.events == b.events
    assert a.events != c.events
    assert a.num_frames == 90 and a.fps == 30.0
    for i in (0, 17, 45, 89):
        fa, fb = a.frame(i), b.frame(i)
        assert fa.shape == (120, 160, 3) and fa.dtype == np.uint8
        np.testing.assert_array_equal(fa, fb)
        assert np.abs(fa.astype(int) - c.frame(i).astype(int)).mean() > 5
    # frames() streams the same pixels as random access, in any order (rendering is pure in (seed, i))
    streamed = list(b.frames(40, 50))
    for k, i in enumerate(range(40, 50)):
        np.testing.assert_array_equal(streamed[k], a.frame(i))
    np.testing.assert_array_equal(make_scene(11, "fighting", 3.0, 160, 120).frame(60), a.frame(60))
    with pytest.raises(IndexError):
        a.frame(90)


@pytest.mark.timeout(120)
def test_camera_seed_fixes_the_view_and_video_seed_the_content():
    a = make_scene(1, None, 2.0, W, H, camera_seed=7)
    b = make_scene(2, None, 2.0, W, H, camera_seed=7)
    c = make_scene(1, None, 2.0, W, H, camera_seed=8)
    np.testing.assert_array_equal(a.background(), b.background())
    assert np.abs(a.background().astype(int) - c.background().astype(int)).mean() > 10
    assert not np.array_equal(a.frame(10), b.frame(10))


@pytest.mark.timeout(120)
def test_normal_video_has_walking_people_noise_and_no_events():
    sc = make_scene(4, None, 20.0, W, H, fps=10.0)
    assert sc.events == [] and sc.label == "normal"
    assert all(sc.labels_at(t) == 0 for t in np.arange(0, sc.duration_s, 0.25))
    assert sc.frame_labels().sum() == 0
    counts = [sum(1 for _, role, _ in sc.actor_boxes(i) if role == "normal") for i in range(sc.num_frames)]
    assert 1.5 <= np.mean(counts) <= 7, np.mean(counts)
    # people walk slowly: ~1-1.5 m/s, a small part of the frame width per second
    speeds = []
    for i in range(0, sc.num_frames - 10, 10):
        now = {n: b for n, _, b in sc.actor_boxes(i)}
        later = {n: b for n, _, b in sc.actor_boxes(i + 10)}
        for n in now.keys() & later.keys():
            b0, b1 = now[n], later[n]
            if b0[0] > 0 and b0[2] < W and b1[0] > 0 and b1[2] < W:
                speeds.append(abs((b1[0] + b1[2]) - (b0[0] + b0[2])) / 2)
    assert speeds and np.median(speeds) < 0.2 * W and max(speeds) < 0.3 * W
    assert np.mean(speeds) > 2  # and they do move
    # people are a few tens of pixels tall at 640x480 (here half that)
    heights = [
        b[3] - b[1]
        for i in range(0, sc.num_frames, 20)
        for _, _, b in sc.actor_boxes(i)
        if 0 < b[1] and b[3] < H
    ]
    assert 8 <= np.median(heights) <= 45
    # per-frame sensor noise: two frames differ even where nothing moves
    f0, f1 = sc.frame(0).astype(int), sc.frame(1).astype(int)
    assert 0.5 < np.abs(f0 - f1)[:10, :10].mean() < 8


@pytest.mark.timeout(60)
def test_event_timing_labels_and_captions():
    sc = make_scene(3, "falling", DUR, W, H, event_start_s=2.0)
    (ev,) = sc.events
    assert ev.kind == "falling" and ev.start_s == pytest.approx(2.0)
    s, e = ev.frames(sc.fps)
    assert s == 60 and e > s
    assert sc.labels_at(ev.start_s) == 1 and sc.labels_at(ev.start_s - 1 / sc.fps) == 0
    assert sc.labels_at(ev.end_s - 1 / sc.fps) == 1 and sc.labels_at(ev.end_s) == 0
    labels = sc.frame_labels()
    assert labels.sum() == e - s and labels[s] == 1 and labels[e - 1] == 1
    assert all(sc.labels_at(i / sc.fps) == labels[i] for i in range(sc.num_frames))
    x0, y0, x1, y1 = ev.box
    assert 0 <= x0 < x1 <= W and 0 <= y0 < y1 <= H
    # captions: one sentence, deterministic, a few templates per kind
    for kind in ALL_KINDS:
        caps = {make_scene(seed, kind, 4.0, 160, 120).events[0].caption for seed in range(8)}
        assert len(caps) >= 2, caps
        for cap in caps:
            assert cap[0].isupper() and cap.endswith(".") and cap.count(". ") == 0 and len(cap.split()) >= 6
    assert (
        make_scene(5, "explosion", 4.0, 160, 120).events[0].caption
        == make_scene(5, "explosion", 4.0, 160, 120).events[0].caption
    )
    with pytest.raises(ValueError, match="unknown anomaly"):
        make_scene(0, "shooting", 2.0, 160, 120)
    with pytest.raises(ValueError, match="outside the video"):
        make_scene(0, "fighting", 2.0, 160, 120, event_start_s=5.0)


def test_event_dict_round_trip():
    ev = Event("fighting", 1.5, 4.0, (1, 2, 30, 40), "Two people start fighting.")
    assert Event.from_dict(json.loads(json.dumps(ev.to_dict(30.0)))) == ev
    assert ev.frames(30.0) == (45, 120)


@pytest.mark.timeout(300)
def test_default_size_render_smoke_and_speed():
    sc = make_scene(0, "explosion")  # 640x480, 30 s at 30 fps
    assert (sc.width, sc.height, sc.num_frames) == (640, 480, 900)
    ev = sc.events[0]
    assert 6.0 <= ev.start_s <= 14.0 and ev.end_s - ev.start_s == pytest.approx(5.0)
    frames = range(0, 900, 5)
    sc.frame(0)
    t = time.process_time()
    for i in frames:
        img = sc.frame(i)
    fps = len(frames) / (time.process_time() - t)
    print(f"\nrender speed 640x480: {fps:.0f} frames/s (one core, CPU time)")
    assert img.shape == (480, 640, 3) and img.dtype == np.uint8
    assert fps > 30  # ~150-300 frames/s on a quiet core; loose bound for a shared machine
    people = [b for _, role, b in sc.actor_boxes(450) if role == "normal"]
    assert all(10 <= b[3] - b[1] <= 110 for b in people if 0 < b[1] and b[3] < 480)
