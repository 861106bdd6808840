"""Frame anomaly scores -> anomaly intervals.

Pure numpy, no I/O. Steps, in order:

1. Smoothing: a centred moving average over a time window of `smooth_s`
   seconds (frame j counts for frame i when |t_j - t_i| <= smooth_s / 2), so
   irregular timestamps are averaged by time, not by frame count.
   smooth_s <= 0 disables it.
2. Hysteresis on the smoothed curve: an interval is a maximal run of frames
   with score >= low that contains at least one frame with score >= high (it
   starts where the score rose above `low` before crossing `high`, and a dip
   that stays above `low` does not split it).
3. Gap merging: neighbouring intervals whose gap (next start - previous end)
   is <= merge_gap_s become one.
4. Minimum length: intervals shorter than min_len_s are dropped (after
   merging, so fragments of one event can add up).
   With `held` > 0 (the last `held` frames repeat an earlier frame's score: a
   classifier with a lookahead has no outputs of their own for a video's last
   frames, models.classifier.align_outputs) only the part of an interval up to
   the end of the last frame scored in its own right counts towards
   min_len_s; a kept interval still spans its held frames. Why: one
   borderline frame 4 s before the end, repeated over the held tail, made
   4.5 s intervals on normal videos (docs/MEASUREMENTS.md, "The video's last seconds").
5. Ends by kind: with `cfg.low_by_kind` and the kind head's probabilities, each interval
   kept so far that the kind head labels k (interval_kind_probs, label_of) is cut again at
   k's own `low`: from the first to the last run of frames >= that low which overlaps it and
   contains a frame >= high; then merged as in 3. It moves the ends of an interval found in
   1-4 and never makes one of its own: a kind's low under `low` once turned short blips that
   4 drops into false intervals. Why: an abandoned object stays anomalous while it stays,
   and its score sinks once it lies still (docs/MEASUREMENTS.md, "A low threshold per kind").

Time: frame i covers [t_i, t_{i+1}); the last frame covers the median frame
step (0 for a single frame). So an interval of frames a..b spans
[t_a, t_b + step_b) and one frame at 2 fps is 0.5 s long.

Reported scores are the raw (unsmoothed) scores of the frames inside the
interval span, gap frames included: peak_score = max, mean_score = mean.
box = the union (min x0, y0, max x1, y1) of the frame boxes inside the span,
ignoring rows with NaN, or None when no boxes were given.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from va_gpt.config import IntervalConfig


@dataclass(frozen=True)
class Interval:
    start_s: float
    end_s: float
    peak_score: float
    mean_score: float
    box: tuple[float, float, float, float] | None  # (x0, y0, x1, y1), same units as the input boxes


def smooth_scores(t: np.ndarray, scores: np.ndarray, window_s: float) -> np.ndarray:
    """Centred moving average by time. t [T] (increasing), scores [T] -> [T] float64."""
    s = np.asarray(scores, dtype=np.float64)
    if window_s <= 0 or len(s) == 0:
        return s.copy()
    t = np.asarray(t, dtype=np.float64)
    half = window_s / 2
    lo = np.searchsorted(t, t - half - 1e-9, side="left")  # [T] first frame in the window
    hi = np.searchsorted(t, t + half + 1e-9, side="right")  # [T] one past the last
    csum = np.concatenate([[0.0], np.cumsum(s)])
    return (csum[hi] - csum[lo]) / (hi - lo)


def _check(t: np.ndarray, scores: np.ndarray, boxes: np.ndarray | None) -> None:
    if t.ndim != 1 or scores.ndim != 1 or len(t) != len(scores):
        raise ValueError(f"t and scores must be 1-D of the same length, got {t.shape} and {scores.shape}")
    bad = np.flatnonzero(~np.isfinite(scores))
    if len(bad):
        raise ValueError(f"score is {scores[bad[0]]} at frame index {bad[0]} (t={t[bad[0]]})")
    bad = np.flatnonzero(~np.isfinite(t))
    if len(bad):
        raise ValueError(f"timestamp is {t[bad[0]]} at frame index {bad[0]}")
    bad = np.flatnonzero(np.diff(t) <= 0)
    if len(bad):
        i = bad[0] + 1
        raise ValueError(f"timestamps must increase: t[{i}]={t[i]} after t[{i - 1}]={t[i - 1]}")
    if boxes is not None and boxes.shape != (len(t), 4):
        raise ValueError(f"boxes must be [T, 4] = ({len(t)}, 4), got {boxes.shape}")


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs of True as (first, last) inclusive frame indices."""
    m = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(m[1:] != m[:-1])  # rises and falls, paired
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2])]


def scores_to_intervals(
    t: np.ndarray,
    scores: np.ndarray,
    cfg: IntervalConfig,
    boxes: np.ndarray | None = None,
    held: int = 0,
    kind_prob: np.ndarray | None = None,
    kinds: tuple[str, ...] = (),
) -> list[Interval]:
    """t [T] seconds (strictly increasing, may be irregular), scores [T] in [0, 1],
    boxes [T, 4] | None, held: how many of the last frames repeat an earlier score,
    kind_prob [T, K] over `kinds` (kinds[0] = normal) | None: the kind head's, for
    cfg.low_by_kind -> intervals sorted by start. See the module docstring."""
    t = np.asarray(t, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    boxes = None if boxes is None else np.asarray(boxes, dtype=np.float64)
    _check(t, scores, boxes)
    if held < 0:
        raise ValueError(f"held must be >= 0 frames, got {held}")
    T = len(t)
    if T == 0:
        return []
    step = np.diff(t)
    last_step = float(np.median(step)) if T > 1 else 0.0
    frame_end = t + np.concatenate([step, [last_step]])  # [T]: frame i covers [t_i, frame_end_i)
    scored_end = frame_end[max(T - 1 - held, 0)]  # end of the last frame scored in its own right

    smooth = smooth_scores(t, scores, cfg.smooth_s)
    above_high = smooth >= cfg.high
    spans = [(a, b) for a, b in _runs(smooth >= cfg.low) if above_high[a : b + 1].any()]

    kept = [
        (a, b)
        for a, b in _merge(spans, t, frame_end, cfg.merge_gap_s)
        if min(frame_end[b], scored_end) - t[a] >= cfg.min_len_s - 1e-9
    ]
    if cfg.low_by_kind and kind_prob is not None:
        kept = _merge(
            _cut_by_kind(kept, t, frame_end, smooth, scores, cfg, kind_prob, kinds),
            t,
            frame_end,
            cfg.merge_gap_s,
        )

    out = []
    for a, b in kept:
        start, end = float(t[a]), float(frame_end[b])
        seg = scores[a : b + 1]
        box = None
        if boxes is not None:
            bb = boxes[a : b + 1]
            bb = bb[np.isfinite(bb).all(1)]
            if len(bb):
                box = (
                    float(bb[:, 0].min()),
                    float(bb[:, 1].min()),
                    float(bb[:, 2].max()),
                    float(bb[:, 3].max()),
                )
        out.append(Interval(start, end, float(seg.max()), float(seg.mean()), box))
    return out


def _merge(spans, t: np.ndarray, frame_end: np.ndarray, gap_s: float) -> list[list[int]]:
    """Frame spans (a, b) -> sorted, with those <= gap_s apart (or overlapping) joined."""
    merged: list[list[int]] = []
    for a, b in sorted(spans):
        if merged and t[a] - frame_end[merged[-1][1]] <= gap_s + 1e-9:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return merged


def _cut_by_kind(merged, t, frame_end, smooth, scores, cfg: IntervalConfig, kind_prob, kinds):
    """Each span cut again at the low of the kind the kind head gives it (module docstring, 5)."""
    lows = dict(cfg.low_by_kind)
    above_high = smooth >= cfg.high
    out = []
    for a, b in merged:
        label, _ = label_of(interval_kind_probs(t, kind_prob, kinds, t[a], frame_end[b], scores), kinds)
        low = min(lows.get(label, cfg.low), cfg.high)  # a low above high would cut the event itself
        runs = [(c, d) for c, d in _runs(smooth >= low) if d >= a and c <= b and above_high[c : d + 1].any()]
        out.append([runs[0][0], runs[-1][1]] if runs else [a, b])
    return out


UNCALIBRATED = (0.5, 0.25)  # (high, low) for a classifier without calibration: random weights only
CALIBRATED_KEYS = ("smooth_s", "high", "low", "min_len_s", "merge_gap_s", "normal_bias")


def resolve_intervals(
    cfg: IntervalConfig, calibration: dict | None, where: str = "classifier"
) -> IntervalConfig:
    """The interval settings to use: a classifier checkpoint's `calibration` (tuned on
    validation footage, stored by va_gpt.checkpoints.classifier) wins key by key over the
    preset's `cfg`; without one, the preset's, with UNCALIBRATED for null thresholds. A
    calibration value that is not a finite number is refused, naming `where` and the key."""
    values = {k: getattr(cfg, k) for k in CALIBRATED_KEYS}
    for k, v in (calibration or {}).items():
        if k in values and v is not None:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
                raise ValueError(f"{where}: calibration {k} must be a finite number, got {v!r}")
            values[k] = float(v)
    if values["high"] is None or values["low"] is None:
        values["high"], values["low"] = UNCALIBRATED
    low_by_kind = _low_by_kind((calibration or {}).get("low_by_kind"), cfg.low_by_kind, where)
    return IntervalConfig(**values, low_by_kind=low_by_kind)


def with_low_by_kind(cfg: IntervalConfig, lows: dict[str, float]) -> IntervalConfig:
    """`cfg` with its per-kind lows replaced by `lows` ({kind: low}, as a calibration stores them)."""
    return replace(cfg, low_by_kind=_kind_lows(lows))


def _kind_lows(lows: dict[str, float]) -> tuple[tuple[str, float], ...]:
    return tuple(sorted((k, float(v)) for k, v in lows.items()))


def _low_by_kind(value, default: tuple, where: str) -> tuple[tuple[str, float], ...]:
    """A calibration's low_by_kind ({kind: low}) -> sorted (kind, low) pairs; refused, naming
    `where`, unless a mapping of kind names to finite numbers in [0, 1]."""
    if value is None:
        return default
    if not isinstance(value, dict):
        raise ValueError(f"{where}: calibration low_by_kind must map kinds to numbers, got {value!r}")
    for k, v in value.items():
        if (
            not isinstance(k, str)
            or isinstance(v, bool)
            or not isinstance(v, (int, float))
            or not 0.0 <= v <= 1.0
        ):
            raise ValueError(f"{where}: calibration low_by_kind[{k!r}] must be a number in [0, 1], got {v!r}")
    return _kind_lows(value)


def interval_kind_probs(
    t: np.ndarray,
    kind_prob: np.ndarray | None,
    kinds: tuple[str, ...],
    start_s: float,
    end_s: float,
    scores: np.ndarray,
) -> np.ndarray | None:
    """t [T], kind_prob [T, K] over `kinds` (kinds[0] = `normal`), scores [T] -> the kind head's
    mean distribution [K] over the interval's more anomalous half: the frames with start_s <= t <
    end_s scoring at least their median score; None without kind probabilities. Why not every
    frame of the interval: it also spans the ramp before its event and the scene after it, where
    the kind head reads what is left (a fallen person lying still reads as a left object),
    docs/MEASUREMENTS.md "The kind of an interval"."""
    if kind_prob is None or len(kinds) < 2:
        return None
    kp = np.asarray(kind_prob, dtype=np.float64).reshape(len(t), -1)
    inside = (np.asarray(t) >= start_s - 1e-9) & (np.asarray(t) < end_s - 1e-9)
    if kp.shape[1] != len(kinds) or not inside.any():
        return None
    s = np.asarray(scores, dtype=np.float64).reshape(len(t))
    inside &= s >= np.median(s[inside])
    return kp[inside].mean(0)


def calibrated_normal_share(p_normal: float, bias: float) -> float:
    """The kind head's mean "normal" probability over an interval -> the share the describe
    stage's judgement prior puts on "normal": `bias` added to its log-odds (the validation
    calibration's normal_bias; 0 leaves it as it is). Why a calibrated shift: whether an
    interval the anomaly head found but the kind head reads as normal is a false interval or an
    event the kind head under-reads depends on the build (docs/MEASUREMENTS.md, "A calibrated normal
    judgement")."""
    p = min(max(float(p_normal), 1e-6), 1.0 - 1e-6)
    return float(1.0 / (1.0 + np.exp(-(np.log(p / (1.0 - p)) + bias))))


def label_of(probs: np.ndarray | None, kinds: tuple[str, ...]) -> tuple[str | None, float | None]:
    """A distribution [K] over `kinds` (kinds[0] = `normal`) -> (the likeliest anomaly kind, its
    share of the anomaly kinds' probability); (None, None) for None."""
    if probs is None:
        return None, None
    anomaly = np.asarray(probs, dtype=np.float64)[1:]
    best = int(np.argmax(anomaly))
    return kinds[1 + best], float(anomaly[best] / max(anomaly.sum(), 1e-12))


def peak_time(t: np.ndarray, score: np.ndarray, start_s: float, end_s: float) -> float:
    """The time of the highest score inside [start_s, end_s]; the middle when no score falls inside."""
    t, score = np.asarray(t, np.float64), np.asarray(score, np.float64)
    if len(t):
        inside = (t >= start_s - 1e-6) & (t <= end_s + 1e-6)
        if inside.any():
            idx = np.flatnonzero(inside)
            return float(t[idx[int(np.argmax(score[idx]))]])
    return 0.5 * (start_s + end_s)
