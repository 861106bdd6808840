"""Synthetic surveillance footage with ground truth.

A deterministic (from a seed) generator of street-camera-like video: a textured
static background (buildings, sidewalks, a road; different per camera seed),
per-frame sensor noise, slow global lighting drift and 2-5 people-like figures
walking plausible paths at ~1-1.5 m/s, entering and leaving the frame. On top
of that one anomaly can be injected:

- ``fighting``: two people meet and move erratically at close range, punching.
- ``falling``: a person falls to the ground (ends horizontal) and stays down.
- ``running``: a group of 5-7 people standing together suddenly sprints away
  (panic, 5-7 m/s) until they leave the frame.
- ``explosion``: a bright, expanding, flickering fire that burns and dies down,
  leaving a scorch mark.
- ``collision``: two cars speed toward each other, crash and stop; smoke rises.
- ``abandoned_object``: a person puts a bag down and walks away; the bag stays
  still until the end (a static anomaly: its event runs to the end of the video).

Every anomaly is a set of extra actors layered onto the *same* normal scene:
``make_scene(seed, kind)`` and ``make_scene(seed, None)`` render identical
pixels (background, noise, lighting, normal people) except where the anomaly's
actors are. Ground truth comes from the same geometry the renderer draws, so
an :class:`Event` box bounds the anomaly's pixels during the event.

Rendering is a pure function of ``(seed, frame index)`` plus trajectories
precomputed in :func:`make_scene`: ``Scene.frame(i)`` is random access and
``Scene.frames()`` streams; a whole video is never held in memory. Figures are
cached as sprites (a memo of a pure function of their pose), so a 640x480 frame
takes ~4 ms on one core (~220-290 frames/s streaming, more when re-rendering).

Scale: people are ~25-80 px tall at 640x480 (a simple ground-plane
perspective: smaller toward the buildings); speeds are in metres per second
through that scale. The lighting gain per video is between evening (0.7) and
day (1.0) with a slow drift; fire is emissive (not dimmed). `normal` scenes
have no vehicles: cars appear only in the `collision` anomaly.

Ground-truth conventions
------------------------
- Times: an event covers ``[start_s, end_s)``; with ``s = start_s * fps`` and
  ``e = end_s * fps`` (integers) it covers native frames ``s .. e-1``.
- Boxes: ``(x0, y0, x1, y1)`` pixels, ``x1``/``y1`` exclusive (``frame[y0:y1, x0:x1]``),
  clipped to the frame.
- ``{url}/_truth/Temporal_Anomaly_Annotation.txt`` uses the UCF-Crime format
  ``name class s1 e1 s2 e2`` with native frame indices and **exclusive ends**
  (VadCLIP's reading: ``gt[s:e] = 1``), ``-1`` for an absent event; normal
  videos are ``Normal -1 -1 -1 -1``. ``name`` is the object key relative to the
  archive URL, ``{camera_id}/{date}/{HHMMSS}.mp4``.
- ``{url}/_truth/events.json`` holds the same and more per video (camera, start
  time, fps, frame count, label, events with seconds, frames, box, caption).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import functools
import json
import math
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

__all__ = [
    "ALL_KINDS",
    "UCF_CLASSES",
    "ArchiveTruth",
    "Event",
    "Scene",
    "VideoTruth",
    "generate_archive",
    "load_truth",
    "main",
    "make_scene",
    "write_mp4",
]

ALL_KINDS: tuple[str, ...] = ("fighting", "falling", "running", "explosion", "collision", "abandoned_object")

#: class names written to the UCF-Crime style annotation (UCF-Crime's own names where it has one)
UCF_CLASSES: dict[str, str] = {
    "fighting": "Fighting",
    "falling": "Falling",
    "running": "Running",
    "explosion": "Explosion",
    "collision": "RoadAccidents",
    "abandoned_object": "AbandonedObject",
}
NORMAL_CLASS = "Normal"

# nominal event lengths in seconds (shortened to fit short videos); None = to the end
_NOMINAL_S: dict[str, float | None] = {
    "fighting": 6.0,
    "falling": 5.0,
    "running": 4.0,
    "explosion": 5.0,
    "collision": 2.5,
    "abandoned_object": None,
}

_PERSON_M = 1.7  # metres a person is tall: the px-per-metre scale at a given depth
_NOISE_PAD = 16  # the per-frame noise is a random crop of a padded noise field
_CACHE_BYTES = 48 << 20  # per-scene sprite cache

_SHIRTS = {
    "red": (190, 40, 40),
    "blue": (45, 75, 175),
    "green": (50, 135, 60),
    "yellow": (220, 195, 55),
    "white": (228, 228, 222),
    "black": (28, 28, 32),
    "grey": (125, 125, 130),
    "orange": (225, 120, 40),
    "purple": (115, 60, 145),
    "brown": (115, 78, 48),
    "pink": (220, 135, 165),
    "teal": (40, 145, 145),
}
_PANTS = [(40, 48, 80), (30, 30, 32), (92, 92, 98), (72, 62, 46), (55, 75, 115), (150, 135, 105)]
_SKIN = [(232, 196, 166), (205, 162, 128), (165, 118, 82), (112, 78, 52)]
_HAIR = [(30, 25, 20), (82, 56, 30), (155, 122, 72), (62, 62, 62), (200, 190, 170)]
_CARS = {
    "white": (225, 225, 225),
    "silver": (165, 170, 175),
    "red": (175, 30, 35),
    "blue": (35, 60, 150),
    "black": (25, 25, 28),
    "yellow": (225, 185, 40),
    "green": (40, 100, 60),
}
_BAGS = {
    "black": (25, 25, 28),
    "brown": (105, 70, 40),
    "dark blue": (30, 40, 85),
    "red": (160, 30, 30),
    "green": (45, 90, 50),
    "grey": (110, 110, 115),
}

_ELLIPSE, _RECT, _GLOW = 0, 1, 2  # _GLOW: an ellipse whose colour is *added* (light), scaled by alpha


# --------------------------------------------------------------------------------------
# ground truth types


@dataclass(frozen=True)
class Event:
    """One injected anomaly: ``[start_s, end_s)`` seconds, ``box`` = (x0, y0, x1, y1) pixels, x1/y1 exclusive."""

    kind: str
    start_s: float
    end_s: float
    box: tuple[int, int, int, int]
    caption: str

    def frames(self, fps: float) -> tuple[int, int]:
        """Native frame range ``[start, end)``."""
        return int(round(self.start_s * fps)), int(round(self.end_s * fps))

    def to_dict(self, fps: float | None = None) -> dict:
        d = {
            "kind": self.kind,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "box": list(self.box),
            "caption": self.caption,
        }
        if fps is not None:
            d["start_frame"], d["end_frame"] = self.frames(fps)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Event:
        return cls(
            kind=d["kind"],
            start_s=float(d["start_s"]),
            end_s=float(d["end_s"]),
            box=tuple(int(v) for v in d["box"]),
            caption=d["caption"],
        )


# --------------------------------------------------------------------------------------
# drawing primitives: (cx, cy, a, b, angle, shape, (r, g, b), alpha) in pixels


def _extents(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Half extents (ex, ey) of primitives A [P, 10] (ellipse or rotated rectangle)."""
    a, b, ang, shape = A[:, 2], A[:, 3], A[:, 4], A[:, 5]
    ac, as_ = np.abs(np.cos(ang)), np.abs(np.sin(ang))
    rect = shape == _RECT
    ex = np.where(rect, a * ac + b * as_, np.hypot(a * ac, b * as_))
    ey = np.where(rect, a * as_ + b * ac, np.hypot(a * as_, b * ac))
    return ex, ey


class _Raster:
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


def _raster(prims: list, clip: tuple[int, int] | None = None) -> _Raster | None:
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
    inside = np.where((A[:, 5] == _RECT)[:, None, None], np.maximum(u, v), u + v) <= 1.0
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
                (m, A[k, 6:9].astype(np.float32), float(alpha[k]) * (-1.0 if A[k, 5] == _GLOW else 1.0))
            )
    return _Raster(x0, y0, hit, color, alphas)


def _composite(canvas: np.ndarray, r: _Raster | None, dx: int = 0, dy: int = 0, gain: float = 1.0) -> None:
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


def _draw(canvas: np.ndarray, prims: list, gain: float = 1.0) -> None:
    _composite(canvas, _raster(prims, (canvas.shape[1], canvas.shape[0])), 0, 0, gain)


def _shift_box(box, dx, dy, width, height):
    if box is None:
        return None
    x0, y0, x1, y1 = (
        max(box[0] + dx, 0),
        max(box[1] + dy, 0),
        min(box[2] + dx, width),
        min(box[3] + dy, height),
    )
    return None if x0 >= x1 or y0 >= y1 else (int(x0), int(y0), int(x1), int(y1))


def _q(v: float, step: float) -> float:
    return round(float(v) / step) * step


def _union(boxes) -> tuple[int, int, int, int] | None:
    boxes = [b for b in boxes if b is not None]
    if not boxes:
        return None
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def _scaled(color, k: float) -> tuple[float, float, float]:
    return (min(color[0] * k, 255.0), min(color[1] * k, 255.0), min(color[2] * k, 255.0))


# --------------------------------------------------------------------------------------
# background and camera


@dataclass(frozen=True)
class _Layout:
    width: int
    height: int
    y_build: float  # bottom of the buildings = back edge of the far sidewalk
    y_road0: float
    y_road1: float
    far_walk: tuple[float, float]  # feet y range on the far sidewalk
    near_walk: tuple[float, float]
    lanes: tuple[float, float]  # vehicle ground y of the far and near lane

    def person_h(self, y: float) -> float:
        """Pixel height of a 1.7 m person whose feet are at image row y (simple ground-plane perspective)."""
        t = (y - self.y_build) / (self.height - self.y_build)
        return self.height * (0.055 + 0.11 * min(max(t, 0.0), 1.2))

    def px_per_m(self, y: float) -> float:
        return self.person_h(y) / _PERSON_M


def _upsample(low: np.ndarray, h: int, w: int) -> np.ndarray:
    ly, lx = low.shape
    ys, xs = np.linspace(0, ly - 1, h), np.linspace(0, lx - 1, w)
    y0 = np.clip(np.floor(ys).astype(int), 0, ly - 2)
    x0 = np.clip(np.floor(xs).astype(int), 0, lx - 2)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    rows = low[y0] * (1 - fy) + low[y0 + 1] * fy
    return rows[:, x0] * (1 - fx) + rows[:, x0 + 1] * fx


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Smooth value noise, ~N(0, 1) per control point, `cells` control points across the width."""
    ly = max(2, int(round(cells * h / w)) + 2)
    return _upsample(rng.standard_normal((ly, cells + 2)), h, w)


@functools.lru_cache(maxsize=4)
def _camera(camera_seed: int, width: int, height: int) -> tuple[np.ndarray, np.ndarray, _Layout]:
    """(background float32 [H, W, 3], sensor-noise bank int8 [K, H+pad, W+pad, 3], layout) for a camera."""
    rng = np.random.default_rng([camera_seed, 101])
    W, H = width, height
    y_b = H * rng.uniform(0.30, 0.40)
    y_r0 = y_b + H * rng.uniform(0.075, 0.10)
    y_r1 = y_r0 + H * rng.uniform(0.22, 0.27)
    far_h, near_h = y_r0 - y_b, H - y_r1
    layout = _Layout(
        width=W,
        height=H,
        y_build=y_b,
        y_road0=y_r0,
        y_road1=y_r1,
        far_walk=(y_b + 0.3 * far_h, y_r0 - 0.1 * far_h),
        near_walk=(y_r1 + 0.2 * near_h, H - 0.06 * near_h),
        lanes=(y_r0 + 0.42 * (y_r1 - y_r0), y_r0 + 0.88 * (y_r1 - y_r0)),
    )
    img = np.zeros((H, W, 3), np.float32)
    yy = np.arange(H, dtype=np.float32)[:, None]
    xx = np.arange(W, dtype=np.float32)[None, :]
    ib, i0, i1 = int(y_b), int(y_r0), int(y_r1)

    # sky: vertical gradient
    sky_top = np.array(rng.uniform([95, 120, 150], [140, 160, 200]), np.float32)
    sky_bot = sky_top + np.float32(rng.uniform(25, 50))
    t = (yy[:ib] / max(ib, 1))[..., None]
    img[:ib] = sky_top * (1 - t) + sky_bot * t

    # buildings with window grids
    base_cols = [
        (150, 80, 65),
        (175, 160, 140),
        (125, 125, 130),
        (200, 185, 150),
        (110, 95, 85),
        (160, 150, 165),
    ]
    x = -int(rng.uniform(0, 0.1) * W)
    while x < W:
        bw = int(W * rng.uniform(0.12, 0.3))
        top = int(ib * rng.uniform(0.0, 0.55))
        col = np.array(base_cols[rng.integers(len(base_cols))], np.float32) * np.float32(
            rng.uniform(0.8, 1.1)
        )
        xa, xb = max(x, 0), min(x + bw, W)
        if xb > xa and ib > top:
            reg = img[top:ib, xa:xb]
            reg[:] = col
            sx, sy = max(4, int(W * rng.uniform(0.03, 0.05))), max(4, int(H * rng.uniform(0.05, 0.08)))
            wx, wy = max(2, int(sx * rng.uniform(0.45, 0.7))), max(2, int(sy * rng.uniform(0.4, 0.65)))
            ry = np.arange(top, ib)[:, None] - top - int(sy * 0.5)
            rx = np.arange(xa, xb)[None, :] - x - int(sx * 0.4)
            win = (ry >= 0) & (rx >= 0) & (ry % sy < wy) & (rx % sx < wx) & (ry < (ib - top) - sy)
            win &= rx < bw - int(sx * 0.8)
            idx = (ry // sy) * 97 + (rx // sx)
            lit = (np.sin(idx * 12.9898 + camera_seed % 1000) * 43758.5453) % 1.0 < 0.3
            glass = np.array(rng.uniform([40, 50, 60], [70, 80, 95]), np.float32)
            reg[win & ~lit] = glass
            reg[win & lit] = np.array([235, 215, 150], np.float32)
            reg[: max(1, H // 120)] = col * 0.7  # roof line
            # a door at street level
            dw, dh = max(3, int(bw * 0.12)), max(4, int(H * 0.06))
            dx0 = x + int(bw * rng.uniform(0.2, 0.7))
            if 0 <= dx0 and dx0 + dw <= W:
                img[ib - dh : ib, dx0 : dx0 + dw] = col * 0.45
        x += bw

    # far sidewalk, curb, road with dashed centre line, near sidewalk
    sw = np.array(rng.uniform([140, 135, 125], [175, 170, 160]), np.float32)
    img[ib:i0] = sw
    asphalt = np.float32(rng.uniform(60, 95))
    img[i0:i1] = np.array([asphalt, asphalt, asphalt * 1.03], np.float32)
    curb = max(1, H // 160)
    img[i0 : i0 + curb] = sw * 1.15
    img[i1 - curb : i1] = sw * 1.15
    mid = int((y_r0 + y_r1) / 2)
    th = max(1, H // 160)
    dash, gap = max(4, int(W * 0.06)), max(3, int(W * 0.05))
    dash_on = (np.arange(W) + int(rng.integers(0, dash + gap))) % (dash + gap) < dash
    line_col = np.array([230, 225, 210] if rng.random() < 0.6 else [225, 190, 60], np.float32)
    img[mid - th : mid + th, dash_on] = line_col
    sw2 = sw * np.float32(rng.uniform(0.9, 1.05))
    img[i1:] = sw2
    # paving seams
    step = max(6, int(W * rng.uniform(0.05, 0.09)))
    seam = (np.arange(W) % step) == 0
    img[ib:i0, seam] *= 0.85
    img[i1:, seam] *= 0.88
    for yrow in range(i1 + step // 2, H, max(4, step // 2)):
        img[yrow, :] *= 0.9

    # street furniture at the back edge of the far sidewalk: lamp posts and trees
    prims = []
    for _ in range(int(rng.integers(1, 4))):
        px = rng.uniform(0.05, 0.95) * W
        hh = layout.person_h(y_b + 0.15 * far_h)
        gy = y_b + 0.15 * far_h
        if rng.random() < 0.5:  # lamp post
            prims.append((px, gy - 1.4 * hh, 0.04 * hh + 0.5, 1.4 * hh, 0.0, _RECT, (45, 48, 50), 1.0))
            prims.append(
                (px + 0.15 * hh, gy - 2.8 * hh, 0.2 * hh, 0.06 * hh + 0.5, 0.0, _RECT, (45, 48, 50), 1.0)
            )
        else:  # tree
            green = tuple(rng.uniform([40, 85, 35], [80, 130, 60]))
            prims.append((px, gy - 0.6 * hh, 0.07 * hh + 0.5, 0.6 * hh, 0.0, _RECT, (85, 60, 40), 1.0))
            for _k in range(4):
                prims.append(
                    (
                        px + rng.uniform(-0.4, 0.4) * hh,
                        gy - rng.uniform(1.4, 2.0) * hh,
                        rng.uniform(0.35, 0.6) * hh,
                        rng.uniform(0.3, 0.5) * hh,
                        0.0,
                        _ELLIPSE,
                        _scaled(green, rng.uniform(0.85, 1.15)),
                        1.0,
                    )
                )
    _draw(img, prims)

    # texture, fixed-pattern grain, vignette, camera tint
    tex = 1.0 + 0.05 * _smooth_noise(rng, H, W, 6) + 0.035 * _smooth_noise(rng, H, W, 40)
    img *= tex.astype(np.float32)[..., None]
    img += rng.normal(0, 2.0, (H, W, 1)).astype(np.float32)
    r2 = ((xx - W / 2) / (W / 2)) ** 2 + ((yy - H / 2) / (H / 2)) ** 2
    img *= (1.0 - 0.12 * r2 / 2.0)[..., None]
    img *= np.array(rng.uniform(0.94, 1.06, 3), np.float32)
    np.clip(img, 0, 255, out=img)

    # sensor noise bank: luminance + weaker chroma noise, int8; each frame adds a random crop
    sigma = rng.uniform(1.5, 3.0)
    shape = (3, H + _NOISE_PAD, W + _NOISE_PAD)
    luma = rng.normal(0, sigma, shape + (1,)).astype(np.float32)
    chroma = rng.normal(0, 0.45 * sigma, shape + (3,)).astype(np.float32)
    bank = np.clip(np.rint(luma + chroma), -127, 127).astype(np.int8)
    img.flags.writeable = False
    bank.flags.writeable = False
    return img, bank, layout


# --------------------------------------------------------------------------------------
# motion helpers


def _walk(
    points, speeds, fps: float, layout: _Layout, steps: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def _faces(x: np.ndarray, default: float = 1.0) -> np.ndarray:
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


def _smooth(a: np.ndarray, win: int) -> np.ndarray:
    """Moving average along axis 0 ('same' length, edge-padded)."""
    if win <= 1 or len(a) == 0:
        return a
    pad = win // 2
    ap = np.concatenate([np.repeat(a[:1], pad, 0), a, np.repeat(a[-1:], win - 1 - pad, 0)], 0)
    c = np.cumsum(np.concatenate([np.zeros_like(a[:1]), ap], 0), 0)
    return (c[win:] - c[:-win]) / win


def _clip(v: float, lo: float, hi: float) -> float:
    return min(max(v, lo), hi)


# --------------------------------------------------------------------------------------
# actors


class _Actor:
    """Something drawn on top of the background. Subclasses give a painter's-order key per frame and either
    a cacheable sprite state (`state` -> key, integer position; `local_prims(key)` at the origin) or world
    primitives per frame (`prims`)."""

    name: str
    role: str  # "normal" | "anomaly"
    emissive = False  # light sources keep their colour whatever the scene lighting

    def depth(self, i: int) -> float | None:  # painter's order key (ground row), None = not drawn
        raise NotImplementedError

    def state(self, i: int) -> tuple[tuple, int, int] | None:
        return None

    def local_prims(self, key: tuple) -> list:
        raise NotImplementedError

    def prims(self, i: int) -> list:
        raise NotImplementedError

    def raster(self, i: int, width: int, height: int, cache: dict) -> tuple[_Raster | None, int, int]:
        st = self.state(i)
        if st is None:
            return _raster(self.prims(i), (width, height)), 0, 0
        key, ix, iy = st
        ck = (id(self), key)
        r = cache.get(ck, False)
        if r is False:
            r = _raster(self.local_prims(key))
            cache[ck] = r
        return r, ix, iy


class _Person(_Actor):
    """A side-view figure: legs, torso, arms, head. State arrays are per frame; NaN x = not in the scene."""

    def __init__(self, name: str, role: str, layout: _Layout, rng: np.random.Generator, n: int):
        self.name, self.role, self.layout = name, role, layout
        self.shirt_name = list(_SHIRTS)[rng.integers(len(_SHIRTS))]
        self.shirt = _SHIRTS[self.shirt_name]
        self.pants = _PANTS[rng.integers(len(_PANTS))]
        self.skin = _SKIN[rng.integers(len(_SKIN))]
        self.hair = _HAIR[rng.integers(len(_HAIR))]
        self.hscale = float(rng.uniform(0.9, 1.1))
        self.x = np.full(n, np.nan)
        self.y = np.full(n, np.nan)
        self.tilt = np.zeros(n)  # whole-body rotation about the feet; + = head toward +x
        self.face = np.ones(n)
        self.legs = np.zeros((n, 2))  # angles from vertical; 0 = straight down
        self.arms = np.zeros((n, 2))
        self.lift = np.zeros(n)  # raise off the ground, units of height (lying bodies)

    def height_px(self, i: int) -> float:
        return self.layout.person_h(self.y[i]) * self.hscale

    def set_walk(self, frames, x, y, dm, *, cycle_m=1.45, amp=0.38, phase0=0.0, face=None):
        """Walking state for frame indices `frames` (ascending); metres per step `dm` drive the gait."""
        frames = np.asarray(frames)
        ok = (frames >= 0) & (frames < len(self.x)) & ~np.isnan(x)
        phase = phase0 + 2 * np.pi * np.cumsum(dm / cycle_m)
        amp = np.broadcast_to(np.asarray(amp, float), frames.shape)
        sw = np.sin(phase) * amp
        f = _faces(x) if face is None else np.broadcast_to(face, frames.shape)
        self.x[frames[ok]] = x[ok]
        self.y[frames[ok]] = y[ok]
        self.face[frames[ok]] = f[ok]
        self.legs[frames[ok]] = np.stack([sw, -sw], 1)[ok]
        self.arms[frames[ok]] = np.stack([-0.8 * sw, 0.8 * sw], 1)[ok]
        self.tilt[frames[ok]] = 0.0

    def depth(self, i):
        x = self.x[i]
        if math.isnan(x):
            return None
        h = self.height_px(i)
        if x < -1.2 * h or x > self.layout.width + 1.2 * h or self.y[i] - 1.1 * h > self.layout.height:
            return None
        return float(self.y[i])

    def state(self, i):
        legs, arms = self.legs[i], self.arms[i]
        key = (
            _q(self.height_px(i), 0.25),
            float(self.face[i]),
            _q(self.tilt[i], 0.02),
            _q(legs[0], 0.04),
            _q(legs[1], 0.04),
            _q(arms[0], 0.04),
            _q(arms[1], 0.04),
            _q(self.lift[i], 0.01),
        )
        return key, int(round(self.x[i])), int(round(self.y[i]))

    def local_prims(self, key):
        h, f, tilt, l1, l2, a1, a2, lift = key
        ct, st = math.cos(tilt), math.sin(tilt)
        oy = -lift * h

        def at(lx, ly):
            return h * (ct * lx - st * ly), oy + h * (st * lx + ct * ly)

        def limb(px, py, ang, length, half_w, color):
            x, y = at(px - math.sin(ang) * length / 2, py + math.cos(ang) * length / 2)
            return (x, y, max(half_w * h, 0.6), max(length / 2 * h, 0.6), ang + tilt, _ELLIPSE, color, 1.0)

        def part(lx, ly, a, b, color):
            x, y = at(lx, ly)
            return (x, y, max(a * h, 0.6), max(b * h, 0.6), tilt, _ELLIPSE, color, 1.0)

        shadow = (
            0.5 * h * st,
            0.01 * h,
            (0.17 + 0.35 * abs(st)) * h,
            max(0.035 * h, 0.6),
            0.0,
            _ELLIPSE,
            (0, 0, 0),
            0.3,
        )
        return [
            shadow,
            limb(-0.025 * f, -0.46, l1, 0.47, 0.045, _scaled(self.pants, 0.8)),
            limb(0.025 * f, -0.46, l2, 0.47, 0.045, self.pants),
            limb(-0.02 * f, -0.79, a1, 0.34, 0.032, _scaled(self.shirt, 0.8)),
            part(0.0, -0.63, 0.1, 0.185, self.shirt),
            part(0.015 * f, -0.885, 0.075, 0.075, self.skin),
            part(-0.01 * f, -0.935, 0.07, 0.035, self.hair),
            limb(0.02 * f, -0.79, a2, 0.34, 0.032, self.shirt),
        ]


class _Vehicle(_Actor):
    """A side-view car: x = centre, y = ground row, angle about the bottom centre."""

    def __init__(self, name, role, layout, color_name, n, face):
        self.name, self.role, self.layout = name, role, layout
        self.color_name, self.color = color_name, _CARS[color_name]
        self.x = np.full(n, np.nan)
        self.y = np.full(n, np.nan)
        self.angle = np.zeros(n)
        self.face = face

    def size(self, i):
        h = self.layout.person_h(self.y[i])
        return 2.65 * h, 0.85 * h

    def depth(self, i):
        if math.isnan(self.x[i]):
            return None
        length, _ = self.size(i)
        if self.x[i] + length < 0 or self.x[i] - length > self.layout.width:
            return None
        return float(self.y[i])

    def state(self, i):
        L, Hc = self.size(i)
        key = (_q(L, 0.5), _q(Hc, 0.5), _q(self.angle[i], 0.005), self.face)
        return key, int(round(self.x[i])), int(round(self.y[i]))

    def local_prims(self, key):
        L, Hc, ang, f = key
        c, s = math.cos(ang), math.sin(ang)

        def part(lx, ly, a, b, color, shape=_RECT):
            return (c * lx - s * ly, s * lx + c * ly, max(a, 0.6), max(b, 0.6), ang, shape, color, 1.0)

        col = self.color
        return [
            (0.0, 0.0, 0.55 * L, max(0.06 * Hc, 0.6), 0.0, _ELLIPSE, (0, 0, 0), 0.35),
            part(0.0, -0.4 * Hc, 0.5 * L, 0.24 * Hc, col),
            part(-0.06 * L * f, -0.76 * Hc, 0.28 * L, 0.2 * Hc, col),
            part(-0.06 * L * f, -0.76 * Hc, 0.23 * L, 0.13 * Hc, (55, 70, 85)),
            part(0.475 * L * f, -0.47 * Hc, 0.025 * L, 0.06 * Hc, (250, 245, 210)),
            part(-0.48 * L * f, -0.47 * Hc, 0.02 * L, 0.05 * Hc, (200, 30, 30)),
            part(0.3 * L, -0.15 * Hc, 0.15 * Hc, 0.15 * Hc, (20, 20, 20), _ELLIPSE),
            part(-0.3 * L, -0.15 * Hc, 0.15 * Hc, 0.15 * Hc, (20, 20, 20), _ELLIPSE),
            part(0.3 * L, -0.15 * Hc, 0.06 * Hc, 0.06 * Hc, (150, 150, 150), _ELLIPSE),
            part(-0.3 * L, -0.15 * Hc, 0.06 * Hc, 0.06 * Hc, (150, 150, 150), _ELLIPSE),
        ]


class _Bag(_Actor):
    """A bag or box: x, y = bottom centre per frame; w, h pixels."""

    def __init__(self, name, role, color_name, n, w, h, layout):
        self.name, self.role, self.layout = name, role, layout
        self.color_name, self.color = color_name, _BAGS[color_name]
        self.x = np.full(n, np.nan)
        self.y = np.full(n, np.nan)
        self.key = np.full(n, np.nan)
        self.w, self.h = w, h

    def depth(self, i):
        return None if math.isnan(self.x[i]) else float(self.key[i])

    def state(self, i):
        return ("bag",), int(round(self.x[i])), int(round(self.y[i]))

    def local_prims(self, key):
        w, h = self.w, self.h
        return [
            (0.0, 0.0, 0.6 * w, max(0.08 * h, 0.6), 0.0, _ELLIPSE, (0, 0, 0), 0.35),
            (0.0, -1.12 * h, 0.22 * w, max(0.14 * h, 0.6), 0.0, _ELLIPSE, _scaled(self.color, 0.7), 1.0),
            (0.0, -0.5 * h, 0.5 * w, 0.5 * h, 0.0, _RECT, self.color, 1.0),
            (0.0, -0.55 * h, 0.5 * w, max(0.05 * h, 0.6), 0.0, _RECT, _scaled(self.color, 1.4), 1.0),
        ]


class _Fire(_Actor):
    """Expanding flickering fireball/flames: radius r[i] (0 = out) with per-frame random flicker."""

    emissive = True

    def __init__(self, name, x, y, radius, rng, n):
        self.name, self.role = name, "anomaly"
        self.cx, self.cy = x, y
        self.r = np.asarray(radius, float)
        self.flick = rng.uniform(0.85, 1.0, n)
        self.jit = rng.uniform(-1, 1, (n, 5, 3))
        self.flash = np.zeros(n)

    def depth(self, i):
        return None if self.r[i] <= 0.0 else self.cy + 0.5

    def prims(self, i):
        r, x, y, fl = float(self.r[i]) * (0.9 + 0.1 * self.flick[i]), self.cx, self.cy, float(self.flick[i])
        j = self.jit[i]
        out = []
        if self.flash[i] > 0:
            fr = float(self.flash[i])
            out.append((x, y - 0.6 * fr, 1.2 * fr, 1.1 * fr, 0.0, _ELLIPSE, (255, 255, 235), 0.9))
        out.append((x, y - 0.6 * r, 1.3 * r, 1.1 * r, 0.0, _GLOW, (255, 170, 70), 0.8 * fl))
        out.append((x, y - 0.5 * r, r, 0.9 * r, 0.0, _ELLIPSE, _scaled((255, 140, 35), fl), 1.0))
        for k in range(5):
            out.append(
                (
                    x + 0.55 * r * j[k, 0],
                    y - r * (1.05 + 0.25 * j[k, 1]),
                    max(0.22 * r, 0.6),
                    max(0.45 * r * (1 + 0.3 * j[k, 2]), 0.6),
                    0.25 * j[k, 0],
                    _ELLIPSE,
                    _scaled((255, 165, 40), fl),
                    1.0,
                )
            )
        out.append((x, y - 0.45 * r, 0.72 * r, 0.68 * r, 0.0, _ELLIPSE, _scaled((255, 205, 80), fl), 1.0))
        out.append((x, y - 0.42 * r, 0.45 * r, 0.42 * r, 0.0, _ELLIPSE, (255, 248, 215), 1.0))
        return out


class _Static(_Actor):
    """Fixed primitives visible from frame `start` (a scorch mark)."""

    def __init__(self, name, role, prims, key, start):
        self.name, self.role, self._prims, self.key, self.start = name, role, prims, key, start

    def depth(self, i):
        return self.key if i >= self.start else None

    def state(self, i):
        return ("static",), 0, 0

    def local_prims(self, key):
        return self._prims


class _Smoke(_Actor):
    """Rising translucent puffs: list of (birth frame, life frames, x, y, vx, vy px/frame, r0, r1)."""

    def __init__(self, name, puffs, key, color=(150, 150, 150), opacity=0.55):
        self.name, self.role, self.puffs, self.key, self.color = name, "anomaly", puffs, key, color
        self.opacity = opacity

    def _live(self, i):
        return [p for p in self.puffs if p[0] <= i < p[0] + p[1]]

    def depth(self, i):
        return self.key if self._live(i) else None

    def prims(self, i):
        out = []
        for b, life, x, y, vx, vy, r0, r1 in self._live(i):
            t = (i - b) / life
            r = r0 + (r1 - r0) * t
            alpha = min(self.opacity * math.sin(math.pi * (i - b + 1) / (life + 1)), 0.99)
            out.append((x + vx * (i - b), y + vy * (i - b), r, 0.85 * r, 0.0, _ELLIPSE, self.color, alpha))
        return out


class _Debris(_Actor):
    """Small fragments thrown from a point at frame `birth`: (x, y, vx, vy px/frame, size, spin), with gravity."""

    def __init__(self, name, birth, life, parts, gravity, key, color):
        self.name, self.role = name, "anomaly"
        self.birth, self.life, self.parts, self.g, self.key, self.color = (
            birth,
            life,
            parts,
            gravity,
            key,
            color,
        )

    def depth(self, i):
        return self.key if self.birth <= i < self.birth + self.life else None

    def prims(self, i):
        t = i - self.birth
        return [
            (
                x + vx * t,
                y + vy * t + 0.5 * self.g * t * t,
                size * 1.6,
                size,
                spin + 0.4 * t,
                _RECT,
                self.color,
                1.0,
            )
            for x, y, vx, vy, size, spin in self.parts
        ]


# --------------------------------------------------------------------------------------
# the normal scene


def _edge_x(layout: _Layout, side: float, y: float) -> float:
    """An x just off-screen on `side` (-1 left, +1 right) for a person at row y."""
    m = 0.6 * layout.person_h(y) + 4
    return -m if side < 0 else layout.width + m


def _zone_y(rng, zone) -> float:
    return float(rng.uniform(zone[0], zone[1]))


def _normal_people(rng: np.random.Generator, layout: _Layout, n: int, fps: float) -> list[_Person]:
    W, H = layout.width, layout.height
    concurrency = int(rng.integers(2, 6))
    mid_y = (layout.far_walk[0] + layout.near_walk[1]) / 2
    cross_s = W / (1.25 * layout.px_per_m(mid_y))  # typical time to cross the frame
    spacing = cross_s / concurrency
    duration = n / fps
    t = -cross_s * rng.uniform(0.8, 1.0)
    people = []
    while t < duration:
        f0 = int(round(t * fps))
        t += spacing * rng.uniform(0.5, 1.5)
        pr = _Person(f"person{len(people):02d}", "normal", layout, rng, n)
        kind = rng.random()
        side = -1.0 if rng.random() < 0.5 else 1.0
        if kind < 0.65:  # along a sidewalk
            zone = layout.far_walk if rng.random() < 0.4 else layout.near_walk
            y0, y2 = _zone_y(rng, zone), _zone_y(rng, zone)
            y1 = _clip((y0 + y2) / 2 + rng.uniform(-0.3, 0.3) * (zone[1] - zone[0]), *zone)
            pts = [
                (_edge_x(layout, side, y0), y0),
                (W * rng.uniform(0.3, 0.7), y1),
                (_edge_x(layout, -side, y2), y2),
            ]
        elif kind < 0.85:  # crossing the road
            za, zb = (
                (layout.far_walk, layout.near_walk)
                if rng.random() < 0.5
                else (layout.near_walk, layout.far_walk)
            )
            ya, yb = _zone_y(rng, za), _zone_y(rng, zb)
            xc = W * rng.uniform(0.2, 0.8)
            exit_side = side if rng.random() < 0.3 else -side
            pts = [
                (_edge_x(layout, side, ya), ya),
                (xc, ya),
                (xc + rng.uniform(-0.1, 0.1) * W, yb),
                (_edge_x(layout, exit_side, yb), yb),
            ]
        else:  # in from below the frame onto the near sidewalk
            yb = _zone_y(rng, layout.near_walk)
            xb = W * rng.uniform(0.1, 0.9)
            pts = [
                (xb, H + 0.3 * layout.person_h(H)),
                (xb + rng.uniform(-0.05, 0.05) * W, yb),
                (_edge_x(layout, side, yb), yb),
            ]
        speed = rng.uniform(1.0, 1.5)
        steps = n - f0
        if steps <= 0:
            break
        x, y, dm = _walk(pts, speed, fps, layout, steps)
        if rng.random() < 0.25:  # stop for a while (phone, window shopping): not an anomaly
            valid = int(np.sum(~np.isnan(x)))
            if valid > 10:
                k = int(rng.integers(valid // 5, max(valid // 5 + 1, 7 * valid // 10)))
                m = int(rng.uniform(1.0, 4.0) * fps)
                x = np.concatenate([x[:k], np.full(m, x[k]), x[k:]])[:steps]
                y = np.concatenate([y[:k], np.full(m, y[k]), y[k:]])[:steps]
                dm = np.concatenate([dm[:k], np.zeros(m), dm[k:]])[:steps]
        frames = np.arange(f0, f0 + steps)
        if np.all(np.isnan(x[frames >= 0])):
            continue
        moving = np.concatenate([[1.0], (np.abs(np.diff(x)) + np.abs(np.diff(y)) > 1e-9).astype(float)])
        pr.set_walk(frames, x, y, dm, amp=0.38 * moving, phase0=rng.uniform(0, 2 * np.pi))
        people.append(pr)
    return people


# --------------------------------------------------------------------------------------
# anomalies: each builder returns (actors, [(start_frame, end_frame, actors that make the event)], context)


@dataclass
class _Ctx:
    rng: np.random.Generator
    layout: _Layout
    n: int
    fps: float
    s: int
    e: int

    @property
    def W(self):
        return self.layout.width

    @property
    def H(self):
        return self.layout.height

    def arrive(self, person: _Person, target, frame: int, side: float, speed: float, zone=None, cycle_m=1.45):
        """Walk `person` in from off-screen `side` so it reaches `target` at `frame` (inclusive)."""
        tx, ty = target
        zone = zone or (ty, ty)
        ys = _clip(ty + self.rng.uniform(-0.4, 0.4) * (zone[1] - zone[0]), *zone)
        pts = [
            (tx, ty),
            ((tx + _edge_x(self.layout, side, ys)) / 2, _clip((ty + ys) / 2, *zone)),
            (_edge_x(self.layout, side, ys), ys),
        ]
        steps = frame + 1
        x, y, dm = _walk(pts, speed, self.fps, self.layout, steps)
        frames = np.arange(frame, frame - steps, -1)
        order = np.argsort(frames)
        frames, x, y, dm = frames[order], x[order], y[order], dm[order]
        person.set_walk(frames, x, y, dm, cycle_m=cycle_m)

    def leave(
        self, person: _Person, frame: int, side: float, speeds, zone=None, cycle_m=1.45, amp=0.38, y_to=None
    ):
        """From its position at `frame`, walk/run off-screen toward `side` (frames frame..n-1)."""
        steps = self.n - frame
        if steps <= 0:
            return np.zeros(0), np.zeros(0)
        x0, y0 = float(person.x[frame]), float(person.y[frame])
        if y_to is None:
            zone = zone or (y0, y0)
            y_to = _clip(y0 + self.rng.uniform(-0.4, 0.4) * (zone[1] - zone[0]), *zone)
        pts = [(x0, y0), (_edge_x(self.layout, side, y_to), y_to)]
        x, y, dm = _walk(pts, speeds, self.fps, self.layout, steps)
        frames = np.arange(frame, frame + steps)
        person.set_walk(frames, x, y, dm, cycle_m=cycle_m, amp=amp)
        person.x[frames[np.isnan(x)]] = np.nan
        return x, y


def _pick_zone(rng, layout):
    return layout.near_walk if rng.random() < 0.6 else layout.far_walk


def _build_fighting(c: _Ctx):
    rng, L = c.rng, c.layout
    zone = _pick_zone(rng, L)
    py = _zone_y(rng, zone)
    px = c.W * rng.uniform(0.3, 0.7)
    h = L.person_h(py)
    a = _Person("fighter_a", "anomaly", L, rng, c.n)
    b = _Person("fighter_b", "anomaly", L, rng, c.n)
    gap = 0.27 * h
    c.arrive(a, (px - gap, py), c.s, -1.0, rng.uniform(1.1, 1.5), zone)
    c.arrive(b, (px + gap, py), c.s, +1.0, rng.uniform(1.1, 1.5), zone)
    fr = np.arange(c.s, c.e)
    m = len(fr)
    win = max(2, int(round(c.fps / 10)))
    jx = _smooth(rng.normal(0, 1, (m, 2)), win) * 0.35 * h
    jy = _smooth(rng.normal(0, 1, (m, 2)), win) * 0.03 * h
    shove = np.cumsum(rng.normal(0, 0.02 * h, m))
    shove = shove - np.linspace(0, shove[-1], m)  # ends where it started
    xa = px - gap + jx[:, 0] + shove
    xb = px + gap + jx[:, 1] + shove
    xb = np.maximum(xb, xa + 0.2 * h)
    for p, xs, k, f in ((a, xa, 0, 1.0), (b, xb, 1, -1.0)):
        p.x[fr], p.y[fr] = xs, py + jy[:, k]
        p.face[fr] = f
        p.tilt[fr] = f * (0.12 + _smooth(rng.normal(0, 1, m), win) * 0.35)
        punch = np.clip(_smooth(rng.normal(0, 1, (m, 2)), win) * 1.6 + 0.6, 0, 2.2)
        p.arms[fr] = -f * (0.3 + punch)
        p.legs[fr] = np.stack(
            [0.3 + 0.25 * np.sin(np.arange(m) * 0.9), -0.3 - 0.25 * np.cos(np.arange(m) * 0.7)], 1
        )
    if c.e < c.n:
        c.leave(a, c.e, -1.0, rng.uniform(1.6, 2.2), zone)
        c.leave(b, c.e, +1.0, rng.uniform(1.6, 2.2), zone)
    ctx = {"shirt": a.shirt_name, "shirt2": b.shirt_name}
    return [a, b], [a, b], ctx


def _build_falling(c: _Ctx):
    rng, L = c.rng, c.layout
    zone = _pick_zone(rng, L)
    py = _zone_y(rng, zone)
    px = c.W * rng.uniform(0.25, 0.75)
    f = 1.0 if rng.random() < 0.5 else -1.0
    p = _Person("faller", "anomaly", L, rng, c.n)
    c.arrive(p, (px, py), c.s, -f, rng.uniform(1.0, 1.4), zone)
    h = L.person_h(py) * p.hscale
    length = c.e - c.s
    t_fall = max(2, int(round(min(0.6 * c.fps, 0.4 * length))))
    rest_arms = np.array([-f * 0.6, -f * 2.7])
    rest_legs = np.array([0.15 * f, -0.1 * f])
    for k in range(c.n - c.s):
        i = c.s + k
        p.face[i] = f
        if k < t_fall:
            u = (k + 1) / t_fall
            p.tilt[i] = f * (np.pi / 2) * u * u
            p.x[i], p.y[i] = px + f * 0.1 * h * u, py
            p.arms[i] = rest_arms * u
            p.legs[i] = rest_legs * u
        else:
            p.x[i], p.y[i] = px + f * 0.1 * h, py
            p.arms[i], p.legs[i] = rest_arms, rest_legs
            p.tilt[i] = f * np.pi / 2
            if i < c.e:  # tries to get up and fails, then lies still
                env = math.sin(math.pi * (i - (c.s + t_fall)) / max(1, c.e - (c.s + t_fall))) ** 0.5
                w = 2 * np.pi * 0.9 * (i - c.s) / c.fps
                p.tilt[i] -= f * 0.75 * env * math.sin(w) ** 2
                p.arms[i] = rest_arms + f * 1.2 * env * np.array([math.sin(1.7 * w), math.cos(1.3 * w)])
                p.legs[i] = rest_legs + 0.7 * env * np.array([math.sin(2.1 * w), -math.sin(1.1 * w)])
        p.lift[i] = 0.1 * abs(math.sin(p.tilt[i]))
    return [p], [p], {"shirt": p.shirt_name}


def _build_running(c: _Ctx):
    rng, L = c.rng, c.layout
    zone = L.near_walk if rng.random() < 0.75 else L.far_walk
    cx = c.W * rng.uniform(0.35, 0.65)
    cy = (zone[0] + zone[1]) / 2
    k_people = int(rng.integers(5, 8))
    h = L.person_h(cy)
    people = []
    ramp = max(1, int(round(0.3 * c.fps)))
    exits = []
    for k in range(k_people):
        p = _Person(f"runner{k}", "anomaly", L, rng, c.n)
        ox = rng.uniform(-1.3, 1.3) * h
        pos = (cx + ox, _zone_y(rng, zone))
        # the group gathers and stands around (chatting, waiting) for a while, then panics
        arrive = max(0, c.s - int(round(rng.uniform(2.0, 5.0) * c.fps)))
        c.arrive(p, pos, arrive, -1.0 if rng.random() < 0.5 else 1.0, rng.uniform(1.0, 1.5), zone)
        idle = np.arange(arrive, c.s + 1)
        p.x[idle], p.y[idle] = pos
        p.face[idle] = -1.0 if ox > 0 else 1.0
        p.legs[idle] = 0.0
        p.arms[idle] = 0.0
        side = 1.0 if ox > 0 else -1.0
        run = rng.uniform(5.0, 7.0)
        steps = c.n - c.s
        kk = np.arange(steps)
        u = np.minimum(1.0, kk / ramp)
        speeds = 1.2 + (run - 1.2) * u
        y_to = _clip(
            pos[1] + rng.uniform(-0.25, 0.25) * c.H, L.y_build + 0.2 * (L.y_road0 - L.y_build), c.H * 0.98
        )
        x, _ = c.leave(p, c.s, side, speeds, cycle_m=2.4, amp=0.38 + 0.4 * u, y_to=y_to)
        fr = c.s + kk
        p.tilt[fr] = side * 0.18 * u
        sw = p.legs[fr, 0] / np.maximum(0.38 + 0.4 * u, 1e-6)
        p.arms[fr] = np.stack([-1.3 * sw, 1.3 * sw], 1) * (0.38 + 0.4 * u)[:, None]
        gone = np.flatnonzero(np.isnan(x))
        exits.append(c.s + (int(gone[0]) if len(gone) else steps))
        people.append(p)
    e = min(c.e, max(exits))
    c.e = max(e, c.s + 2)
    return people, people, {"n": k_people, "shirt": people[0].shirt_name}


def _build_explosion(c: _Ctx):
    rng, L = c.rng, c.layout
    py = float(rng.uniform(L.y_road0 + 0.1 * (L.y_road1 - L.y_road0), L.near_walk[1]))
    px = c.W * rng.uniform(0.2, 0.8)
    R = 0.85 * L.person_h(py)
    length = c.e - c.s
    grow = max(2, int(round(min(0.3 * c.fps, 0.15 * length))))
    fade = max(2, int(round(min(0.6 * c.fps, 0.2 * length))))
    r = np.zeros(c.n)
    for k in range(length):
        if k < grow:
            r[c.s + k] = R * math.sqrt((k + 1) / grow)
        elif k < length - fade:
            r[c.s + k] = R * (1.0 - 0.1 * (k - grow) / max(1, length - fade - grow))
        else:
            r[c.s + k] = R * 0.9 * (length - k) / (fade + 1)
    fire = _Fire("fire", px, py, r, rng, c.n)
    for k in range(min(3, length)):
        fire.flash[c.s + k] = 1.1 * R * (1 - k / 3)
    scorch = _Static(
        "scorch", "anomaly", [(px, py, 1.0 * R, 0.28 * R, 0.0, _ELLIPSE, (38, 32, 28), 0.7)], py - 1e-3, c.s
    )
    return [scorch, fire], [scorch, fire], {}


def _build_collision(c: _Ctx):
    rng, L = c.rng, c.layout
    y_far, y_near = L.lanes
    names = list(_CARS)
    ca, cb = rng.choice(len(names), 2, replace=False)
    a = _Vehicle("car_a", "anomaly", L, names[ca], c.n, +1.0)
    b = _Vehicle("car_b", "anomaly", L, names[cb], c.n, -1.0)
    length = c.e - c.s
    t_app = max(2, int(round(min(1.2 * c.fps, 0.45 * length))))
    imp = c.s + t_app
    xc = c.W * rng.uniform(0.38, 0.62)
    spin_a, spin_b = rng.uniform(0.08, 0.16), rng.uniform(0.1, 0.2)
    la = 2.65 * L.person_h(y_near)
    lb = 2.65 * L.person_h(y_near)
    for k in range(c.n - c.s):
        i = c.s + k
        if k <= t_app:
            u = k / t_app
            a.y[i] = y_near
            a.x[i] = (0.02 * c.W - la / 2) * (1 - u) + (xc - la / 2) * u
            sm = u * u * (3 - 2 * u)
            b.y[i] = y_far * (1 - sm) + y_near * sm
            lbi = 2.65 * L.person_h(b.y[i])
            b.x[i] = (0.98 * c.W + lbi / 2) * (1 - u) + (xc + lb / 2) * u
        else:
            tau = min((k - t_app) / (0.3 * c.fps), 1.0)
            sm = tau * tau * (3 - 2 * tau)
            a.y[i] = b.y[i] = y_near
            a.x[i] = xc - la / 2 - 0.12 * la * sm
            b.x[i] = xc + lb / 2 + 0.08 * lb * sm
            a.angle[i] = -spin_a * sm
            b.angle[i] = spin_b * sm
    # smoke and a flash of debris after the impact, all gone by the end of the event
    hh = L.person_h(y_near)
    after = c.e - imp
    life = max(2, int(round(min(1.2 * c.fps, after))))
    puffs = []
    b_ = imp
    while b_ + life <= c.e:
        puffs.append(
            (
                b_,
                life,
                xc + rng.uniform(-0.3, 0.3) * la,
                y_near - rng.uniform(0.5, 0.9) * hh,
                rng.uniform(-0.1, 0.1) * hh / c.fps,
                -rng.uniform(0.3, 0.6) * hh / c.fps,
                0.2 * hh,
                rng.uniform(0.55, 0.8) * hh,
            )
        )
        b_ += max(1, int(round(0.12 * c.fps)))
    smoke = _Smoke("smoke", puffs, y_near + 1.0, (105, 105, 108), 0.7)
    flash = _Smoke(
        "sparks",
        [(imp, min(4, max(1, after)), xc, y_near - 0.5 * hh, 0, 0, 0.6 * hh, 0.4 * hh)],
        y_near + 2.0,
        (255, 235, 160),
        1.0,
    )
    # debris thrown up and out from the impact, falling back to the road
    d_life = max(2, min(int(round(0.7 * c.fps)), after))
    parts = []
    for _ in range(int(rng.integers(6, 11))):
        vx = rng.uniform(-1.5, 1.5) * hh
        vy = -rng.uniform(1.0, 2.5) * hh
        parts.append(
            (xc, y_near - 0.5 * hh, vx / c.fps, vy / c.fps, max(0.05 * hh, 0.8), rng.uniform(0, np.pi))
        )
    debris = _Debris("debris", imp, d_life, parts, 5.0 * hh / c.fps**2, y_near + 2.5, _scaled(a.color, 0.8))
    actors = [a, b, smoke, flash, debris]
    return actors, actors, {"car1": a.color_name, "car2": b.color_name}


def _build_abandoned(c: _Ctx):
    rng, L = c.rng, c.layout
    zone = _pick_zone(rng, L)
    py = _zone_y(rng, zone)
    px = c.W * rng.uniform(0.25, 0.75)
    f = 1.0 if rng.random() < 0.5 else -1.0
    p = _Person("owner", "anomaly", L, rng, c.n)
    h = L.person_h(py) * p.hscale
    names = list(_BAGS)
    bag = _Bag("bag", "anomaly", names[rng.integers(len(names))], c.n, 0.3 * h, 0.22 * h, L)
    drop = max(1, int(round(0.2 * c.fps)))
    stop_before = max(drop + 1, int(round(0.6 * c.fps)))
    stop_after = max(1, int(round(0.6 * c.fps)))
    arrive = max(0, c.s - stop_before)
    c.arrive(p, (px, py), arrive, -f, rng.uniform(1.0, 1.4), zone)
    hold = np.arange(arrive, min(c.n, c.s + stop_after))
    p.x[hold], p.y[hold], p.face[hold] = px, py, f
    p.legs[hold] = 0.0
    p.arms[hold] = 0.0
    if c.s + stop_after < c.n:
        c.leave(p, c.s + stop_after, f, rng.uniform(1.1, 1.5), zone)
    # carried at the hand, put down over `drop` frames, then still to the end
    bag_ground = (px - f * 0.25 * h, py)
    for i in range(c.n):
        if math.isnan(p.x[i]) and i < c.s:
            continue
        if i < c.s - drop:
            hx, hy, hh = float(p.x[i]), float(p.y[i]), p.height_px(i)
            bag.x[i], bag.y[i], bag.key[i] = hx - f * 0.12 * hh, hy - 0.22 * hh, hy + 0.01
            p.arms[i, 0] = f * 0.12
        elif i < c.s:
            u = (i - (c.s - drop)) / drop
            hx, hy = float(p.x[i]), float(p.y[i])
            bag.x[i] = (hx - f * 0.12 * h) * (1 - u) + bag_ground[0] * u
            bag.y[i] = (hy - 0.22 * h) * (1 - u) + bag_ground[1] * u
            bag.key[i] = hy + 0.01
            p.arms[i, 0] = f * (0.12 + 0.5 * math.sin(math.pi * u))
            p.tilt[i] = -f * 0.15 * math.sin(math.pi * u)
        else:
            bag.x[i], bag.y[i], bag.key[i] = bag_ground[0], bag_ground[1], bag_ground[1]
    return [p, bag], [bag], {"shirt": p.shirt_name, "bag": bag.color_name}


_BUILDERS = {
    "fighting": _build_fighting,
    "falling": _build_falling,
    "running": _build_running,
    "explosion": _build_explosion,
    "collision": _build_collision,
    "abandoned_object": _build_abandoned,
}

_TEMPLATES = {
    "fighting": [
        "Two people start fighting {loc}, pushing and hitting each other.",
        "A person in a {shirt} top and a person in a {shirt2} top get into a violent fight {loc}.",
        "{Loc}, two pedestrians meet and begin to brawl, moving erratically at close range.",
        "A fight breaks out {loc} as two people exchange punches.",
    ],
    "falling": [
        "A person falls to the ground {loc} and stays down.",
        "A pedestrian in a {shirt} top suddenly collapses {loc} and lies on the ground.",
        "{Loc}, a walking person loses balance, drops to the ground and does not get up.",
        "Someone wearing {shirt} falls over {loc} and remains lying on the pavement.",
    ],
    "running": [
        "Several people {loc} suddenly start running away in panic.",
        "A group of {n} pedestrians abruptly sprints off in different directions, as if fleeing something.",
        "{Loc}, people scatter and run quickly out of the scene.",
        "{N} people who were walking {loc} break into a panicked run.",
    ],
    "explosion": [
        "An explosion {loc} produces a bright, flickering fire.",
        "A fireball suddenly erupts {loc} and burns with flickering flames before dying down.",
        "{Loc}, a bright fire flares up and expands rapidly.",
        "Something explodes {loc}, leaving flames and a dark scorch mark on the ground.",
    ],
    "collision": [
        "Two vehicles speed toward each other {loc} and collide, stopping abruptly.",
        "A {car1} car and a {car2} car crash head-on {loc} and come to a halt.",
        "{Loc}, two cars driving fast collide and smoke rises from the wreck.",
        "A {car2} car swerves into the oncoming lane {loc} and hits a {car1} car.",
    ],
    "abandoned_object": [
        "A person in a {shirt} top leaves a {bag} bag on the ground {loc} and walks away; the bag stays there.",
        "An unattended {bag} bag is left behind {loc} by a passer-by.",
        "{Loc}, a pedestrian puts down a bag and leaves without it.",
        "Someone drops off a {bag} bag {loc} and walks away, leaving it unattended.",
    ],
}

_NUMBERS = {3: "three", 4: "four", 5: "five", 6: "six", 7: "seven"}


def _where(box, width: int, height: int) -> str:
    cx = (box[0] + box[2]) / 2 / width
    cy = (box[1] + box[3]) / 2 / height
    col = "left" if cx < 1 / 3 else "right" if cx > 2 / 3 else None
    row = "top" if cy < 1 / 3 else "bottom" if cy > 2 / 3 else None
    if row and col:
        return f"near the {row} {col}"
    if col:
        return f"on the {col} side of the frame"
    if row:
        return f"near the {row} of the frame"
    return "in the middle of the frame"


def _caption(rng, kind, box, width, height, ctx: dict) -> str:
    loc = _where(box, width, height)
    tmpl = _TEMPLATES[kind][int(rng.integers(len(_TEMPLATES[kind])))]
    n = ctx.get("n", 3)
    text = tmpl.format(loc=loc, Loc=loc[0].upper() + loc[1:], N=_NUMBERS.get(n, str(n)).capitalize(), **ctx)
    return text[0].upper() + text[1:]


# --------------------------------------------------------------------------------------
# scene


class Scene:
    """A synthetic video: random-access frames, ground-truth events and per-frame actor boxes.

    Attributes: `seed`, `camera_seed`, `anomaly` (kind or None), `label`, `width`,
    `height`, `fps`, `num_frames`, `duration_s`, `events` (list of Event).
    """

    def __init__(
        self,
        *,
        seed,
        camera_seed,
        anomaly,
        fps,
        num_frames,
        layout,
        background,
        noise,
        noise_sel,
        gain,
        actors,
        events,
    ):
        self.seed = seed
        self.camera_seed = camera_seed
        self.anomaly = anomaly
        self.fps = float(fps)
        self.num_frames = int(num_frames)
        self.width = layout.width
        self.height = layout.height
        self.events: list[Event] = events
        self._layout = layout
        self._bg = background
        self._noise = noise
        self._noise_sel = noise_sel
        self._gain = gain
        self._actors = actors
        self._cache: dict = {}  # sprite rasters, a memo of a pure function of the actor state
        self._cache_bytes = 0

    @property
    def duration_s(self) -> float:
        return self.num_frames / self.fps

    @property
    def label(self) -> str:
        """The anomaly kind, or "normal"."""
        return self.anomaly or "normal"

    def __len__(self) -> int:
        return self.num_frames

    def _visible(self, i: int):
        items = []
        for order, a in enumerate(self._actors):
            d = a.depth(i)
            if d is not None:
                items.append((d, order, a))
        items.sort(key=lambda t: (t[0], t[1]))
        return [a for _, _, a in items]

    def frame(self, i: int) -> np.ndarray:
        """RGB uint8 [height, width, 3] of frame i, rendered from scratch."""
        i = int(i)
        if not 0 <= i < self.num_frames:
            raise IndexError(f"frame {i} out of range [0, {self.num_frames})")
        gain = np.float32(self._gain[i])
        canvas = self._bg * gain
        for a in self._visible(i):
            r, dx, dy = self._raster(a, i)
            _composite(canvas, r, dx, dy, 1.0 if a.emissive else float(gain))
        k, dy, dx = self._noise_sel[i]
        canvas += self._noise[k, dy : dy + self.height, dx : dx + self.width]
        np.clip(canvas, 0.0, 255.0, out=canvas)
        return canvas.astype(np.uint8)

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        """Frames start..stop-1 one at a time (never the whole video in memory)."""
        stop = self.num_frames if stop is None else min(stop, self.num_frames)
        for i in range(start, stop):
            yield self.frame(i)

    def background(self) -> np.ndarray:
        """The clean static background (no actors, noise or lighting), uint8."""
        return np.clip(self._bg, 0, 255).astype(np.uint8)

    def labels_at(self, t_seconds: float) -> int:
        """1 if an event covers time t (events are [start_s, end_s)), else 0."""
        return int(any(ev.start_s <= t_seconds < ev.end_s for ev in self.events))

    def frame_labels(self) -> np.ndarray:
        """uint8 [num_frames] 0/1 per native frame."""
        out = np.zeros(self.num_frames, np.uint8)
        for ev in self.events:
            s, e = ev.frames(self.fps)
            out[s:e] = 1
        return out

    def actor_boxes(self, i: int) -> list[tuple[str, str, tuple[int, int, int, int]]]:
        """(name, role, box) of every actor drawn in frame i; role is "normal" or "anomaly"."""
        out = []
        for a in self._visible(int(i)):
            box = self._box(a, int(i))
            if box is not None:
                out.append((a.name, a.role, box))
        return out

    def _raster(self, actor: _Actor, i: int):
        if self._cache_bytes > _CACHE_BYTES:
            self._cache.clear()
            self._cache_bytes = 0
        n = len(self._cache)
        r, dx, dy = actor.raster(i, self.width, self.height, self._cache)
        if len(self._cache) > n and r is not None:
            self._cache_bytes += r.nbytes
        return r, dx, dy

    def _box(self, actor: _Actor, i: int):
        """Pixel box (x0, y0, x1, y1) of what `actor` draws in frame i, or None."""
        r, dx, dy = self._raster(actor, i)
        return None if r is None else _shift_box(r.bbox, dx, dy, self.width, self.height)

    def __repr__(self) -> str:
        return (
            f"Scene(seed={self.seed}, camera_seed={self.camera_seed}, anomaly={self.anomaly!r}, "
            f"{self.width}x{self.height}@{self.fps:g}fps, {self.num_frames} frames, events={len(self.events)})"
        )


def make_scene(
    seed: int,
    anomaly: str | None,
    duration_s: float = 30.0,
    width: int = 640,
    height: int = 480,
    fps: float = 30.0,
    event_start_s: float | None = None,
    *,
    camera_seed: int | None = None,
) -> Scene:
    """Build a deterministic synthetic video.

    `seed` fixes people, noise, lighting and the anomaly; `camera_seed` (default:
    `seed`) fixes the background and noise texture, so several videos of one
    camera share a view. `anomaly` is one of ALL_KINDS or None for a normal
    video. `event_start_s` places the event (default: 25-45% into the video);
    event lengths are nominal (4-6 s) and shortened to fit short videos;
    `abandoned_object` runs to the end.
    """
    if anomaly is not None and anomaly not in _BUILDERS:
        raise ValueError(f"unknown anomaly kind {anomaly!r}; expected one of {ALL_KINDS} or None")
    if width < 32 or height < 32:
        raise ValueError(f"frame size {width}x{height} is too small (at least 32x32)")
    if fps <= 0 or duration_s <= 0:
        raise ValueError(f"fps and duration_s must be positive, got fps={fps}, duration_s={duration_s}")
    seed, camera_seed = int(seed), int(seed if camera_seed is None else camera_seed)
    n = int(round(duration_s * fps))
    if n < 2:
        raise ValueError(f"duration_s={duration_s} at fps={fps} gives fewer than 2 frames")
    background, noise, layout = _camera(camera_seed, int(width), int(height))

    people = _normal_people(np.random.default_rng([seed, 2]), layout, n, fps)

    rng = np.random.default_rng([seed, 3])
    noise_sel = np.stack(
        [
            rng.integers(0, noise.shape[0], n),
            rng.integers(0, _NOISE_PAD + 1, n),
            rng.integers(0, _NOISE_PAD + 1, n),
        ],
        1,
    )
    rng = np.random.default_rng([seed, 4])
    t = np.arange(n) / fps
    base = rng.uniform(0.7, 1.0)  # evening to day
    amp, period, phase = rng.uniform(0.02, 0.06), rng.uniform(40, 120), rng.uniform(0, 2 * np.pi)
    wander = _smooth(np.cumsum(rng.normal(0, 0.0015, n)), max(1, int(fps)))
    gain = (base * (1 + amp * np.sin(2 * np.pi * t / period + phase)) + wander).astype(np.float32)

    actors: list[_Actor] = list(people)
    if anomaly is not None:
        kind_idx = ALL_KINDS.index(anomaly)
        arng = np.random.default_rng([seed, 5, kind_idx])
        dur = n / fps
        start = dur * arng.uniform(0.25, 0.45)  # always drawn, so an explicit start changes nothing else
        if event_start_s is not None:
            start = float(event_start_s)
        s = int(round(start * fps))
        if not 0 <= s < n - 1:
            raise ValueError(f"event_start_s={event_start_s} is outside the video (0 .. {dur:g} s)")
        nominal = _NOMINAL_S[anomaly]
        if nominal is None:
            e = n
        else:
            room = n - s - max(1, int(round(0.1 * n)))
            e = s + max(1, min(int(round(nominal * fps)), room))
        if e - s < max(4, int(round(0.3 * fps))):
            raise ValueError(f"no room for a {anomaly} event starting at {start:g} s in a {dur:g} s video")
        ctx = _Ctx(arng, layout, n, fps, s, e)
        new, event_actors, cap = _BUILDERS[anomaly](ctx)
        s, e = ctx.s, ctx.e
        actors.extend(new)
        event_spec = (anomaly, kind_idx, s, e, event_actors, cap)

    scene = Scene(
        seed=seed,
        camera_seed=camera_seed,
        anomaly=anomaly,
        fps=fps,
        num_frames=n,
        layout=layout,
        background=background,
        noise=noise,
        noise_sel=noise_sel,
        gain=gain,
        actors=actors,
        events=[],
    )
    if anomaly is not None:
        kind, kind_idx, s, e, event_actors, cap = event_spec
        # the box bounds the pixels the event's actors actually draw during the event
        box = _union(scene._box(a, i) for i in range(s, e) for a in event_actors if a.depth(i) is not None)
        if box is None:
            raise AssertionError(f"{anomaly} event has no visible pixels (seed {seed})")
        caption = _caption(
            np.random.default_rng([seed, 6, kind_idx]), anomaly, box, layout.width, layout.height, cap
        )
        scene.events.append(Event(anomaly, s / fps, e / fps, tuple(int(v) for v in box), caption))
    return scene


# --------------------------------------------------------------------------------------
# encoding and archives

_ENCODERS = {"h264": "libx264", "avc": "libx264", "hevc": "libx265", "h265": "libx265"}


def _fs(url: str, storage_options: dict | None):
    import fsspec

    return fsspec.core.url_to_fs(url, **(storage_options or {}))


def _is_local(fs) -> bool:
    protocols = (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)
    return "file" in protocols or "local" in protocols


def write_mp4(
    scene: Scene,
    url: str,
    *,
    codec: str = "h264",
    gop: int | None = None,
    storage_options: dict | None = None,
    crf: int = 23,
    preset: str = "veryfast",
    bframes: int = 0,
) -> str:
    """Encode `scene` to an mp4 (yuv420p) at any fsspec URL; returns the URL.

    `codec` is "h264" (libx264) or "hevc" (libx265). Like a surveillance camera:
    a fixed GOP (`gop` frames, default 2 s worth, scene-cut keyframes off) and no
    B-frames unless `bframes` > 0. The file is muxed to a local temp file
    (mp4 needs seeking) and uploaded in one put.
    """
    import av

    if codec not in _ENCODERS:
        raise ValueError(f"unknown codec {codec!r}; expected one of {sorted(_ENCODERS)}")
    if scene.width % 2 or scene.height % 2:
        raise ValueError(f"yuv420p needs an even frame size, got {scene.width}x{scene.height}")
    enc = _ENCODERS[codec]
    gop = int(gop) if gop else max(1, int(round(2 * scene.fps)))
    rate = Fraction(scene.fps).limit_denominator(1001)
    params = f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes={int(bframes)}"
    if enc == "libx264":
        options = {"crf": str(crf), "preset": preset, "x264-params": params}
    else:
        options = {"crf": str(crf), "preset": preset, "x265-params": params + ":log-level=error"}
    fs, path = _fs(url, storage_options)
    with tempfile.TemporaryDirectory(prefix="vagpt-synth-") as tmp:
        local = os.path.join(tmp, "video.mp4")
        with av.open(local, "w", format="mp4") as out:
            stream = out.add_stream(enc, rate=rate, options=options)
            stream.width, stream.height, stream.pix_fmt = scene.width, scene.height, "yuv420p"
            stream.codec_context.gop_size = gop
            if enc == "libx265":
                stream.codec_context.codec_tag = "hvc1"
            tb = Fraction(1) / rate
            for i, img in enumerate(scene.frames()):
                vf = av.VideoFrame.from_ndarray(img, format="rgb24")
                vf.pts, vf.time_base = i, tb
                out.mux(stream.encode(vf))
            out.mux(stream.encode(None))
        if _is_local(fs):
            fs.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        fs.put_file(local, path)
    return url


@dataclass
class VideoTruth:
    """Ground truth for one archived video."""

    key: str  # {camera_id}/{date}/{HHMMSS}.mp4, relative to the archive URL
    camera_id: str
    date: str
    start_time: str  # HH:MM:SS local wall clock
    duration_s: float
    fps: float
    num_frames: int
    width: int
    height: int
    codec: str
    seed: int
    camera_seed: int
    label: str  # anomaly kind or "normal"
    events: list[Event] = field(default_factory=list)

    @property
    def start(self) -> _dt.datetime:
        return _dt.datetime.fromisoformat(f"{self.date}T{self.start_time}")

    @property
    def ucf_class(self) -> str:
        return UCF_CLASSES.get(self.label, NORMAL_CLASS)

    def frame_labels(self) -> np.ndarray:
        out = np.zeros(self.num_frames, np.uint8)
        for ev in self.events:
            s, e = ev.frames(self.fps)
            out[s:e] = 1
        return out

    def annotation_line(self) -> str:
        """UCF-Crime temporal annotation line: name class s1 e1 s2 e2 (exclusive ends, -1 = absent)."""
        ranges = [ev.frames(self.fps) for ev in self.events]
        if len(ranges) > 2:
            raise ValueError(f"{self.key}: the UCF format holds at most 2 events, got {len(ranges)}")
        vals = [v for r in ranges for v in r] + [-1] * (4 - 2 * len(ranges))
        return "  ".join([self.key, self.ucf_class, *map(str, vals)]) + "  "

    def to_dict(self) -> dict:
        return {
            "key": self.key,
            "camera_id": self.camera_id,
            "date": self.date,
            "start_time": self.start_time,
            "start": self.start.isoformat(),
            "duration_s": self.duration_s,
            "fps": self.fps,
            "num_frames": self.num_frames,
            "width": self.width,
            "height": self.height,
            "codec": self.codec,
            "seed": self.seed,
            "camera_seed": self.camera_seed,
            "label": self.label,
            "class": self.ucf_class,
            "events": [ev.to_dict(self.fps) for ev in self.events],
        }

    @classmethod
    def from_dict(cls, d: dict) -> VideoTruth:
        return cls(
            key=d["key"],
            camera_id=d["camera_id"],
            date=d["date"],
            start_time=d["start_time"],
            duration_s=float(d["duration_s"]),
            fps=float(d["fps"]),
            num_frames=int(d["num_frames"]),
            width=int(d["width"]),
            height=int(d["height"]),
            codec=d["codec"],
            seed=int(d["seed"]),
            camera_seed=int(d["camera_seed"]),
            label=d["label"],
            events=[Event.from_dict(e) for e in d["events"]],
        )

    def scene(self) -> Scene:
        """Rebuild the Scene this video was rendered from (same frames, before encoding)."""
        anomaly = None if self.label == "normal" else self.label
        start = self.events[0].start_s if self.events else None
        return make_scene(
            self.seed,
            anomaly,
            self.duration_s,
            self.width,
            self.height,
            self.fps,
            start,
            camera_seed=self.camera_seed,
        )


@dataclass
class ArchiveTruth:
    """Ground truth of a generated archive: one VideoTruth per mp4 under `url`."""

    url: str
    seed: int
    videos: list[VideoTruth]

    ANNOTATION = "_truth/Temporal_Anomaly_Annotation.txt"
    EVENTS = "_truth/events.json"

    def video(self, key: str) -> VideoTruth:
        for v in self.videos:
            if v.key == key:
                return v
        raise KeyError(key)

    def video_url(self, key: str) -> str:
        return f"{self.url.rstrip('/')}/{key}"

    @property
    def keys(self) -> list[str]:
        return [v.key for v in self.videos]

    def annotation_text(self) -> str:
        return "".join(v.annotation_line() + "\n" for v in self.videos)

    def to_dict(self) -> dict:
        return {
            "format": "va-gpt-synthetic/1",
            "url": self.url,
            "seed": self.seed,
            "time_convention": "events are [start_s, end_s); frames [start_frame, end_frame), end exclusive",
            "box_convention": "x0, y0, x1, y1 pixels, x1 and y1 exclusive",
            "videos": [v.to_dict() for v in self.videos],
        }


def _start_times(first: str, count: int, duration_s: float, cam_index: int) -> list[str]:
    """Wall-clock start times for one camera, increasing through the night, all before midnight."""
    t0 = _dt.datetime.strptime(first, "%H:%M:%S")
    first_s = t0.hour * 3600 + t0.minute * 60 + t0.second
    offset = (cam_index * 17) % 60
    window = 86400 - 1 - first_s - offset - math.ceil(duration_s)
    step = 600 if count <= 1 else min(600, window // (count - 1))
    if window < 0 or (count > 1 and step < math.ceil(duration_s)):
        raise ValueError(f"{count} videos of {duration_s:g} s from {first} do not fit before midnight")
    out = []
    for k in range(count):
        s = first_s + offset + k * step
        out.append(f"{s // 3600:02d}{s % 3600 // 60:02d}{s % 60:02d}")
    return out


def generate_archive(
    url: str,
    *,
    cameras: int = 3,
    date: str = "2026-11-21",
    videos_per_camera: int = 2,
    duration_s: float = 30.0,
    width: int = 640,
    height: int = 480,
    fps: float = 30.0,
    anomaly_kinds: Sequence[str] = ALL_KINDS,
    normal_fraction: float = 1 / 3,
    seed: int = 0,
    codec: str = "h264",
    storage_options: dict | None = None,
    start_time: str = "22:00:00",
    gop: int | None = None,
    crf: int = 23,
    event_start: tuple[float, float] | None = None,
) -> ArchiveTruth:
    """Write a night of synthetic camera footage and its ground truth under `url`.

    Layout: ``{url}/{camera_id}/{date}/{HHMMSS}.mp4`` (cam01, cam02, ...; start
    times from `start_time`, increasing, before midnight) plus
    ``{url}/_truth/Temporal_Anomaly_Annotation.txt`` (UCF-Crime format, native
    frames, exclusive ends, see the module docstring) and
    ``{url}/_truth/events.json``. Videos are taken in time order across
    cameras; a `normal_fraction` of them, evenly spread, are normal, and the
    others cycle through `anomaly_kinds` (rotated by `seed`), so every kind
    appears once there are enough videos. Each camera has its own background.
    `event_start`: (lo, hi) fractions of the video an event starts within, drawn per video
    (default: the scene's own 25-45%). Question sets want a wide range, so that *when* cannot be
    guessed without watching.
    """
    kinds = tuple(anomaly_kinds)
    if event_start is not None and not 0.0 <= event_start[0] <= event_start[1] < 1.0:
        raise ValueError(f"event_start must be fractions 0 <= lo <= hi < 1, got {event_start}")
    bad = [k for k in kinds if k not in ALL_KINDS]
    if bad:
        raise ValueError(f"unknown anomaly kinds {bad}; expected a subset of {ALL_KINDS}")
    if not 0.0 <= normal_fraction <= 1.0:
        raise ValueError(f"normal_fraction must be in [0, 1], got {normal_fraction}")
    if cameras < 1 or videos_per_camera < 1:
        raise ValueError("cameras and videos_per_camera must be >= 1")
    _dt.date.fromisoformat(date)
    url = url.rstrip("/")
    fs, root = _fs(url, storage_options)
    times = [_start_times(start_time, videos_per_camera, duration_s, c) for c in range(cameras)]
    nf = 1.0 if not kinds else normal_fraction
    videos: list[VideoTruth] = []
    j = n_anom = 0
    for k in range(videos_per_camera):
        for c_idx in range(cameras):
            c = (c_idx + k) % cameras  # rotate the camera order each round so normals spread over cameras
            normal = math.floor((j + 1) * nf + 0.5) - math.floor(j * nf + 0.5) >= 1
            j += 1
            kind = None if normal else kinds[(n_anom + seed) % len(kinds)]
            n_anom += 0 if normal else 1
            cam = f"cam{c + 1:02d}"
            key = f"{cam}/{date}/{times[c][k]}.mp4"
            vseed = int(np.random.SeedSequence([seed, c, k]).generate_state(1)[0])
            cseed = int(np.random.SeedSequence([seed, c, 1 << 20]).generate_state(1)[0])
            start_s = None
            if kind is not None and event_start is not None:
                u = np.random.default_rng([vseed, 17]).uniform(*event_start)
                start_s = round(float(u) * duration_s, 1)
            scene = make_scene(vseed, kind, duration_s, width, height, fps, start_s, camera_seed=cseed)
            write_mp4(scene, f"{url}/{key}", codec=codec, gop=gop, storage_options=storage_options, crf=crf)
            t = times[c][k]
            videos.append(
                VideoTruth(
                    key=key,
                    camera_id=cam,
                    date=date,
                    start_time=f"{t[:2]}:{t[2:4]}:{t[4:]}",
                    duration_s=scene.duration_s,
                    fps=scene.fps,
                    num_frames=scene.num_frames,
                    width=width,
                    height=height,
                    codec=codec,
                    seed=vseed,
                    camera_seed=cseed,
                    label=scene.label,
                    events=list(scene.events),
                )
            )
    videos.sort(key=lambda v: v.key)
    truth = ArchiveTruth(url=url, seed=seed, videos=videos)
    if _is_local(fs):
        fs.makedirs(f"{root}/_truth", exist_ok=True)
    fs.pipe_file(f"{root}/{ArchiveTruth.ANNOTATION}", truth.annotation_text().encode())
    fs.pipe_file(f"{root}/{ArchiveTruth.EVENTS}", json.dumps(truth.to_dict(), indent=1).encode())
    return truth


def load_truth(url: str, storage_options: dict | None = None) -> ArchiveTruth:
    """Read ``{url}/_truth/events.json`` back into an ArchiveTruth."""
    url = url.rstrip("/")
    fs, root = _fs(url, storage_options)
    path = f"{root}/{ArchiveTruth.EVENTS}"
    try:
        raw = fs.cat_file(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"no synthetic-archive ground truth at {url}/{ArchiveTruth.EVENTS}") from None
    d = json.loads(raw)
    return ArchiveTruth(url=url, seed=int(d["seed"]), videos=[VideoTruth.from_dict(v) for v in d["videos"]])


def main(argv: list[str] | None = None) -> int:
    """`vagpt synth URL [...]`: write a synthetic archive with ground truth."""
    ap = argparse.ArgumentParser(
        prog="vagpt synth", description="Write synthetic camera footage with ground truth."
    )
    ap.add_argument(
        "url", help="archive root, any fsspec URL (file:///..., s3://bucket/prefix, a local path)"
    )
    ap.add_argument("--cameras", type=int, default=3)
    ap.add_argument("--videos-per-camera", type=int, default=2)
    ap.add_argument("--duration", type=float, default=30.0, help="seconds per video")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--codec", choices=["h264", "hevc"], default="h264")
    ap.add_argument("--date", default="2026-11-21")
    ap.add_argument("--start-time", default="22:00:00")
    ap.add_argument(
        "--kinds", default=",".join(ALL_KINDS), help="comma-separated anomaly kinds to cycle through"
    )
    ap.add_argument("--normal-fraction", type=float, default=1 / 3)
    ap.add_argument("--gop", type=int, default=None, help="frames per GOP (default: 2 s)")
    ap.add_argument(
        "--storage-options", default=None, help="JSON dict of fsspec options, e.g. for S3 endpoints"
    )
    args = ap.parse_args(argv)
    kinds = [k for k in args.kinds.split(",") if k]
    try:
        opts = json.loads(args.storage_options) if args.storage_options else None
        truth = generate_archive(
            args.url,
            cameras=args.cameras,
            date=args.date,
            videos_per_camera=args.videos_per_camera,
            duration_s=args.duration,
            width=args.width,
            height=args.height,
            fps=args.fps,
            anomaly_kinds=kinds,
            normal_fraction=args.normal_fraction,
            seed=args.seed,
            codec=args.codec,
            storage_options=opts,
            start_time=args.start_time,
            gop=args.gop,
        )
    except (ValueError, json.JSONDecodeError) as exc:
        print(f"vagpt synth: error: {exc}", file=sys.stderr)
        return 2
    for v in truth.videos:
        ev = "; ".join(f"{e.kind} {e.start_s:.1f}-{e.end_s:.1f}s" for e in v.events) or "normal"
        print(f"{truth.video_url(v.key)}  {ev}")
    print(f"ground truth: {truth.url}/{ArchiveTruth.ANNOTATION} and {truth.url}/{ArchiveTruth.EVENTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
