"""DinoEncoder: same outputs as transformers' Dinov2Model, strict preprocessing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import Dinov2Config, Dinov2Model

from va_gpt.config import load_preset
from va_gpt.models.dinov2 import IMAGENET_MEAN, IMAGENET_STD, DinoEncoder


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return DinoEncoder.random(load_preset("tiny").encoder)


def frames(n, size, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


@pytest.mark.timeout(60)
def test_matches_transformers_dinov2(tiny):
    cfg = load_preset("tiny").encoder
    ref = Dinov2Model(
        Dinov2Config(
            image_size=cfg.image_size,
            patch_size=cfg.patch_size,
            hidden_size=cfg.hidden_size,
            num_hidden_layers=cfg.num_layers,
            num_attention_heads=cfg.num_heads,
            mlp_ratio=cfg.mlp_ratio,
        )
    ).eval()
    ref.load_state_dict(tiny.model.state_dict())
    x = frames(3, cfg.image_size)
    pixels = torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255.0
    pixels = (pixels - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(
        1, 3, 1, 1
    )
    with torch.no_grad():
        hidden = ref(pixel_values=pixels).last_hidden_state
    out = tiny.encode_frames(x)
    g = cfg.image_size // cfg.patch_size
    assert out.grid == (g, g) == tiny.grid
    assert out.cls.shape == (3, cfg.hidden_size) and out.patches.shape == (3, g * g, cfg.hidden_size)
    assert torch.equal(tiny.preprocess(x), pixels)
    assert torch.equal(out.cls, hidden[:, 0])
    assert torch.equal(out.patches, hidden[:, 1:])
    assert tiny.hidden_size == cfg.hidden_size


@pytest.mark.timeout(60)
def test_chunking_does_not_change_outputs(tiny):
    x = frames(5, 56, seed=1)
    a = tiny.encode_frames(x, batch_size=64)
    b = tiny.encode_frames(x, batch_size=2)
    torch.testing.assert_close(a.patches, b.patches, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(a.cls, b.cls, rtol=1e-5, atol=1e-5)


@pytest.mark.timeout(60)
def test_preprocess_rejects_bad_frames(tiny):
    with pytest.raises(ValueError, match="expects 56x56"):
        tiny.preprocess(frames(2, 64))
    with pytest.raises(ValueError, match="uint8"):
        tiny.preprocess(frames(2, 56).astype(np.float32))
    with pytest.raises(ValueError, match="uint8"):
        tiny.preprocess(np.zeros((2, 56, 56, 4), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        tiny.preprocess(np.zeros((56, 56, 3), np.uint8))  # a single frame without the batch axis
    with pytest.raises(ValueError, match="no frames"):
        tiny.encode_frames(np.zeros((0, 56, 56, 3), np.uint8))


@pytest.mark.timeout(60)
def test_bfloat16_normalises_in_float32():
    torch.manual_seed(0)
    cfg = load_preset("tiny").encoder
    enc = DinoEncoder.random(cfg, dtype="bfloat16")
    assert next(enc.parameters()).dtype == torch.bfloat16
    x = frames(2, 56)
    ref32 = DinoEncoder.random(cfg).preprocess(x)
    assert torch.equal(enc.preprocess(x), ref32.to(torch.bfloat16))
    out = enc.encode_frames(x)
    assert out.patches.dtype == torch.bfloat16
