"""Each anomaly kind's ground truth matches the pixels: the event box bounds what it draws, motion or
brightness rises in it during the event, a fallen person and an abandoned bag stay still.
"""

from __future__ import annotations

import numpy as np
import pytest

from va_gpt.synthetic.anomalies import ALL_KINDS
from va_gpt.synthetic.scene import make_scene

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


def _iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


def _overlaps(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


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
