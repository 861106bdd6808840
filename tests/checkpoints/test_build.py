"""Building a preset's parts: encoders from saved folders (sizes checked against the preset)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from va_gpt.checkpoints.build import build_encoder
from va_gpt.config import load_preset


@pytest.mark.timeout(60)
def test_loads_a_saved_folder(tmp_path):
    random = build_encoder(load_preset("tiny").encoder)  # source null: the seeded random encoder
    random.model.save_pretrained(tmp_path / "dino")
    cfg = dataclasses.replace(load_preset("tiny").encoder, source=str(tmp_path / "dino"))
    enc = build_encoder(cfg)
    x = np.random.default_rng(0).integers(0, 256, (2, 56, 56, 3), dtype=np.uint8)
    assert torch.equal(enc.encode_frames(x).patches, random.encode_frames(x).patches)
    bad = dataclasses.replace(cfg, hidden_size=64)
    with pytest.raises(ValueError, match="hidden_size"):
        build_encoder(bad)
