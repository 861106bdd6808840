"""The classifier's training rows are encoded as the visual stage serves them: with the preset's
runtime.encoder_int8, through the same dynamic int8 Linear layers (pipeline.visual.quantize_encoder)."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch

from va_gpt.checkpoints.build import build_encoder
from va_gpt.config import load_preset
from va_gpt.pipeline.visual import quantize_encoder
from va_gpt.train import synthetic_classifier
from va_gpt.train.dataset_cache import weights_hash
from va_gpt.train.synthetic_classifier import classifier_dataset

TINY = load_preset("tiny")
INT8 = dataclasses.replace(TINY, runtime=dataclasses.replace(TINY.runtime, encoder_int8=True))
ARGS = (3, 123, 3.0, 64, 48, "train")  # 3 videos (normal, fighting, normal) of 3 s at 64x48


def same_rows(a, b) -> bool:
    return all(
        np.array_equal(x, y) for key in ("features", "patches") for x, y in zip(a[key], b[key], strict=True)
    )


@pytest.mark.timeout(180)
def test_training_rows_go_through_the_int8_encoder_the_visual_stage_serves(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(synthetic_classifier, "CHUNK_VIDEOS", 2)  # 2 chunks: one per worker below
    saved = torch.get_num_threads()
    torch.set_num_threads(1)  # the workers' thread count: the rows are then bit-identical
    try:
        enc = build_encoder(TINY.encoder, "cpu", "float32")
        weights = weights_hash(enc)
        plain = classifier_dataset(TINY, enc, *ARGS, cache=tmp_path)
        served = classifier_dataset(INT8, enc, *ARGS, cache=tmp_path)
        assert "0 of 2 chunks from the cache" in capsys.readouterr().err  # float rows never serve int8
        in_workers = classifier_dataset(INT8, enc, *ARGS, workers=2)
        int8 = copy.deepcopy(enc)
        quantize_encoder(int8)
        by_hand = classifier_dataset(TINY, int8, *ARGS)  # the int8 encoder given, nothing quantized again
    finally:
        torch.set_num_threads(saved)
    assert weights_hash(enc) == weights  # the caller's encoder is left in float32
    assert same_rows(served, by_hand) and same_rows(served, in_workers)
    assert not same_rows(served, plain)
    diff = max(float(np.abs(a - b).max()) for a, b in zip(served["features"], plain["features"]))
    assert 0 < diff < 1.0, diff  # int8 rounding, not other features
