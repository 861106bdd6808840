"""Hard negatives of a normal domain-randomized video: things that look eventful and are not anomalies.

- ``shake``: a 0.5-1.5 s burst of camera shake (someone bumps the pole, wind).
- ``lighting``: the light steps by x0.55-0.8 or x1.3-1.6 over 0.1-1 s (lights switched, a cloud)
  and stays there.
- ``crowd``: a group of 6-10 people walking together along a sidewalk at a normal pace.
- ``fast_car``: one car driving through at 12-20 m/s (43-72 km/h), no crash.
- ``door``: a building door swings open onto a lit interior for 2-4 s and closes.
- ``rest``: a person walks to a spot on a sidewalk, stands 0.5-2 s, lies down over 1.5-3 s and
  stays lying still to the end. Why: a fall's truth ends when the struggle does, and the fallen
  person then lies still in the same pose; without a normal video that shows a lying person,
  the classifier learned "a still body on the ground" as anomalous: the lying after the falls of
  /tmp/a2 scored a median 0.81-0.94 (docs/MEASUREMENTS.md, "Twice the training videos"; with this hard negative
  in training 0.66, "A person lying down, a hard negative"). The fall is the sudden drop and the
  struggle, not the lying.

Each is drawn with probability ``domain.hard_negative_p`` from the video seed
(``default_rng([seed, 9])``) for a normal video, and with ``domain.event_hard_negative_p``
(default 0) for a video with an event: a distractor is never labelled (a frame's label is
the event's alone), and ``Scene.distractors`` / the truth's ``distractors`` name them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from va_gpt.synthetic.actors import CARS, Actor, Person, Vehicle, lying_lift, lying_limbs
from va_gpt.synthetic.camera import Layout
from va_gpt.synthetic.domain import Domain
from va_gpt.synthetic.motion import edge_x, walk
from va_gpt.synthetic.raster import RECT

# appended in this order, so a video keeps the earlier ones' draws when a new one is added
HARD_NEGATIVES = ("shake", "lighting", "crowd", "fast_car", "door", "rest")


@dataclass
class Plan:
    """Which hard negatives a video gets; the effect ones' parameters (frames, px, light factor)."""

    names: list[str] = field(default_factory=list)
    burst: tuple[int, int, float] | None = None  # (start, end, jitter std px)
    light_step: tuple[int, int, float] | None = None  # (frame, ramp frames, light factor)
    times: dict[str, int] = field(default_factory=dict)  # start frame of each actor distractor


def plan(seed: int, domain: Domain, n: int, p_each: float | None = None) -> Plan:
    """Draw the hard negatives of an n-frame video, each with probability `p_each` (default: a
    normal video's, domain.hard_negative_p). Each always draws its parameters, so a video's
    draws do not depend on the probability."""
    rng = np.random.default_rng([seed, 9])
    p_each = domain.hard_negative_p if p_each is None else p_each
    fps, p = domain.fps, Plan()
    for name in HARD_NEGATIVES:
        on = rng.random() < p_each
        start = int(rng.uniform(0.1, 0.7) * n)
        length = max(2, int(rng.uniform(0.5, 1.5) * fps))
        amp = rng.uniform(0.4, 1.0) / 100.0 * domain.width  # burst std, px: within training shake x2
        ramp = max(1, int(rng.uniform(0.1, 1.0) * fps))
        factor = rng.uniform(0.55, 0.8) if rng.random() < 0.5 else rng.uniform(1.3, 1.6)
        if not on:
            continue
        p.names.append(name)
        if name == "shake":
            p.burst = (start, min(n, start + length), float(amp))
        elif name == "lighting":
            p.light_step = (start, ramp, float(factor))
        else:
            p.times[name] = start
    return p


class Door(Actor):
    """A building door at the street (feet row y): closed, or swung open onto a lit interior."""

    def __init__(self, x: float, y: float, h: float, opening: np.ndarray):
        self.name, self.role = "door", "normal"
        self.x, self.y, self.w, self.h, self.opening = x, y, 0.45 * h, 1.2 * h, opening

    def depth(self, i):
        return self.y - 0.5  # behind anyone on the far sidewalk

    def prims(self, i):
        u = float(self.opening[i])
        cx, cy, w, h = self.x, self.y - 0.6 * self.h, self.w, self.h
        out = [(cx, cy, 0.5 * w + 1, 0.5 * h + 1, 0.0, RECT, (40, 36, 34), 1.0)]  # frame
        if u > 0:
            out.append((cx, cy, 0.5 * w, 0.5 * h, 0.0, RECT, (235, 210, 150), 1.0))  # lit interior
        pw = 0.5 * w * (1.0 - u)  # the panel foreshortens as it swings open
        if pw > 0.3:
            out.append((cx - 0.5 * w + pw, cy, pw, 0.5 * h, 0.0, RECT, (95, 70, 50), 1.0))
        return out


def actors(p: Plan, seed: int, layout: Layout, n: int, fps: float) -> list[Actor]:
    """The actor hard negatives of plan `p` (role "normal")."""
    rng = np.random.default_rng([seed, 9, 1])
    out: list[Actor] = []
    if "crowd" in p.times:
        zone = layout.near_walk if rng.random() < 0.6 else layout.far_walk
        side = 1.0 if rng.random() < 0.5 else -1.0
        speed = rng.uniform(1.1, 1.4)
        for k in range(int(rng.integers(6, 11))):
            pr = Person(f"crowd{k:02d}", "normal", layout, rng, n)
            y = float(rng.uniform(*zone))
            lag = int(rng.uniform(0.0, 2.5) * fps)  # a loose group, not a marching column
            f0 = p.times["crowd"] + lag
            x, yy, dm = walk(
                [(edge_x(layout, -side, y), y), (edge_x(layout, side, y), y)], speed, fps, layout, n
            )
            frames = np.arange(f0, f0 + n)
            pr.set_walk(frames, x, yy, dm, phase0=rng.uniform(0, 2 * np.pi))
            out.append(pr)
    if "fast_car" in p.times:
        names = list(CARS)
        side = 1.0 if rng.random() < 0.5 else -1.0
        y = layout.lanes[1 if side > 0 else 0]
        car = Vehicle("fast_car", "normal", layout, names[int(rng.integers(len(names)))], n, side)
        v = rng.uniform(12.0, 20.0) * layout.px_per_m(y) / fps  # px per frame
        length = 2.65 * layout.person_h(y)
        x0 = -length if side > 0 else layout.width + length
        fr = np.arange(p.times["fast_car"], n)
        car.x[fr] = x0 + side * v * (fr - fr[0])
        car.y[fr] = y
        out.append(car)
    if "door" in p.times:
        y = layout.y_build
        h = layout.person_h(y + 0.3 * (layout.y_road0 - y))
        s = p.times["door"]
        swing, hold = max(1, int(0.5 * fps)), int(rng.uniform(2.0, 4.0) * fps)
        k = np.arange(n) - s
        opening = np.clip(np.minimum(k / swing, (2 * swing + hold - k) / swing), 0.0, 1.0)
        out.append(Door(float(rng.uniform(0.1, 0.9) * layout.width), y, h, opening))
    if "rest" in p.times:
        out.append(resting_person(rng, layout, n, fps, p.times["rest"]))
    return out


def resting_person(rng: np.random.Generator, layout: Layout, n: int, fps: float, arrive: int) -> Person:
    """A person who walks in, reaches a sidewalk spot at frame `arrive`, stands, lies down slowly
    (a fall drops in about 0.6 s: anomalies._build_falling) and lies still in a fallen person's
    pose to the end of the video."""
    zone = layout.near_walk if rng.random() < 0.6 else layout.far_walk
    f = 1.0 if rng.random() < 0.5 else -1.0  # walks toward +f, lies with its head toward +f
    y = float(rng.uniform(*zone))
    spot = float(rng.uniform(0.25, 0.75)) * layout.width
    pause = int(rng.uniform(0.5, 2.0) * fps)
    down = max(2, int(rng.uniform(1.5, 3.0) * fps))
    arms, legs = lying_limbs(f)
    rest_arms, rest_legs = arms + rng.uniform(-0.3, 0.3, 2), legs + rng.uniform(-0.1, 0.1, 2)
    pr = Person("resting", "normal", layout, rng, n)
    x, yy, dm = walk([(edge_x(layout, -f, y), y), (spot, y)], rng.uniform(0.9, 1.3), fps, layout, n)
    k = int(np.sum(~np.isnan(x)))  # frames on the path, the last one standing at the spot
    pr.set_walk(np.arange(arrive - k + 1, arrive + 1), x[:k], yy[:k], dm[:k], face=f)
    px, h = float(x[k - 1]), layout.person_h(y) * pr.hscale
    for i in range(max(0, arrive + 1), n):
        u = min(1.0, max(0, i - arrive - pause) / down)
        u = u * u * (3 - 2 * u)  # eased: no jolt at either end
        pr.x[i], pr.y[i], pr.face[i] = px + f * 0.1 * h * u, y, f
        pr.tilt[i] = f * (np.pi / 2) * u
        pr.arms[i], pr.legs[i] = rest_arms * u, rest_legs * u
        pr.lift[i] = lying_lift(pr.tilt[i])
    return pr
