"""Anomaly classifier model: shapes, causality, streaming, every preset builds."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from va_gpt.config import ClassifierConfig, load_preset, preset_names
from va_gpt.models.classifier import (
    KINDS,
    AnomalyClassifier,
    build_classifier,
    frame_features,
    frame_inputs,
    num_features,
    patch_features_for,
)
from va_gpt.ops.evidence import evidence_features, patch_evidence
from va_gpt.taxonomy import NORMAL, SYNTHETIC_KINDS, display, parse_kind

CFG = ClassifierConfig(hidden_size=16, num_layers=2, kernel_size=3, dropout=0.0, use_cls=False)
# a classifier that also reads per-patch evidence (4 x 4 patches of 5 features), one per-patch conv
PATCH_CFG = ClassifierConfig(
    hidden_size=16, num_layers=2, kernel_size=3, dropout=0.0, use_cls=False, patch_hidden=8, patch_layers=1
)
GRID = (4, 4)


def model(in_features=6, cfg=CFG, seed=0):
    torch.manual_seed(seed)
    return AnomalyClassifier(in_features, cfg).eval()


@pytest.mark.timeout(30)
def test_shapes_probabilities_and_features():
    m = model()
    p = m(torch.randn(3, 20, 6) * 10)
    assert p.shape == (3, 20) and (p >= 0).all() and (p <= 1).all()
    logit, kind = m.outputs(torch.randn(3, 20, 6))
    assert logit.shape == (3, 20) and kind.shape == (3, 20, len(KINDS))
    with pytest.raises(ValueError, match=r"\[B, T, 6\]"):
        m(torch.randn(3, 20, 5))
    cls, patches = torch.randn(4, 8), torch.randn(4, 16, 8)
    f = frame_features(cls, patches, patches[0], (4, 4), use_cls=True)
    assert f.shape == (4, num_features(8, use_cls=True)) == (4, 8 + 22)
    assert torch.equal(f[:, :8], cls)
    ev = frame_features(cls, patches, patches[0], (4, 4), use_cls=False)
    assert ev.shape == (4, num_features(8, use_cls=False))
    torch.testing.assert_close(ev, f[:, 8:])


def test_the_kind_head_is_the_taxonomy():
    """The head's classes are normal + the taxonomy's synthetic kinds, and parse_kind reads each back."""
    assert KINDS == (NORMAL, *SYNTHETIC_KINDS)
    assert model().kind_head.out_features == len(KINDS)
    for kind in KINDS:
        assert parse_kind(display(kind)) == kind
        assert parse_kind(f"Judgement: {display(kind)}.") == kind


def test_no_blind_start():
    """Replicate padding: a video whose evidence is the same on every frame gets the same score on
    every frame, the first ones included (zero padding scored the first R - 1 frames differently)."""
    m = model()
    x = torch.randn(1, 1, 6).expand(1, 20, 6)
    p = m(x)[0]
    torch.testing.assert_close(p, p[-1].expand(20))


@pytest.mark.timeout(30)
def test_causal_with_the_stated_receptive_field():
    m = model()
    R = m.receptive_field
    assert R == 1 + 2 * (1 + 2)  # kernel 3, dilations 1, 2
    x = torch.randn(1, 30, 6)
    base = m(x)
    y = x.clone()
    y[0, 15] += 5.0
    changed = (m(y) - base).abs()[0] > 1e-6
    # frame 15 influences exactly frames 15 .. 15 + R - 1
    assert changed.nonzero().flatten().tolist() == list(range(15, 15 + R))


@pytest.mark.timeout(30)
def test_a_window_with_its_context_scores_like_one_pass():
    m = model()
    R = m.receptive_field
    x = torch.randn(40, 6)
    whole, whole_kind = m(x[None])[0], torch.softmax(m.outputs(x[None])[1][0], -1)
    for a, b in [(0, 3), (3, 10), (10, 11), (11, 40)]:  # include clips shorter than the receptive field
        c = max(0, a - (R - 1))
        p, k = m.score_window(x[c:b], b - a)
        torch.testing.assert_close(p, whole[a:b], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(k, whole_kind[a:b], rtol=1e-5, atol=1e-6)


def patch_model(seed=0, cfg=PATCH_CFG):
    torch.manual_seed(seed)
    return AnomalyClassifier(6, cfg, patch_features=5, grid=GRID).eval()


@pytest.mark.timeout(30)
def test_a_patch_model_reads_every_patch_and_streams_like_one_pass():
    m = patch_model()
    R = m.receptive_field
    assert R == 1 + 2 * (1 + 2) + 2 * 1  # the frame convs (dilations 1, 2) and one per-patch conv
    x, px = torch.randn(40, 6), torch.randn(40, 16, 5)
    whole = m(x[None], px[None])[0]
    assert whole.shape == (40,)
    # causal over frames and patches: a change at frame 15 of one patch moves exactly frames 15 .. 15 + R - 1
    moved = px.clone()
    moved[15, 9] += 5.0
    changed = m.logits(x[None], moved[None])[0] != m.logits(x[None], px[None])[0]
    assert changed.nonzero().flatten().tolist() == list(range(15, 15 + R))
    for a, b in [(0, 3), (3, 10), (10, 11), (11, 40)]:
        c = max(0, a - (R - 1))
        p, _ = m.score_window(x[c:b], b - a, px[c:b])
        torch.testing.assert_close(p, whole[a:b], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="per-patch evidence"):
        m(x[None])
    with pytest.raises(ValueError, match=r"\[B, T, 16, 5\]"):
        m(x[None], torch.randn(1, 40, 15, 5))
    with pytest.raises(ValueError, match="reads no per-patch evidence"):
        model()(x[None], px[None])
    with pytest.raises(ValueError, match="needs patch_features and grid"):
        AnomalyClassifier(6, PATCH_CFG)


@pytest.mark.timeout(30)
def test_patch_spatial_reads_the_neighbours_before_the_pooling_and_still_streams():
    """ClassifierConfig.patch_spatial: a grid conv after every per-patch temporal block as well as
    the last one, so one patch's change at frame 15 reaches the patch logits two patches away
    (5 x 5, the whole 4 x 4 grid from patch (2, 1)), not only its 3 x 3 neighbours; over time it
    is as causal as before, with the same receptive field, and a window with its context scores
    like one pass."""
    plain, mixed = patch_model(), patch_model(cfg=dataclasses.replace(PATCH_CFG, patch_spatial=True))
    assert len(plain.patch.mixes) == 0 and len(mixed.patch.mixes) == PATCH_CFG.patch_layers
    assert mixed.receptive_field == plain.receptive_field
    x, px = torch.randn(40, 6), torch.randn(40, 16, 5)
    moved = px.clone()
    moved[15, 9] += 5.0  # patch 9 = row 2, column 1
    for m, reached in ((plain, 9), (mixed, 16)):
        changed = (
            m.all_outputs(x[None], moved[None])[2][0] != m.all_outputs(x[None], px[None])[2][0]
        )  # [T, N]
        assert changed[:15].sum() == 0 and changed[15].sum() == reached
        frames = (m.logits(x[None], moved[None])[0] != m.logits(x[None], px[None])[0]).nonzero().flatten()
        assert frames.tolist() == list(range(15, 15 + m.receptive_field))
    whole = mixed(x[None], px[None])[0]
    R = mixed.receptive_field
    for a, b in [(0, 3), (3, 11), (11, 40)]:
        c = max(0, a - (R - 1))
        p, _ = mixed.score_window(x[c:b], b - a, px[c:b])
        torch.testing.assert_close(p, whole[a:b], rtol=1e-5, atol=1e-6)


@pytest.mark.timeout(30)
def test_a_patch_model_reads_a_finer_grid_as_the_same_evidence():
    """use_grid((8, 8)) on a model trained on 4 x 4: each patch's evidence repeated over a 2 x 2
    block is the same evidence, and without the 3x3 conv (which sees its neighbours, and so the
    grid) the scores are the same: attention and max pooling read it as they read the 4 x 4, and
    the logsumexp of the patch logits is taken per as many patches as in training."""
    m = patch_model()
    with torch.no_grad():
        m.patch.spatial.weight.zero_()
    x, px = torch.randn(20, 6), torch.randn(20, 16, 5)
    coarse = m(x[None], px[None])[0]
    fine = px.reshape(20, 4, 1, 4, 1, 5).expand(20, 4, 2, 4, 2, 5).reshape(20, 64, 5)
    m.use_grid((8, 8))
    torch.testing.assert_close(m(x[None], fine[None])[0], coarse, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"\[B, T, 64, 5\]"):
        m(x[None], px[None])  # the 4 x 4 evidence no longer fits


def test_patch_inputs_are_the_evidence_per_patch():
    """frame_inputs gives the frame evidence and, per patch, its six map values and its embedding."""
    cls, patches = torch.randn(6, 8), torch.randn(6, 16, 8)
    f, px = frame_inputs(cls, patches, patches[0], GRID, use_cls=False, per_patch=True)
    torch.testing.assert_close(f, evidence_features(patches, patches[0], GRID))
    torch.testing.assert_close(px, patch_evidence(patches, patches[0]))
    assert px.shape == (6, 16, 6 + 8)
    # the embedding part is each frame standardised over its patches and channels
    x = px[..., 6:]
    torch.testing.assert_close(x.mean((1, 2)), torch.zeros(6), atol=1e-5, rtol=0)
    assert frame_inputs(cls, patches, patches[0], GRID, use_cls=False)[1] is None


@pytest.mark.timeout(30)
def test_every_preset_builds_its_classifier():
    for name in preset_names():
        p = load_preset(name)
        g = p.encoder.image_size // p.encoder.patch_size
        n_patch = patch_features_for(p.encoder.hidden_size, p.classifier)
        m = build_classifier(
            num_features(p.encoder.hidden_size, p.classifier.use_cls),
            p.classifier,
            patch_features=n_patch,
            grid=(g, g),
        )
        px = torch.randn(1, 5, g * g, n_patch) if n_patch else None
        assert m(torch.randn(1, 5, m.in_features), px).shape == (1, 5)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", preset_names())
def test_features_and_scores_stay_on_the_input_device(name):
    """On a GPU the visual stage's features and scores are computed where the encoder's patches
    are. The meta device stands in for the GPU here: a tensor made on the CPU inside the feature
    code (an arange without device=) fails the same way as on CUDA ("expected device meta"),
    as it did on the first H200 run."""
    p = load_preset(name)
    cfg, grid, D, T = p.classifier, (6, 6), 24, 12
    N = grid[0] * grid[1]
    meta = torch.device("meta")
    cls, patches, ref = (
        torch.randn(T, D, device=meta),
        torch.randn(T, N, D, device=meta),
        torch.randn(N, D, device=meta),
    )
    clf = build_classifier(
        num_features(D, cfg.use_cls), cfg, patch_features=patch_features_for(D, cfg), grid=grid
    ).eval()
    frames = np.zeros((T, 84, 84, 3), np.uint8)  # the stage's frames arrive as numpy on the CPU
    pixels = (frames, frames[0]) if cfg.pixel_maps else None
    feats, px = frame_inputs(cls, patches, ref, grid, cfg.use_cls, clf.uses_patches, pixels)
    assert feats.device == meta and feats.shape == (T, num_features(D, cfg.use_cls))
    assert px is None or px.device == meta
    score, kind = clf.to(meta).score_window(feats, 4, px, tail=clf.tail_frames)
    assert score.device == meta and score.shape[0] == 4 + clf.tail_frames and kind.shape[-1] == len(KINDS)
