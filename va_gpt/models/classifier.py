"""TETG's lightweight anomaly classifier: per-frame features -> per-frame anomaly probability.

Features (`frame_features`): log1p of four SETS difference-map statistics
(energy, max, top-K mean, std; va_gpt.ops.sets.diff_stats), after the frame's
DINOv2 CLS embedding when `classifier.use_cls`. The statistics carry the
motion signal even with a random encoder; a pretrained CLS embedding carries
appearance (fire, a person lying down), a random one only noise to overfit.

Model (`AnomalyClassifier`): standardise features (mean/std buffers fitted on
the training set and saved with the weights) -> linear -> a stack of
*causal* dilated 1-D temporal conv blocks (residual, GELU; dilation 2^i) ->
linear -> sigmoid. Causal means frame t sees only frames t - R + 1 .. t
(R = `receptive_field`), so a video processed clip by clip, with the last
R - 1 feature frames of the previous clip passed as `context`, gets exactly the
scores of one pass over the whole video. The visual stage relies on that.

Checkpoints (save_classifier / load_classifier): va_gpt.checkpoints.classifier.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from va_gpt.config import ClassifierConfig
from va_gpt.ops.sets import NUM_DIFF_STATS, diff_stats

FEATURE_STATS = ("energy", "max", "topk_mean", "std")
assert len(FEATURE_STATS) == NUM_DIFF_STATS


def num_features(encoder_hidden_size: int, use_cls: bool) -> int:
    return (encoder_hidden_size if use_cls else 0) + NUM_DIFF_STATS


def frame_features(cls: torch.Tensor, diff: torch.Tensor, top_k: float, use_cls: bool) -> torch.Tensor:
    """cls [T, D], diff [T, N] -> features [T, F] float32: [cls (if use_cls), log1p(diff_stats) (4)]."""
    stats = torch.log1p(diff_stats(diff, top_k))  # [T, 4]
    return torch.cat([cls.float(), stats], -1) if use_cls else stats


class CausalConvBlock(nn.Module):
    """h + dropout(gelu(conv(h))) with a causal (left-padded) dilated conv over time. h [B, H, T]."""

    def __init__(self, hidden: int, kernel_size: int, dilation: int, dropout: float):
        super().__init__()
        self.pad = (kernel_size - 1) * dilation
        self.conv = nn.Conv1d(hidden, hidden, kernel_size, dilation=dilation)
        self.drop = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.drop(F.gelu(self.conv(F.pad(h, (self.pad, 0)))))


class AnomalyClassifier(nn.Module):
    def __init__(self, in_features: int, cfg: ClassifierConfig):
        super().__init__()
        if cfg.num_layers < 1 or cfg.kernel_size < 1:
            raise ValueError(f"classifier needs num_layers >= 1 and kernel_size >= 1, got {cfg}")
        self.cfg = cfg
        self.in_features = in_features
        self.register_buffer("feature_mean", torch.zeros(in_features))
        self.register_buffer("feature_std", torch.ones(in_features))
        self.inp = nn.Linear(in_features, cfg.hidden_size)
        self.blocks = nn.ModuleList(
            CausalConvBlock(cfg.hidden_size, cfg.kernel_size, 2**i, cfg.dropout)
            for i in range(cfg.num_layers)
        )
        self.head = nn.Linear(cfg.hidden_size, 1)

    @property
    def receptive_field(self) -> int:
        """Frames (including the current one) that a frame's score depends on."""
        return 1 + (self.cfg.kernel_size - 1) * (2**self.cfg.num_layers - 1)

    @torch.no_grad()
    def fit_normalisation(self, features: torch.Tensor) -> None:
        """Set the standardisation from training features [M, F] (all frames of all videos)."""
        self.feature_mean.copy_(features.mean(0))
        self.feature_std.copy_(features.std(0).clamp(min=1e-6))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, T, F] -> logits [B, T]."""
        if x.ndim != 3 or x.shape[-1] != self.in_features:
            raise ValueError(f"classifier input must be [B, T, {self.in_features}], got {tuple(x.shape)}")
        h = self.inp((x - self.feature_mean) / self.feature_std).transpose(1, 2)  # [B, H, T]
        for block in self.blocks:
            h = block(h)
        return self.head(h.transpose(1, 2)).squeeze(-1)  # [B, T]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, T, F] -> per-frame anomaly probability [B, T] in [0, 1]."""
        return torch.sigmoid(self.logits(x))

    @torch.no_grad()
    def score_stream(
        self, x: torch.Tensor, context: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One clip of a video: x [T, F], context [C, F] | None (the frames before it) ->
        (probabilities [T], the new context: the last receptive_field - 1 frames of cat(context, x))."""
        full = x if context is None else torch.cat([context, x])
        probs = self(full[None])[0, full.shape[0] - x.shape[0] :]
        return probs, full[max(0, full.shape[0] - (self.receptive_field - 1)) :]
