"""A synthetic surveillance video: its events and random-access frames, built deterministically from a seed.

A street-camera-like video: a textured static background (buildings, sidewalks,
a road; different per camera seed), per-frame sensor noise, slow global
lighting drift and 2-5 people-like figures walking plausible paths at
~1-1.5 m/s, entering and leaving the frame. On top of that one anomaly (see
:mod:`va_gpt.synthetic.anomalies`) can be injected.

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

Domains: ``make_scene(..., domain=d)`` renders the video under a
:class:`va_gpt.synthetic.domain.Domain` (its resolution and fps; light, noise,
shake, weather... as :mod:`va_gpt.synthetic.effects` post-processing; camera
height and crowd density as scene changes; a varied look of the anomaly; hard
negatives in normal videos, and in videos with an event when the domain's
``event_hard_negative_p`` asks, :mod:`va_gpt.synthetic.distractors`). With
``domain=None`` (the default) every pixel is what it was before domains.

Times: an event covers ``[start_s, end_s)``, native frames ``round(start_s * fps) ..
round(end_s * fps) - 1``. Boxes: ``(x0, y0, x1, y1)`` pixels, ``x1``/``y1``
exclusive (``frame[y0:y1, x0:x1]``), clipped to the frame.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from va_gpt.synthetic import anomalies, distractors
from va_gpt.synthetic.actors import Actor
from va_gpt.synthetic.anomalies import ALL_KINDS, NOMINAL_S
from va_gpt.synthetic.camera import NOISE_PAD, camera_view
from va_gpt.synthetic.captions import caption
from va_gpt.synthetic.domain import Domain, Look, sample_look
from va_gpt.synthetic.effects import Effects, view_offsets
from va_gpt.synthetic.motion import smooth
from va_gpt.synthetic.pedestrians import normal_people
from va_gpt.synthetic.raster import composite, shift_box, union

_CACHE_BYTES = 48 << 20  # per-scene sprite cache


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


def frame_labels(events: list[Event], fps: float, num_frames: int) -> np.ndarray:
    """uint8 [num_frames] 0/1 per native frame: 1 where an event covers the frame."""
    out = np.zeros(num_frames, np.uint8)
    for ev in events:
        s, e = ev.frames(fps)
        out[s:e] = 1
    return out


class Scene:
    """A synthetic video: random-access frames, ground-truth events and per-frame actor boxes.

    Attributes: `seed`, `camera_seed`, `anomaly` (kind or None), `label`, `width`,
    `height`, `fps`, `num_frames`, `duration_s`, `events` (list of Event), `domain`
    (Domain or None), `distractors` (names of the video's hard negatives).
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
        domain: Domain | None = None,
        effects: Effects | None = None,
        distractors: tuple[str, ...] = (),
    ):
        self.seed = seed
        self.camera_seed = camera_seed
        self.anomaly = anomaly
        self.fps = float(fps)
        self.num_frames = int(num_frames)
        margin = 0 if effects is None else effects.margin  # the render is larger by this on every side
        self.width = layout.width - 2 * margin
        self.height = layout.height - 2 * margin
        self.events: list[Event] = events
        self.domain = domain
        self.distractors = tuple(distractors)
        self._fx = effects
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
        fx, W, H = self._fx, self.width, self.height
        ox, oy = (0, 0) if fx is None else (int(v) for v in fx.offsets[i])  # the view into the render
        canvas = self._bg[oy : oy + H, ox : ox + W] * gain
        for a in self._visible(i):
            r, dx, dy = self._raster(a, i)
            composite(canvas, r, dx - ox, dy - oy, 1.0 if a.emissive else float(gain))
        k, dy, dx = self._noise_sel[i]
        noise = self._noise[k, dy : dy + H, dx : dx + W]
        if fx is None:
            canvas += noise
        else:
            fx.headlights(canvas, i, ox, oy)
            canvas += noise * fx.noise_gain
            canvas = fx.post(canvas, i)
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
        return frame_labels(self.events, self.fps, self.num_frames)

    def actor_boxes(self, i: int) -> list[tuple[str, str, tuple[int, int, int, int]]]:
        """(name, role, box) of every actor drawn in frame i; role is "normal" or "anomaly"."""
        out = []
        for a in self._visible(int(i)):
            box = self._box(a, int(i))
            if box is not None:
                out.append((a.name, a.role, box))
        return out

    def _raster(self, actor: Actor, i: int):
        if self._cache_bytes > _CACHE_BYTES:
            self._cache.clear()
            self._cache_bytes = 0
        n = len(self._cache)
        r, dx, dy = actor.raster(i, self._layout.width, self._layout.height, self._cache)
        if len(self._cache) > n and r is not None:
            self._cache_bytes += r.nbytes
        return r, dx, dy

    def _box(self, actor: Actor, i: int):
        """Pixel box (x0, y0, x1, y1) of what `actor` draws in frame i, or None."""
        r, dx, dy = self._raster(actor, i)
        if r is None:
            return None
        ox, oy = (0, 0) if self._fx is None else (int(v) for v in self._fx.offsets[i])
        return shift_box(r.bbox, dx - ox, dy - oy, self.width, self.height)

    def __repr__(self) -> str:
        return (
            f"Scene(seed={self.seed}, camera_seed={self.camera_seed}, anomaly={self.anomaly!r}, "
            f"{self.width}x{self.height}@{self.fps:g}fps, {self.num_frames} frames, events={len(self.events)})"
        )


def check_event_start(event_start: tuple[float, float] | None) -> None:
    """ValueError unless `event_start` is None or (lo, hi) fractions of a video, 0 <= lo <= hi < 1."""
    if event_start is not None and not 0.0 <= event_start[0] <= event_start[1] < 1.0:
        raise ValueError(f"event_start must be fractions 0 <= lo <= hi < 1, got {event_start}")


def draw_event_start_s(
    seed: int, anomaly: str | None, duration_s: float, event_start: tuple[float, float] | None
) -> float | None:
    """When video `seed`'s event starts, in seconds (0.1 s steps): a draw in the `event_start`
    fractions (lo, hi) of the video from the video's own stream; None for a normal video or
    event_start None (make_scene then draws its own 25-45 %). One draw for archives and the
    classifier's training footage, so both spread events the same way."""
    if anomaly is None or event_start is None:
        return None
    return round(float(np.random.default_rng([seed, 17]).uniform(*event_start)) * duration_s, 1)


def make_scene(
    seed: int,
    anomaly: str | None,
    duration_s: float = 30.0,
    width: int | None = None,
    height: int | None = None,
    fps: float | None = None,
    event_start_s: float | None = None,
    *,
    camera_seed: int | None = None,
    domain: Domain | None = None,
) -> Scene:
    """Build a deterministic synthetic video.

    `seed` fixes people, noise, lighting and the anomaly; `camera_seed` (default:
    `seed`) fixes the background and noise texture, so several videos of one
    camera share a view. `anomaly` is one of ALL_KINDS or None for a normal
    video. `event_start_s` places the event (default: 25-45% into the video);
    event lengths are nominal (4-6 s) and shortened to fit short videos;
    `abandoned_object` runs to the end. `width`, `height`, `fps` default to 640x480 at
    30 fps, or the `domain`'s (passing a different value with a domain is an error).
    """
    width, height, fps = _size(width, height, fps, domain)
    if anomaly is not None and anomaly not in ALL_KINDS:
        raise ValueError(f"unknown anomaly kind {anomaly!r}; expected one of {ALL_KINDS} or None")
    if width < 32 or height < 32:
        raise ValueError(f"frame size {width}x{height} is too small (at least 32x32)")
    if fps <= 0 or duration_s <= 0:
        raise ValueError(f"fps and duration_s must be positive, got fps={fps}, duration_s={duration_s}")
    seed, camera_seed = int(seed), int(seed if camera_seed is None else camera_seed)
    n = int(round(duration_s * fps))
    if n < 2:
        raise ValueError(f"duration_s={duration_s} at fps={fps} gives fewer than 2 frames")
    fx, hard, look = None, distractors.Plan(), Look()
    if domain is None:
        background, noise, layout = camera_view(camera_seed, int(width), int(height))
    else:  # own seed streams ([seed, 7..9]): the draws below are the same with or without a domain
        if anomaly is None:
            hard = distractors.plan(seed, domain, n)
        else:
            look = sample_look(np.random.default_rng([seed, 8, ALL_KINDS.index(anomaly)]))
            if domain.event_hard_negative_p > 0:  # the same streams as a normal video's
                hard = distractors.plan(seed, domain, n, domain.event_hard_negative_p)
        off, margin = view_offsets(domain, np.random.default_rng([seed, 7]), n, hard.burst)
        fx = Effects(domain, seed, n, off, margin, hard.light_step)
        background, noise, layout = camera_view(
            camera_seed, width + 2 * margin, height + 2 * margin, domain.horizon, domain.person_scale
        )
        fx.add_headlights(layout)

    density = 1.0 if domain is None else domain.crowd
    people = normal_people(np.random.default_rng([seed, 2]), layout, n, fps, density)

    rng = np.random.default_rng([seed, 3])
    noise_sel = np.stack(
        [
            rng.integers(0, noise.shape[0], n),
            rng.integers(0, NOISE_PAD + 1, n),
            rng.integers(0, NOISE_PAD + 1, n),
        ],
        1,
    )
    rng = np.random.default_rng([seed, 4])
    t = np.arange(n) / fps
    base = rng.uniform(0.7, 1.0)  # evening to day
    amp, period, phase = rng.uniform(0.02, 0.06), rng.uniform(40, 120), rng.uniform(0, 2 * np.pi)
    wander = smooth(np.cumsum(rng.normal(0, 0.0015, n)), max(1, int(fps)))
    gain = (base * (1 + amp * np.sin(2 * np.pi * t / period + phase)) + wander).astype(np.float32)
    if fx is not None:
        gain = gain * fx.light

    actors: list[Actor] = list(people)
    actors.extend(distractors.actors(hard, seed, layout, n, fps) if hard.names else [])
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
        nominal = NOMINAL_S[anomaly]
        if nominal is None:
            e = n
        else:
            room = n - s - max(1, int(round(0.1 * n)))
            e = s + max(1, min(int(round(nominal * look.duration * fps)), room))
        if e - s < max(4, int(round(0.3 * fps))):
            raise ValueError(f"no room for a {anomaly} event starting at {start:g} s in a {dur:g} s video")
        new, event_actors, cap, s, e = anomalies.build(anomaly, arng, layout, n, fps, s, e, look)
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
        domain=domain,
        effects=fx,
        distractors=tuple(hard.names),
    )
    if anomaly is not None:
        kind, kind_idx, s, e, event_actors, cap = event_spec
        # the box bounds the pixels the event's actors actually draw during the event
        box = union(scene._box(a, i) for i in range(s, e) for a in event_actors if a.depth(i) is not None)
        if box is None:
            raise AssertionError(f"{anomaly} event has no visible pixels (seed {seed})")
        text = caption(
            np.random.default_rng([seed, 6, kind_idx]), anomaly, box, scene.width, scene.height, cap
        )
        scene.events.append(Event(anomaly, s / fps, e / fps, tuple(int(v) for v in box), text))
    return scene


def _size(width, height, fps, domain: Domain | None) -> tuple[int, int, float]:
    """The frame size and rate: the arguments, else the domain's, else 640x480 at 30 fps."""
    if domain is None:
        return (
            int(640 if width is None else width),
            int(480 if height is None else height),
            float(fps or 30.0),
        )
    for name, v, dv in (
        ("width", width, domain.width),
        ("height", height, domain.height),
        ("fps", fps, domain.fps),
    ):
        if v is not None and v != dv:
            raise ValueError(f"{name}={v} contradicts the domain's {name}={dv}; pass one or the other")
    return domain.width, domain.height, domain.fps
