"""The anomaly kinds and their builders: each adds actors to the same normal scene.

- ``fighting``: two people meet and move erratically at close range, punching.
- ``falling``: a person falls to the ground (ends horizontal) and stays down.
- ``running``: a group of 5-7 people standing together suddenly sprints away
  (panic, 5-7 m/s) until they leave the frame.
- ``explosion``: a bright, expanding, flickering fire that burns and dies down,
  leaving a scorch mark.
- ``collision``: two cars speed toward each other, crash and stop; smoke rises.
- ``abandoned_object``: a person puts a bag down and walks away; the bag stays
  still until the end (a static anomaly: its event runs to the end of the video).

A domain-randomized scene also varies how each kind looks
(:class:`va_gpt.synthetic.domain.Look`, drawn from its own seed stream): the
actors' size, how fast it unfolds, how violent it is and how long it lasts.
``Look()`` (all 1.0) is the original look.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from va_gpt.synthetic.actors import (
    BAGS,
    CARS,
    Actor,
    Bag,
    Debris,
    Fire,
    Person,
    Smoke,
    Static,
    Vehicle,
    lying_lift,
    lying_limbs,
)
from va_gpt.synthetic.camera import Layout
from va_gpt.synthetic.domain import Look
from va_gpt.synthetic.motion import clamp, edge_x, smooth, walk, zone_y
from va_gpt.synthetic.raster import ELLIPSE, scaled
from va_gpt.taxonomy import SYNTHETIC_KINDS, SYNTHETIC_UCF_CLASSES

ALL_KINDS: tuple[str, ...] = SYNTHETIC_KINDS  # the anomaly kinds (va_gpt.taxonomy)
# UCF-Crime-style class per kind, as the truth files write it
UCF_CLASSES: dict[str, str] = SYNTHETIC_UCF_CLASSES
NORMAL_CLASS = "Normal"

# nominal event lengths in seconds (shortened to fit short videos); None = to the end
NOMINAL_S: dict[str, float | None] = {
    "fighting": 6.0,
    "falling": 5.0,
    "running": 4.0,
    "explosion": 5.0,
    "collision": 2.5,
    "abandoned_object": None,
}


_PLAIN = Look()  # the original look of every kind


@dataclass
class _Ctx:
    rng: np.random.Generator
    layout: Layout
    n: int
    fps: float
    s: int
    e: int
    look: Look = _PLAIN

    @property
    def W(self):
        return self.layout.width

    @property
    def H(self):
        return self.layout.height

    def arrive(self, person: Person, target, frame: int, side: float, speed: float, zone=None, cycle_m=1.45):
        """Walk `person` in from off-screen `side` so it reaches `target` at `frame` (inclusive)."""
        tx, ty = target
        zone = zone or (ty, ty)
        ys = clamp(ty + self.rng.uniform(-0.4, 0.4) * (zone[1] - zone[0]), *zone)
        pts = [
            (tx, ty),
            ((tx + edge_x(self.layout, side, ys)) / 2, clamp((ty + ys) / 2, *zone)),
            (edge_x(self.layout, side, ys), ys),
        ]
        steps = frame + 1
        x, y, dm = walk(pts, speed, self.fps, self.layout, steps)
        frames = np.arange(frame, frame - steps, -1)
        order = np.argsort(frames)
        frames, x, y, dm = frames[order], x[order], y[order], dm[order]
        person.set_walk(frames, x, y, dm, cycle_m=cycle_m)

    def leave(
        self, person: Person, frame: int, side: float, speeds, zone=None, cycle_m=1.45, amp=0.38, y_to=None
    ):
        """From its position at `frame`, walk/run off-screen toward `side` (frames frame..n-1)."""
        steps = self.n - frame
        if steps <= 0:
            return np.zeros(0), np.zeros(0)
        x0, y0 = float(person.x[frame]), float(person.y[frame])
        if y_to is None:
            zone = zone or (y0, y0)
            y_to = clamp(y0 + self.rng.uniform(-0.4, 0.4) * (zone[1] - zone[0]), *zone)
        pts = [(x0, y0), (edge_x(self.layout, side, y_to), y_to)]
        x, y, dm = walk(pts, speeds, self.fps, self.layout, steps)
        frames = np.arange(frame, frame + steps)
        person.set_walk(frames, x, y, dm, cycle_m=cycle_m, amp=amp)
        person.x[frames[np.isnan(x)]] = np.nan
        return x, y


def _spot(c: _Ctx, lo: float, hi: float) -> tuple[tuple[float, float], float, float]:
    """Where on a sidewalk (the near one more often) the event happens: (zone, x in [lo, hi) of W, feet row)."""
    zone = c.layout.near_walk if c.rng.random() < 0.6 else c.layout.far_walk
    py = zone_y(c.rng, zone)
    return zone, c.W * c.rng.uniform(lo, hi), py


def _build_fighting(c: _Ctx):
    rng, L = c.rng, c.layout
    zone, px, py = _spot(c, 0.3, 0.7)
    h = L.person_h(py)
    a = Person("fighter_a", "anomaly", L, rng, c.n)
    b = Person("fighter_b", "anomaly", L, rng, c.n)
    gap = 0.27 * h
    c.arrive(a, (px - gap, py), c.s, -1.0, rng.uniform(1.1, 1.5), zone)
    c.arrive(b, (px + gap, py), c.s, +1.0, rng.uniform(1.1, 1.5), zone)
    fr = np.arange(c.s, c.e)
    m = len(fr)
    win = max(2, int(round(c.fps / 10)))
    jx = smooth(rng.normal(0, 1, (m, 2)), win) * 0.35 * h * c.look.intensity
    jy = smooth(rng.normal(0, 1, (m, 2)), win) * 0.03 * h
    shove = np.cumsum(rng.normal(0, 0.02 * h, m))
    shove = shove - np.linspace(0, shove[-1], m)  # ends where it started
    xa = px - gap + jx[:, 0] + shove
    xb = px + gap + jx[:, 1] + shove
    xb = np.maximum(xb, xa + 0.2 * h)
    for p, xs, k, f in ((a, xa, 0, 1.0), (b, xb, 1, -1.0)):
        p.x[fr], p.y[fr] = xs, py + jy[:, k]
        p.face[fr] = f
        p.tilt[fr] = f * (0.12 + smooth(rng.normal(0, 1, m), win) * 0.35)
        punch = np.clip(smooth(rng.normal(0, 1, (m, 2)), win) * 1.6 + 0.6, 0, 2.2)
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
    zone, px, py = _spot(c, 0.25, 0.75)
    f = 1.0 if rng.random() < 0.5 else -1.0
    p = Person("faller", "anomaly", L, rng, c.n)
    c.arrive(p, (px, py), c.s, -f, rng.uniform(1.0, 1.4), zone)
    h = L.person_h(py) * p.hscale
    length = c.e - c.s
    t_fall = max(2, int(round(min(0.6 * c.fps / c.look.speed, 0.4 * length))))
    rest_arms, rest_legs = lying_limbs(f)
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
        p.lift[i] = lying_lift(p.tilt[i])
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
        p = Person(f"runner{k}", "anomaly", L, rng, c.n)
        ox = rng.uniform(-1.3, 1.3) * h
        pos = (cx + ox, zone_y(rng, zone))
        # the group gathers and stands around (chatting, waiting) for a while, then panics
        arrive = max(0, c.s - int(round(rng.uniform(2.0, 5.0) * c.fps)))
        c.arrive(p, pos, arrive, -1.0 if rng.random() < 0.5 else 1.0, rng.uniform(1.0, 1.5), zone)
        idle = np.arange(arrive, c.s + 1)
        p.x[idle], p.y[idle] = pos
        p.face[idle] = -1.0 if ox > 0 else 1.0
        p.legs[idle] = 0.0
        p.arms[idle] = 0.0
        side = 1.0 if ox > 0 else -1.0
        run = rng.uniform(5.0, 7.0) * c.look.speed
        steps = c.n - c.s
        kk = np.arange(steps)
        u = np.minimum(1.0, kk / ramp)
        speeds = 1.2 + (run - 1.2) * u
        y_to = clamp(
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
    R = 0.85 * L.person_h(py) * c.look.intensity
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
    fire = Fire("fire", px, py, r, rng, c.n)
    for k in range(min(3, length)):
        fire.flash[c.s + k] = 1.1 * R * (1 - k / 3)
    scorch = Static(
        "scorch", "anomaly", [(px, py, 1.0 * R, 0.28 * R, 0.0, ELLIPSE, (38, 32, 28), 0.7)], py - 1e-3, c.s
    )
    return [scorch, fire], [scorch, fire], {}


def _build_collision(c: _Ctx):
    rng, L = c.rng, c.layout
    y_far, y_near = L.lanes
    names = list(CARS)
    ca, cb = rng.choice(len(names), 2, replace=False)
    a = Vehicle("car_a", "anomaly", L, names[ca], c.n, +1.0)
    b = Vehicle("car_b", "anomaly", L, names[cb], c.n, -1.0)
    length = c.e - c.s
    t_app = max(2, int(round(min(1.2 * c.fps / c.look.speed, 0.45 * length))))
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
    smoke = Smoke("smoke", puffs, y_near + 1.0, (105, 105, 108), 0.7)
    flash = Smoke(
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
    debris = Debris("debris", imp, d_life, parts, 5.0 * hh / c.fps**2, y_near + 2.5, scaled(a.color, 0.8))
    actors = [a, b, smoke, flash, debris]
    return actors, actors, {"car1": a.color_name, "car2": b.color_name}


def _build_abandoned(c: _Ctx):
    rng, L = c.rng, c.layout
    zone, px, py = _spot(c, 0.25, 0.75)
    f = 1.0 if rng.random() < 0.5 else -1.0
    p = Person("owner", "anomaly", L, rng, c.n)
    h = L.person_h(py) * p.hscale
    names = list(BAGS)
    bag = Bag("bag", "anomaly", names[rng.integers(len(names))], c.n, 0.3 * h, 0.22 * h, L)
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


def build(
    kind: str,
    rng: np.random.Generator,
    layout: Layout,
    n: int,
    fps: float,
    s: int,
    e: int,
    look: Look = _PLAIN,
) -> tuple[list[Actor], list[Actor], dict, int, int]:
    """The actors of a `kind` event planned for frames [s, e) of an n-frame video.

    Returns (the new actors, those that make the event, caption context, s, e);
    a builder may shorten the event (``running`` ends when the group has left).
    """
    ctx = _Ctx(rng, layout, n, fps, s, e, look)
    new, event_actors, cap = _BUILDERS[kind](ctx)
    if look.size != 1.0:  # bigger or smaller people and bags (the default leaves them untouched)
        for a in new:
            if isinstance(a, Person):
                a.hscale *= look.size
            elif isinstance(a, Bag):
                a.w, a.h = a.w * look.size, a.h * look.size
    return new, event_actors, cap, ctx.s, ctx.e
