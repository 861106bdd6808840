"""Anomaly classifier model: shapes, causality, streaming, every preset builds."""

from __future__ import annotations

import pytest
import torch

from va_gpt.config import ClassifierConfig, load_preset, preset_names
from va_gpt.models.classifier import AnomalyClassifier, frame_features, num_features

CFG = ClassifierConfig(hidden_size=16, num_layers=2, kernel_size=3, dropout=0.0, use_cls=False)


def model(in_features=6, cfg=CFG, seed=0):
    torch.manual_seed(seed)
    return AnomalyClassifier(in_features, cfg).eval()


@pytest.mark.timeout(30)
def test_shapes_probabilities_and_features():
    m = model()
    p = m(torch.randn(3, 20, 6) * 10)
    assert p.shape == (3, 20) and (p >= 0).all() and (p <= 1).all()
    with pytest.raises(ValueError, match=r"\[B, T, 6\]"):
        m(torch.randn(3, 20, 5))
    cls, diff = torch.randn(4, 8), torch.rand(4, 16)
    f = frame_features(cls, diff, 0.25, use_cls=True)
    assert f.shape == (4, num_features(8, use_cls=True)) == (4, 12)
    assert torch.equal(f[:, :8], cls)
    torch.testing.assert_close(f[:, 8], torch.log1p(diff.mean(1)))
    stats = frame_features(cls, diff, 0.25, use_cls=False)
    assert stats.shape == (4, num_features(8, use_cls=False)) == (4, 4)
    torch.testing.assert_close(stats, f[:, 8:])


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
def test_score_stream_equals_one_pass():
    m = model()
    x = torch.randn(40, 6)
    whole = m(x[None])[0]
    ctx, parts = None, []
    for a, b in [(0, 3), (3, 10), (10, 11), (11, 40)]:  # include clips shorter than the receptive field
        p, ctx = m.score_stream(x[a:b], ctx)
        parts.append(p)
        assert len(ctx) <= m.receptive_field - 1
    torch.testing.assert_close(torch.cat(parts), whole, rtol=1e-5, atol=1e-6)


@pytest.mark.timeout(30)
def test_every_preset_builds_its_classifier():
    for name in preset_names():
        p = load_preset(name)
        m = AnomalyClassifier(num_features(p.encoder.hidden_size, p.classifier.use_cls), p.classifier)
        assert m(torch.randn(1, 5, m.in_features)).shape == (1, 5)
