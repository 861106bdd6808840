"""Domain randomization of the synthetic footage: what camera, light, weather and encoding a video gets.

A :class:`Domain` fixes everything about *how* a video looks (not what happens
in it): resolution, frame rate, codec, time of day, infrared, sensor noise,
exposure drift and auto-gain jumps, headlight sweeps, camera shake and pan,
rain or snow, blur and blocking, camera height (horizon, person scale), crowd
density and how often a normal video (and, when asked, a video with an event) gets a hard
negative. ``make_scene(...,
domain=None)`` renders exactly what it rendered before domains existed.

``sample_domain(rng, split)`` draws one. ``train``, ``val`` and ``test`` share
the training ranges (they differ by seed only); ``out_of_range`` draws the
resolution, the darkness and the shake amplitude *outside* them, the rest as
in training, for the generalization figure:

==================  =====================  ===================================  ==========================
knob                unit                   train / val / test                   out_of_range
==================  =====================  ===================================  ==========================
resolution          px (W x H)             4:3 320x240 640x480 800x600 960x720   4:3 256x192, 16:9 320x180
                                           16:9 640x360 854x480 960x540 1280x720 (height < 240)
fps                 frames/s               15, 20, 25, 30                        same
codec               -                      h264 (p .6), hevc                     same
gop                 s (x fps = frames)     0.5 - 4                               same
crf                 x264/x265 quality      20 - 32                               same
time_of_day         -                      day .4, dusk .25, night .35           night
darkness            0..1, light x (1-d)    day 0-0.15, dusk 0.3-0.5,             0.86 - 0.93
                                           night 0.6-0.8
infrared            grayscale IR look      night only, p .5                      same (p .5)
ir_boost            x light (illuminator)  2 - 3                                 same
color_cast          x per RGB channel      0.9 - 1.1                             same
noise_gain          x the camera's noise   1 - 2.5, + 2 x darkness               same rule
exposure_drift      std of log exposure    0 - 0.12                              same
gain_jumps_per_min  auto-gain steps / min  0 (p .5) or 0.5 - 3                   same
gain_jump           max abs log step       0.1 - 0.3                             same
headlights_per_min  sweeps / min           day 0; dusk/night 1 - 6              same
shake               jitter std, % of W     0 (p .4) or 0.05 - 0.5                0.8 - 1.3
pan                 amplitude, % of W      0 (p .6) or 0.5 - 3                   same
weather             -                      clear .6, rain .25, snow .15          same
weather_density     0..1                   0.2 - 1                               same
blur                2x2 box (0 = sharp)    0 (p .7) or 1                         same
blocking            8x8 blend, 0..1        0 (p .5) or 0.1 - 0.5                 same
horizon             shift, fraction of H   -0.06 - 0.06 (+ = lower camera)       same
person_scale        x person height        0.8 - 1.25                            same
crowd               x pedestrian density   0.6 - 2.5                             same
hard_negative_p     p per distractor       0.35                                  same
event_hard_neg._p   p per distractor in a  0 unless asked (sample_domain's        same
                    video with an event    event_hard_negative_p)
==================  =====================  ===================================  ==========================

``TRAIN_RANGES`` and ``OUT_OF_RANGE`` hold the three named knobs' ranges as
numbers, so tests (and the figure) can check a domain against them.

``sample_domain(rng, "out_of_range", out_of_range=("darkness",))`` takes only the
named knobs (of ``OOR_KNOBS``: height, darkness, shake) outside training and every
other knob to the same value as the full split's draw: archives of one seed that
differ in one knob, to tell which knob costs the generalization figure
(``vagpt synth --out-of-range darkness``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

SPLITS = ("train", "val", "test", "out_of_range")

_RES_4_3 = ((320, 240), (640, 480), (800, 600), (960, 720))
_RES_16_9 = ((640, 360), (854, 480), (960, 540), (1280, 720))
_RES_OOR = ((256, 192), (320, 180))
_FPS = (15.0, 20.0, 25.0, 30.0)
_DARK = {"day": (0.0, 0.15), "dusk": (0.3, 0.5), "night": (0.6, 0.8)}
_SHAKE = (0.05, 0.5)

# (lo, hi) inclusive of the named knobs: frame height px, darkness, shake % of W
TRAIN_RANGES = {"height": (240, 720), "darkness": (0.0, 0.8), "shake": (0.0, 0.5)}
OUT_OF_RANGE = {"height": (180, 192), "darkness": (0.86, 0.93), "shake": (0.8, 1.3)}
OOR_KNOBS = tuple(OUT_OF_RANGE)  # the knobs the out_of_range split can take outside training


def check_out_of_range_knobs(knobs, split: str | None) -> tuple[str, ...]:
    """The knobs a video of `split` takes outside training: for the out_of_range split, `knobs`
    (names of OOR_KNOBS in any order, no repeats, at least one) in OOR_KNOBS' order; for any other
    split (or None, plain renders) none, and `knobs` must be left at OOR_KNOBS. A clear error otherwise."""
    knobs = tuple(knobs)
    if split != "out_of_range":
        if knobs != OOR_KNOBS:
            raise ValueError(f"out-of-range knobs {list(knobs)} need the out_of_range split, got {split!r}")
        return ()
    bad = [k for k in knobs if k not in OOR_KNOBS]
    if bad or not knobs or len(set(knobs)) != len(knobs):
        raise ValueError(
            f"out-of-range knobs must be one or more distinct names of {OOR_KNOBS}, got {list(knobs)}"
        )
    return tuple(k for k in OOR_KNOBS if k in knobs)


def check_event_hard_negative_p(p: float, split: str | None) -> None:
    """Hard negatives in videos with an event (sample_domain's `event_hard_negative_p`): a
    probability, and above 0 only with a domain split (plain renders have no hard negatives).
    Checked before anything is rendered; a clear error otherwise."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"event_hard_negative_p must be a probability in [0, 1], got {p}")
    if p and split is None:
        raise ValueError("event_hard_negative_p needs a domain_split (plain renders have no hard negatives)")


@dataclass(frozen=True)
class Domain:
    """How one synthetic video looks; units in the module table. Immutable, JSON-able (to_dict/from_dict)."""

    split: str
    width: int  # px
    height: int  # px
    fps: float  # frames/s
    codec: str  # "h264" | "hevc"
    gop: int  # frames per GOP
    crf: int  # encoder quality (higher = more compression artefacts)
    time_of_day: str  # "day" | "dusk" | "night"
    darkness: float  # scene light = (1 - darkness) x the base lighting
    infrared: bool  # grayscale IR camera; an illuminator lifts the light by ir_boost
    ir_boost: float
    color_cast: tuple[float, float, float]  # white-balance gain per RGB channel
    noise_gain: float  # x the camera's sensor-noise std (applied before the auto gain)
    exposure_drift: float  # std of the slow log-exposure wander
    gain_jumps_per_min: float  # auto-gain steps per minute
    gain_jump: float  # max |log| size of one step
    headlights_per_min: float  # passing headlight sweeps per minute
    shake: float  # camera jitter std, % of frame width
    pan: float  # slow pan amplitude, % of frame width
    weather: str  # "clear" | "rain" | "snow"
    weather_density: float  # 0..1
    blur: int  # 1 = a 2x2 box blur (soft optics), 0 = sharp
    blocking: float  # 0..1 blend toward 8x8 block means (compression look)
    horizon: float  # horizon shift, fraction of frame height (+ = lower)
    person_scale: float  # x pixel height of people and cars
    crowd: float  # x the pedestrian density
    hard_negative_p: float  # probability of each hard negative in a normal video
    out_of_range: tuple[str, ...] = ()  # which of OOR_KNOBS were drawn outside training
    # probability of each hard negative in a video with an event (0: none, as before it existed)
    event_hard_negative_p: float = 0.0

    def shake_px(self) -> float:
        return self.shake / 100.0 * self.width

    def pan_px(self) -> float:
        return self.pan / 100.0 * self.width

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["color_cast"] = list(self.color_cast)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Domain:
        fields = dataclasses.fields(cls)
        # out_of_range and event_hard_negative_p are newer than the first truth files: absent,
        # the split says the one, and the other was 0
        missing = {f.name for f in fields if f.name not in _NEWER} - set(d)
        if missing:
            raise ValueError(f"domain is missing {sorted(missing)}")
        kw = {f.name: d[f.name] for f in fields if f.name in d}
        kw["color_cast"] = tuple(float(v) for v in d["color_cast"])
        if "out_of_range" not in d:
            kw["out_of_range"] = OOR_KNOBS if d["split"] == "out_of_range" else ()
        kw["out_of_range"] = tuple(kw["out_of_range"])
        return cls(**kw)


_NEWER = ("out_of_range", "event_hard_negative_p")  # Domain fields a truth file may lack


@dataclass(frozen=True)
class Look:
    """How an event looks, as multipliers: actor `size`, `speed` (of the key motion), `intensity`
    (jitter, fire size), `duration` (of the nominal event length). 1.0 = the original look."""

    size: float = 1.0
    speed: float = 1.0
    intensity: float = 1.0
    duration: float = 1.0


def sample_look(rng: np.random.Generator) -> Look:
    return Look(
        size=float(rng.uniform(0.8, 1.25)),
        speed=float(rng.uniform(0.8, 1.25)),
        intensity=float(rng.uniform(0.7, 1.3)),
        duration=float(rng.uniform(0.7, 1.4)),
    )


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return round(float(rng.uniform(lo, hi)), 4)  # 4 decimals: the truth file round-trips exactly


def sample_domain(
    rng: np.random.Generator,
    split: str,
    *,
    size: tuple[int, int] | None = None,
    fps: float | None = None,
    out_of_range: tuple[str, ...] = OOR_KNOBS,
    event_hard_negative_p: float = 0.0,
) -> Domain:
    """Draw a Domain for `split` (train/val/test: training ranges; out_of_range: outside them on
    resolution, darkness and shake). `size` = (W, H) and `fps` pin those knobs (in-memory training
    clips at a low resolution); every draw is made either way, so pinning changes nothing else.

    `out_of_range` (out_of_range split only): which of OOR_KNOBS go outside training; the others
    are drawn as training draws them (a darkness in range also keeps training's time of day). Every
    other knob takes the same value whichever knobs are chosen, so the archives of one seed differ
    in those knobs alone: what each one costs the generalization figure, separately.

    `event_hard_negative_p`: the probability of each hard negative in a video with an event (0:
    none, as before it existed). Why: with hard negatives in normal videos only, the classifier
    never had to tell an event from a distractor in one video. It is set, not drawn: every draw
    is the same whatever it is."""
    if split not in SPLITS:
        raise ValueError(f"unknown domain split {split!r}; expected one of {SPLITS}")
    check_event_hard_negative_p(event_hard_negative_p, split)
    oor = split == "out_of_range"
    knobs = check_out_of_range_knobs(out_of_range, split)
    if oor:
        res = _RES_OOR[int(rng.integers(len(_RES_OOR)))]
    else:
        table = _RES_4_3 if rng.random() < 0.5 else _RES_16_9
        res = table[int(rng.integers(len(table)))]
    rate = _FPS[int(rng.integers(len(_FPS)))]
    codec = "h264" if rng.random() < 0.6 else "hevc"
    gop_s, crf = float(rng.uniform(0.5, 4.0)), int(rng.integers(20, 33))
    u = rng.random()
    tod = "day" if u < 0.4 else "dusk" if u < 0.65 else "night"
    darkness = _u(rng, *_DARK[tod])
    if oor:  # always a darker night than training ever shows (drawn either way: see out_of_range)
        dark_oor = _u(rng, *OUT_OF_RANGE["darkness"])
        if "darkness" in knobs:
            tod, darkness = "night", dark_oor
    # the out-of-range split draws these two whatever its time of day (see out_of_range)
    ir_draw = rng.random() if (tod == "night" or oor) else 1.0
    infrared = tod == "night" and ir_draw < 0.5
    ir_boost = _u(rng, 2.0, 3.0)
    cast = tuple(_u(rng, 0.9, 1.1) for _ in range(3))
    noise_gain = round(_u(rng, 1.0, 2.5) + 2.0 * darkness, 4)
    drift = _u(rng, 0.0, 0.12)
    jumps = 0.0 if rng.random() < 0.5 else _u(rng, 0.5, 3.0)
    jump = _u(rng, 0.1, 0.3)
    lights_draw = _u(rng, 1.0, 6.0) if (tod != "day" or oor) else 0.0
    lights = 0.0 if tod == "day" else lights_draw
    shake = 0.0 if rng.random() < 0.4 else _u(rng, *_SHAKE)
    if oor:
        shake_oor = _u(rng, *OUT_OF_RANGE["shake"])
        shake = shake_oor if "shake" in knobs else shake
    pan = 0.0 if rng.random() < 0.6 else _u(rng, 0.5, 3.0)
    u = rng.random()
    weather = "clear" if u < 0.6 else "rain" if u < 0.85 else "snow"
    density = _u(rng, 0.2, 1.0)
    blur = 0 if rng.random() < 0.7 else 1
    blocking = 0.0 if rng.random() < 0.5 else _u(rng, 0.1, 0.5)
    horizon, person_scale, crowd = _u(rng, -0.06, 0.06), _u(rng, 0.8, 1.25), _u(rng, 0.6, 2.5)
    if oor and "height" not in knobs:  # drawn last, so every other knob keeps its value
        table = _RES_4_3 if rng.random() < 0.5 else _RES_16_9
        res = table[int(rng.integers(len(table)))]
    if size is not None:
        res = (int(size[0]), int(size[1]))
    rate = float(fps) if fps is not None else rate
    return Domain(
        split=split,
        width=res[0],
        height=res[1],
        fps=rate,
        codec=codec,
        gop=max(1, int(round(gop_s * rate))),
        crf=crf,
        time_of_day=tod,
        darkness=darkness,
        infrared=bool(infrared),
        ir_boost=ir_boost,
        color_cast=cast,
        noise_gain=noise_gain,
        exposure_drift=drift,
        gain_jumps_per_min=jumps,
        gain_jump=jump,
        headlights_per_min=lights,
        shake=shake,
        pan=pan,
        weather=weather,
        weather_density=density,
        blur=blur,
        blocking=blocking,
        horizon=horizon,
        person_scale=person_scale,
        crowd=crowd,
        hard_negative_p=0.35,
        out_of_range=knobs,
        event_hard_negative_p=float(event_hard_negative_p),
    )
