"""2D drawing primitives of the synthetic footage: rasterising ellipses and rectangles, compositing.

A primitive is ``(cx, cy, a, b, angle, shape, (r, g, b), alpha)`` in pixels: an
ellipse or rotated rectangle with half axes ``a``, ``b``; ``alpha`` < 1 blends,
and a GLOW ellipse *adds* its colour (light) scaled by alpha.
"""

from __future__ import annotations

import numpy as np

ELLIPSE, RECT, GLOW = 0, 1, 2  # GLOW: an ellipse whose colour is *added* (light), scaled by alpha


def _extents(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Half extents (ex, ey) of primitives A [P, 10] (ellipse or rotated rectangle)."""
    a, b, ang, shape = A[:, 2], A[:, 3], A[:, 4], A[:, 5]
    ac, as_ = np.abs(np.cos(ang)), np.abs(np.sin(ang))
    rect = shape == RECT
    ex = np.where(rect, a * ac + b * as_, np.hypot(a * ac, b * as_))
    ey = np.where(rect, a * as_ + b * ac, np.hypot(a * as_, b * ac))
    return ex, ey


class Raster:
    """Rasterised primitives: the opaque pixels' colours and, in order, translucent layers.

    Coordinates are those of the primitives (x0, y0 = top-left pixel); a cached
    sprite is rasterised at the origin and composited with an integer offset.
    """

    __slots__ = ("x0", "y0", "hit", "color", "alphas", "bbox")

    def __init__(self, x0, y0, hit, color, alphas):
        self.x0, self.y0, self.hit, self.color, self.alphas = x0, y0, hit, color, alphas
        cover = hit.copy()
        for m, _, _ in alphas:
            cover |= m
        rows, cols = np.flatnonzero(cover.any(1)), np.flatnonzero(cover.any(0))
        self.bbox = (
            None if len(rows) == 0 else (x0 + cols[0], y0 + rows[0], x0 + cols[-1] + 1, y0 + rows[-1] + 1)
        )

    @property
    def nbytes(self) -> int:
        return self.hit.nbytes + self.color.nbytes + sum(m.nbytes for m, _, _ in self.alphas)


def rasterize(prims: list, clip: tuple[int, int] | None = None) -> Raster | None:
    """Rasterise primitives (hard edges, pixel centres at integers), optionally clipped to a W x H frame.

    Every opaque pixel takes the colour of the last opaque primitive covering
    it; a translucent primitive blends over the pixels where nothing later and
    opaque covers it. Vectorised over the primitives.
    """
    if not prims:
        return None
    A = np.array([(*p[:6], *p[6], p[7]) for p in prims], np.float64)
    cx, cy, a, b, ang = A[:, 0], A[:, 1], A[:, 2], A[:, 3], A[:, 4]
    ex, ey = _extents(A)
    x0, y0 = int(np.floor((cx - ex).min())), int(np.floor((cy - ey).min()))
    x1, y1 = int(np.ceil((cx + ex).max())) + 1, int(np.ceil((cy + ey).max())) + 1
    if clip is not None:
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, clip[0]), min(y1, clip[1])
    if x0 >= x1 or y0 >= y1:
        return None
    c, s = np.cos(ang), np.sin(ang)
    col = lambda v: v.astype(np.float32)[:, None, None]  # noqa: E731
    dx = np.arange(x0, x1, dtype=np.float32)[None, None, :] - col(cx)
    dy = np.arange(y0, y1, dtype=np.float32)[None, :, None] - col(cy)
    u = dx * col(c / a) + dy * col(s / a)
    v = dy * col(c / b) - dx * col(s / b)
    u *= u
    v *= v
    inside = np.where((A[:, 5] == RECT)[:, None, None], np.maximum(u, v), u + v) <= 1.0
    colors = np.clip(np.rint(A[:, 6:9]), 0, 255).astype(np.uint8)
    alpha = A[:, 9]
    opaque = np.flatnonzero(alpha >= 1.0)
    if len(opaque):
        rev = inside[opaque[::-1]]
        hit = rev.any(0)
        top = np.where(hit, opaque[::-1][rev.argmax(0)], -1)
        color = colors[np.maximum(top, 0)]
    else:
        hit = np.zeros(inside.shape[1:], bool)
        top = np.full(inside.shape[1:], -1)
        color = np.zeros(inside.shape[1:] + (3,), np.uint8)
    alphas = []
    for k in np.flatnonzero(alpha < 1.0):
        m = inside[k] & (top < k)
        if m.any():
            alphas.append(
                (m, A[k, 6:9].astype(np.float32), float(alpha[k]) * (-1.0 if A[k, 5] == GLOW else 1.0))
            )
    return Raster(x0, y0, hit, color, alphas)


def composite(canvas: np.ndarray, r: Raster | None, dx: int = 0, dy: int = 0, gain: float = 1.0) -> None:
    """Paint raster r, shifted by (dx, dy), onto a float32 canvas; colours scaled by `gain` (lighting)."""
    if r is None or r.bbox is None:
        return
    height, width = canvas.shape[:2]
    h, w = r.hit.shape
    X0, Y0 = r.x0 + dx, r.y0 + dy
    cx0, cy0 = max(X0, 0), max(Y0, 0)
    cx1, cy1 = min(X0 + w, width), min(Y0 + h, height)
    if cx0 >= cx1 or cy0 >= cy1:
        return
    sl = (slice(cy0 - Y0, cy1 - Y0), slice(cx0 - X0, cx1 - X0))
    region = canvas[cy0:cy1, cx0:cx1]
    hit = r.hit[sl]
    region[hit] = r.color[sl][hit] * np.float32(gain)
    for m, color, alpha in r.alphas:
        m = m[sl]
        if alpha < 0:  # additive light
            region[m] += color * np.float32(-alpha * gain)
        else:
            region[m] = region[m] * np.float32(1.0 - alpha) + color * np.float32(alpha * gain)


def draw(canvas: np.ndarray, prims: list, gain: float = 1.0) -> None:
    composite(canvas, rasterize(prims, (canvas.shape[1], canvas.shape[0])), 0, 0, gain)


def shift_box(box, dx, dy, width, height):
    if box is None:
        return None
    x0, y0, x1, y1 = (
        max(box[0] + dx, 0),
        max(box[1] + dy, 0),
        min(box[2] + dx, width),
        min(box[3] + dy, height),
    )
    return None if x0 >= x1 or y0 >= y1 else (int(x0), int(y0), int(x1), int(y1))


def quantize(v: float, step: float) -> float:
    return round(float(v) / step) * step


def union(boxes) -> tuple[int, int, int, int] | None:
    boxes = [b for b in boxes if b is not None]
    if not boxes:
        return None
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def scaled(color, k: float) -> tuple[float, float, float]:
    return (min(color[0] * k, 255.0), min(color[1] * k, 255.0), min(color[2] * k, 255.0))
