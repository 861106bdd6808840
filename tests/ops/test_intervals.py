"""scores_to_intervals on crafted score curves."""

from __future__ import annotations

import numpy as np
import pytest

from va_gpt.config import IntervalConfig
from va_gpt.ops.intervals import (
    Interval,
    interval_kind_probs,
    label_of,
    peak_time,
    scores_to_intervals,
    smooth_scores,
)

FPS = 2.0


def cfg(**kw):
    base = dict(smooth_s=0.0, high=0.6, low=0.4, min_len_s=1.0, merge_gap_s=2.0)
    base.update(kw)
    return IntervalConfig(**base)


def curve(n, *spans, level=0.9, base=0.1):
    s = np.full(n, base)
    for a, b in spans:
        s[a:b] = level
    return np.arange(n) / FPS, s


@pytest.mark.timeout(30)
def test_one_interval_times_and_scores():
    t, s = curve(40, (10, 20))
    s[12] = 0.95
    (iv,) = scores_to_intervals(t, s, cfg())
    assert iv.start_s == 5.0 and iv.end_s == 10.0  # frames 10..19, each 0.5 s
    assert iv.peak_score == pytest.approx(0.95)
    assert iv.mean_score == pytest.approx((0.9 * 9 + 0.95) / 10)
    assert iv.box is None


@pytest.mark.timeout(30)
def test_gap_merged_or_not():
    # frames 10..19 and 24..33: gap from 10.0 s to 12.0 s = 2.0 s
    t, s = curve(50, (10, 20), (24, 34))
    merged = scores_to_intervals(t, s, cfg(merge_gap_s=2.0))
    assert [(i.start_s, i.end_s) for i in merged] == [(5.0, 17.0)]
    assert merged[0].mean_score == pytest.approx((20 * 0.9 + 4 * 0.1) / 24)  # gap frames count
    split = scores_to_intervals(t, s, cfg(merge_gap_s=1.5))
    assert [(i.start_s, i.end_s) for i in split] == [(5.0, 10.0), (12.0, 17.0)]


@pytest.mark.timeout(30)
def test_short_spike_dropped_and_fragments_add_up():
    t, s = curve(40, (10, 11))  # one frame = 0.5 s
    assert scores_to_intervals(t, s, cfg(min_len_s=1.0)) == []
    assert len(scores_to_intervals(t, s, cfg(min_len_s=0.5))) == 1
    # two 0.5 s spikes 1 s apart merge into one 2 s interval that passes min_len 1.5
    t, s = curve(40, (10, 11), (13, 14))
    (iv,) = scores_to_intervals(t, s, cfg(min_len_s=1.5, merge_gap_s=1.0))
    assert (iv.start_s, iv.end_s) == (5.0, 7.0)


@pytest.mark.timeout(30)
def test_hysteresis():
    t, s = curve(40, (10, 30))
    s[18:21] = 0.5  # dip between low and high: does not split
    (iv,) = scores_to_intervals(t, s, cfg(merge_gap_s=0.0))
    assert (iv.start_s, iv.end_s) == (5.0, 15.0)
    s[18:21] = 0.3  # dip below low: splits (no merging)
    assert len(scores_to_intervals(t, s, cfg(merge_gap_s=0.0))) == 2
    # A plateau between low and high never starts an interval ...
    t, s = curve(40, (10, 30), level=0.5)
    assert scores_to_intervals(t, s, cfg()) == []
    # ... but extends one that crossed high: start where it rose above low.
    s[25] = 0.9
    (iv,) = scores_to_intervals(t, s, cfg())
    assert (iv.start_s, iv.end_s) == (5.0, 15.0)


@pytest.mark.timeout(30)
def test_interval_at_start_and_end():
    t, s = curve(20, (0, 4), (16, 20))
    ivs = scores_to_intervals(t, s, cfg(merge_gap_s=0.0))
    assert [(i.start_s, i.end_s) for i in ivs] == [(0.0, 2.0), (8.0, 10.0)]


@pytest.mark.timeout(30)
def test_empty_and_all_anomalous():
    assert scores_to_intervals(np.array([]), np.array([]), cfg()) == []
    t, s = curve(6, (0, 6))
    assert scores_to_intervals(t, s, cfg()) == [Interval(0.0, 3.0, 0.9, 0.9, None)]
    # a single frame: length 0 unless min_len is 0
    assert scores_to_intervals(np.array([3.0]), np.array([0.9]), cfg()) == []
    assert len(scores_to_intervals(np.array([3.0]), np.array([0.9]), cfg(min_len_s=0.0))) == 1


@pytest.mark.timeout(30)
def test_smoothing_removes_a_one_frame_spike_but_keeps_a_plateau():
    t, s = curve(40, (10, 11), (25, 33))
    ivs = scores_to_intervals(t, s, cfg(smooth_s=2.0, min_len_s=0.0, merge_gap_s=0.0))
    # spike: smoothed over 5 frames = (0.9 + 4 * 0.1) / 5 = 0.26 < low; plateau survives
    assert len(ivs) == 1 and 12.0 <= ivs[0].start_s <= 13.0 and 16.0 <= ivs[0].end_s <= 17.0


@pytest.mark.timeout(30)
def test_smoothing_matches_loop_on_irregular_t():
    rng = np.random.default_rng(0)
    t = np.cumsum(rng.uniform(0.1, 1.5, 50))
    s = rng.uniform(size=50)
    got = smooth_scores(t, s, 2.0)
    ref = [np.mean([s[j] for j in range(50) if abs(t[j] - t[i]) <= 1.0]) for i in range(50)]
    np.testing.assert_allclose(got, ref)


@pytest.mark.timeout(30)
def test_irregular_t_uses_time_not_frames():
    # frames at 0..9 s, then a hole, then 20..29 s; the high scores sit on both sides of the hole
    t = np.concatenate([np.arange(10.0), np.arange(20.0, 30.0)])
    s = np.full(20, 0.1)
    s[7:13] = 0.9  # 7, 8, 9 s and 20, 21, 22 s
    ivs = scores_to_intervals(t, s, cfg(merge_gap_s=2.0, min_len_s=0.0))
    # frame 9 covers [9, 20) since the next frame is at 20 s: one interval 7..23 s
    assert [(i.start_s, i.end_s) for i in ivs] == [(7.0, 23.0)]


@pytest.mark.timeout(30)
def test_boxes_union_ignoring_nan():
    t, s = curve(20, (5, 10))
    boxes = np.tile([0.4, 0.4, 0.5, 0.5], (20, 1))
    boxes[6] = [0.1, 0.3, 0.45, 0.9]
    boxes[7] = np.nan
    boxes[0] = [0.0, 0.0, 1.0, 1.0]  # outside the interval: ignored
    (iv,) = scores_to_intervals(t, s, cfg(), boxes)
    assert iv.box == pytest.approx((0.1, 0.3, 0.5, 0.9))


@pytest.mark.timeout(30)
def test_bad_input_errors():
    t, s = curve(10, (2, 5))
    s[7] = np.nan
    with pytest.raises(ValueError, match="frame index 7"):
        scores_to_intervals(t, s, cfg())
    t, s = curve(10, (2, 5))
    t[4] = t[3]
    with pytest.raises(ValueError, match=r"t\[4\]"):
        scores_to_intervals(t, s, cfg())
    with pytest.raises(ValueError, match="same length"):
        scores_to_intervals(t[:5], s, cfg())
    with pytest.raises(ValueError, match="boxes"):
        scores_to_intervals(*curve(10), cfg(), np.zeros((10, 3)))


def test_peak_time():
    t = np.arange(10.0)
    s = np.array([0, 0, 0.5, 0.9, 0.2, 0, 0, 0.95, 0, 0])
    assert peak_time(t, s, 2.0, 5.0) == 3.0
    assert peak_time(t, s, 2.2, 2.4) == pytest.approx(2.3)  # no score inside: the middle
    assert peak_time(np.zeros(0), np.zeros(0), 1.0, 3.0) == 2.0


@pytest.mark.timeout(30)
def test_a_held_tail_is_not_evidence_of_its_own():
    # A classifier with a lookahead of 8 frames has no outputs of its own for a video's last 8
    # frames: they hold the score of frame 31 (models.classifier.align_outputs).
    c, held = cfg(min_len_s=2.0), 8
    t, s = curve(40, (31, 40))  # one borderline frame, held over the tail: 4.5 s above `high`
    assert len(scores_to_intervals(t, s, c)) == 1  # counted as evidence it would be an interval
    assert scores_to_intervals(t, s, c, held=held) == []
    # an event that runs to the end with 2 s of scored frames is kept, its held tail included
    t, s = curve(40, (28, 40))
    (iv,) = scores_to_intervals(t, s, c, held=held)
    assert (iv.start_s, iv.end_s) == (14.0, 20.0)
    # frames before the tail are untouched
    t, s = curve(40, (10, 14))
    assert scores_to_intervals(t, s, c, held=held) == scores_to_intervals(t, s, c)
    # a video no longer than the tail keeps its first frame as scored
    t, s = curve(6, (0, 6))
    assert scores_to_intervals(t, s, cfg(min_len_s=0.5), held=held) != []
    with pytest.raises(ValueError, match="held"):
        scores_to_intervals(t, s, c, held=-1)


@pytest.mark.timeout(30)
def test_interval_kind_is_read_where_the_event_scores_highest():
    # A fall (frames 10-15) and the person lying still after it (16-23): the interval spans both,
    # and over the still frames the kind head reads a left object.
    kinds = ("normal", "falling", "abandoned_object")
    t, s = curve(30, (10, 16), level=0.99)
    s[16:24] = np.linspace(0.9, 0.75, 8)  # the score fades while the person lies still
    kp = np.tile([0.8, 0.1, 0.1], (30, 1))
    kp[10:16] = [0.05, 0.55, 0.40]
    kp[16:24] = [0.05, 0.15, 0.80]
    # equal scores: every frame of the interval counts, and the still frames outweigh the fall
    flat = np.full(30, 0.9)
    assert label_of(interval_kind_probs(t, kp, kinds, 5.0, 12.0, flat), kinds)[0] == "abandoned_object"
    kind, p = label_of(interval_kind_probs(t, kp, kinds, 5.0, 12.0, s), kinds)
    assert kind == "falling" and p == pytest.approx((6 * 0.55 + 0.15) / 7 / 0.95)  # the fall and frame 16
    assert label_of(interval_kind_probs(t, None, kinds, 5.0, 12.0, s), kinds) == (None, None)
    # the whole distribution there, normal included: what describe's judgement prior reads
    probs = interval_kind_probs(t, kp, kinds, 5.0, 12.0, s)
    assert probs.sum() == pytest.approx(1.0) and probs[0] == pytest.approx(0.05)
    assert label_of(probs, kinds) == (kind, p)
    assert interval_kind_probs(t, kp, kinds, 30.0, 40.0, s) is None  # no frame inside
    assert interval_kind_probs(t, kp[:, :2], kinds, 5.0, 12.0, s) is None  # other kinds than the head's
