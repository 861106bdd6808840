"""TrainConfig.focal_gamma: the anomaly head's per-frame loss scaled by (1 - p_t) ** gamma."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from tests.train.test_classifier import PATCH_CFG, learns_and_off_is_plain
from va_gpt.train import synthetic_classifier
from va_gpt.train.classifier import TrainConfig, train_classifier
from va_gpt.train.classifier_losses import frame_bce


def test_focal_gamma_weighs_frames_scored_wrong_most_and_zero_is_the_plain_loss():
    logit = torch.tensor([[4.0, -4.0, 0.0, -3.0, 3.0]])
    y = torch.tensor([[1.0, 0.0, 1.0, 1.0, 0.0]])  # right, right, unsure, wrong, wrong
    pw = torch.tensor(5.0)
    plain = F.binary_cross_entropy_with_logits(logit, y, pos_weight=pw, reduction="none")
    assert torch.equal(frame_bce(logit, y, pw), plain)
    assert torch.equal(frame_bce(logit, y, pw, gamma=0.0), plain)
    focal = frame_bce(logit, y, pw, gamma=2.0)
    kept = focal / plain  # the factor each frame keeps: (1 - p_t) ** 2
    p_t = torch.where(y > 0.5, torch.sigmoid(logit), torch.sigmoid(-logit))
    torch.testing.assert_close(kept, (1 - p_t) ** 2)
    assert kept[0, :2].max() < 0.001 and kept[0, 2] == pytest.approx(0.25) and kept[0, 3:].min() > 0.9
    # soft labels (smoothed truth) keep the factor between the two
    mid = frame_bce(torch.tensor([[0.0]]), torch.tensor([[0.5]]), gamma=1.0)
    assert mid.item() == pytest.approx(0.5 * math.log(2))


@pytest.mark.timeout(60)
def test_a_focal_run_still_learns_is_off_by_default_and_is_checked():
    f, y, px, _ = learns_and_off_is_plain("focal_gamma", 2.0, 0.0, lambda m: m.head.weight)
    for bad in (-0.5, float("nan")):
        with pytest.raises(ValueError, match="focal_gamma must be >= 0"):
            TrainConfig(focal_gamma=bad)
        with pytest.raises(ValueError, match="focal_gamma must be >= 0"):  # the recipe: before rendering
            synthetic_classifier.train_synthetic_classifier("tiny", "unused-folder", focal_gamma=bad)
    with pytest.raises(ValueError, match="focal_gamma needs frame_labels"):  # MIL, called directly
        train_classifier(f, y, PATCH_CFG, TrainConfig(steps=1, focal_gamma=2.0), patches=px, grid=(3, 3))
    with pytest.raises(ValueError, match="focal_gamma needs frame labels"):
        synthetic_classifier.train_synthetic_classifier(
            "tiny", "unused-folder", frame_level=False, focal_gamma=1.0
        )
