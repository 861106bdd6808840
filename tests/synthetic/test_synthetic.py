"""The synthetic camera-footage generator: determinism, ground truth that matches the pixels, encoding, archives.

Most scenes are 320x240 or 160x120 and a few seconds long; one smoke test renders
the default 640x480 and reports the render speed.
"""

from __future__ import annotations

import io
import json
import re
import time

import av
import numpy as np
import pytest

from va_gpt.synthetic import generate as S
from va_gpt.synthetic.generate import (
    ALL_KINDS,
    UCF_CLASSES,
    Event,
    generate_archive,
    load_truth,
    make_scene,
    write_mp4,
)

W, H = 320, 240
DUR = 6.0


def _frames(scene, lo=0, hi=None):
    return [f.astype(np.int16) for f in scene.frames(lo, hi)]


def _crop(img, box):
    x0, y0, x1, y1 = box
    return img[y0:y1, x0:x1]


def _mean_absdiff(frames, box, lo, hi):
    """Mean absolute frame-to-frame difference inside box over frames lo..hi-1 (each vs its predecessor)."""
    return float(
        np.mean(
            [np.abs(_crop(frames[i], box) - _crop(frames[i - 1], box)).mean() for i in range(max(lo, 1), hi)]
        )
    )


def _motion_fraction(frames, box, lo, hi, thr=25):
    """Fraction of box pixels changing by more than `thr` (above sensor noise) between consecutive frames."""
    return float(
        np.mean(
            [
                (np.abs(_crop(frames[i], box) - _crop(frames[i - 1], box)).max(-1) > thr).mean()
                for i in range(max(lo, 1), hi)
            ]
        )
    )


def _luma(img):
    return img[..., 0] * 0.299 + img[..., 1] * 0.587 + img[..., 2] * 0.114


def _brightness(img, box):
    """(box mean luma, rest-of-frame mean luma, fraction of very bright pixels in the box, in the rest)"""
    lum = _luma(img.astype(float))
    x0, y0, x1, y1 = box
    rest = np.ones(lum.shape, bool)
    rest[y0:y1, x0:x1] = False
    inside = lum[y0:y1, x0:x1]
    return inside.mean(), lum[rest].mean(), (inside > 200).mean(), (lum[rest] > 200).mean()


# --------------------------------------------------------------------------------------
# determinism and the scene API


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


# --------------------------------------------------------------------------------------
# ground truth matches the pixels


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind", ALL_KINDS)
@pytest.mark.parametrize("seed", [0, 7])
def test_event_box_bounds_the_anomaly_and_motion_rises(kind, seed):
    sc = make_scene(seed, kind, DUR, W, H)
    normal = make_scene(seed, None, DUR, W, H)  # the same scene without the anomaly's actors
    (ev,) = sc.events
    s, e = ev.frames(sc.fps)
    box = ev.box
    assert 0 < s < e <= sc.num_frames
    fa, fn = _frames(sc), _frames(normal)
    # 1. every pixel the anomaly changes during the event (against the same scene without it) is in the box
    cover = np.zeros((H, W), bool)
    for i in range(s, e):
        changed = np.abs(fa[i] - fn[i]).max(-1) > 0
        if kind == "abandoned_object":  # the owner walks away: not part of the (static) event
            for name, _, b in sc.actor_boxes(i):
                if name == "owner":
                    changed[b[1] : b[3], b[0] : b[2]] = False
        cover |= changed
        changed[box[1] : box[3], box[0] : box[2]] = False
        assert not changed.any(), f"frame {i}: anomaly pixels outside the event box {box}"
    # ... and the box is tight: the changed pixels span it (bar a row or two hidden behind passers-by)
    ys, xs = np.nonzero(cover)
    assert len(xs) > 0
    assert (xs.max() + 1 - xs.min()) >= 0.9 * (box[2] - box[0]) and (ys.max() + 1 - ys.min()) >= 0.9 * (
        box[3] - box[1]
    )

    if kind == "abandoned_object":
        return  # static anomaly: see test_abandoned_object_is_static
    # 2. more frame-to-frame change in the box during the event than before it
    before, during = _mean_absdiff(fa, box, 0, s), _mean_absdiff(fa, box, s, e)
    assert during > 1.15 * before, (before, during)
    mb, md = _motion_fraction(fa, box, 0, s), _motion_fraction(fa, box, s, e)
    assert md > 1.3 * mb + 1e-3, (mb, md)


@pytest.mark.timeout(120)
def test_explosion_box_is_bright_during_the_event_only():
    # seed 1: fire over a bright sidewalk; seeds 2 and 9: over dark asphalt in a bright scene
    for seed in (1, 2, 9):
        sc = make_scene(seed, "explosion", DUR, W, H)
        (ev,) = sc.events
        s, e = ev.frames(sc.fps)
        during = [_brightness(sc.frame(i), ev.box) for i in range(s + (e - s) // 5, e - (e - s) // 4, 5)]
        before = [_brightness(sc.frame(i), ev.box) for i in range(0, s, 10)]
        for box_l, rest_l, box_b, rest_b in during:
            assert box_l > rest_l + 15, (box_l, rest_l)  # brighter on average, corners included
            assert box_b > 0.08 and box_b > 5 * rest_b  # and a bright blob is in it
        for box_l, rest_l, box_b, _ in before:
            assert box_b < 0.05  # no bright blob before the event
            assert box_l - rest_l < min(d[0] - d[1] for d in during) - 30
        assert min(d[0] for d in during) > max(b[0] for b in before) + 35


@pytest.mark.timeout(120)
def test_falling_person_ends_horizontal_and_stays_still():
    for seed in (3, 4):  # near and far side of the street, nobody walking over the fallen person
        sc = make_scene(seed, "falling", DUR, W, H)
        normal = make_scene(seed, None, DUR, W, H)
        (ev,) = sc.events
        s, e = ev.frames(sc.fps)
        before = {n: b for n, _, b in sc.actor_boxes(s - 1)}["faller"]
        assert before[3] - before[1] > before[2] - before[0]  # upright before the fall
        after = [{n: b for n, _, b in sc.actor_boxes(i)}["faller"] for i in range(e, sc.num_frames)]
        assert len(after) > 5 and all(b == after[0] for b in after)  # not moving any more
        x0, y0, x1, y1 = after[0]
        assert x1 - x0 > 1.8 * (y1 - y0)  # lying: wider than tall
        # the same in the pixels: what the faller changes after the event is a still, wide blob
        masks = [
            np.abs(sc.frame(i).astype(int) - normal.frame(i).astype(int)).max(-1) > 12
            for i in range(e, sc.num_frames, 4)
        ]
        same = sum(_iou(m, masks[-1]) > 0.9 for m in masks)
        assert same >= 0.7 * len(masks)
        ys, xs = np.nonzero(masks[-1])
        assert xs.max() - xs.min() > 1.8 * (ys.max() - ys.min())
        assert sc.labels_at(ev.end_s + 0.1) == 0


@pytest.mark.timeout(120)
def test_abandoned_object_is_static():
    for seed in (0, 5):
        sc = make_scene(seed, "abandoned_object", DUR, W, H)
        normal = make_scene(seed, None, DUR, W, H)
        (ev,) = sc.events
        s, e = ev.frames(sc.fps)
        assert e == sc.num_frames and sc.labels_at(sc.duration_s - 1e-6) == 1  # to the end of the video
        box = ev.box
        fa, fn = _frames(sc), _frames(normal)
        # after the drop the box stays changed against the scene without the bag ...
        changed = [np.abs(_crop(fa[i], box) - _crop(fn[i], box)).mean() for i in range(s, e)]
        assert min(changed) > 10, min(changed)
        # ... but not before it (apart from the owner carrying it past)
        owner_free = [
            i
            for i in range(0, s)
            if not any(n in ("owner", "bag") and _overlaps(b, box) for n, _, b in sc.actor_boxes(i))
        ]
        assert all(np.abs(_crop(fa[i], box) - _crop(fn[i], box)).max() == 0 for i in owner_free)
        # ... and it is static: once the owner has left, the box changes frame to frame only as much as
        # the bag-free scene does (sensor noise, passers-by), and the bag's pixels do not move
        settle = s + int(1.5 * sc.fps)
        da = [np.abs(_crop(fa[i], box) - _crop(fa[i - 1], box)).mean() for i in range(settle, e)]
        dn = [np.abs(_crop(fn[i], box) - _crop(fn[i - 1], box)).mean() for i in range(settle, e)]
        assert abs(np.median(da) - np.median(dn)) < 0.3, (np.median(da), np.median(dn))
        assert np.median(da) < 6  # sensor noise only
        bag_masks = [np.abs(_crop(fa[i], box) - _crop(fn[i], box)).max(-1) > 12 for i in range(settle, e)]
        assert sum(_iou(m, bag_masks[-1]) > 0.9 for m in bag_masks) >= 0.8 * len(bag_masks)


def _iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


def _overlaps(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


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


# --------------------------------------------------------------------------------------
# encoding


def _decode(src):
    with av.open(src) as c:
        st = c.streams.video[0]
        frames, keys = [], []
        for k, fr in enumerate(c.decode(st)):
            frames.append(fr.to_ndarray(format="rgb24"))
            if fr.key_frame:
                keys.append(k)
        return st.codec_context.name, st.average_rate, st.codec_context.pix_fmt, frames, keys


@pytest.mark.timeout(120)
def test_write_mp4_h264_local(tmp_path):
    sc = make_scene(2, "collision", 3.0, 160, 120)
    url = tmp_path / "deep" / "dir" / "clip.mp4"
    assert write_mp4(sc, str(url), gop=30) == str(url)
    name, rate, pix_fmt, frames, keys = _decode(str(url))
    assert name == "h264" and rate == 30 and pix_fmt == "yuv420p"
    assert len(frames) == sc.num_frames == 90
    assert keys == [0, 30, 60]  # a fixed GOP like a camera
    for i in (0, 45, 89):
        mse = np.mean((frames[i].astype(float) - sc.frame(i).astype(float)) ** 2)
        assert 10 * np.log10(255**2 / mse) > 28
    write_mp4(sc, f"file://{tmp_path}/default_gop.mp4")
    assert _decode(str(tmp_path / "default_gop.mp4"))[4] == [0, 60]  # default: 2 s


@pytest.mark.timeout(180)
def test_write_mp4_hevc(tmp_path):
    sc = make_scene(3, "running", 2.0, 160, 120, fps=25.0)
    write_mp4(sc, str(tmp_path / "clip.mp4"), codec="hevc", gop=25)
    name, rate, pix_fmt, frames, keys = _decode(str(tmp_path / "clip.mp4"))
    assert name == "hevc" and rate == 25 and pix_fmt == "yuv420p"
    assert len(frames) == 50 and keys == [0, 25]
    for i in (0, 20, 49):
        mse = np.mean((frames[i].astype(float) - sc.frame(i).astype(float)) ** 2)
        assert 10 * np.log10(255**2 / mse) > 28
    with pytest.raises(ValueError, match="codec"):
        write_mp4(sc, str(tmp_path / "x.mp4"), codec="vp9")


# --------------------------------------------------------------------------------------
# archives


@pytest.mark.timeout(400)
def test_generate_archive_into_s3(s3_store, tmp_path):
    from va_gpt.data.benchmarks import parse_ucf_temporal

    url = s3_store.url("test_synthetic/archive")
    opts = s3_store.storage_options()
    truth = generate_archive(
        url,
        cameras=3,
        videos_per_camera=3,
        duration_s=3.0,
        width=160,
        height=120,
        fps=15.0,
        seed=3,
        storage_options=opts,
    )
    fs = s3_store.filesystem()
    fs.invalidate_cache()
    root = url[len("s3://") :]
    found = sorted(p[len(root) + 1 :] for p in fs.find(root))
    keys = sorted(v.key for v in truth.videos)
    assert found == sorted(keys + ["_truth/Temporal_Anomaly_Annotation.txt", "_truth/events.json"])
    assert len(keys) == 9
    for k in keys:
        assert re.fullmatch(r"cam0[1-3]/2026-11-21/\d{6}\.mp4", k), k
    for cam in ("cam01", "cam02", "cam03"):
        times = [k.split("/")[2][:6] for k in keys if k.startswith(cam)]
        assert times == sorted(times) and len(set(times)) == 3 and times[0] >= "220000"
    # every kind once, the rest normal; normal videos have no events
    labels = sorted(v.label for v in truth.videos)
    assert labels == sorted(list(ALL_KINDS) + ["normal"] * 3)
    assert all((v.label == "normal") == (not v.events) for v in truth.videos)
    # the annotation file parses (UCF-Crime format, exclusive ends) to the right native frames
    local = tmp_path / "ann.txt"
    fs.get(f"{root}/_truth/Temporal_Anomaly_Annotation.txt", str(local))
    rows = {r.name: r for r in parse_ucf_temporal(local)}
    assert sorted(rows) == keys
    for v in truth.videos:
        r = rows[v.key]
        if v.label == "normal":
            assert r.label == "Normal" and r.events == ()
        else:
            assert r.label == UCF_CLASSES[v.label]
            (ev,) = v.events
            assert r.events == ((round(ev.start_s * 15), round(ev.end_s * 15)),)
            assert r.events[0][1] <= v.num_frames
            labels = v.frame_labels()
            assert (
                labels[r.events[0][0] : r.events[0][1]].all()
                and labels.sum() == r.events[0][1] - r.events[0][0]
            )
    raw = fs.cat(f"{root}/_truth/Temporal_Anomaly_Annotation.txt").decode().splitlines()
    assert all(len(line.split()) == 6 for line in raw)
    # events.json round-trips
    back = load_truth(url, opts)
    assert back.to_dict() == truth.to_dict()
    doc = json.loads(fs.cat(f"{root}/_truth/events.json"))
    v0 = next(v for v in doc["videos"] if v["label"] != "normal")
    assert {"key", "camera_id", "date", "start_time", "duration_s", "fps", "label", "events"} <= set(v0)
    assert {"kind", "start_s", "end_s", "box", "caption", "start_frame", "end_frame"} <= set(v0["events"][0])
    # the mp4s decode to the right frame count and rate, and match the scene they came from
    for v in (truth.videos[0], next(v for v in truth.videos if v.label == "explosion")):
        data = fs.cat(f"{root}/{v.key}")
        name, rate, _, frames, keys_ = _decode(io.BytesIO(data))
        assert name == "h264" and rate == 15 and len(frames) == v.num_frames == 45 and keys_ == [0, 30]
        sc = v.scene()
        assert sc.events == v.events
        assert np.abs(frames[30].astype(int) - sc.frame(30).astype(int)).mean() < 6
    # videos of one camera share the view; cameras differ
    c1 = [v for v in truth.videos if v.camera_id == "cam01"]
    c2 = [v for v in truth.videos if v.camera_id == "cam02"]
    assert c1[0].scene().background().tobytes() == c1[1].scene().background().tobytes()
    assert c1[0].scene().background().tobytes() != c2[0].scene().background().tobytes()


@pytest.mark.timeout(120)
def test_cli_main_local(tmp_path, capsys):
    out = tmp_path / "arch"
    rc = S.main(
        [
            str(out),
            "--cameras",
            "1",
            "--videos-per-camera",
            "2",
            "--duration",
            "2",
            "--width",
            "160",
            "--height",
            "120",
            "--fps",
            "10",
            "--seed",
            "4",
        ]
    )
    assert rc == 0
    truth = load_truth(str(out))
    assert [v.key for v in truth.videos] == sorted(p.relative_to(out).as_posix() for p in out.rglob("*.mp4"))
    assert (out / "_truth" / "Temporal_Anomaly_Annotation.txt").read_text().count("\n") == 2
    assert "ground truth" in capsys.readouterr().out
    assert S.main([str(out), "--kinds", "fighting,teleport"]) == 2
    assert "teleport" in capsys.readouterr().err


def test_event_dict_round_trip():
    ev = Event("fighting", 1.5, 4.0, (1, 2, 30, 40), "Two people start fighting.")
    assert Event.from_dict(json.loads(json.dumps(ev.to_dict(30.0)))) == ev
    assert ev.frames(30.0) == (45, 120)


@pytest.mark.timeout(120)
def test_event_start_range_spreads_events_over_the_video(tmp_path):
    truth = S.generate_archive(
        str(tmp_path / "arch"), cameras=2, videos_per_camera=4, duration_s=10.0, width=64, height=48, fps=5.0,
        anomaly_kinds=("fighting", "running", "collision"), normal_fraction=0.0, seed=1, event_start=(0.05, 0.6),
    )  # fmt: skip
    starts = [v.events[0].start_s / v.duration_s for v in truth.videos]
    assert all(0.05 - 1e-6 <= s <= 0.6 + 0.01 for s in starts)
    assert max(starts) - min(starts) > 0.2  # not the scene default's narrow 25-45% band
    with pytest.raises(ValueError, match="event_start"):
        S.generate_archive(str(tmp_path / "bad"), cameras=1, videos_per_camera=1, event_start=(0.5, 1.2))
