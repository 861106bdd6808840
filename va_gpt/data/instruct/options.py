"""Multiple-choice temporal options: the right interval and three distractors that cannot be mistaken for it."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from va_gpt.data.instruct.templates import r1, seconds
from va_gpt.data.records import LETTERS

MC_IOU_MAX = 0.3  # a distractor's IoU with every ground-truth event is below this
MC_COVER_MAX = 0.5  # ... and, when the video leaves room, at most this much of it is anomalous
MC_DISTINCT_IOU = 0.5  # options differ from each other by at least this much
MIN_OPTION_S = 0.5


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Temporal IoU of two intervals [start, end)."""
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def merge(intervals: Iterable[Sequence[float]]) -> list[list[float]]:
    out: list[list[float]] = []
    for s, e in sorted((float(s), float(e)) for s, e in intervals):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return out


def _covered(d: Sequence[float], merged: list[list[float]]) -> float:
    length = d[1] - d[0]
    inter = sum(max(0.0, min(d[1], e) - max(d[0], s)) for s, e in merged)
    return inter / length if length > 0 else 1.0


def mc_options(
    events: Sequence[Sequence[float]], right: int, domain_end: float, rng: np.random.Generator
) -> tuple[list[list[float]], int] | None:
    """Four option intervals (0.1 s grid) and the right one's index, or None when 3 distractors do not fit.

    The right option is ``events[right]`` rounded; distractors lie in ``[0, domain_end]``, have
    IoU < MC_IOU_MAX with every event and IoU < MC_DISTINCT_IOU with each other option. The search
    relaxes in steps: lengths 0.5-1.5x the right event's with at most MC_COVER_MAX of the option
    anomalous, then 0.2-3x, then without the coverage limit. The order is shuffled by `rng`.
    """
    s0, e0 = r1(events[right][0]), r1(events[right][1])
    if e0 <= s0:
        e0 = s0 + 0.1
    truth = [(float(s), float(e)) for s, e in events]
    merged = merge(truth)
    length = e0 - s0
    chosen: list[list[float]] = [[s0, e0]]
    dom = float(domain_end)
    for lo, hi, cover in ((0.5, 1.5, MC_COVER_MAX), (0.2, 3.0, MC_COVER_MAX), (0.2, 3.0, 1.0)):
        for _ in range(300):
            if len(chosen) == 4:
                break
            span = min(max(length * rng.uniform(lo, hi), MIN_OPTION_S), dom)
            start = rng.uniform(0.0, max(dom - span, 0.0))
            d = [r1(start), min(r1(start + span), math.floor(dom * 10.0) / 10.0)]
            if d[1] - d[0] < min(MIN_OPTION_S, length) - 1e-9 or d[1] <= d[0]:
                continue
            if any(iou(d, t) >= MC_IOU_MAX for t in truth):
                continue
            if _covered(d, merged) > cover:
                continue
            if any(iou(d, c) >= MC_DISTINCT_IOU or d == c for c in chosen):
                continue
            chosen.append(d)
    if len(chosen) < 4:
        return None
    order = [int(i) for i in rng.permutation(4)]
    return [chosen[i] for i in order], order.index(0)


def format_options(spans: Sequence[Sequence[float]]) -> list[str]:
    """["(A) 12.0s-17.5s", ...] of option intervals, in letter order."""
    return [f"({LETTERS[i]}) {seconds(s)}-{seconds(e)}" for i, (s, e) in enumerate(spans)]
