"""Weakly supervised training of TETG's anomaly classifier from video-level labels.

The recipe of Sultani et al. (CVPR 2018), with frames as instances and videos
as bags: the multiple-instance ranking loss pushes the highest-scoring frame
of an anomalous video above the highest-scoring frame of a normal one,

    hinge = max(0, margin - max_t s_a(t) + max_t s_n(t))     for every (anomalous, normal) pair,

plus, on anomalous videos, temporal smoothness (mean (s(t) - s(t+1))^2) and
sparsity (mean s(t): anomalies are rare even in an anomalous video).
Frame-level labels are used only for evaluation (frame AUC).

`video_features` turns a video (uint8 frames at the decode fps, already
resized to the encoder's image size) into per-frame classifier features with
the encoder + SETS, exactly as the visual stage computes them. Synthetic
training videos: va_gpt.synthetic.training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from va_gpt.config import ClassifierConfig, SetsConfig
from va_gpt.models.classifier import AnomalyClassifier
from va_gpt.models.dinov2 import DinoEncoder
from va_gpt.pipeline.visual import sets_clip


@dataclass(frozen=True)
class TrainConfig:
    """Training hyper-parameters (not part of a preset: they describe a run, not a model)."""

    steps: int = 300
    lr: float = 3e-3
    weight_decay: float = 1e-4
    pairs_per_step: int = 8  # anomalous and normal videos sampled per step (all pairs between them)
    margin: float = 1.0
    smooth_weight: float = 5.0  # strong: on synthetic footage 5-10 gave the best held-out frame AUC
    sparsity_weight: float = 0.05
    seed: int = 0
    # torch intra-op threads while training: the model is tiny, and on a shared CPU more threads
    # spin-wait (300 steps: 2.6 s on 1 thread, 20 s on 2 contended ones). None = leave as is.
    threads: int | None = 1


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


def _pad(seqs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """[T_i, F] sequences -> (x [B, T, F] zero-padded at the end, mask [B, T] bool)."""
    T = max(len(s) for s in seqs)
    x = torch.zeros(len(seqs), T, seqs[0].shape[-1])
    mask = torch.zeros(len(seqs), T, dtype=torch.bool)
    for i, s in enumerate(seqs):
        x[i, : len(s)] = s
        mask[i, : len(s)] = True
    return x, mask


def train_classifier(
    features: list[np.ndarray],
    labels: list[int],
    cfg: ClassifierConfig,
    train: TrainConfig = TrainConfig(),
    log_every: int = 0,
) -> AnomalyClassifier:
    """features: one [T_i, F] array per video; labels: 1 = anomalous video, 0 = normal.

    Returns the trained model in eval mode (on CPU), with its feature
    standardisation fitted on all training frames.
    """
    if len(features) != len(labels):
        raise ValueError(f"{len(features)} feature sequences but {len(labels)} labels")
    seqs = [torch.as_tensor(np.asarray(f), dtype=torch.float32) for f in features]
    anom = [s for s, y in zip(seqs, labels) if y]
    norm = [s for s, y in zip(seqs, labels) if not y]
    if not anom or not norm:
        raise ValueError(f"need anomalous and normal videos, got {len(anom)} and {len(norm)}")
    empty = [i for i, s in enumerate(seqs) if s.ndim != 2 or len(s) == 0]
    if empty:
        raise ValueError(f"feature sequences {empty} are empty or not [T, F]")

    saved_threads = torch.get_num_threads()
    if train.threads:
        torch.set_num_threads(train.threads)
    try:
        return _train(seqs, anom, norm, cfg, train, log_every)
    finally:
        torch.set_num_threads(saved_threads)


def _train(seqs, anom, norm, cfg: ClassifierConfig, train: TrainConfig, log_every: int) -> AnomalyClassifier:
    g = torch.Generator().manual_seed(train.seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(train.seed)
        model = AnomalyClassifier(seqs[0].shape[-1], cfg)
    model.fit_normalisation(torch.cat(seqs))
    opt = torch.optim.AdamW(model.parameters(), lr=train.lr, weight_decay=train.weight_decay)
    model.train()
    for step in range(train.steps):
        ia = torch.randint(len(anom), (train.pairs_per_step,), generator=g).tolist()
        in_ = torch.randint(len(norm), (train.pairs_per_step,), generator=g).tolist()
        xa, ma = _pad([anom[i] for i in ia])
        xn, mn = _pad([norm[i] for i in in_])
        loss = mil_ranking_loss(
            model(xa), ma, model(xn), mn, train.margin, train.smooth_weight, train.sparsity_weight
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        if log_every and (step % log_every == 0 or step == train.steps - 1):
            print(f"step {step}: loss {loss.item():.4f}", flush=True)
    return model.eval()


@torch.no_grad()
def predict(model: AnomalyClassifier, features: np.ndarray) -> np.ndarray:
    """[T, F] features of one video -> [T] probabilities."""
    x = torch.as_tensor(np.asarray(features), dtype=torch.float32)
    return model(x[None])[0].numpy()


def frame_auc(model: AnomalyClassifier, features: list[np.ndarray], frame_labels: list[np.ndarray]) -> float:
    """ROC AUC of the frame scores against frame labels, pooled over videos."""
    from sklearn.metrics import roc_auc_score

    scores = np.concatenate([predict(model, f) for f in features])
    y = np.concatenate([np.asarray(lab) for lab in frame_labels])
    return float(roc_auc_score(y, scores))


@torch.no_grad()
def video_features(
    encoder: DinoEncoder, frames: np.ndarray, sets_cfg: SetsConfig, use_cls: bool, chunk: int = 64
) -> np.ndarray:
    """uint8 frames [T, S, S, 3] of one video -> classifier features [T, F] float32.

    Runs in chunks of `chunk` frames, carrying the previous chunk's last frame
    (previous mode) or the background (background mode) across chunks: the
    same features as the visual stage gives for the video's clips in order.
    """
    out = []
    background = None
    last = None  # (cls [1, D], patches [1, N, D]) of the previous chunk's last frame
    for i in range(0, len(frames), chunk):
        enc = encoder.encode_frames(frames[i : i + chunk], chunk)
        cls, patches = enc.cls, enc.patches
        if last is not None:
            cls, patches = torch.cat([last[0], cls]), torch.cat([last[1], patches])
        overlap = last is not None
        r = sets_clip(
            cls,
            patches,
            enc.grid,
            encoder.patch_size,
            encoder.image_size,
            sets_cfg,
            use_cls,
            overlap,
            background,
        )
        background = r.background
        last = (enc.cls[-1:], enc.patches[-1:])
        out.append(r.features)
    return torch.cat(out).numpy()
