"""Frame and interval metrics, no I/O.

Frame level, as the field computes them (README of shared/benchmarks):

- :func:`expand_scores_to_frames` holds each sampled score on every native
  frame up to the next sample, so scores and per-frame ground truth line up;
- :func:`frame_auc`: ROC AUC over all frames of all test videos concatenated
  (UCF-Crime, ShanghaiTech): sklearn ``roc_auc_score``;
- :func:`frame_ap`: XD-Violence AP in both readings in use: ``"sklearn"`` =
  ``average_precision_score`` (step-wise, VadCLIP) and ``"trapezoid"`` =
  ``auc(recall, precision)`` over ``precision_recall_curve`` (RTFM, LAVAD, VERA).
  Report both; they differ by a few points on the same scores.
  scikit-learn comes with the ``eval`` extra and is imported where used.

Interval level: :func:`temporal_iou` (the one temporal IoU of the project),
:func:`match_intervals` (greedy one-to-one by IoU), :func:`interval_precision_recall`
at IoU thresholds. Text metrics: va_gpt.ops.text_metrics.

Uncertainty: :func:`video_bootstrap_ci` resamples whole videos, or whole cameras when the videos
share them (frames of one video are not independent: one normal night video that scores high
moves a 24-video archive's frame AUC by several points; and videos of one camera share its scene:
on a 96-video archive of 8 cameras one camera's own frame AUC was 0.60 and another's 0.999), so a
figure comes with the range another archive of the same size could give.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "IntervalScores",
    "expand_scores_to_frames",
    "frame_ap",
    "frame_auc",
    "interval_precision_recall",
    "match_intervals",
    "pairwise_iou",
    "temporal_iou",
    "video_bootstrap_ci",
]


# --------------------------------------------------------------------------- frame level


def _binary_inputs(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = np.asarray(labels).reshape(-1)
    if s.shape != y.shape:
        raise ValueError(f"scores and labels differ in length: {s.shape[0]} vs {y.shape[0]}")
    if s.size == 0:
        raise ValueError("empty scores")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores contain NaN or inf")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("labels must be 0/1")
    y = y.astype(bool)
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == y.size:
        raise ValueError(f"labels need both classes, got {n_pos} positives of {y.size}")
    return s, y


def frame_auc(scores, labels) -> float:
    """ROC AUC of scores (N,) against 0/1 labels (N,) (sklearn ``roc_auc_score``; tied scores count
    half). Both classes must be present."""
    from sklearn.metrics import roc_auc_score

    s, y = _binary_inputs(scores, labels)
    return float(roc_auc_score(y, s))


def video_bootstrap_ci(
    statistic,
    n_videos: int,
    resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    groups: Sequence | None = None,
) -> tuple[float, float] | None:
    """Percentile bootstrap over videos: `statistic(indices)` (an int array of video indices in
    0..n_videos-1, drawn with replacement) -> float, or None where the draw cannot give one (e.g.
    no event frame). With `groups` (one id per video, e.g. its camera) whole groups are drawn
    with replacement, as many as there are, and each brings all its videos: the unit that varies
    independently. Returns the (lo, hi) `level` interval of the statistic, or None when fewer
    than half the draws gave a value. Deterministic for a seed."""
    if n_videos < 1:
        raise ValueError(f"a bootstrap over videos needs at least one video, got {n_videos}")
    if resamples < 1 or not 0.0 < level < 1.0:
        raise ValueError(f"resamples must be >= 1 and level in (0, 1), got {resamples}, {level}")
    if groups is not None and len(groups) != n_videos:
        raise ValueError(f"groups must name one group per video: {len(groups)} for {n_videos} videos")
    units = [np.arange(n_videos)[i : i + 1] for i in range(n_videos)]
    if groups is not None:
        ids = {g: k for k, g in enumerate(dict.fromkeys(groups))}
        members = [[] for _ in ids]
        for v, g in enumerate(groups):
            members[ids[g]].append(v)
        units = [np.asarray(m) for m in members]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        draw = rng.integers(0, len(units), len(units))
        v = statistic(np.concatenate([units[u] for u in draw]))
        if v is not None:
            values.append(float(v))
    if len(values) < resamples / 2:
        return None
    lo, hi = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def _pr_curve(s: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall at every distinct score threshold, highest threshold first."""
    order = np.argsort(-s, kind="mergesort")
    ss, ys = s[order], y[order]
    last_of_run = np.r_[ss[1:] != ss[:-1], True]  # threshold = each distinct score
    tps = np.cumsum(ys)[last_of_run].astype(np.float64)
    fps = np.cumsum(~ys)[last_of_run].astype(np.float64)
    precision = tps / (tps + fps)
    recall = tps / tps[-1]
    return precision, recall


def frame_ap(scores, labels, reading: str = "sklearn") -> float:
    """Average precision of scores (N,) against 0/1 labels (N,), in one of the field's two readings.

    reading="sklearn":   sum_k (R_k - R_{k-1}) * P_k over distinct thresholds,
                         highest first, R_0 = 0 (sklearn ``average_precision_score``,
                         VadCLIP's XD-Violence AP).
    reading="trapezoid": trapezoidal area under the precision-recall points
                         of ``precision_recall_curve`` plus its (R=0, P=1) end
                         point, i.e. ``sklearn.metrics.auc(recall, precision)``
                         (RTFM, LAVAD, VERA).
    """
    s, y = _binary_inputs(scores, labels)
    if reading == "sklearn":
        from sklearn.metrics import average_precision_score

        return float(average_precision_score(y, s))
    if reading == "trapezoid":
        precision, recall = _pr_curve(s, y)
        r = np.r_[0.0, recall]
        p = np.r_[1.0, precision]
        return float(np.sum(np.diff(r) * (p[1:] + p[:-1]) / 2.0))
    raise ValueError(f"reading must be 'sklearn' or 'trapezoid', got {reading!r}")


def expand_scores_to_frames(t_s, scores, n_frames: int, native_fps: float) -> np.ndarray:
    """Hold sampled scores onto every native frame.

    t_s:     (T,) sample times in seconds, non-decreasing
    scores:  (T,) one score per sample
    returns: (n_frames,) float; native frame i (at i / native_fps) takes the
             score of the latest sample at or before it. Frames before the
             first sample take the first sample's score. Comparison is made in
             frame units with a 1e-6 tolerance, so a sample at 1/3 s covers
             frame 10 at 30 fps despite float rounding.
    """
    t = np.asarray(t_s, dtype=np.float64).reshape(-1)
    v = np.asarray(scores)
    v = v.astype(v.dtype if np.issubdtype(v.dtype, np.floating) else np.float64).reshape(-1)
    if t.shape != v.shape:
        raise ValueError(f"t_s and scores differ in length: {t.shape[0]} vs {v.shape[0]}")
    if n_frames < 0:
        raise ValueError(f"n_frames must be >= 0, got {n_frames}")
    if native_fps <= 0:
        raise ValueError(f"native_fps must be > 0, got {native_fps}")
    if n_frames == 0:
        return np.zeros(0, dtype=v.dtype)
    if t.size == 0:
        raise ValueError("no samples to expand")
    if not np.all(np.isfinite(t)) or np.any(np.diff(t) < 0):
        raise ValueError("t_s must be finite and non-decreasing")
    sample_frame = t * float(native_fps) - 1e-6  # (T,) sample positions in native frames
    idx = np.searchsorted(sample_frame, np.arange(int(n_frames), dtype=np.float64), side="right") - 1
    return v[np.clip(idx, 0, t.size - 1)]


# --------------------------------------------------------------------------- intervals


def temporal_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two intervals (start, end): overlap length / union length; 0 if disjoint or both empty."""
    a0, a1 = float(a[0]), float(a[1])
    b0, b1 = float(b[0]), float(b[1])
    if a1 < a0 or b1 < b0:
        raise ValueError(f"interval with end before start: {a!r}, {b!r}")
    inter = max(0.0, min(a1, b1) - max(a0, b0))
    union = (a1 - a0) + (b1 - b0) - inter
    return inter / union if union > 0 else 0.0


def _intervals(x, what: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, 2))
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{what}: expected (N, 2) intervals, got shape {arr.shape}")
    if np.any(arr[:, 1] < arr[:, 0]):
        raise ValueError(f"{what}: interval with end before start")
    return arr


def pairwise_iou(pred, gt) -> np.ndarray:
    """IoU matrix (P, G) between intervals pred (P, 2) and gt (G, 2)."""
    p = _intervals(pred, "pred")
    g = _intervals(gt, "gt")
    inter = np.clip(
        np.minimum(p[:, None, 1], g[None, :, 1]) - np.maximum(p[:, None, 0], g[None, :, 0]), 0, None
    )
    union = (p[:, None, 1] - p[:, None, 0]) + (g[None, :, 1] - g[None, :, 0]) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    return iou


def match_intervals(pred, gt, iou_threshold: float) -> tuple[int, int, int, list[tuple[int, int, float]]]:
    """Greedy one-to-one matching of predicted to ground-truth intervals.

    pred (P, 2), gt (G, 2). All pairs with IoU >= iou_threshold and IoU > 0
    are taken in order of decreasing IoU (ties: lower pred index, then lower
    gt index); a pair is matched when neither side is matched yet.
    Returns (tp, fp, fn, matches): tp = matched pairs, fp = unmatched
    predictions, fn = unmatched ground truths, matches = [(pred_idx, gt_idx, iou)]
    in matching order.
    """
    iou = pairwise_iou(pred, gt)
    n_pred, n_gt = iou.shape
    pi, gi = np.nonzero((iou >= iou_threshold) & (iou > 0))
    vals = iou[pi, gi]
    order = np.lexsort((gi, pi, -vals))
    used_p: set[int] = set()
    used_g: set[int] = set()
    matches: list[tuple[int, int, float]] = []
    for k in order:
        p, g = int(pi[k]), int(gi[k])
        if p in used_p or g in used_g:
            continue
        used_p.add(p)
        used_g.add(g)
        matches.append((p, g, float(vals[k])))
    tp = len(matches)
    return tp, n_pred - tp, n_gt - tp, matches


@dataclass(frozen=True)
class IntervalScores:
    """Interval detection counts and rates at one IoU threshold (summed over videos)."""

    threshold: float
    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float


def interval_precision_recall(
    pred_by_video: Mapping[str, Sequence],
    gt_by_video: Mapping[str, Sequence],
    thresholds: Sequence[float] = (0.3, 0.5, 0.7),
) -> dict[float, IntervalScores]:
    """Precision / recall / F1 of predicted intervals, matched per video, counts summed over videos.

    A video missing from one mapping has no intervals there. With no
    predictions precision is 1.0 if there is also no ground truth, else 0.0;
    likewise recall is 1.0 when there is no ground truth at all.
    """
    out: dict[float, IntervalScores] = {}
    videos = sorted(set(pred_by_video) | set(gt_by_video))
    for thr in thresholds:
        tp = fp = fn = 0
        for v in videos:
            t, f, n, _ = match_intervals(pred_by_video.get(v, ()), gt_by_video.get(v, ()), thr)
            tp, fp, fn = tp + t, fp + f, fn + n
        precision = tp / (tp + fp) if tp + fp else (1.0 if fn == 0 else 0.0)
        recall = tp / (tp + fn) if tp + fn else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[float(thr)] = IntervalScores(float(thr), tp, fp, fn, precision, recall, f1)
    return out
