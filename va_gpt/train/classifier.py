"""Training TETG's anomaly classifier: frame-level labels when known, MIL from video labels otherwise.

Frame-level supervision (`train_classifier(..., frame_labels=, kinds=)`, synthetic footage
whose truth says which frames show the event): class-balanced binary cross-entropy on the
anomaly head per frame, plus cross-entropy on the kind head (the event's kind on event
frames, `normal` on the others), plus a little temporal smoothness.

Weak supervision (no frame labels, the real benchmarks' video-level labels): the recipe of
Sultani et al. (CVPR 2018), with frames as instances and videos as bags: the
multiple-instance ranking loss pushes the highest-scoring frame of an anomalous video above
the highest-scoring frame of a normal one,

    hinge = max(0, margin - max_t s_a(t) + max_t s_n(t))     for every (anomalous, normal) pair,

plus, on anomalous videos, temporal smoothness (mean (s(t) - s(t+1))^2) and sparsity (mean
s(t)); with video kinds, the kind head learns the video's kind at its top-scoring frame.

`video_features` turns a video (uint8 frames at the decode fps, already resized to the
encoder's image size) into per-frame classifier features with the encoder, exactly as the
visual stage computes them (va_gpt.ops.evidence; reference = the video's first frame).
Calibration of the interval stage on validation videos: va_gpt.train.calibrate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from va_gpt.config import ClassifierConfig
from va_gpt.models.classifier import KINDS, AnomalyClassifier, frame_features
from va_gpt.models.dinov2 import DinoEncoder
from va_gpt.ops.sets import difference_energy, difference_map


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
    kind_weight: float = 0.5  # kind-head cross-entropy against the anomaly loss
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
    frame_labels: list[np.ndarray] | None = None,
    kinds: list[str | None] | None = None,
) -> AnomalyClassifier:
    """features: one [T_i, F] array per video; labels: 1 = anomalous video, 0 = normal;
    frame_labels: one [T_i] 0/1 array per video (frame-level training) or None (MIL);
    kinds: the anomaly kind per video (None for normal) for the kind head, or None.

    Returns the trained model in eval mode (on CPU), with its feature
    standardisation fitted on all training frames.
    """
    if len(features) != len(labels):
        raise ValueError(f"{len(features)} feature sequences but {len(labels)} labels")
    seqs = [torch.as_tensor(np.asarray(f), dtype=torch.float32) for f in features]
    if sum(map(bool, labels)) == 0 or sum(not y for y in labels) == 0:
        raise ValueError(f"need anomalous and normal videos, got labels {sorted(set(labels))}")
    empty = [i for i, s in enumerate(seqs) if s.ndim != 2 or len(s) == 0]
    if empty:
        raise ValueError(f"feature sequences {empty} are empty or not [T, F]")
    kind_ids = None
    if kinds is not None:
        unknown = sorted({k for k in kinds if k is not None and k not in KINDS})
        if unknown:
            raise ValueError(f"kinds {unknown} are not the kind head's {KINDS}")
        kind_ids = [0 if k is None else KINDS.index(k) for k in kinds]
    if frame_labels is not None and [len(f) for f in frame_labels] != [len(s) for s in seqs]:
        raise ValueError("frame_labels must have one label per feature frame of each video")

    saved_threads = torch.get_num_threads()
    if train.threads:
        torch.set_num_threads(train.threads)
    try:
        if frame_labels is None:
            return _train_mil(seqs, labels, kind_ids, cfg, train, log_every)
        ys = [torch.as_tensor(np.asarray(f), dtype=torch.float32) for f in frame_labels]
        return _train_frames(seqs, ys, kind_ids, cfg, train, log_every)
    finally:
        torch.set_num_threads(saved_threads)


def _new_model(seqs, cfg: ClassifierConfig, seed: int) -> AnomalyClassifier:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AnomalyClassifier(seqs[0].shape[-1], cfg)
    model.fit_normalisation(torch.cat(seqs))
    return model


def _train_mil(seqs, labels, kind_ids, cfg: ClassifierConfig, train: TrainConfig, log_every: int):
    anom = [i for i, y in enumerate(labels) if y]
    norm = [i for i, y in enumerate(labels) if not y]
    g = torch.Generator().manual_seed(train.seed)
    model = _new_model(seqs, cfg, train.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=train.lr, weight_decay=train.weight_decay)
    model.train()
    for step in range(train.steps):
        ia = [anom[i] for i in torch.randint(len(anom), (train.pairs_per_step,), generator=g).tolist()]
        in_ = [norm[i] for i in torch.randint(len(norm), (train.pairs_per_step,), generator=g).tolist()]
        xa, ma = _pad([seqs[i] for i in ia])
        xn, mn = _pad([seqs[i] for i in in_])
        la, ka = model.outputs(xa)
        loss = mil_ranking_loss(
            torch.sigmoid(la), ma, model(xn), mn, train.margin, train.smooth_weight, train.sparsity_weight
        )
        if kind_ids is not None:
            # The kind head learns each anomalous video's kind where the anomaly head fires most.
            top = la.detach().masked_fill(~ma, float("-inf")).argmax(1)  # [Ba]
            target = torch.tensor([kind_ids[i] for i in ia])
            loss = loss + train.kind_weight * F.cross_entropy(ka[torch.arange(len(ia)), top], target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if log_every and (step % log_every == 0 or step == train.steps - 1):
            print(f"step {step}: loss {loss.item():.4f}", flush=True)
    return model.eval()


def _train_frames(seqs, ys, kind_ids, cfg: ClassifierConfig, train: TrainConfig, log_every: int):
    g = torch.Generator().manual_seed(train.seed)
    model = _new_model(seqs, cfg, train.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=train.lr, weight_decay=train.weight_decay)
    pos = float(sum(y.sum() for y in ys))
    total = float(sum(len(y) for y in ys))
    pos_weight = torch.tensor((total - pos) / max(pos, 1.0))  # class balance: events are rare
    n = len(seqs)
    batch = min(n, 2 * train.pairs_per_step)
    model.train()
    for step in range(train.steps):
        idx = torch.randint(n, (batch,), generator=g).tolist()
        x, mask = _pad([seqs[i] for i in idx])
        y, _ = _pad([ys[i][:, None] for i in idx])
        y = y[..., 0]
        logit, kind = model.outputs(x)
        m = mask.float()
        bce = F.binary_cross_entropy_with_logits(logit, y, pos_weight=pos_weight, reduction="none")
        loss = (bce * m).sum() / m.sum()
        if kind_ids is not None:
            target = (y > 0.5).long() * torch.tensor([kind_ids[i] for i in idx])[:, None]  # [B, T]
            ce = F.cross_entropy(kind.transpose(1, 2), target, reduction="none")  # [B, T]
            loss = loss + train.kind_weight * (ce * m).sum() / m.sum()
        p = torch.sigmoid(logit)
        pair = m[:, 1:] * m[:, :-1]
        loss = loss + 0.1 * train.smooth_weight * (((p[:, 1:] - p[:, :-1]) ** 2) * pair).sum() / pair.sum()
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
def predict_kinds(model: AnomalyClassifier, features: np.ndarray) -> np.ndarray:
    """[T, F] features of one video -> [T, K] kind probabilities over model.kinds."""
    x = torch.as_tensor(np.asarray(features), dtype=torch.float32)
    return torch.softmax(model.outputs(x[None])[1][0], -1).numpy()


@torch.no_grad()
def video_features(
    encoder: DinoEncoder, frames: np.ndarray, use_cls: bool, chunk: int = 64, with_energy: bool = False
):
    """uint8 frames [T, S, S, 3] of one whole video -> classifier features [T, F] float32,
    the features the visual stage gives its frames (each frame's depend only on the frame
    before it (after it, for frame 0) and the video's first frame). with_energy: also the
    visual stage's `diff_energy` [T] (the raw motion-energy baseline; frame 0: 0)."""
    enc = [encoder.encode_frames(frames[i : i + chunk], chunk) for i in range(0, len(frames), chunk)]
    cls = torch.cat([e.cls for e in enc])
    patches = torch.cat([e.patches for e in enc])
    feats = frame_features(cls, patches, patches[0], enc[0].grid, use_cls).numpy()
    if not with_energy:
        return feats
    return feats, difference_energy(difference_map(patches)).numpy()
