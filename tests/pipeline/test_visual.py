"""Visual stage on the tiny preset, without Ray."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pytest
import torch

from va_gpt.checkpoints.classifier import save_classifier
from va_gpt.config import load_preset
from va_gpt.models.classifier import AnomalyClassifier, num_features
from va_gpt.pipeline.visual import Visual, feature_spec
from va_gpt.train.classifier import predict, video_features

TINY = load_preset("tiny")
S = TINY.encoder.image_size  # 56: a 4 x 4 grid of 14-pixel patches
L = TINY.decode.clip_len  # 8


def with_sets(preset, **kw):
    return dataclasses.replace(preset, sets=dataclasses.replace(preset.sets, **kw))


@pytest.fixture(scope="module")
def stage():
    return Visual(TINY)


def moving_video(T, seed=0):
    """Textured background, small noise, and a bright 10x10 square moving right/down."""
    rng = np.random.default_rng(seed)
    bg = rng.integers(40, 200, (S, S, 3)).astype(np.float32)
    frames = []
    for i in range(T):
        f = bg + rng.normal(0, 3, bg.shape)
        x, y = (3 + 3 * i) % (S - 10), (5 + 2 * i) % (S - 10)
        f[y : y + 10, x : x + 10] = 250
        frames.append(f)
    return np.clip(np.stack(frames), 0, 255).astype(np.uint8)


def clip_rows(video, vid="v", fps=2.0, clip_len=L, uri="s3://bucket/v.mp4"):
    """Split a video like the decode stage: clip 0 has no overlap, later clips start with the
    previous clip's last frame."""
    rows, start, c = [], 0, 0
    while True:
        a = start if c == 0 else start - 1
        b = min(len(video), a + clip_len)
        rows.append(
            dict(
                video_id=vid,
                clip_index=c,
                frames=video[a:b],
                t=np.arange(a, b) / fps,
                first_is_overlap=c > 0,
                uri=uri,
            )
        )
        if b >= len(video):
            return rows
        start, c = b, c + 1


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
    rows = clip_rows(video)  # clips of 8, 8 (7 new), 8 (7 new) -> 8 + 7 + 7 = 22 frames
    assert [len(r["frames"]) for r in rows] == [8, 8, 8]
    shuffled = [rows[2], rows[0], rows[1]]
    out = stage(batch_of(shuffled))
    assert set(out) == {"video_id", "clip_index", "uri", "t", "score", "diff_energy", "box", "selected"}
    assert out["clip_index"].tolist() == [2, 0, 1]  # input order kept
    assert list(out["uri"]) == ["s3://bucket/v.mp4"] * 3
    k = 4  # ceil(0.25 * 16)
    for i, r in enumerate(shuffled):
        n_new = len(r["frames"]) - int(r["first_is_overlap"])
        t = out["t"][i]
        np.testing.assert_array_equal(t, r["t"][1:] if r["first_is_overlap"] else r["t"])
        assert out["score"][i].shape == (n_new,) and out["score"][i].dtype == np.float32
        assert ((out["score"][i] >= 0) & (out["score"][i] <= 1)).all()
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
    # the very first frame of the video has nothing to compare with
    assert out["diff_energy"][1][0] == 0 and (out["diff_energy"][1][1:] > 0).all()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("reference", ["previous", "background"])
def test_clips_in_order_equal_one_pass_over_the_video(reference):
    preset = with_sets(TINY, reference=reference)
    preset = dataclasses.replace(preset, classifier=dataclasses.replace(preset.classifier, num_layers=2))
    video = moving_video(30, seed=1)
    whole = Visual(preset)(batch_of(clip_rows(video, clip_len=30)))
    rows = clip_rows(video)
    stage = Visual(preset)
    # two batches, the second one out of order inside the batch: rows are sorted per video
    parts = [stage(batch_of(rows[:2])), stage(batch_of([rows[3], rows[2], rows[4]]))]
    got = {}
    for p in parts:
        for r in rows_of(p):
            got[int(r["clip_index"])] = r
    cat = {
        k: np.concatenate([got[c][k] for c in sorted(got)])
        for k in ("t", "score", "diff_energy", "box", "selected")
    }
    np.testing.assert_array_equal(cat["t"], whole["t"][0])
    np.testing.assert_allclose(cat["diff_energy"], whole["diff_energy"][0], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(cat["score"], whole["score"][0], rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(cat["selected"], whole["selected"][0])
    np.testing.assert_allclose(cat["box"], whole["box"][0])


@pytest.mark.timeout(60)
def test_a_clip_out_of_order_starts_fresh():
    preset = with_sets(TINY, reference="background")
    video = moving_video(30, seed=2)
    rows = clip_rows(video)
    in_order = Visual(preset)
    outs = [in_order(batch_of([r])) for r in rows[:3]]
    skipped = Visual(preset)
    skipped(batch_of([rows[0]]))
    jumped = skipped(batch_of([rows[2]]))  # clip 1 never came: no state carried
    alone = Visual(preset)(batch_of([rows[2]]))
    np.testing.assert_allclose(jumped["diff_energy"][0], alone["diff_energy"][0], rtol=1e-5)
    np.testing.assert_allclose(jumped["score"][0], alone["score"][0], rtol=1e-5)
    # ... and it differs from the in-order result, which remembers the background
    assert not np.allclose(outs[2]["diff_energy"][0], alone["diff_energy"][0], rtol=1e-3)


@pytest.mark.timeout(60)
def test_a_new_static_object_stays_selected_in_background_mode():
    """A bright object appears in one patch at frame 5 and stays; the clips are processed in order."""
    rng = np.random.default_rng(3)
    bg = rng.integers(60, 180, (S, S, 3)).astype(np.float32)
    T = 29
    video = np.stack([bg + rng.normal(0, 2, bg.shape) for _ in range(T)])
    video[5:, 28:42, 14:28] = [250, 250, 40]  # patch row 2, col 1 -> index 9
    video = np.clip(video, 0, 255).astype(np.uint8)
    res = {}
    for reference in ("previous", "background"):
        stage = Visual(with_sets(TINY, reference=reference))
        outs = [stage(batch_of([r])) for r in clip_rows(video)]
        sel = np.concatenate([o["selected"][0] for o in outs])  # [T, k]
        box = np.concatenate([o["box"][0] for o in outs])
        res[reference] = (np.array([9 in s for s in sel]), box)
    prev_hit, _ = res["previous"]
    bg_hit, bg_box = res["background"]
    assert prev_hit[5] and bg_hit[5]
    assert bg_hit[5:].all()  # every frame after the drop, across 4 clips
    assert prev_hit[6:].mean() < 0.5  # only by chance among noise
    # The box follows the object, the patch (col 1, row 2) = (0.25, 0.5, 0.5, 0.75) in normalised
    # coordinates: it always contains it and mostly is exactly it (a selected neighbour touched
    # by the encoder's attention can join the group).
    after = bg_box[5:]
    assert ((after[:, :2] <= [0.25, 0.5]) & (after[:, 2:] >= [0.5, 0.75])).all()
    assert (after == [0.25, 0.5, 0.5, 0.75]).all(1).mean() > 0.5


@pytest.mark.timeout(60)
def test_single_frame_video_and_ragged_batch(stage):
    one = dict(
        video_id="one", clip_index=0, frames=moving_video(1), t=np.array([0.0]), first_is_overlap=False
    )
    short = clip_rows(moving_video(5), vid="short")[0]  # 5 frames, no overlap
    long = clip_rows(moving_video(8), vid="long")[0]
    for r in (short, long):
        r.pop("uri")
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
            "at least one new frame after its overlap frame",
        ),
        (dict(frames=good[0]["frames"][:0], t=good[0]["t"][:0], first_is_overlap=False), "0 frame"),
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
def test_loads_a_trained_classifier_and_checks_its_features(tmp_path, stage):
    torch.manual_seed(5)
    clf = AnomalyClassifier(num_features(TINY.encoder.hidden_size, TINY.classifier.use_cls), TINY.classifier)
    with torch.no_grad():
        clf.head.bias.fill_(3.0)  # clearly not the stage's default random classifier
    url = str(tmp_path / "clf")
    save_classifier(clf, url, feature_spec(TINY, stage.encoder))
    loaded = Visual(TINY, url)
    batch = batch_of(clip_rows(moving_video(8))[:1])
    a, b = loaded(batch)["score"][0], stage(batch)["score"][0]
    assert not np.allclose(a, b)
    # the same classifier applied by hand to the stage's features
    feats = video_features(stage.encoder, batch["frames"][0], TINY.sets, TINY.classifier.use_cls)
    np.testing.assert_allclose(a, predict(clf.eval(), feats), rtol=1e-5)

    other = with_sets(TINY, reference="background")
    with pytest.raises(ValueError, match="reference='previous', this preset has 'background'"):
        Visual(other, url)
    spec = feature_spec(TINY, stage.encoder)
    spec["encoder_weights"] = [2 * w + 0.01 for w in spec["encoder_weights"]]
    save_classifier(clf, url, spec)
    with pytest.raises(ValueError, match="different encoder"):
        Visual(TINY, url)
    wide = dataclasses.replace(TINY, classifier=dataclasses.replace(TINY.classifier, use_cls=True))
    with pytest.raises(ValueError, match="takes 4 features per frame, this preset makes 36"):
        Visual(wide, url)
