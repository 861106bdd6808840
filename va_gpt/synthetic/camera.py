"""A synthetic camera's view: the street layout (perspective scale), the static background, the sensor noise."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from va_gpt.synthetic.raster import ELLIPSE, RECT, draw, scaled

_PERSON_M = 1.7  # metres a person is tall: the px-per-metre scale at a given depth
NOISE_PAD = 16  # the per-frame noise is a random crop of a padded noise field


@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    y_build: float  # bottom of the buildings = back edge of the far sidewalk
    y_road0: float
    y_road1: float
    far_walk: tuple[float, float]  # feet y range on the far sidewalk
    near_walk: tuple[float, float]
    lanes: tuple[float, float]  # vehicle ground y of the far and near lane
    scale: float = 1.0  # x the people's (and cars') pixel height: camera height / focal length

    def person_h(self, y: float) -> float:
        """Pixel height of a 1.7 m person whose feet are at image row y (simple ground-plane perspective)."""
        t = (y - self.y_build) / (self.height - self.y_build)
        return self.height * (0.055 + 0.11 * min(max(t, 0.0), 1.2)) * self.scale

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
def camera_view(
    camera_seed: int, width: int, height: int, horizon: float = 0.0, scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray, Layout]:
    """(background float32 [H, W, 3], sensor-noise bank int8 [K, H+pad, W+pad, 3], layout) for a camera.

    `horizon` shifts the street down (+) or up (-) by that fraction of the height (a lower or higher
    camera), `scale` multiplies the people's pixel height; the defaults are the original view.
    """
    rng = np.random.default_rng([camera_seed, 101])
    W, H = width, height
    y_b = H * (rng.uniform(0.30, 0.40) + horizon)
    y_r0 = y_b + H * rng.uniform(0.075, 0.10)
    y_r1 = y_r0 + H * rng.uniform(0.22, 0.27)
    far_h, near_h = y_r0 - y_b, H - y_r1
    layout = Layout(
        width=W,
        height=H,
        y_build=y_b,
        y_road0=y_r0,
        y_road1=y_r1,
        far_walk=(y_b + 0.3 * far_h, y_r0 - 0.1 * far_h),
        near_walk=(y_r1 + 0.2 * near_h, H - 0.06 * near_h),
        lanes=(y_r0 + 0.42 * (y_r1 - y_r0), y_r0 + 0.88 * (y_r1 - y_r0)),
        scale=float(scale),
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
            prims.append((px, gy - 1.4 * hh, 0.04 * hh + 0.5, 1.4 * hh, 0.0, RECT, (45, 48, 50), 1.0))
            prims.append(
                (px + 0.15 * hh, gy - 2.8 * hh, 0.2 * hh, 0.06 * hh + 0.5, 0.0, RECT, (45, 48, 50), 1.0)
            )
        else:  # tree
            green = tuple(rng.uniform([40, 85, 35], [80, 130, 60]))
            prims.append((px, gy - 0.6 * hh, 0.07 * hh + 0.5, 0.6 * hh, 0.0, RECT, (85, 60, 40), 1.0))
            for _k in range(4):
                prims.append(
                    (
                        px + rng.uniform(-0.4, 0.4) * hh,
                        gy - rng.uniform(1.4, 2.0) * hh,
                        rng.uniform(0.35, 0.6) * hh,
                        rng.uniform(0.3, 0.5) * hh,
                        0.0,
                        ELLIPSE,
                        scaled(green, rng.uniform(0.85, 1.15)),
                        1.0,
                    )
                )
    draw(img, prims)

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
    shape = (3, H + NOISE_PAD, W + NOISE_PAD)
    luma = rng.normal(0, sigma, shape + (1,)).astype(np.float32)
    chroma = rng.normal(0, 0.45 * sigma, shape + (3,)).astype(np.float32)
    bank = np.clip(np.rint(luma + chroma), -127, 127).astype(np.int8)
    img.flags.writeable = False
    bank.flags.writeable = False
    return img, bank, layout
