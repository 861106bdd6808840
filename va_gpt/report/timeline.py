"""The anomaly score of one camera over the night as an inline SVG strip (no JS, no fonts to fetch).

Each video sits at its wall-clock start (videos.start_time); videos without one follow
the previous video. Per video: a grey band for the footage (red for a failed video),
the score as a polyline (at most one point per pixel: the maximum of its bucket, so a
short spike stays visible), and each interval as a shaded span that links to its card.
"""

from __future__ import annotations

import datetime as dt
from html import escape

import numpy as np

M_LEFT, M_RIGHT, M_TOP, M_BOTTOM = 34, 12, 8, 22


def video_offsets(videos: list[dict]) -> tuple[dict[str, float], dt.datetime | None, float]:
    """(video_id -> seconds from the strip's origin, the origin's wall clock or None, strip length s)."""
    starts = [v["start_time"] for v in videos if v["start_time"] is not None]
    origin = min(starts) if starts else None
    offsets: dict[str, float] = {}
    cursor = 0.0
    for v in videos:
        dur = v["duration_s"] if v["duration_s"] == v["duration_s"] and v["duration_s"] else 0.0
        if v["start_time"] is not None and origin is not None:
            off = (v["start_time"] - origin).total_seconds()
        else:
            off = cursor
        offsets[v["video_id"]] = off
        cursor = max(cursor, off + dur)
    return offsets, origin, max(cursor, 1.0)


def _downsample(x: np.ndarray, y: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    if len(x) <= buckets:
        return x, y
    edges = np.linspace(x[0], x[-1], buckets + 1)
    idx = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, buckets - 1)
    out_x, out_y = [], []
    for b in np.unique(idx):
        sel = idx == b
        k = int(np.argmax(y[sel]))
        out_x.append(x[sel][k])
        out_y.append(y[sel][k])
    return np.asarray(out_x), np.asarray(out_y)


def _tick_label(origin: dt.datetime | None, s: float, length: float) -> str:
    if origin is not None:
        t = origin + dt.timedelta(seconds=s)
        return t.strftime("%H:%M:%S" if length < 600 else "%H:%M")
    return f"+{s:.0f}s" if length < 600 else f"+{s / 60:.0f}m"


def card_id(row: dict) -> str:
    """The HTML id of an interval's card (pages.py uses the same)."""
    return f"card-{row['video_id'][:12]}-{int(row['interval_id'])}"


def timeline_svg(
    videos: list[dict],
    scores: dict[str, tuple[np.ndarray, np.ndarray]],
    intervals: list[dict],
    width: int = 1000,
    height: int = 150,
) -> str:
    offsets, origin, length = video_offsets(videos)
    pw, ph = width - M_LEFT - M_RIGHT, height - M_TOP - M_BOTTOM

    def x(s: float) -> float:
        return M_LEFT + pw * min(max(s / length, 0.0), 1.0)

    def y(score: float) -> float:
        return M_TOP + ph * (1.0 - min(max(score, 0.0), 1.0))

    parts = [
        f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="anomaly score over the night">',
        f'<rect x="{M_LEFT}" y="{M_TOP}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#bbb"/>',
    ]
    for level in (0.0, 0.5, 1.0):
        parts.append(
            f'<line x1="{M_LEFT}" x2="{M_LEFT + pw}" y1="{y(level):.1f}" y2="{y(level):.1f}" '
            f'stroke="#ddd" stroke-dasharray="3 3"/>'
            f'<text x="{M_LEFT - 4}" y="{y(level) + 4:.1f}" font-size="10" text-anchor="end" '
            f'font-family="sans-serif" fill="#555">{level:.1f}</text>'
        )
    for v in videos:
        off = offsets[v["video_id"]]
        dur = v["duration_s"] if v["duration_s"] == v["duration_s"] and v["duration_s"] else 0.0
        failed = v["status"] not in ("ok", "partial")
        fill = "#f6c9c4" if failed else "#e6e9ee"
        parts.append(
            f'<rect x="{x(off):.1f}" y="{M_TOP + ph - 4}" width="{max(x(off + dur) - x(off), 2):.1f}" '
            f'height="4" fill="{fill}"><title>{escape(v["uri"])} ({escape(v["status"])})</title></rect>'
        )
    for v in videos:
        t, s = scores.get(v["video_id"], (np.zeros(0), np.zeros(0)))
        if not len(t):
            continue
        off = offsets[v["video_id"]]
        share = max(int(pw * (float(t[-1] - t[0]) / length)), 2)
        tx, sy = _downsample(np.asarray(t, float), np.asarray(s, float), share)
        pts = " ".join(f"{x(off + a):.1f},{y(b):.1f}" for a, b in zip(tx, sy))
        parts.append(f'<polyline points="{pts}" fill="none" stroke="#1f5fbf" stroke-width="1.2"/>')
    for row in intervals:
        off = offsets.get(row["video_id"])
        if off is None:
            continue
        x0, x1 = x(off + row["start_s"]), x(off + row["end_s"])
        label = f"{row.get('label') or 'anomaly'} {row['peak_score']:.2f}"
        parts.append(
            f'<a href="#{card_id(row)}"><rect x="{x0:.1f}" y="{M_TOP}" width="{max(x1 - x0, 2):.1f}" '
            f'height="{ph}" fill="#e8412c" fill-opacity="0.25" stroke="#e8412c" stroke-width="1">'
            f"<title>{escape(label)}</title></rect></a>"
        )
    for k in range(6):
        s = length * k / 5
        anchor = "start" if k == 0 else "end" if k == 5 else "middle"
        parts.append(
            f'<text x="{x(s):.1f}" y="{height - 6}" font-size="10" font-family="sans-serif" fill="#555" '
            f'text-anchor="{anchor}">{escape(_tick_label(origin, s, length))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
