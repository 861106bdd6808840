"""The passers-by of a normal scene: people walking along the sidewalks, crossing, stopping a while."""

from __future__ import annotations

import numpy as np

from va_gpt.synthetic.actors import Person
from va_gpt.synthetic.camera import Layout
from va_gpt.synthetic.motion import clamp, edge_x, walk, zone_y


def normal_people(
    rng: np.random.Generator, layout: Layout, n: int, fps: float, density: float = 1.0
) -> list[Person]:
    """The passers-by of an n-frame video; `density` multiplies how many are in view at once."""
    W, H = layout.width, layout.height
    concurrency = int(rng.integers(2, 6))
    mid_y = (layout.far_walk[0] + layout.near_walk[1]) / 2
    cross_s = W / (1.25 * layout.px_per_m(mid_y))  # typical time to cross the frame
    spacing = cross_s / concurrency
    if density != 1.0:  # (the default keeps the original arithmetic: the same people)
        spacing /= density
    duration = n / fps
    t = -cross_s * rng.uniform(0.8, 1.0)
    people = []
    while t < duration:
        f0 = int(round(t * fps))
        t += spacing * rng.uniform(0.5, 1.5)
        pr = Person(f"person{len(people):02d}", "normal", layout, rng, n)
        kind = rng.random()
        side = -1.0 if rng.random() < 0.5 else 1.0
        if kind < 0.65:  # along a sidewalk
            zone = layout.far_walk if rng.random() < 0.4 else layout.near_walk
            y0, y2 = zone_y(rng, zone), zone_y(rng, zone)
            y1 = clamp((y0 + y2) / 2 + rng.uniform(-0.3, 0.3) * (zone[1] - zone[0]), *zone)
            pts = [
                (edge_x(layout, side, y0), y0),
                (W * rng.uniform(0.3, 0.7), y1),
                (edge_x(layout, -side, y2), y2),
            ]
        elif kind < 0.85:  # crossing the road
            za, zb = (
                (layout.far_walk, layout.near_walk)
                if rng.random() < 0.5
                else (layout.near_walk, layout.far_walk)
            )
            ya, yb = zone_y(rng, za), zone_y(rng, zb)
            xc = W * rng.uniform(0.2, 0.8)
            exit_side = side if rng.random() < 0.3 else -side
            pts = [
                (edge_x(layout, side, ya), ya),
                (xc, ya),
                (xc + rng.uniform(-0.1, 0.1) * W, yb),
                (edge_x(layout, exit_side, yb), yb),
            ]
        else:  # in from below the frame onto the near sidewalk
            yb = zone_y(rng, layout.near_walk)
            xb = W * rng.uniform(0.1, 0.9)
            pts = [
                (xb, H + 0.3 * layout.person_h(H)),
                (xb + rng.uniform(-0.05, 0.05) * W, yb),
                (edge_x(layout, side, yb), yb),
            ]
        speed = rng.uniform(1.0, 1.5)
        steps = n - f0
        if steps <= 0:
            break
        x, y, dm = walk(pts, speed, fps, layout, steps)
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
