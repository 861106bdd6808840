"""The per-frame look of a domain-randomized video: light, auto gain, headlights, shake, weather, IR, blur, blocking.

An :class:`Effects` is precomputed once per video in ``make_scene`` (curves over
the frames, a weather texture) from the domain and the video seed, so a frame
stays a pure function of ``(seed, frame index)``. Rendering order per frame,
like a camera: the scene under its light (``light`` x the base lighting) ->
passing headlights brighten a moving cone -> crop the view (shake, pan) ->
sensor noise (x ``noise_gain``) -> auto gain and exposure (``agc``, so the
gain amplifies the noise too) and white balance -> rain or snow -> IR
grayscale -> optics blur -> 8x8 blocking.

Shake and pan move the whole frame: the scene is rendered ``margin`` px larger
on every side and each frame crops its view at ``offsets[i]`` (integer px), so
no frame has a black border. Everything here is float32 over one frame; the
hot loop is a few full-frame multiply-adds.
"""

from __future__ import annotations

import math

import numpy as np

from va_gpt.synthetic.camera import Layout
from va_gpt.synthetic.domain import Domain
from va_gpt.synthetic.motion import smooth

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def _unit_noise(rng: np.random.Generator, n: int, k: int, win: int) -> np.ndarray:
    """Smoothed N(0, 1) noise [n, k], rescaled to unit std (smoothing shrinks it)."""
    a = smooth(rng.normal(0, 1, (n, k)), win)
    sd = a.std(0)
    return a / np.where(sd > 0, sd, 1.0)


def view_offsets(
    domain: Domain, rng: np.random.Generator, n: int, burst: tuple[int, int, float] | None = None
) -> tuple[np.ndarray, int]:
    """(offsets int [n, 2] = (ox, oy) of each frame's view in the enlarged render, margin px).

    Jitter: smoothed noise with std `domain.shake_px()`; pan: a slow sinusoid of amplitude
    `domain.pan_px()` (mostly horizontal); `burst` = (start, end, std px): a hard-negative shake.
    """
    fps = domain.fps
    t = np.arange(n) / fps
    jit = _unit_noise(rng, n, 2, max(1, int(round(fps / 15)))) * domain.shake_px()
    period, phase = rng.uniform(20.0, 60.0), rng.uniform(0, 2 * np.pi)
    pan = domain.pan_px() * np.stack(
        [np.sin(2 * np.pi * t / period + phase), 0.15 * np.sin(4 * np.pi * t / period + phase)], 1
    )
    off = jit + pan
    if burst is not None:
        s, e, amp = burst
        env = np.sin(np.linspace(0, np.pi, e - s))[:, None] ** 0.5  # ramps in and out
        off[s:e] += _unit_noise(rng, e - s, 2, 1) * amp * env
    off = np.rint(off).astype(np.int64)
    m = int(np.abs(off).max()) if n else 0
    return off + m, m


def _weather_tile(domain: Domain, rng: np.random.Generator) -> np.ndarray | None:
    """uint8 [2H, 2W] additive streaks (rain) or flakes (snow), tiled 2x2 so any H x W window wraps."""
    if domain.weather == "clear":
        return None
    W, H = domain.width, domain.height
    tile = np.zeros((H, W), np.uint8)
    if domain.weather == "rain":
        count = int(domain.weather_density * W * H / 500)
        length = max(3, int(H * rng.uniform(0.03, 0.06)))
        y0, x0 = rng.integers(0, H, count), rng.integers(0, W, count)
        bright = rng.integers(25, 60, count).astype(np.uint8)
        slant = rng.uniform(-0.2, 0.2)
        for k in range(length):  # one diagonal pixel row of every streak at a time
            tile[(y0 + k) % H, (x0 + int(round(slant * k))) % W] = bright
    else:
        count = int(domain.weather_density * W * H / 700)
        y0, x0 = rng.integers(0, H, count), rng.integers(0, W, count)
        bright = rng.integers(110, 180, count).astype(np.uint8)
        r = max(1, int(round(H / 400)))
        for dy in range(-r, r + 1):
            for dx in range(-r, r + 1):
                if dy * dy + dx * dx <= r * r:
                    tile[(y0 + dy) % H, (x0 + dx) % W] = bright
    return np.tile(tile, (2, 2))


class Effects:
    """A domain's per-frame look for one n-frame video; see the module docstring for the order."""

    def __init__(
        self,
        domain: Domain,
        seed: int,
        n: int,
        offsets: np.ndarray,
        margin: int,
        light_step: tuple[int, int, float] | None = None,
    ):
        d, fps = domain, domain.fps
        self.domain, self.n, self.offsets, self.margin = d, n, offsets, margin
        rng = np.random.default_rng([seed, 7, 1])
        t = np.arange(n) / fps
        # scene light: darkness, or the IR illuminator; a hard-negative lighting change steps it
        base = min(0.9, (1 - d.darkness) * d.ir_boost) if d.infrared else 1 - d.darkness
        light = np.full(n, base, np.float64)
        if light_step is not None:  # (frame, ramp frames, factor): lights switched, a cloud
            f, ramp, factor = light_step
            u = np.clip((np.arange(n) - f) / max(1, ramp), 0.0, 1.0)
            light *= 1.0 + (factor - 1.0) * u
        self.light = light.astype(np.float32)
        # auto gain: slow exposure wander plus steps that re-settle over 2-4 s (exposure hunting)
        log_g = d.exposure_drift * _unit_noise(rng, n, 1, max(1, int(fps * 3)))[:, 0]
        jumps = rng.poisson(d.gain_jumps_per_min * n / fps / 60.0)
        for f in np.sort(rng.integers(0, n, jumps)):
            tau = rng.uniform(2.0, 4.0) * fps
            k = np.arange(n - f)
            log_g[f:] += rng.uniform(-1, 1) * d.gain_jump * np.exp(-k / tau)
        self.agc = np.exp(log_g).astype(np.float32)
        self.cast = np.array(d.color_cast, np.float32)
        self.noise_gain = np.float32(d.noise_gain)
        self.sweeps: list[tuple] = []  # filled by add_headlights once the layout exists
        self._rng_lights = np.random.default_rng([seed, 7, 2])
        self.tile = _weather_tile(d, np.random.default_rng([seed, 7, 3]))
        if self.tile is not None:
            H = d.height
            fall = (0.06 if d.weather == "rain" else 0.008) * H  # px per frame at 30 fps
            self._fall = fall * 30.0 / fps
            self._sway = 0.004 * d.width * (d.weather == "snow")
            self._haze = np.float32(0.12 * d.weather_density)
        self._t = t

    def add_headlights(self, layout: Layout) -> None:
        """Passing cars' headlight cones sweeping along a lane (render coordinates)."""
        d, n, rng = self.domain, self.n, self._rng_lights
        count = rng.poisson(d.headlights_per_min * n / d.fps / 60.0)
        for _ in range(count):
            y = layout.lanes[int(rng.integers(2))]
            h = layout.person_h(y)
            speed = rng.uniform(8.0, 15.0) * layout.px_per_m(y) / d.fps  # px per frame
            life = int(math.ceil((layout.width + 8 * h) / speed))
            start = int(rng.integers(-life // 2, n))
            side = 1.0 if rng.random() < 0.5 else -1.0
            x0 = -4 * h if side > 0 else layout.width + 4 * h
            self.sweeps.append((start, life, x0, side * speed, y, h, rng.uniform(0.6, 1.4)))

    def headlights(self, canvas: np.ndarray, i: int, ox: int, oy: int) -> None:
        """Brighten the view canvas [H, W, 3] in each active cone (x gain) and add the lamps' glare."""
        H, W = canvas.shape[:2]
        for start, life, x0, v, y, h, power in self.sweeps:
            if not start <= i < start + life:
                continue
            xc, yc = x0 + v * (i - start) - ox, y - 0.3 * h - oy
            ahead = xc + np.sign(v) * 2.5 * h  # the cone reaches ahead of the car
            sx, sy = 3.0 * h, 0.9 * h
            c0, c1 = max(0, int(ahead - 3 * sx)), min(W, int(ahead + 3 * sx) + 1)
            r0, r1 = max(0, int(yc - 3 * sy)), min(H, int(yc + 3 * sy) + 1)
            if c0 >= c1 or r0 >= r1:
                continue
            gx = np.exp(-(((np.arange(c0, c1) - ahead) / sx) ** 2)).astype(np.float32)
            gy = np.exp(-(((np.arange(r0, r1) - yc) / sy) ** 2)).astype(np.float32)
            cone = np.float32(power) * gy[:, None] * gx[None, :]
            region = canvas[r0:r1, c0:c1]
            region *= (1.0 + cone)[..., None]
            lx, ly = xc + np.sign(v) * 1.2 * h, yc + 0.1 * h
            gx = np.exp(-(((np.arange(c0, c1) - lx) / (0.25 * h)) ** 2)).astype(np.float32)
            gy = np.exp(-(((np.arange(r0, r1) - ly) / (0.12 * h)) ** 2)).astype(np.float32)
            region += (np.float32(230.0 * power) * gy[:, None] * gx[None, :])[..., None]

    def post(self, canvas: np.ndarray, i: int) -> np.ndarray:
        """Auto gain, white balance, weather, IR, blur and blocking on the noisy view [H, W, 3] float32."""
        d = self.domain
        H, W = canvas.shape[:2]
        canvas *= self.agc[i] * (self.cast if not d.infrared else np.float32(1.0))
        if self.tile is not None:
            ty = int(self._fall * i) % H
            tx = int(self._sway * math.sin(self._t[i] * 1.3)) % W
            canvas *= 1.0 - self._haze
            canvas += np.float32(128.0) * self._haze
            canvas += self.tile[H - ty : 2 * H - ty, tx : tx + W, None]  # falls downward over time
        if d.infrared:
            gray = canvas @ _LUMA
            canvas = np.repeat(gray[..., None], 3, axis=2)
        if d.blur:  # 2x2 box (optics, focus): in place, the last row and column weighted to match
            canvas[:-1] += canvas[1:]
            canvas[-1] *= 2.0
            canvas[:, :-1] += canvas[:, 1:]
            canvas[:, -1] *= 2.0
            canvas *= np.float32(0.25)
        if d.blocking > 0:
            # blend each whole 8x8 block toward its mean (reduceat: ~3x faster than a 5-D mean)
            hb, wb, b = H // 8 * 8, W // 8 * 8, np.float32(d.blocking)
            part = canvas[:hb, :wb]
            mean = np.add.reduceat(np.add.reduceat(part, np.arange(0, hb, 8), 0), np.arange(0, wb, 8), 1)
            blocks = part * (1 - b)
            blocks.reshape(hb // 8, 8, wb // 8, 8, 3)[...] += (mean * (b / 64))[:, None, :, None, :]
            canvas[:hb, :wb] = blocks
        return canvas
