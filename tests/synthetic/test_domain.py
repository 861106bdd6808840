"""Domain randomization: the plain path is unchanged, the splits' ranges, night/IR, shake, hard negatives,
randomized archives (HEVC, 16:9) that decode at their recorded size and rate, determinism.

Scenes are small (160x120 .. 320x240) and a few seconds long.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np
import pytest

from tests.synthetic.mp4s import decode
from va_gpt.synthetic.anomalies import ALL_KINDS
from va_gpt.synthetic.archive import generate_archive
from va_gpt.synthetic.distractors import HARD_NEGATIVES
from va_gpt.synthetic.domain import OOR_KNOBS, OUT_OF_RANGE, SPLITS, TRAIN_RANGES, Domain, sample_domain
from va_gpt.synthetic.mp4 import write_mp4
from va_gpt.synthetic.scene import make_scene
from va_gpt.synthetic.truth import load_truth

# sha256 of the plain renders below, computed before domains existed: the default path must not move a pixel
PLAIN_SHA256 = "3d724432dc57badbb3e4224c6a0d2e20237efdbf19904736626cbea731c00c27"
# sha256 of randomized videos with an event, computed before they could get hard negatives
EVENT_SHA256 = "02ff98867f0f6f981da1298884a961a8fb2adbfefda4bf1c181e169c6755815d"


def _calm(**kw) -> Domain:
    """A training domain with every effect off, then `kw` switched on: one knob at a time."""
    d = sample_domain(np.random.default_rng(0), "train", size=(160, 120), fps=10.0)
    off = dict(
        time_of_day="day", darkness=0.0, infrared=False, color_cast=(1.0, 1.0, 1.0), noise_gain=1.0,
        exposure_drift=0.0, gain_jumps_per_min=0.0, headlights_per_min=0.0, shake=0.0, pan=0.0,
        weather="clear", blur=0, blocking=0.0, horizon=0.0, person_scale=1.0, crowd=1.0, hard_negative_p=0.0,
    )  # fmt: skip
    return dataclasses.replace(d, **{**off, **kw})


@pytest.mark.timeout(120)
def test_plain_path_renders_the_same_pixels_as_before_domains():
    h = hashlib.sha256()
    for kind in (None, "fighting", "collision", "explosion"):
        sc = make_scene(5, kind, 2.0, 160, 120, fps=10.0, camera_seed=3)
        assert sc.domain is None and sc.distractors == ()
        for f in sc.frames():
            h.update(f.tobytes())
        h.update(json.dumps([e.to_dict() for e in sc.events]).encode())
    assert h.hexdigest() == PLAIN_SHA256


def test_splits_stay_in_their_ranges_and_out_of_range_is_outside_training():
    for split in SPLITS:
        rng = np.random.default_rng(SPLITS.index(split))
        doms = [sample_domain(rng, split) for _ in range(300)]
        for d in doms:
            assert d.width % 2 == 0 and d.height % 2 == 0 and d.fps in (15.0, 20.0, 25.0, 30.0)
            assert d.codec in ("h264", "hevc") and 1 <= d.gop <= 4 * d.fps and 20 <= d.crf <= 32
            assert Domain.from_dict(json.loads(json.dumps(d.to_dict()))) == d
            assert (d.width * 3 == d.height * 4) or abs(d.width / d.height - 16 / 9) < 0.01
            knobs = {"height": d.height, "darkness": d.darkness, "shake": d.shake}
            for name, v in knobs.items():
                lo, hi = (OUT_OF_RANGE if split == "out_of_range" else TRAIN_RANGES)[name]
                assert lo <= v <= hi, (split, name, v)
                if split == "out_of_range":  # never a value training can draw
                    tlo, thi = TRAIN_RANGES[name]
                    assert not tlo <= v <= thi, (name, v)
        if split != "out_of_range":  # the whole training world shows up
            assert {d.time_of_day for d in doms} == {"day", "dusk", "night"}
            assert {d.weather for d in doms} == {"clear", "rain", "snow"}
            assert any(d.infrared for d in doms) and {d.codec for d in doms} == {"h264", "hevc"}
            assert {d.width * 3 == d.height * 4 for d in doms} == {True, False}  # 4:3 and 16:9
    # pinning the size and rate (in-memory training clips) changes nothing else
    a = sample_domain(np.random.default_rng(5), "val")
    b = sample_domain(np.random.default_rng(5), "val", size=(160, 120), fps=10.0)
    assert dataclasses.replace(b, width=a.width, height=a.height, fps=a.fps, gop=a.gop) == a
    with pytest.raises(ValueError, match="split"):
        sample_domain(np.random.default_rng(0), "holdout")


# the fields a knob decides; every other field must match the full out-of-range draw
_KNOB_FIELDS = {
    "height": {"width", "height"},
    "darkness": {"darkness", "time_of_day", "infrared", "noise_gain", "headlights_per_min"},
    "shake": {"shake"},
}


def test_out_of_range_can_take_one_knob_outside_and_keep_everything_else():
    def values(d):
        return {"height": d.height, "darkness": d.darkness, "shake": d.shake}

    for chosen in [("darkness",), ("shake",), ("height",), ("shake", "darkness")]:
        for seed in range(200):
            full = sample_domain(np.random.default_rng([seed, 23]), "out_of_range")
            part = sample_domain(np.random.default_rng([seed, 23]), "out_of_range", out_of_range=chosen)
            assert part.split == "out_of_range" and set(part.out_of_range) == set(chosen)
            for name, v in values(part).items():
                lo, hi = (OUT_OF_RANGE if name in chosen else TRAIN_RANGES)[name]
                assert lo <= v <= hi, (chosen, name, v)
            allowed = set().union(*(f for k, f in _KNOB_FIELDS.items() if k not in chosen))
            moved = {k for k, v in dataclasses.asdict(full).items() if dataclasses.asdict(part)[k] != v}
            assert moved <= allowed | {"out_of_range"}, (chosen, moved - allowed)
            assert Domain.from_dict(json.loads(json.dumps(part.to_dict()))) == part
            if "darkness" not in chosen and part.time_of_day != "night":
                assert not part.infrared and (part.time_of_day != "day" or part.headlights_per_min == 0.0)
    assert full.out_of_range == OOR_KNOBS
    # a truth file written before the field existed reads as the whole split (or none)
    old = full.to_dict()
    del old["out_of_range"]
    assert Domain.from_dict(old).out_of_range == OOR_KNOBS
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="'brightness'"):
        sample_domain(rng, "out_of_range", out_of_range=("darkness", "brightness"))
    with pytest.raises(ValueError, match="one or more distinct"):
        sample_domain(rng, "out_of_range", out_of_range=())
    with pytest.raises(ValueError, match="need the out_of_range split"):
        sample_domain(rng, "test", out_of_range=("shake",))


@pytest.mark.timeout(120)
def test_night_is_dark_and_infrared_is_grayscale():
    day = make_scene(3, None, 1.0, domain=_calm())
    night = make_scene(3, None, 1.0, domain=_calm(time_of_day="night", darkness=0.78, noise_gain=3.0))
    ir = make_scene(3, None, 1.0, domain=_calm(time_of_day="night", darkness=0.78, infrared=True))
    lum = lambda sc: np.mean([sc.frame(i).mean() for i in (0, 5)])  # noqa: E731
    assert lum(night) < 0.35 * lum(day)
    f = ir.frame(4).astype(int)
    assert np.array_equal(f[..., 0], f[..., 1]) and np.array_equal(f[..., 1], f[..., 2])
    assert lum(ir) > 1.5 * lum(night)  # the IR illuminator lifts the scene
    with pytest.raises(ValueError, match="contradicts"):
        make_scene(3, None, 1.0, 320, 240, domain=_calm())


@pytest.mark.timeout(120)
def test_shake_moves_the_whole_frame_without_black_borders():
    sc = make_scene(8, None, 3.0, domain=_calm(shake=1.3, pan=2.0))
    off, m = sc._fx.offsets, sc._fx.margin
    assert m >= 2 and np.ptp(off[:, 0]) >= 3 and np.ptp(off[:, 1]) >= 2
    bg = sc.background().astype(np.float32)  # the enlarged render's background
    assert bg.shape == (120 + 2 * m, 160 + 2 * m, 3)
    for i in range(0, sc.num_frames, 3):
        f = sc.frame(i).astype(np.float32)
        assert min(f[0].mean(), f[-1].mean(), f[:, 0].mean(), f[:, -1].mean()) > 20  # no black border
        # the frame is the background seen through the recorded view: that offset fits best
        err = {
            (ox, oy): np.abs(f / f.mean() - (v := bg[oy : oy + 120, ox : ox + 160]) / v.mean()).mean()
            for ox in range(2 * m + 1)
            for oy in range(2 * m + 1)
        }
        assert min(err, key=err.get) == tuple(int(v) for v in off[i])


@pytest.mark.timeout(120)
def test_hard_negatives_are_normal_videos_with_all_zero_labels():
    sc = make_scene(4, None, 6.0, domain=_calm(hard_negative_p=1.0))
    assert sc.distractors == HARD_NEGATIVES and sc.events == [] and sc.label == "normal"
    assert sc.frame_labels().sum() == 0 and sc.frame_labels().shape == (60,)
    names = {name for i in range(sc.num_frames) for name, role, _ in sc.actor_boxes(i) if role == "normal"}
    assert {"fast_car", "door", "crowd00", "resting"} <= names
    assert sc._fx.light.max() / sc._fx.light.min() > 1.2  # the lighting change
    plain = make_scene(4, None, 6.0, domain=_calm())
    assert plain.distractors == () and np.ptp(plain._fx.light) == 0
    for kind in ALL_KINDS:  # anomalies keep one event and get none; each kind's look varies
        a = make_scene(4, kind, 6.0, domain=_calm(hard_negative_p=1.0))
        assert a.distractors == () and len(a.events) == 1 and a.frame_labels().sum() > 0


@pytest.mark.timeout(120)
def test_videos_with_an_event_by_default_render_the_pixels_they_did_before_event_hard_negatives():
    h = hashlib.sha256()
    for i, kind in enumerate(("fighting", "falling", "collision", "abandoned_object")):
        d = sample_domain(np.random.default_rng([7, i]), "train", size=(160, 120), fps=10.0)
        assert d.event_hard_negative_p == 0.0
        sc = make_scene(20 + i, kind, 3.0, domain=d)
        for f in sc.frames():
            h.update(f.tobytes())
        h.update(json.dumps([e.to_dict() for e in sc.events]).encode())
        h.update(json.dumps(list(sc.distractors)).encode())
    assert h.hexdigest() == EVENT_SHA256


@pytest.mark.timeout(180)
def test_videos_with_an_event_get_hard_negatives_when_asked_and_keep_their_event():
    """event_hard_negative_p: the classifier must tell an event from a distractor in one video."""
    for kind in ALL_KINDS:
        base = make_scene(4, kind, 6.0, domain=_calm(hard_negative_p=1.0))
        sc = make_scene(4, kind, 6.0, domain=_calm(hard_negative_p=1.0, event_hard_negative_p=1.0))
        assert sc.distractors == HARD_NEGATIVES and sc.label == kind
        # the event, caption and frame labels are the ones it had without distractors; the box
        # bounds the pixels drawn, which the shake burst moves a little
        (e,), (b,) = sc.events, base.events
        assert (e.kind, e.start_s, e.end_s, e.caption) == (b.kind, b.start_s, b.end_s, b.caption)
        assert np.abs(np.subtract(e.box, b.box)).max() <= 0.05 * sc.width, (e.box, b.box)
        assert np.array_equal(sc.frame_labels(), base.frame_labels())
        names = {n for i in range(sc.num_frames) for n, role, _ in sc.actor_boxes(i) if role == "normal"}
        assert {"fast_car", "door", "crowd00", "resting"} <= names
        assert sc._fx.light.max() / sc._fx.light.min() > 1.2  # the lighting change
        assert any(not np.array_equal(sc.frame(i), base.frame(i)) for i in range(0, sc.num_frames, 5))
    # the probability only switches distractors on: every other knob of the draw is the same
    d0 = sample_domain(np.random.default_rng(3), "train")
    d1 = sample_domain(np.random.default_rng(3), "train", event_hard_negative_p=0.5)
    assert dataclasses.replace(d1, event_hard_negative_p=0.0) == d0 and d1.event_hard_negative_p == 0.5
    # a truth file from before the field rebuilds its domain with none
    old = d0.to_dict()
    del old["event_hard_negative_p"]
    assert Domain.from_dict(old) == d0 and Domain.from_dict(d1.to_dict()) == d1
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="event_hard_negative_p must be a probability"):
            sample_domain(np.random.default_rng(3), "train", event_hard_negative_p=bad)


@pytest.mark.timeout(120)
def test_resting_person_lies_down_slowly_and_stays_still_in_a_normal_video():
    """The hard negative to a fall's aftermath: a body lying still on the ground is not the event."""
    sc = make_scene(11, None, 12.0, domain=_calm(hard_negative_p=1.0))
    rest = next(a for a in sc._actors if a.name == "resting")
    assert abs(rest.tilt[-1]) == pytest.approx(np.pi / 2)  # lying at the end of the video
    lying = np.flatnonzero(rest.tilt == rest.tilt[-1])
    assert len(lying) >= sc.fps and lying[-1] == sc.num_frames - 1
    assert np.ptp(rest.x[lying]) == 0 and np.ptp(rest.tilt[lying]) == 0  # still
    going_down = np.flatnonzero((np.abs(rest.tilt) > 0.01) & (np.abs(rest.tilt) < 0.99 * np.pi / 2))
    assert len(going_down) >= int(1.2 * sc.fps)  # slower than a fall's 0.6 s
    assert sc.frame_labels().sum() == 0


@pytest.mark.timeout(300)
def test_hevc_16x9_domain_mp4_decodes_at_its_size_and_rate(tmp_path):
    d = _calm(width=320, height=180, fps=15.0, codec="hevc", gop=10, weather="rain", shake=0.3, blocking=0.3)
    sc = make_scene(2, "explosion", 2.0, domain=d)
    write_mp4(sc, str(tmp_path / "v.mp4"), codec=d.codec, gop=d.gop, crf=d.crf)
    name, rate, _, frames, keys = decode(str(tmp_path / "v.mp4"))
    assert name == "hevc" and rate == 15 and len(frames) == 30 and keys == [0, 10, 20]
    assert frames[12].shape == (180, 320, 3)
    assert np.abs(frames[12].astype(int) - sc.frame(12).astype(int)).mean() < 8


@pytest.mark.timeout(400)
def test_randomized_archives_record_their_domains_decode_and_repeat(tmp_path):
    kw = dict(cameras=2, videos_per_camera=2, duration_s=1.5, seed=4, normal_fraction=0.5)
    truth = generate_archive(str(tmp_path / "a"), domain_split="out_of_range", **kw)
    again = generate_archive(str(tmp_path / "b"), domain_split="out_of_range", **kw)
    for v, w in zip(truth.videos, again.videos, strict=True):
        assert (tmp_path / "a" / v.key).read_bytes() == (
            tmp_path / "b" / w.key
        ).read_bytes()  # same seed, same bytes
        d = v.domain
        assert (
            d is not None
            and d.split == "out_of_range"
            and (v.width, v.height, v.fps) == (d.width, d.height, d.fps)
        )
        name, rate, _, frames, _ = decode(str(tmp_path / "a" / v.key))
        assert name == d.codec and rate == d.fps and frames[0].shape == (d.height, d.width, 3)
        assert len(frames) == v.num_frames == round(1.5 * d.fps)
        if v.label == "normal":
            assert v.frame_labels().sum() == 0
    back = load_truth(str(tmp_path / "a"))
    assert back.to_dict() == truth.to_dict()
    doc = json.loads((tmp_path / "a" / "_truth" / "events.json").read_text())
    assert all({"domain", "distractors"} <= set(v) for v in doc["videos"])
    lines = (tmp_path / "a" / "_truth" / "Temporal_Anomaly_Annotation.txt").read_text().splitlines()
    assert len(lines) == 4 and all(len(line.split()) == 6 for line in lines)  # the UCF format, unchanged
    sc = back.videos[0].scene()  # a record rebuilds its scene, domain and all
    assert (sc.width, sc.height, sc.domain) == (
        back.videos[0].width,
        back.videos[0].height,
        back.videos[0].domain,
    )
    # the training split draws other videos from the same seed; plain archives have no domain keys
    train = generate_archive(
        str(tmp_path / "t"), domain_split="train", **{**kw, "cameras": 1, "duration_s": 3.0}
    )
    assert [v.seed for v in train.videos] != [v.seed for v in truth.videos]
    assert all(v.domain.split == "train" and 240 <= v.height <= 720 for v in train.videos)
    generate_archive(str(tmp_path / "p"), width=64, height=48, fps=10.0, **{**kw, "duration_s": 3.0})
    doc = json.loads((tmp_path / "p" / "_truth" / "events.json").read_text())
    assert not any({"domain", "distractors"} & set(v) for v in doc["videos"])
    with pytest.raises(ValueError, match="domain split"):
        generate_archive(str(tmp_path / "x"), domain_split="holdout", **kw)
    # one knob out of range: the same videos and event times as the full split's archive, only darker
    dark = generate_archive(
        str(tmp_path / "d"), domain_split="out_of_range", out_of_range=("darkness",), **kw
    )
    for v, w in zip(dark.videos, truth.videos, strict=True):
        when = lambda x: [(e.kind, e.start_s, e.end_s) for e in x.events]  # noqa: E731 (boxes: pixels of its size)
        assert (v.key, v.seed, when(v)) == (w.key, w.seed, when(w))
        assert v.domain.out_of_range == ("darkness",) and v.domain.darkness == w.domain.darkness
        assert v.domain.height >= 240 and v.domain.shake <= TRAIN_RANGES["shake"][1]
    assert load_truth(str(tmp_path / "d")).to_dict() == dark.to_dict()
    with pytest.raises(ValueError, match="need the out_of_range split, got 'test'"):
        generate_archive(str(tmp_path / "x"), domain_split="test", out_of_range=("shake",), **kw)


@pytest.mark.timeout(300)
def test_an_archive_with_event_hard_negatives_records_them_and_rebuilds_its_scenes(tmp_path):
    kw = dict(
        cameras=2, videos_per_camera=2, duration_s=2.0, seed=4, normal_fraction=0.5, domain_split="test"
    )
    truth = generate_archive(str(tmp_path / "a"), event_hard_negative_p=1.0, **kw)
    base = generate_archive(str(tmp_path / "b"), **kw)
    events = [v for v in truth.videos if v.label != "normal"]
    assert len(events) == 2 and all(v.distractors == list(HARD_NEGATIVES) for v in events)
    assert all(v.domain.event_hard_negative_p == 1.0 for v in truth.videos)
    when = lambda x: [(e.kind, e.start_s, e.end_s, e.caption) for e in x.events]  # noqa: E731
    for v, w in zip(truth.videos, base.videos, strict=True):  # the same videos, events and looks
        assert (v.key, v.seed, v.label, when(v)) == (w.key, w.seed, w.label, when(w))
        assert dataclasses.replace(v.domain, event_hard_negative_p=0.0) == w.domain
        assert v.distractors == w.distractors or v.label != "normal"
    back = load_truth(str(tmp_path / "a"))
    assert back.to_dict() == truth.to_dict()
    v = next(v for v in back.videos if v.label != "normal")
    assert v.scene().distractors == HARD_NEGATIVES  # the record rebuilds its distractors
    # refused before anything is written: plain renders have no hard negatives; not a probability
    for bad in ({"domain_split": None, "event_hard_negative_p": 0.5}, {"event_hard_negative_p": 2.0}):
        with pytest.raises(ValueError, match="event_hard_negative_p"):
            generate_archive(str(tmp_path / "x"), **{**kw, **bad})
    assert not (tmp_path / "x").exists()
