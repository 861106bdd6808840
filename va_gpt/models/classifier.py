"""TETG's lightweight anomaly classifier: per-frame evidence -> anomaly probability and kind.

Features (`frame_features`): va_gpt.ops.evidence (robust, illumination-normalised motion and
static difference maps: how much changed, how locally, where, and the pooled appearance and
motion of what changed), after the frame's DINOv2 CLS embedding when `classifier.use_cls`.

Model (`AnomalyClassifier`): standardise features (mean/std buffers fitted on the training
set and saved with the weights) -> linear -> a stack of *causal* dilated 1-D temporal conv
blocks (residual, GELU; dilation 2^i) -> two heads: the anomaly logit, and the kind logits
over KINDS (normal + the taxonomy's synthetic kinds: the head's list IS va_gpt.taxonomy's).
Causal means frame t sees only frames t - R + 1 .. t (R = `receptive_field`). The left edge
is REPLICATE-padded (not zeros), so the first frames of a video are scored from their own
evidence instead of from a run of zero frames. A clip that carries the R - 1 frames before it
as context (va_gpt.video.clips) gets, for its own frames, exactly the scores of one pass over
the whole video: padding only touches outputs within R - 1 frames of the window start.

Checkpoints (save_classifier / load_classifier): va_gpt.checkpoints.classifier.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from va_gpt.config import ClassifierConfig
from va_gpt.ops.evidence import evidence_features, num_evidence_features
from va_gpt.taxonomy import NORMAL, SYNTHETIC_KINDS

KINDS: tuple[str, ...] = (NORMAL, *SYNTHETIC_KINDS)  # the kind head's classes, in order
FEATURES = "evidence-v1"  # the feature recipe (va_gpt.ops.evidence), stored with a checkpoint


def num_features(encoder_hidden_size: int, use_cls: bool) -> int:
    return (encoder_hidden_size if use_cls else 0) + num_evidence_features(encoder_hidden_size)


def frame_features(
    cls: torch.Tensor, patches: torch.Tensor, reference: torch.Tensor, grid: tuple[int, int], use_cls: bool
) -> torch.Tensor:
    """cls [T, D], patches [T, N, D], reference [N, D] -> features [T, F] float32."""
    ev = evidence_features(patches, reference, grid)
    return torch.cat([cls.float(), ev], -1) if use_cls else ev


def receptive_field(cfg: ClassifierConfig) -> int:
    """Frames (including the current one) that a frame's score depends on."""
    return 1 + (cfg.kernel_size - 1) * (2**cfg.num_layers - 1)


class CausalConvBlock(nn.Module):
    """h + dropout(gelu(conv(h))) with a causal dilated conv over time, left edge replicate-padded.
    h [B, H, T]."""

    def __init__(self, hidden: int, kernel_size: int, dilation: int, dropout: float):
        super().__init__()
        self.pad = (kernel_size - 1) * dilation
        self.conv = nn.Conv1d(hidden, hidden, kernel_size, dilation=dilation)
        self.drop = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        padded = F.pad(h, (self.pad, 0), mode="replicate") if self.pad else h
        return h + self.drop(F.gelu(self.conv(padded)))


class AnomalyClassifier(nn.Module):
    def __init__(self, in_features: int, cfg: ClassifierConfig, kinds: tuple[str, ...] = KINDS):
        super().__init__()
        if cfg.num_layers < 1 or cfg.kernel_size < 1:
            raise ValueError(f"classifier needs num_layers >= 1 and kernel_size >= 1, got {cfg}")
        self.cfg = cfg
        self.in_features = in_features
        self.kinds = tuple(kinds)
        self.register_buffer("feature_mean", torch.zeros(in_features))
        self.register_buffer("feature_std", torch.ones(in_features))
        self.inp = nn.Linear(in_features, cfg.hidden_size)
        self.blocks = nn.ModuleList(
            CausalConvBlock(cfg.hidden_size, cfg.kernel_size, 2**i, cfg.dropout)
            for i in range(cfg.num_layers)
        )
        self.head = nn.Linear(cfg.hidden_size, 1)
        self.kind_head = nn.Linear(cfg.hidden_size, len(self.kinds))

    @property
    def receptive_field(self) -> int:
        return receptive_field(self.cfg)

    @torch.no_grad()
    def fit_normalisation(self, features: torch.Tensor) -> None:
        """Set the standardisation from training features [M, F] (all frames of all videos)."""
        self.feature_mean.copy_(features.mean(0))
        self.feature_std.copy_(features.std(0).clamp(min=1e-3))

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, T, F] -> h [B, T, H]."""
        if x.ndim != 3 or x.shape[-1] != self.in_features:
            raise ValueError(f"classifier input must be [B, T, {self.in_features}], got {tuple(x.shape)}")
        h = self.inp((x - self.feature_mean) / self.feature_std).transpose(1, 2)  # [B, H, T]
        for block in self.blocks:
            h = block(h)
        return h.transpose(1, 2)

    def outputs(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [B, T, F] -> (anomaly logits [B, T], kind logits [B, T, K])."""
        h = self.hidden(x)
        return self.head(h).squeeze(-1), self.kind_head(h)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, T, F] -> anomaly logits [B, T]."""
        return self.outputs(x)[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, T, F] -> per-frame anomaly probability [B, T] in [0, 1]."""
        return torch.sigmoid(self.logits(x))

    @torch.no_grad()
    def score_window(self, x: torch.Tensor, n_new: int) -> tuple[torch.Tensor, torch.Tensor]:
        """One clip with its context: x [C + n_new, F] -> (probabilities [n_new], kind
        probabilities [n_new, K]) for the last n_new frames."""
        logit, kind = self.outputs(x[None])
        return torch.sigmoid(logit[0, -n_new:]), torch.softmax(kind[0, -n_new:], -1)
