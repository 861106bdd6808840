"""Motion helpers: walking along a path at a speed in metres per second, facing, smoothing, off-screen entry points."""

from __future__ import annotations

import math

import numpy as np

from va_gpt.synthetic.camera import Layout


def walk(points, speeds, fps: float, layout: Layout, steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions after 0..steps-1 frames walking along polyline `points` at `speeds` m/s.

    `speeds` is a scalar or one value per step; the pixel step follows the
    perspective scale at the current row. Returns (x, y, metres walked per
    step); NaN once the end of the path has been reached.
    """
    pts = [(float(px), float(py)) for px, py in points]
    xs = [math.nan] * steps
    ys = [math.nan] * steps
    dm = [0.0] * steps
    per_step = not np.isscalar(speeds)
    seg, (x, y) = 0, pts[0]
    for k in range(steps):
        xs[k], ys[k] = x, y
        v = float(speeds[k]) if per_step else float(speeds)
        dm[k] = v / fps
        ds = v * layout.px_per_m(y) / fps
        while ds > 0.0 and seg < len(pts) - 1:
            tx, ty = pts[seg + 1]
            d = math.hypot(tx - x, ty - y)
            if d <= ds:
                x, y, ds, seg = tx, ty, ds - d, seg + 1
            else:
                x, y, ds = x + (tx - x) / d * ds, y + (ty - y) / d * ds, 0.0
        if seg >= len(pts) - 1 and ds > 0.0:
            break
    return np.array(xs), np.array(ys), np.array(dm)


def faces(x: np.ndarray, default: float = 1.0) -> np.ndarray:
    """+1/-1 facing from the horizontal motion, carrying the last direction through stops."""
    out = np.full(len(x), default)
    d = np.diff(x, append=np.nan)
    cur = default
    for k in range(len(x)):
        if d[k] > 1e-6:
            cur = 1.0
        elif d[k] < -1e-6:
            cur = -1.0
        out[k] = cur
    # the last frame of a path keeps the previous direction
    return out


def smooth(a: np.ndarray, win: int) -> np.ndarray:
    """Moving average along axis 0 ('same' length, edge-padded)."""
    if win <= 1 or len(a) == 0:
        return a
    pad = win // 2
    ap = np.concatenate([np.repeat(a[:1], pad, 0), a, np.repeat(a[-1:], win - 1 - pad, 0)], 0)
    c = np.cumsum(np.concatenate([np.zeros_like(a[:1]), ap], 0), 0)
    return (c[win:] - c[:-win]) / win


def clamp(v: float, lo: float, hi: float) -> float:
    return min(max(v, lo), hi)


def edge_x(layout: Layout, side: float, y: float) -> float:
    """An x just off-screen on `side` (-1 left, +1 right) for a person at row y."""
    m = 0.6 * layout.person_h(y) + 4
    return -m if side < 0 else layout.width + m


def zone_y(rng, zone) -> float:
    return float(rng.uniform(zone[0], zone[1]))
