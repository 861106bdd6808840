"""va_gpt.ops.metrics against sklearn, plain-loop references and hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_auc_score

from va_gpt.ops.metrics import (
    expand_scores_to_frames,
    frame_ap,
    frame_auc,
    interval_precision_recall,
    match_intervals,
    pairwise_iou,
    temporal_iou,
    video_bootstrap_ci,
)

# --------------------------------------------------------------------------- AUC / AP

SK_Y = np.array([0, 0, 1, 1])
SK_S = np.array([0.1, 0.4, 0.35, 0.8])  # sklearn's documented example


@pytest.mark.timeout(30)
def test_auc_and_ap_known_values():
    assert frame_auc(SK_S, SK_Y) == pytest.approx(0.75)
    # thresholds 0.8, 0.4, 0.35, 0.1 -> (R, P) = (.5, 1), (.5, .5), (1, 2/3), (1, .5)
    assert frame_ap(SK_S, SK_Y) == pytest.approx(0.5 * 1 + 0.5 * (2 / 3))
    trapezoid = 0.5 * (1 + 1) / 2 + 0.0 + 0.5 * (0.5 + 2 / 3) / 2 + 0.0
    assert frame_ap(SK_S, SK_Y, reading="trapezoid") == pytest.approx(trapezoid)
    assert frame_ap(SK_S, SK_Y, reading="sklearn") == pytest.approx(average_precision_score(SK_Y, SK_S))

    perfect = np.array([0.1, 0.2, 0.9, 0.8])
    assert frame_auc(perfect, SK_Y) == 1.0
    assert frame_ap(perfect, SK_Y) == 1.0 and frame_ap(perfect, SK_Y, "trapezoid") == 1.0
    assert frame_auc(-perfect, SK_Y) == 0.0
    assert frame_auc(np.full(4, 0.5), SK_Y) == 0.5  # all tied


@pytest.mark.timeout(60)
@pytest.mark.parametrize("tied", [False, True])
def test_auc_and_both_ap_readings_match_sklearn_on_random_inputs(tied):
    rng = np.random.default_rng(7 + tied)
    for _ in range(50):
        n = int(rng.integers(2, 400))
        y = rng.integers(0, 2, n)
        y[0], y[1] = 0, 1
        s = rng.integers(0, 8, n) / 8.0 if tied else rng.normal(size=n) + 0.8 * y
        assert frame_auc(s, y) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
        assert frame_ap(s, y, "sklearn") == pytest.approx(average_precision_score(y, s), abs=1e-12)
        precision, recall, _ = precision_recall_curve(y, s)
        assert frame_ap(s, y, "trapezoid") == pytest.approx(auc(recall, precision), abs=1e-12)


@pytest.mark.timeout(30)
def test_ap_readings_differ():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 500)
    s = rng.normal(size=500) + y
    assert abs(frame_ap(s, y, "sklearn") - frame_ap(s, y, "trapezoid")) > 1e-4


@pytest.mark.timeout(30)
def test_frame_metric_input_errors():
    with pytest.raises(ValueError, match="both classes"):
        frame_auc([0.1, 0.2], [1, 1])
    with pytest.raises(ValueError, match="both classes"):
        frame_ap([0.1, 0.2], [0, 0])
    with pytest.raises(ValueError, match="differ in length"):
        frame_auc([0.1, 0.2, 0.3], [0, 1])
    with pytest.raises(ValueError, match="NaN"):
        frame_auc([0.1, float("nan")], [0, 1])
    with pytest.raises(ValueError, match="0/1"):
        frame_auc([0.1, 0.2], [0, 2])
    with pytest.raises(ValueError, match="reading"):
        frame_ap(SK_S, SK_Y, reading="voc")


# --------------------------------------------------------------------------- score expansion


def _expand_loop(t_s, scores, n_frames, fps):
    out = []
    for i in range(n_frames):
        j = 0
        for k, t in enumerate(t_s):
            if t <= i / fps:
                j = k
        out.append(scores[j])
    return np.array(out)


@pytest.mark.timeout(30)
def test_expand_scores_holds_latest_sample():
    # 1 sample/s onto 30 fps: frames 0..29 take sample 0, 30..59 sample 1, ...
    out = expand_scores_to_frames([0.0, 1.0, 2.0], [0.1, 0.5, 0.9], 75, 30.0)
    assert out.shape == (75,)
    assert np.all(out[:30] == 0.1) and np.all(out[30:60] == 0.5) and np.all(out[60:] == 0.9)
    # frames before the first sample take the first score
    out = expand_scores_to_frames([0.5, 1.0], [0.2, 0.7], 40, 30.0)
    assert np.all(out[:30] == 0.2) and np.all(out[30:] == 0.7)
    # 3 fps samples whose times are floats (k / 3) still cover frame 10 exactly at 1/3 s
    t = np.arange(9) / 3.0
    out = expand_scores_to_frames(t, np.arange(9.0), 90, 30.0)
    assert np.array_equal(out, np.repeat(np.arange(9.0), 10))
    assert out.dtype == np.float64
    assert expand_scores_to_frames([0.0], np.array([0.5], dtype=np.float32), 3, 30).dtype == np.float32


@pytest.mark.timeout(30)
def test_expand_scores_matches_plain_loop_on_irregular_times():
    rng = np.random.default_rng(0)
    for _ in range(20):
        t = np.sort(rng.uniform(0, 10, int(rng.integers(1, 30))))
        s = rng.random(t.size)
        n = int(rng.integers(1, 320))
        np.testing.assert_array_equal(expand_scores_to_frames(t, s, n, 30.0), _expand_loop(t, s, n, 30.0))


@pytest.mark.timeout(30)
def test_expand_scores_errors():
    with pytest.raises(ValueError, match="non-decreasing"):
        expand_scores_to_frames([1.0, 0.0], [0.1, 0.2], 10, 30)
    with pytest.raises(ValueError, match="differ in length"):
        expand_scores_to_frames([0.0, 1.0], [0.1], 10, 30)
    with pytest.raises(ValueError, match="no samples"):
        expand_scores_to_frames([], [], 10, 30)
    assert expand_scores_to_frames([], [], 0, 30).shape == (0,)


# --------------------------------------------------------------------------- intervals


@pytest.mark.timeout(30)
def test_temporal_iou():
    assert temporal_iou((0, 10), (5, 15)) == pytest.approx(5 / 15)
    assert temporal_iou((0, 10), (0, 10)) == 1.0
    assert temporal_iou((0, 10), (2, 4)) == pytest.approx(0.2)
    assert temporal_iou((0, 10), (10, 20)) == 0.0  # touching
    assert temporal_iou((0, 10), (30, 40)) == 0.0
    assert temporal_iou((3, 3), (3, 3)) == 0.0
    with pytest.raises(ValueError):
        temporal_iou((5, 1), (0, 2))
    iou = pairwise_iou([(0, 10), (30, 40)], [(5, 15), (0, 10), (35, 45)])
    np.testing.assert_allclose(iou, [[5 / 15, 1.0, 0.0], [0.0, 0.0, 5 / 15]])
    assert pairwise_iou([], [(0, 1)]).shape == (0, 1)


@pytest.mark.timeout(30)
def test_match_intervals_one_to_one_highest_iou_first():
    gt = [(11, 21), (7, 17)]  # X, Y
    pred = [(10, 20), (11, 21)]  # P0: X 0.818, Y 0.538 ; P1: X 1.0, Y 0.43
    tp, fp, fn, matches = match_intervals(pred, gt, 0.5)
    # P1-X goes first (1.0); P0 then takes Y. Matching in pred order would leave Y unmatched.
    assert (tp, fp, fn) == (2, 0, 0)
    assert [(p, g) for p, g, _ in matches] == [(1, 0), (0, 1)]
    assert matches[0][2] == 1.0 and matches[1][2] == pytest.approx(7 / 13)

    # threshold: at 0.9 only the exact pair survives
    assert match_intervals(pred, gt, 0.9)[:3] == (1, 1, 1)
    # one prediction cannot match two ground truths
    tp, fp, fn, _ = match_intervals([(0, 30)], [(0, 10), (20, 30)], 0.3)
    assert (tp, fp, fn) == (1, 0, 1)
    # two predictions on one ground truth: one tp, one fp; tie -> lower pred index
    tp, fp, fn, matches = match_intervals([(1, 10), (0, 9), (50, 60)], [(0, 10)], 0.5)
    assert (tp, fp, fn) == (1, 2, 0) and matches[0][:2] == (0, 0)
    # disjoint intervals never match, even at threshold 0
    assert match_intervals([(0, 1)], [(5, 6)], 0.0)[:3] == (0, 1, 1)
    assert match_intervals([], [(5, 6)], 0.5)[:3] == (0, 0, 1)
    assert match_intervals([(5, 6)], [], 0.5)[:3] == (0, 1, 0)


@pytest.mark.timeout(30)
def test_interval_precision_recall():
    pred = {"a": [(0, 10), (40, 50)], "b": [(0, 4)], "c": [(3, 5)]}
    gt = {"a": [(1, 11), (20, 30)], "b": [(0, 10)], "d": [(0, 1)]}
    res = interval_precision_recall(pred, gt, thresholds=(0.3, 0.5, 0.9))
    # IoUs: a: (0,10)-(1,11) = 9/11 ; b: (0,4)-(0,10) = 0.4 ; c: fp ; d: fn
    r3 = res[0.3]
    assert (r3.tp, r3.fp, r3.fn) == (2, 2, 2)
    assert r3.precision == 0.5 and r3.recall == 0.5 and r3.f1 == pytest.approx(0.5)
    r5 = res[0.5]
    assert (r5.tp, r5.fp, r5.fn) == (1, 3, 3)
    assert r5.precision == 0.25 and r5.recall == 0.25
    r9 = res[0.9]
    assert (r9.tp, r9.fp, r9.fn) == (0, 4, 4) and r9.f1 == 0.0
    assert set(res) == {0.3, 0.5, 0.9}
    empty = interval_precision_recall({}, {}, thresholds=(0.5,))[0.5]
    assert (empty.precision, empty.recall) == (1.0, 1.0)
    missed = interval_precision_recall({}, {"a": [(0, 1)]}, thresholds=(0.5,))[0.5]
    assert (missed.precision, missed.recall) == (0.0, 0.0)


def test_video_bootstrap_ci_covers_the_figure_and_narrows_with_more_videos():
    rng = np.random.default_rng(0)

    def archive(n):  # per video: 1 if its detector was right, 70 % of them
        return (rng.random(n) < 0.7).astype(float)

    small, big = archive(24), archive(384)
    lo, hi = video_bootstrap_ci(lambda idx: small[idx].mean(), len(small))
    assert lo <= small.mean() <= hi
    blo, bhi = video_bootstrap_ci(lambda idx: big[idx].mean(), len(big))
    assert (bhi - blo) < 0.5 * (hi - lo)  # 16x the videos: about a quarter of the width
    assert video_bootstrap_ci(lambda idx: small[idx].mean(), 24, seed=3) == video_bootstrap_ci(
        lambda idx: small[idx].mean(), 24, seed=3
    )
    assert video_bootstrap_ci(lambda idx: None, 24) is None  # no draw gives a value
    with pytest.raises(ValueError, match="at least one video"):
        video_bootstrap_ci(lambda idx: 0.0, 0)
    with pytest.raises(ValueError, match="level"):
        video_bootstrap_ci(lambda idx: 0.0, 3, level=1.0)


def test_a_bootstrap_over_cameras_is_wider_when_a_cameras_videos_go_together():
    # 8 cameras x 12 videos; whether a video's event is found depends on its camera only
    cams = np.repeat(np.arange(8), 12)
    found = (cams % 2 == 0).astype(float)
    by_video = video_bootstrap_ci(lambda idx: found[idx].mean(), 96)
    by_camera = video_bootstrap_ci(lambda idx: found[idx].mean(), 96, groups=list(cams))
    assert by_camera[0] <= 0.5 <= by_camera[1]
    assert by_camera[1] - by_camera[0] > 2 * (by_video[1] - by_video[0])
    # one video per camera: the same draws as over videos
    assert video_bootstrap_ci(lambda idx: found[idx].mean(), 96, groups=list(range(96))) == by_video
    with pytest.raises(ValueError, match="one group per video: 3 for 96"):
        video_bootstrap_ci(lambda idx: 0.0, 96, groups=[0, 1, 2])
