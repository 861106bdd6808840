"""Visual stage on the tiny preset, without Ray."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pytest
import torch

from va_gpt.checkpoints.classifier import save_classifier
from va_gpt.config import ConfigError, load_preset, preset_from_dict, to_dict
from va_gpt.models.classifier import KINDS, AnomalyClassifier, num_features, patch_features_for
from va_gpt.ops.evidence import HISTORY
from va_gpt.ops.prepare import Preparation
from va_gpt.pipeline.visual import Visual, context_frames, feature_spec
from va_gpt.train.classifier import predict, video_inputs
from va_gpt.video.clips import background_frame
from va_gpt.video.preprocess import resize_frames

TINY = load_preset("tiny")
S = TINY.encoder.image_size  # 56: a 4 x 4 grid of 14-pixel patches
L = TINY.decode.clip_len  # 8


def with_sets(preset, **kw):
    return dataclasses.replace(preset, sets=dataclasses.replace(preset.sets, **kw))


@pytest.fixture(scope="module")
def stage():
    return Visual(TINY)


def moving_video(T, seed=0, size=S):
    """Textured background, small noise, and a bright 10x10 square (at 56 px; scaled with `size`)
    moving right/down."""
    rng = np.random.default_rng(seed)
    bg = rng.integers(40, 200, (size, size, 3)).astype(np.float32)
    k = size / S
    w = round(10 * k)
    frames = []
    for i in range(T):
        f = bg + rng.normal(0, 3, bg.shape)
        x, y = round((3 + 3 * i) % (S - 10) * k), round((5 + 2 * i) % (S - 10) * k)
        f[y : y + w, x : x + w] = 250
        frames.append(f)
    return np.clip(np.stack(frames), 0, 255).astype(np.uint8)


def clip_rows(
    video, vid="v", fps=2.0, clip_len=L, uri="s3://bucket/v.mp4", context=None, background=1, prepare=None
):
    """Split a video like the decode stage (va_gpt.video.clips.iter_clips): clip 0 holds the first
    clip_len frames, later clips the next clip_len - 1, each after the `context` frames before it
    (default: the classifier's receptive field), and every clip carries the video's first frame
    (and with `background` > 1 the median of its first that many, each prepared by `prepare`:
    sets.background_samples)."""
    context = context_frames(TINY.classifier) if context is None else context
    head = video[:background] if prepare is None else prepare(video[:background], video[0])[0]
    extra = {"background": background_frame(head)[None]} if background > 1 else {}
    rows, start, c = [], 0, 0
    while start < len(video):
        n_new = clip_len if c == 0 else clip_len - 1
        a = max(0, start - context)
        b = min(len(video), start + n_new)
        rows.append(
            dict(
                video_id=vid,
                clip_index=c,
                frames=video[a:b],
                t=np.arange(a, b) / fps,
                context=start - a,
                reference=video[0],
                uri=uri,
                **extra,
            )
        )
        start, c = b, c + 1
    return rows


def batch_of(rows):
    out = {}
    for k in rows[0]:
        vals = [r[k] for r in rows]
        if isinstance(vals[0], np.ndarray) and any(
            v.shape != vals[0].shape or v.dtype != vals[0].dtype for v in vals
        ):
            arr = np.empty(len(vals), dtype=object)
            arr[:] = vals
            out[k] = arr
        else:
            out[k] = np.array(vals)
    return out


def rows_of(batch):
    n = len(batch["video_id"])
    return [{k: v[i] for k, v in batch.items()} for i in range(n)]


@pytest.mark.timeout(60)
def test_output_columns_shapes_and_order(stage):
    video = moving_video(22)
    rows = clip_rows(video)  # new frames 8 + 7 + 7 = 22, later clips after their context frames
    C = context_frames(TINY.classifier)
    assert [r["context"] for r in rows] == [0, C, C]
    shuffled = [rows[2], rows[0], rows[1]]
    out = stage(batch_of(shuffled))
    assert set(out) == {
        "video_id",
        "clip_index",
        "uri",
        "t",
        "score",
        "kind_prob",
        "diff_energy",
        "box",
        "selected",
        "encoded",
    }
    assert out["clip_index"].tolist() == [2, 0, 1]  # input order kept
    assert list(out["uri"]) == ["s3://bucket/v.mp4"] * 3
    k = 4  # ceil(0.25 * 16)
    for i, r in enumerate(shuffled):
        n_new = len(r["frames"]) - r["context"]
        t = out["t"][i]
        np.testing.assert_array_equal(t, r["t"][r["context"] :])
        assert out["score"][i].shape == (n_new,) and out["score"][i].dtype == np.float32
        assert ((out["score"][i] >= 0) & (out["score"][i] <= 1)).all()
        kp = out["kind_prob"][i]
        assert kp.shape == (n_new, len(KINDS)) and np.allclose(kp.sum(1), 1, atol=1e-5)
        assert out["diff_energy"][i].shape == (n_new,) and out["diff_energy"][i].dtype == np.float32
        box = out["box"][i]
        assert box.shape == (n_new, 4) and box.dtype == np.float32
        assert (
            ((box >= 0) & (box <= 1)).all()
            and (box[:, 2] > box[:, 0]).all()
            and (box[:, 3] > box[:, 1]).all()
        )
        sel = out["selected"][i]
        assert sel.shape == (n_new, k) and sel.dtype == np.int16
        assert (np.diff(sel, axis=1) > 0).all() and sel.min() >= 0 and sel.max() < 16
    # all 22 frames scored exactly once
    assert sorted(np.concatenate(list(out["t"])).tolist()) == (np.arange(22) / 2.0).tolist()
    # SETS: the very first frame of the video has nothing before it
    assert out["diff_energy"][1][0] == 0 and (out["diff_energy"][1][1:] > 0).all()


def _scores_by_clip(outs):
    got = {}
    for o in outs:
        for r in rows_of(o):
            got[int(r["clip_index"])] = r
    return {
        k: np.concatenate([got[c][k] for c in sorted(got)])
        for k in ("t", "score", "kind_prob", "diff_energy", "box", "selected")
    }


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "reference, stabilise, pixels, gain, background",
    [
        ("previous", False, False, False, 1),
        ("background", False, False, False, 1),
        ("previous", True, False, False, 1),
        ("previous", True, True, False, 1),
        ("previous", True, True, True, 1),
        ("previous", True, True, True, 5),
    ],
)
def test_scores_do_not_depend_on_actors_or_order(reference, stabilise, pixels, gain, background):
    """One actor in order, three actors with the clips dealt out and shuffled, and one pass over the
    whole video give the same scores: each clip carries the context it needs (with stabilise, a
    shaking camera's frames are aligned to the reference every clip carries; with pixel maps, the
    clip's frames and reference frame; with match_gain, a camera whose gain wanders is brought to
    that reference's gain; with background_samples, the median of the video's first samples, with
    someone in the first ones who walks off)."""
    preset = with_sets(
        TINY, reference=reference, stabilise=stabilise, match_gain=gain, background_samples=background
    )
    preset = dataclasses.replace(
        preset, classifier=dataclasses.replace(preset.classifier, num_layers=2, pixel_maps=pixels)
    )
    C = context_frames(preset.classifier)
    # receptive field 7 (kernel 3, dilations 1, 2) + 2 (the per-patch conv) + per-patch history
    assert C == 7 + 2 + HISTORY - 1
    video = moving_video(40, seed=1)
    if stabilise:
        shake = np.random.default_rng(2).integers(-2, 3, (len(video), 2))
        video = np.stack([np.roll(f, tuple(s), axis=(0, 1)) for f, s in zip(video, shake)])
    if gain:
        wander = np.random.default_rng(3).uniform(0.6, 1.2, len(video))[:, None, None, None]
        video = np.clip(video * wander, 0, 255).astype(np.uint8)
    if background > 1:
        video[:2, 30:44, 30:44] = 10  # a passer-by in the first two samples
    prep = Preparation.of(preset.sets)
    whole = _scores_by_clip(
        [Visual(preset)(batch_of(clip_rows(video, 40, context=C, background=background, prepare=prep)))]
    )
    rows = clip_rows(video, context=C, background=background, prepare=prep)
    assert len(rows) == 6
    one = Visual(preset)
    in_order = _scores_by_clip([one(batch_of([r])) for r in rows])
    actors = [Visual(preset) for _ in range(3)]
    order = np.random.default_rng(0).permutation(len(rows))
    dealt = _scores_by_clip(
        [actors[j % 3](batch_of([rows[i]])) for j, i in enumerate(order)]
        + [actors[0](batch_of([rows[order[0]], rows[order[3]]]))]  # a batch of two, out of order
    )
    for got in (in_order, dealt):
        np.testing.assert_array_equal(got["t"], whole["t"])
        np.testing.assert_allclose(got["score"], whole["score"], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(got["kind_prob"], whole["kind_prob"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dealt["score"], in_order["score"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dealt["diff_energy"], in_order["diff_energy"], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(dealt["selected"], in_order["selected"])
    if reference == "previous":  # SETS's previous-frame map is clip-local too: same as one pass
        np.testing.assert_allclose(in_order["diff_energy"], whole["diff_energy"], rtol=1e-4, atol=1e-4)
        np.testing.assert_array_equal(in_order["selected"], whole["selected"])


@pytest.mark.timeout(120)
def test_a_tail_classifier_scores_past_the_end_of_the_video_in_its_last_clip():
    """A classifier trained with a tail (lookahead 2 here) gets the video's last clip with two
    outputs more, its last frame's inputs held past the end; the others as before. Whichever actor
    runs which clip, the outputs are those of one pass over the whole video; a classifier without
    a tail gets none."""
    preset = dataclasses.replace(TINY, classifier=dataclasses.replace(TINY.classifier, num_layers=2))
    C = context_frames(preset.classifier)
    video = moving_video(40, seed=1)

    def stage(tail=True):
        v = Visual(preset)
        v.classifier.lookahead, v.classifier.tail = 2, tail
        return v

    def marked(rows):
        for r in rows:
            r["is_last"] = r is rows[-1]
        return rows

    whole = _scores_by_clip([stage()(batch_of(marked(clip_rows(video, clip_len=40, context=C))))])
    assert len(whole["score"]) == len(whole["kind_prob"]) == len(whole["t"]) + 2 == 42
    rows = marked(clip_rows(video, context=C))
    actors = [stage() for _ in range(3)]
    outs = [
        actors[j % 3](batch_of([rows[i]]))
        for j, i in enumerate(np.random.default_rng(1).permutation(len(rows)))
    ]
    assert [len(o["score"][0]) - len(o["t"][0]) for o in outs if o["is_last"][0]] == [2]
    dealt = _scores_by_clip(outs)
    np.testing.assert_allclose(dealt["score"], whole["score"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dealt["kind_prob"], whole["kind_prob"], rtol=1e-4, atol=1e-5)
    plain = _scores_by_clip([stage(tail=False)(batch_of(rows))])
    assert len(plain["score"]) == len(plain["t"]) == 40
    np.testing.assert_allclose(plain["score"], whole["score"][:40], rtol=1e-4, atol=1e-5)


@pytest.mark.timeout(60)
def test_single_frame_video_and_ragged_batch(stage):
    one = dict(video_id="one", clip_index=0, frames=moving_video(1), t=np.array([0.0]), context=0)
    short = clip_rows(moving_video(5), vid="short")[0]  # 5 frames, no overlap
    long = clip_rows(moving_video(8), vid="long")[0]
    for r in (short, long):
        r.pop("uri")
        r.pop("reference")  # a clip without context is the video start: frames[0] is the reference
    out = stage(batch_of([one, short, long]))
    assert out["t"].dtype == object  # ragged: 1, 5, 8 frames
    assert [len(s) for s in out["score"]] == [1, 5, 8]
    assert out["diff_energy"][0].tolist() == [0.0]


@pytest.mark.timeout(60)
def test_bad_clips_are_clear_errors(stage):
    good = clip_rows(moving_video(10), vid="cam1/2024-05-01/120000.mp4")
    cases = [
        (dict(frames=np.zeros((8, 64, 64, 3), np.uint8)), r"uint8 \[T, 56, 56, 3\]"),
        (dict(frames=np.zeros((8, S, S, 3), np.float32)), "uint8"),
        (dict(frames=np.zeros((8, S, S), np.uint8)), "uint8"),
        (
            dict(frames=good[1]["frames"][:1], t=good[1]["t"][:1]),
            f"at least one new frame after its {context_frames(TINY.classifier)} context frame",
        ),
        (dict(frames=good[0]["frames"][:0], t=good[0]["t"][:0], context=0), "0 frame"),
        (dict(reference=np.zeros((8, 8, 3), np.uint8)), "reference must be uint8"),
        (dict(t=np.full(len(good[1]["t"]), np.nan)), "finite timestamps"),
        (dict(t=good[1]["t"][:2]), "finite timestamps"),  # 3 frames, 2 timestamps
    ]
    for change, msg in cases:
        row = {**good[1], **change}
        with pytest.raises(ValueError, match=msg) as e:
            stage(batch_of([good[0], row]))
        assert "video 'cam1/2024-05-01/120000.mp4' clip 1" in str(e.value)
    bad = {k: v for k, v in batch_of(good).items() if k != "t"}
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['t'\]"):
        stage(bad)
    # clips decoded for another preset's background_samples (their background has no frame):
    # refused, naming the clip
    k1 = [{**r, "background": np.zeros((0, 56, 56, 3), np.uint8)} for r in good]
    with pytest.raises(
        ValueError, match=r"video 'cam1/2024-05-01/120000.mp4' clip 0: background must be uint8 \[1,"
    ):
        Visual(with_sets(TINY, background_samples=5))(batch_of(k1))
    # without a background, a clip after the first cannot make one from the video's first samples
    with pytest.raises(
        ValueError, match=r"clip 1: a clip with context frames needs the video's background frame"
    ):
        Visual(with_sets(TINY, background_samples=5))(batch_of(good))
    with_bg = clip_rows(moving_video(10), vid="cam1/2024-05-01/120000.mp4", background=3)
    with pytest.raises(
        ValueError, match=r"clip 0: background must be uint8 \[0, 56, 56, 3\] .*background_samples 1"
    ):
        stage(batch_of(with_bg))


@pytest.mark.timeout(60)
def test_nan_score_names_the_clip():
    stage = Visual(TINY)
    with torch.no_grad():
        stage.classifier.head.bias.fill_(float("nan"))
    with pytest.raises(ValueError, match=r"video 'v' clip 0: classifier score is nan"):
        stage(batch_of(clip_rows(moving_video(8))[:1]))


@pytest.mark.timeout(60)
def test_random_classifier_warns(caplog):
    with caplog.at_level(logging.WARNING, logger="va_gpt.pipeline.visual"):
        Visual(TINY)
    assert "RANDOM anomaly classifier" in caplog.text


@pytest.mark.timeout(60)
@pytest.mark.parametrize("pixels, background", [(False, 1), (True, 1), (True, 5)])
def test_training_prepares_frames_as_the_stage_does(pixels, background):
    """A dark, shaking video: the stage with frame preparation on and the training path
    (video_inputs with the same settings) give the classifier the same inputs, pixel maps
    and the background of the first samples included."""
    preset = with_sets(
        TINY, stabilise=True, min_brightness=0.3, match_gain=True, background_samples=background
    )
    preset = dataclasses.replace(preset, classifier=dataclasses.replace(preset.classifier, pixel_maps=pixels))
    stage = Visual(preset)
    video = moving_video(8, seed=3)
    shake = np.random.default_rng(4).integers(-2, 3, (len(video), 2))
    video = np.stack([np.roll(f, tuple(s), axis=(0, 1)) for f, s in zip(video, shake)])
    video = (video * 0.25).astype(np.uint8)  # mean brightness about 0.1: lifted
    video[4:] = (video[4:] * 0.7).astype(np.uint8)  # and the light drops half-way: the gain matched
    video[:2, 30:44, 30:44] = 200  # someone in the first two samples, gone after
    batch = batch_of(clip_rows(video, background=background, prepare=Preparation.of(preset.sets))[:1])
    feats, px, _ = video_inputs(
        stage.encoder, video, TINY.classifier.use_cls, per_patch=True, prepare=Preparation.of(preset.sets),
        pixel_maps=pixels, background_samples=background,
    )  # fmt: skip
    assert px.shape[-1] == patch_features_for(TINY.encoder.hidden_size, preset.classifier)
    got = stage(batch)["score"][0]
    np.testing.assert_allclose(got, predict(stage.classifier, feats, px), rtol=1e-3, atol=1e-4)
    raw, _, _ = video_inputs(stage.encoder, video, TINY.classifier.use_cls, per_patch=True)
    assert not np.allclose(feats, raw)  # the preparation did change what the classifier sees
    if background > 1:  # and the background changed it again
        first, _, _ = video_inputs(
            stage.encoder, video, TINY.classifier.use_cls, per_patch=True, prepare=Preparation.of(preset.sets)
        )
        assert not np.allclose(feats, first)


@pytest.mark.timeout(60)
def test_a_whole_window_without_background_makes_its_own():
    """The VA-GPT's training samples score a decoded window as one clip with no reference or
    background (train.samples): with background_samples 5 the stage makes the background from the
    window's own first prepared frames, and the scores equal those of the same clip carrying the
    background the decode stage makes (they failed on every record before)."""
    preset = with_sets(TINY, stabilise=True, match_gain=True, background_samples=5)
    stage = Visual(preset)
    video = moving_video(12, seed=5)
    video[:2, 30:44, 30:44] = 200  # someone in the first two samples, gone after
    rows = clip_rows(video, clip_len=len(video), background=5, prepare=Preparation.of(preset.sets))
    assert len(rows) == 1 and rows[0]["context"] == 0
    bare = {k: v for k, v in rows[0].items() if k not in ("background", "reference")}
    want = stage(batch_of(rows))["score"][0]
    got = stage(batch_of([bare]))["score"][0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # and it is that background that counts: with the first frame alone the scores differ
    first = stage(batch_of([{**bare, "background": video[:1]}]))["score"][0]
    assert not np.allclose(first, want, rtol=1e-3, atol=1e-4)


@pytest.mark.timeout(60)
def test_loads_a_trained_classifier_and_checks_its_features(tmp_path, stage):
    torch.manual_seed(5)
    g = TINY.encoder.image_size // TINY.encoder.patch_size
    n_patch = patch_features_for(TINY.encoder.hidden_size, TINY.classifier)
    assert n_patch  # the tiny preset's classifier reads per-patch evidence too
    clf = AnomalyClassifier(
        num_features(TINY.encoder.hidden_size, TINY.classifier.use_cls), TINY.classifier,
        patch_features=n_patch, grid=(g, g),
    )  # fmt: skip
    with torch.no_grad():
        clf.head.bias.fill_(3.0)  # clearly not the stage's default random classifier
    url = str(tmp_path / "clf")
    save_classifier(clf, url, feature_spec(TINY, stage.encoder))
    loaded = Visual(TINY, url)
    batch = batch_of(clip_rows(moving_video(8))[:1])
    a, b = loaded(batch)["score"][0], stage(batch)["score"][0]
    assert not np.allclose(a, b)
    # the same classifier applied by hand to the stage's features
    feats, px, _ = video_inputs(stage.encoder, batch["frames"][0], TINY.classifier.use_cls, per_patch=True)
    np.testing.assert_allclose(a, predict(clf.eval(), feats, px), rtol=1e-3, atol=1e-4)  # px is float16

    other = dataclasses.replace(TINY, decode=dataclasses.replace(TINY.decode, fps=3.0))
    with pytest.raises(ValueError, match="fps=2.0, this preset has 3.0"):
        Visual(other, url)
    with pytest.raises(ValueError, match="stabilise=False, this preset has True"):
        Visual(with_sets(TINY, stabilise=True), url)
    with pytest.raises(ValueError, match="match_gain=False, this preset has True"):
        Visual(with_sets(TINY, match_gain=True), url)
    with pytest.raises(ValueError, match="background_samples=1, this preset has 5"):
        Visual(with_sets(TINY, background_samples=5), url)
    # a classifier from before sets.match_gain / background_samples is served with the preset's
    # (the committed one is)
    legacy = feature_spec(TINY, stage.encoder)
    legacy.pop("match_gain")
    legacy.pop("background_samples")
    save_classifier(clf, url, legacy)
    Visual(with_sets(TINY, match_gain=True, background_samples=5), url)
    old = feature_spec(TINY, stage.encoder)
    old.pop("recipe")
    save_classifier(clf, url, old)
    with pytest.raises(ValueError, match="retrain"):
        Visual(TINY, url)
    spec = feature_spec(TINY, stage.encoder)
    spec["encoder_weights"] = [2 * w + 0.01 for w in spec["encoder_weights"]]
    save_classifier(clf, url, spec)
    with pytest.raises(ValueError, match="different encoder"):
        Visual(TINY, url)
    wide = dataclasses.replace(TINY, classifier=dataclasses.replace(TINY.classifier, use_cls=True))
    n = num_features(TINY.encoder.hidden_size, False)
    with pytest.raises(ValueError, match=f"takes {n} features per frame, this preset makes {n + 32}"):
        Visual(wide, url)
    save_classifier(clf, url, feature_spec(TINY, stage.encoder))
    pixels = dataclasses.replace(TINY, classifier=dataclasses.replace(TINY.classifier, pixel_maps=True))
    with pytest.raises(
        ValueError, match=f"takes {n_patch} features per patch, this preset makes {n_patch + 6}"
    ):
        Visual(pixels, url)  # trained without pixel maps: refused before any clip is scored
    short = dataclasses.replace(TINY, classifier=dataclasses.replace(TINY.classifier, patch_layers=0))
    with pytest.raises(ValueError, match="looks back 5 frames, the preset.s clips carry context for 3"):
        Visual(short, url)


@pytest.mark.timeout(120)
def test_clips_the_decode_stage_prepared_score_as_raw_ones():
    """The nightly prepares frames in its decode tasks (CPU cores) so a GPU actor only encodes:
    clips that say how they were prepared are taken as they are, and score exactly as the raw
    clips the visual stage prepares itself. Clips prepared otherwise than this preset are refused,
    naming the clip."""
    preset = with_sets(TINY, stabilise=True, min_brightness=0.5)
    video = (moving_video(30, seed=3) * 0.3).astype(np.uint8)  # dark: the lift changes every frame
    shake = np.random.default_rng(4).integers(-2, 3, (len(video), 2))
    video = np.stack([np.roll(f, tuple(s), axis=(0, 1)) for f, s in zip(video, shake)])
    raw = clip_rows(video, context=context_frames(preset.classifier))
    done = []
    for r in raw:
        frames, reference = Preparation(True, 0.5)(r["frames"], r["reference"])
        assert not np.array_equal(frames, r["frames"])
        done.append({**r, "frames": frames, "reference": reference, "prepared": Preparation(True, 0.5).label})
    stage = Visual(preset)
    want, got = stage(batch_of(raw)), stage(batch_of(done))
    assert "prepared" not in got
    for k in ("score", "kind_prob", "diff_energy", "box", "selected"):
        for a, b in zip(want[k], got[k]):
            np.testing.assert_array_equal(a, b)
    other = [{**r, "prepared": Preparation(False, 0.5).label} for r in done[:2]]
    with pytest.raises(ValueError, match=r"video 'v' clip 0: frames were prepared with 'stabilise=False"):
        stage(batch_of(other))


@pytest.mark.timeout(120)
def test_classifier_views_read_finer_grids_and_sets_keeps_the_encoders(tmp_path, stage):
    """classifier.views [112] (twice the encoder's 56): clips arrive at 112 px and a classifier
    trained on the 4 x 4 grid scores them on 8 x 8, as by hand from the encoder at 112; SETS's
    columns are those of the 56 px stage on the same frames resized (its grid is the VA-GPT's).
    With views [56, 112] the score and kind probabilities are the mean of the two views'."""

    def with_views(*views):
        return dataclasses.replace(TINY, classifier=dataclasses.replace(TINY.classifier, views=views))

    V = 2 * S
    assert with_views(V).decode_size == V and with_views(S, V).decode_size == V and TINY.decode_size == S
    torch.manual_seed(6)
    clf = AnomalyClassifier(
        num_features(TINY.encoder.hidden_size, False), TINY.classifier,
        patch_features=patch_features_for(TINY.encoder.hidden_size, TINY.classifier), grid=(4, 4),
    ).eval()  # fmt: skip
    url = str(tmp_path / "clf")
    save_classifier(clf, url, feature_spec(TINY, stage.encoder))
    big = moving_video(20, seed=2, size=V)
    small = resize_frames(big, S)
    fine = _scores_by_clip([Visual(with_views(V), url)(batch_of(clip_rows(big)))])
    coarse = _scores_by_clip([Visual(TINY, url)(batch_of(clip_rows(small)))])
    both = _scores_by_clip([Visual(with_views(S, V), url)(batch_of(clip_rows(big)))])
    for got in (fine, both):
        np.testing.assert_array_equal(got["t"], coarse["t"])
        np.testing.assert_array_equal(got["selected"], coarse["selected"])
        np.testing.assert_allclose(got["diff_energy"], coarse["diff_energy"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got["box"], coarse["box"], rtol=1e-5, atol=1e-6)
    clf.use_grid((8, 8))
    feats, px, _ = video_inputs(stage.encoder.at_size(V), big, False, per_patch=True)
    np.testing.assert_allclose(fine["score"], predict(clf, feats, px), rtol=1e-3, atol=1e-4)
    assert np.abs(fine["score"] - coarse["score"]).max() > 1e-3  # it did read the finer grid
    for k in ("score", "kind_prob"):
        np.testing.assert_allclose(both[k], (fine[k] + coarse[k]) / 2, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"frames must be uint8 \[T, 112, 112, 3\]"):
        Visual(with_views(S, V), url)(batch_of(clip_rows(small)[:1]))


def test_classifier_views_off_the_patch_grid_or_repeated_are_refused():
    for views, why in (
        ([56, 120], "120 is not a positive multiple"),
        ([56, 56], "distinct"),
        ([], "non-empty"),
    ):
        data = {**to_dict(TINY), "classifier": {**to_dict(TINY.classifier), "views": views}}
        with pytest.raises(ConfigError, match=f"preset.classifier.views: .*{why}"):
            preset_from_dict(data)
