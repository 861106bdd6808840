"""Actors drawn on top of the background: people, cars, bags, fire, smoke, debris, a scorch mark."""

from __future__ import annotations

import math

import numpy as np

from va_gpt.synthetic.camera import Layout
from va_gpt.synthetic.motion import faces
from va_gpt.synthetic.raster import ELLIPSE, GLOW, RECT, Raster, quantize, rasterize, scaled

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
CARS = {
    "white": (225, 225, 225),
    "silver": (165, 170, 175),
    "red": (175, 30, 35),
    "blue": (35, 60, 150),
    "black": (25, 25, 28),
    "yellow": (225, 185, 40),
    "green": (40, 100, 60),
}
BAGS = {
    "black": (25, 25, 28),
    "brown": (105, 70, 40),
    "dark blue": (30, 40, 85),
    "red": (160, 30, 30),
    "green": (45, 90, 50),
    "grey": (110, 110, 115),
}


class Actor:
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

    def raster(self, i: int, width: int, height: int, cache: dict) -> tuple[Raster | None, int, int]:
        st = self.state(i)
        if st is None:
            return rasterize(self.prims(i), (width, height)), 0, 0
        key, ix, iy = st
        ck = (id(self), key)
        r = cache.get(ck, False)
        if r is False:
            r = rasterize(self.local_prims(key))
            cache[ck] = r
        return r, ix, iy


def lying_limbs(f: float) -> tuple[np.ndarray, np.ndarray]:
    """(arms, legs) angles of a person lying on the ground with its head toward +f: a fallen
    person's pose (anomalies._build_falling), and the resting hard negative's (distractors)."""
    return np.array([-f * 0.6, -f * 2.7]), np.array([0.15 * f, -0.1 * f])


def lying_lift(tilt: float) -> float:
    """Person.lift for a body tilted by `tilt`: raised off the ground as it lies, in units of height."""
    return 0.1 * abs(math.sin(tilt))


class Person(Actor):
    """A side-view figure: legs, torso, arms, head. State arrays are per frame; NaN x = not in the scene."""

    def __init__(self, name: str, role: str, layout: Layout, rng: np.random.Generator, n: int):
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
        f = faces(x) if face is None else np.broadcast_to(face, frames.shape)
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
            quantize(self.height_px(i), 0.25),
            float(self.face[i]),
            quantize(self.tilt[i], 0.02),
            quantize(legs[0], 0.04),
            quantize(legs[1], 0.04),
            quantize(arms[0], 0.04),
            quantize(arms[1], 0.04),
            quantize(self.lift[i], 0.01),
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
            return (x, y, max(half_w * h, 0.6), max(length / 2 * h, 0.6), ang + tilt, ELLIPSE, color, 1.0)

        def part(lx, ly, a, b, color):
            x, y = at(lx, ly)
            return (x, y, max(a * h, 0.6), max(b * h, 0.6), tilt, ELLIPSE, color, 1.0)

        shadow = (
            0.5 * h * st,
            0.01 * h,
            (0.17 + 0.35 * abs(st)) * h,
            max(0.035 * h, 0.6),
            0.0,
            ELLIPSE,
            (0, 0, 0),
            0.3,
        )
        return [
            shadow,
            limb(-0.025 * f, -0.46, l1, 0.47, 0.045, scaled(self.pants, 0.8)),
            limb(0.025 * f, -0.46, l2, 0.47, 0.045, self.pants),
            limb(-0.02 * f, -0.79, a1, 0.34, 0.032, scaled(self.shirt, 0.8)),
            part(0.0, -0.63, 0.1, 0.185, self.shirt),
            part(0.015 * f, -0.885, 0.075, 0.075, self.skin),
            part(-0.01 * f, -0.935, 0.07, 0.035, self.hair),
            limb(0.02 * f, -0.79, a2, 0.34, 0.032, self.shirt),
        ]


class Vehicle(Actor):
    """A side-view car: x = centre, y = ground row, angle about the bottom centre."""

    def __init__(self, name, role, layout, color_name, n, face):
        self.name, self.role, self.layout = name, role, layout
        self.color_name, self.color = color_name, CARS[color_name]
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
        key = (quantize(L, 0.5), quantize(Hc, 0.5), quantize(self.angle[i], 0.005), self.face)
        return key, int(round(self.x[i])), int(round(self.y[i]))

    def local_prims(self, key):
        L, Hc, ang, f = key
        c, s = math.cos(ang), math.sin(ang)

        def part(lx, ly, a, b, color, shape=RECT):
            return (c * lx - s * ly, s * lx + c * ly, max(a, 0.6), max(b, 0.6), ang, shape, color, 1.0)

        col = self.color
        return [
            (0.0, 0.0, 0.55 * L, max(0.06 * Hc, 0.6), 0.0, ELLIPSE, (0, 0, 0), 0.35),
            part(0.0, -0.4 * Hc, 0.5 * L, 0.24 * Hc, col),
            part(-0.06 * L * f, -0.76 * Hc, 0.28 * L, 0.2 * Hc, col),
            part(-0.06 * L * f, -0.76 * Hc, 0.23 * L, 0.13 * Hc, (55, 70, 85)),
            part(0.475 * L * f, -0.47 * Hc, 0.025 * L, 0.06 * Hc, (250, 245, 210)),
            part(-0.48 * L * f, -0.47 * Hc, 0.02 * L, 0.05 * Hc, (200, 30, 30)),
            part(0.3 * L, -0.15 * Hc, 0.15 * Hc, 0.15 * Hc, (20, 20, 20), ELLIPSE),
            part(-0.3 * L, -0.15 * Hc, 0.15 * Hc, 0.15 * Hc, (20, 20, 20), ELLIPSE),
            part(0.3 * L, -0.15 * Hc, 0.06 * Hc, 0.06 * Hc, (150, 150, 150), ELLIPSE),
            part(-0.3 * L, -0.15 * Hc, 0.06 * Hc, 0.06 * Hc, (150, 150, 150), ELLIPSE),
        ]


class Bag(Actor):
    """A bag or box: x, y = bottom centre per frame; w, h pixels."""

    def __init__(self, name, role, color_name, n, w, h, layout):
        self.name, self.role, self.layout = name, role, layout
        self.color_name, self.color = color_name, BAGS[color_name]
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
            (0.0, 0.0, 0.6 * w, max(0.08 * h, 0.6), 0.0, ELLIPSE, (0, 0, 0), 0.35),
            (0.0, -1.12 * h, 0.22 * w, max(0.14 * h, 0.6), 0.0, ELLIPSE, scaled(self.color, 0.7), 1.0),
            (0.0, -0.5 * h, 0.5 * w, 0.5 * h, 0.0, RECT, self.color, 1.0),
            (0.0, -0.55 * h, 0.5 * w, max(0.05 * h, 0.6), 0.0, RECT, scaled(self.color, 1.4), 1.0),
        ]


class Fire(Actor):
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
            out.append((x, y - 0.6 * fr, 1.2 * fr, 1.1 * fr, 0.0, ELLIPSE, (255, 255, 235), 0.9))
        out.append((x, y - 0.6 * r, 1.3 * r, 1.1 * r, 0.0, GLOW, (255, 170, 70), 0.8 * fl))
        out.append((x, y - 0.5 * r, r, 0.9 * r, 0.0, ELLIPSE, scaled((255, 140, 35), fl), 1.0))
        for k in range(5):
            out.append(
                (
                    x + 0.55 * r * j[k, 0],
                    y - r * (1.05 + 0.25 * j[k, 1]),
                    max(0.22 * r, 0.6),
                    max(0.45 * r * (1 + 0.3 * j[k, 2]), 0.6),
                    0.25 * j[k, 0],
                    ELLIPSE,
                    scaled((255, 165, 40), fl),
                    1.0,
                )
            )
        out.append((x, y - 0.45 * r, 0.72 * r, 0.68 * r, 0.0, ELLIPSE, scaled((255, 205, 80), fl), 1.0))
        out.append((x, y - 0.42 * r, 0.45 * r, 0.42 * r, 0.0, ELLIPSE, (255, 248, 215), 1.0))
        return out


class Static(Actor):
    """Fixed primitives visible from frame `start` (a scorch mark)."""

    def __init__(self, name, role, prims, key, start):
        self.name, self.role, self._prims, self.key, self.start = name, role, prims, key, start

    def depth(self, i):
        return self.key if i >= self.start else None

    def state(self, i):
        return ("static",), 0, 0

    def local_prims(self, key):
        return self._prims


class Smoke(Actor):
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
            out.append((x + vx * (i - b), y + vy * (i - b), r, 0.85 * r, 0.0, ELLIPSE, self.color, alpha))
        return out


class Debris(Actor):
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
                RECT,
                self.color,
                1.0,
            )
            for x, y, vx, vy, size, spin in self.parts
        ]
