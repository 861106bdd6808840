"""A low threshold per anomaly kind (IntervalConfig.low_by_kind): cut, calibrated on validation
videos, stored with the classifier and used by the interval stage."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from va_gpt.checkpoints.classifier import save_classifier
from va_gpt.config import IntervalConfig, load_preset
from va_gpt.models.classifier import KINDS, AnomalyClassifier
from va_gpt.ops.intervals import resolve_intervals, scores_to_intervals
from va_gpt.pipeline.run import Job, interval_settings, summarize_video
from va_gpt.train.calibrate import calibrate_low_by_kind, interval_scores

TINY = load_preset("tiny")
CFG = IntervalConfig(smooth_s=0.0, high=0.9, low=0.9, min_len_s=1.0, merge_gap_s=0.5)


def _left_object(n=40, start=10, kind="abandoned_object"):
    """A bag left at frame `start`: 0.95 while it is put down (4 frames), then 0.6 while it stays
    to the end; the kind head says `kind` from the start on."""
    t = np.arange(n) / 2.0
    s = np.full(n, 0.1)
    s[start : start + 4] = 0.95
    s[start + 4 :] = 0.6
    kp = np.tile(np.eye(len(KINDS))[0], (n, 1))
    kp[start:] = np.eye(len(KINDS))[KINDS.index(kind)]
    return t, s, kp


@pytest.mark.timeout(30)
def test_an_interval_continues_above_its_kind_s_own_low():
    t, s, kp = _left_object()
    cfg = dataclasses.replace(CFG, low_by_kind=(("abandoned_object", 0.5),))
    assert [(iv.start_s, iv.end_s) for iv in scores_to_intervals(t, s, CFG, kind_prob=kp, kinds=KINDS)] == [
        (5.0, 7.0)
    ]
    (iv,) = scores_to_intervals(t, s, cfg, kind_prob=kp, kinds=KINDS)
    assert (iv.start_s, iv.end_s) == (5.0, 20.0)  # to the end, while the bag is there
    # another kind keeps the common low; without the kind head's probabilities nothing changes
    t, s, kp = _left_object(kind="falling")
    assert [(iv.start_s, iv.end_s) for iv in scores_to_intervals(t, s, cfg, kind_prob=kp, kinds=KINDS)] == [
        (5.0, 7.0)
    ]
    assert [(iv.start_s, iv.end_s) for iv in scores_to_intervals(t, s, cfg)] == [(5.0, 7.0)]


@pytest.mark.timeout(30)
def test_a_kind_s_low_moves_the_ends_of_an_interval_and_never_makes_one():
    """A 1 s blip over `high` on a normal scene at 0.6 is shorter than min_len_s: fighting's low
    of 0.5 would join it to 20 s of ordinary footage; it stays dropped."""
    t, s, kp = _left_object(kind="fighting")
    s[14:] = 0.6
    s[10:12], s[12:14] = 0.95, 0.6
    cfg = dataclasses.replace(CFG, min_len_s=2.0, low_by_kind=(("fighting", 0.5),))
    assert scores_to_intervals(t, s, cfg, kind_prob=kp, kinds=KINDS) == []


@pytest.mark.timeout(30)
def test_a_kind_s_higher_low_ends_its_interval_sooner():
    t, s, kp = _left_object(kind="falling")
    wide = dataclasses.replace(CFG, low=0.5)
    (iv,) = scores_to_intervals(t, s, wide, kind_prob=kp, kinds=KINDS)
    assert iv.end_s == 20.0
    (iv,) = scores_to_intervals(
        t, s, dataclasses.replace(wide, low_by_kind=(("falling", 0.9),)), kind_prob=kp, kinds=KINDS
    )
    assert (iv.start_s, iv.end_s) == (5.0, 7.0)


@pytest.mark.timeout(30)
def test_a_bad_low_by_kind_is_refused_naming_it():
    base = dict(smooth_s=0.0, high=0.9, low=0.9, min_len_s=1.0, merge_gap_s=0.5)
    ok = resolve_intervals(TINY.intervals, {**base, "low_by_kind": {"falling": 0.6, "abandoned_object": 0.2}})
    assert ok.low_by_kind == (("abandoned_object", 0.2), ("falling", 0.6))
    assert resolve_intervals(TINY.intervals, base).low_by_kind == ()  # a checkpoint from before
    for bad in ({"falling": "0.5"}, {"falling": float("nan")}, {"falling": 1.5}, [["falling", 0.5]]):
        with pytest.raises(ValueError, match="clf/x: calibration low_by_kind"):
            resolve_intervals(TINY.intervals, {**base, "low_by_kind": bad}, "clf/x")


def _validation(seed=0):
    """12 videos: left bags whose score sinks to 0.6 while the truth runs to the end, falls that
    score 0.95 over their truth then 0.6 (a person lying still), and normal videos."""
    rng = np.random.default_rng(seed)
    videos, kps, truth = [], [], []
    for i in range(12):
        start = int(rng.integers(8, 16))
        if i % 3 == 0:
            t, s, kp = _left_object(start=start)
            truth.append([(t[start], 20.0)])
        elif i % 3 == 1:
            t, s, kp = _left_object(start=start, kind="falling")
            truth.append([(t[start], t[start] + 2.0)])
        else:
            t, s, kp = _left_object(start=start, kind="running")
            s[:] = 0.1 + 0.05 * rng.random(len(t))
            kp[:] = np.eye(len(KINDS))[0]
            truth.append([])
        videos.append((t, s))
        kps.append(kp)
    return videos, kps, truth


@pytest.mark.timeout(30)
def test_calibration_lowers_only_the_kind_that_needs_it():
    videos, kps, truth = _validation()
    lows, metrics = calibrate_low_by_kind(videos, kps, truth, CFG, KINDS)
    assert set(lows) == {"abandoned_object"} and lows["abandoned_object"] <= 0.6  # the falls fit already
    before = interval_scores(videos, truth, CFG, 0, kps, KINDS)["by_iou"]["0.5"]["recall"]
    assert before == pytest.approx(4 / 8) and metrics["by_iou"]["0.5"]["recall"] == 1.0
    assert metrics["false_per_normal"] == 0.0
    # nothing to gain: nothing stored
    fits = [[(t[0], t[0])] if not g else g for (t, _), g in zip(videos, truth)]
    assert calibrate_low_by_kind(videos[1::3], kps[1::3], fits[1::3], CFG, KINDS)[0] == {}


@pytest.mark.timeout(60)
def test_the_interval_stage_uses_the_stored_low_by_kind(tmp_path):
    clf = AnomalyClassifier(10, TINY.classifier, patch_features=7, grid=(4, 4))
    cal = {**dataclasses.asdict(CFG), "low_by_kind": {"abandoned_object": 0.5}}
    del cal["normal_bias"]
    url = str(tmp_path / "clf")
    save_classifier(clf, url, {"recipe": "x"}, calibration=cal)
    job = Job(preset=load_preset("demo"), classifier_dir=url, describe=False)
    assert interval_settings(job).intervals.low_by_kind == (("abandoned_object", 0.5),)
    t, s, kp = _left_object()
    row = {
        "video_id": np.array(["v"], dtype=object),
        "uri": np.array(["file:///v.mp4"], dtype=object),
        "clip_index": np.array([0]),
        "t": np.array([t], dtype=object),
        "score": np.array([s.astype(np.float32)], dtype=object),
        "kind_prob": np.array([kp.astype(np.float32)], dtype=object),
        "diff_energy": np.array([s.astype(np.float32)], dtype=object),
        "box": np.array([np.zeros((len(t), 4), np.float32)], dtype=object),
        "duration_s": np.array([20.0]),
        "native_fps": np.array([2.0]),
    }
    (iv,) = json.loads(summarize_video(row, job)["intervals"][0])
    assert (iv["start_s"], iv["end_s"], iv["label"]) == (5.0, 20.0, "abandoned_object")
