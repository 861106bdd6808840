"""The classifier's training losses and their weights (va_gpt.train.classifier uses them): the
anomaly head's per-frame cross-entropy (optionally focal), Sultani et al.'s MIL ranking loss for
video labels, and the class weights that balance frames over time and the kind head over kinds.
In the member cache's key (va_gpt.train.member_cache), as the training code around them is."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def mil_ranking_loss(
    scores_a: torch.Tensor,
    mask_a: torch.Tensor,
    scores_n: torch.Tensor,
    mask_n: torch.Tensor,
    margin: float = 1.0,
    smooth_weight: float = 0.0,
    sparsity_weight: float = 0.0,
) -> torch.Tensor:
    """Sultani et al.'s MIL ranking loss.

    scores_a [Ba, T] / scores_n [Bn, T] frame probabilities of anomalous / normal
    videos, padded to T; mask_* [B*, T] bool marks real frames. Returns a scalar:
    mean over all Ba x Bn pairs of max(0, margin - max s_a + max s_n), plus
    smooth_weight * mean over anomalous videos of the mean squared step
    (s(t+1) - s(t))^2, plus sparsity_weight * mean over anomalous videos of the mean score.
    """
    neg = torch.finfo(scores_a.dtype).min
    max_a = scores_a.masked_fill(~mask_a, neg).amax(1)  # [Ba]
    max_n = scores_n.masked_fill(~mask_n, neg).amax(1)  # [Bn]
    hinge = (margin - max_a[:, None] + max_n[None, :]).clamp(min=0).mean()
    pair = mask_a[:, 1:] & mask_a[:, :-1]  # [Ba, T-1] steps between two real frames
    steps = (scores_a[:, 1:] - scores_a[:, :-1]) ** 2
    smooth = ((steps * pair).sum(1) / pair.sum(1).clamp(min=1)).mean()
    sparse = ((scores_a * mask_a).sum(1) / mask_a.sum(1).clamp(min=1)).mean()
    return hinge + smooth_weight * smooth + sparsity_weight * sparse


def time_balanced_weights(ys: list[torch.Tensor], bin_frames: int) -> tuple[torch.Tensor, torch.Tensor]:
    """ys: one [T_i] 0/1 frame-label tensor per video -> (w_pos [B], w_neg [B]) per bin of
    `bin_frames` frames from the start (B bins cover the longest video): within a bin with both
    classes, positives and negatives each get half of the bin's frame count as total weight, so
    the time since the start tells the weighted loss nothing; a bin with one class keeps weight 1
    (the first second of synthetic footage holds no event)."""
    if bin_frames < 1:
        raise ValueError(f"time_balance must be a number of frames >= 1, got {bin_frames}")
    nbins = -(-max(len(y) for y in ys) // bin_frames)
    pos = torch.zeros(nbins, dtype=torch.float64)
    cnt = torch.zeros(nbins, dtype=torch.float64)
    for y in ys:
        b = torch.arange(len(y)) // bin_frames
        pos += torch.bincount(b, weights=(y > 0.5).double(), minlength=nbins)
        cnt += torch.bincount(b, minlength=nbins).double()
    neg = cnt - pos
    both = (pos > 0) & (neg > 0)
    w_pos = torch.where(both, cnt / (2 * pos.clamp(min=1)), torch.ones_like(pos))
    w_neg = torch.where(both, cnt / (2 * neg.clamp(min=1)), torch.ones_like(neg))
    return w_pos.float(), w_neg.float()


def kind_class_weights(targets: list[torch.Tensor], num_kinds: int) -> torch.Tensor:
    """targets: kind-head class ids (0 = normal) of every training frame (or video) -> [num_kinds]
    cross-entropy weights: normal 1; each anomaly kind present E / (P * n_k), where n_k are its
    frames, E all anomaly frames and P the kinds present, so the anomaly frames keep their total
    weight and every kind gets the same share of it; absent kinds 0."""
    counts = torch.bincount(torch.cat([t.reshape(-1) for t in targets]), minlength=num_kinds).double()
    w = torch.zeros(num_kinds, dtype=torch.float64)
    w[0] = 1.0
    anomaly = counts[1:]
    present = anomaly > 0
    if present.any():
        w[1:][present] = anomaly.sum() / (present.sum() * anomaly[present])
    return w.float()


def frame_bce(
    logit: torch.Tensor, y: torch.Tensor, pos_weight: torch.Tensor | None = None, gamma: float = 0.0
) -> torch.Tensor:
    """Per-frame binary cross-entropy of the anomaly head, [B, T] logits and labels -> [B, T]; with
    `gamma` > 0 each frame's term is scaled by (1 - p_t) ** gamma, p_t = sigmoid(logit) for an
    event frame and 1 - sigmoid(logit) for a normal one (TrainConfig.focal_gamma). gamma 0 is the
    plain (class-balanced, with `pos_weight`) cross-entropy, to the bit."""
    bce = F.binary_cross_entropy_with_logits(logit, y, pos_weight=pos_weight, reduction="none")
    if gamma:
        p = torch.sigmoid(logit)
        bce = bce * (y * (1 - p) + (1 - y) * p) ** gamma  # 1 - p_t, labels in [0, 1]
    return bce
