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

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from va_gpt.config import ClassifierConfig
from va_gpt.models.classifier import (
    KINDS,
    AnomalyClassifier,
    ClassifierEnsemble,
    align_outputs,
    frame_inputs,
    with_tail,
)
from va_gpt.models.dinov2 import DinoEncoder
from va_gpt.ops.prepare import RAW, Preparation
from va_gpt.ops.sets import difference_energy, difference_map
from va_gpt.train.classifier_losses import (
    frame_bce,
    kind_class_weights,
    mil_ranking_loss,
    time_balanced_weights,
)
from va_gpt.train.member_cache import MemberCache, trained_members
from va_gpt.train.progress import Progress
from va_gpt.train.schedule import Ema, set_lr
from va_gpt.video.clips import background_frame


@dataclass(frozen=True)
class TrainConfig:
    """Training hyper-parameters (not part of a preset: they describe a run, not a model)."""

    steps: int = 300
    lr: float = 3e-3
    # False: lr throughout; True: from lr down to LR_FLOOR x lr along half a cosine over the steps
    # (lr_at), the usual way to end a run on settled weights rather than on noise
    cosine_lr: bool = False
    # > 0: the anomaly head's per-frame cross-entropy is scaled by (1 - p_t) ** focal_gamma (focal
    # loss, Lin et al., ICCV 2017; p_t the probability given to the frame's own label), so frames
    # already scored right (an explosion, most normal frames) weigh little and the ones still
    # scored wrong weigh most: the classifier underfits the falls, runs and left bags it misses on
    # its own training videos (docs/MEASUREMENTS.md, "The model side"). Frame labels only.
    focal_gamma: float = 0.0
    weight_decay: float = 1e-4
    pairs_per_step: int = 8  # anomalous and normal videos sampled per step (all pairs between them)
    margin: float = 1.0
    smooth_weight: float = 5.0  # strong: on synthetic footage 5-10 gave the best held-out frame AUC
    sparsity_weight: float = 0.05
    seed: int = 0
    kind_weight: float = 0.5  # kind-head cross-entropy against the anomaly loss
    # Each anomaly kind's share of the kind head's loss made equal (see kind_class_weights): a
    # static kind (an abandoned bag, on until the video ends) has 2-5x the event frames of the
    # others, and the unweighted head called falls and fights abandoned objects.
    kind_balance: bool = False
    # > 0: the anomaly head's positive and negative frames get equal weight within every bin of
    # this many frames from a video's start (see time_balanced_weights), instead of one class
    # balance over all frames. Synthetic events start 5-70% into a video, so late frames are
    # anomalous more often than early ones, and the evidence carries the time since the start
    # (the static map against the first sample): unbalanced, the classifier learns "late" as
    # evidence and scores normal videos 0.2 early and 0.45-0.5 after 5 s. Measured on the demo
    # recipe's footage it flattened that by raising the early scores and lowered held-out frame
    # AUC (docs/MEASUREMENTS.md, "Balancing the kind head"), so the recipe leaves it off.
    time_balance: int = 0
    # > 0: frames of lookahead (va_gpt.models.classifier.align_outputs): the output at frame t is
    # trained against frame t - lookahead's labels (frame and patch), so every frame's score sees
    # that many frames after it; the returned model carries it and its checkpoint stores it.
    # Frame-level training only (MIL has no frame labels to move).
    lookahead: int = 0
    # With a lookahead: every training video also gets `lookahead` copies of its last frame's
    # inputs (models.classifier.with_tail), and the outputs over them are trained against its last
    # frames' labels, so the classifier scores a video's last frames instead of holding an
    # earlier output over them; the model carries it, the pipeline then appends the same tail
    # to each video's last clip. Measured (240 videos, 600 steps, two seeds): -0.030 test and
    # -0.021 out-of-range frame AUC, so the demo recipe leaves it off (docs/MEASUREMENTS.md, "The video's last seconds").
    tail: bool = False
    patch_weight: float = 1.0  # event-box cross-entropy on a patch model's patch logits
    patch_pos_weight: float = 20.0
    # > 0: the returned weights are an exponential moving average of the trained ones (decay per
    # step), with frame labels and with MIL alike
    ema: float = 0.0
    # > 0: while training (frame labels and MIL alike), each per-patch evidence value (per frame,
    # patch and channel) is dropped (set to the training mean, i.e. 0 after the model's
    # standardisation) with this probability and the rest scaled by 1 / (1 - p). The patch
    # pathway reads a 198-wide embedding per patch and had no dropout: one member fit its 1000
    # training videos to frame AUC 0.98 and scored 0.89 on held-out videos of the same look.
    # Input only, so the saved model is the same at inference.
    patch_dropout: float = 0.0
    # torch intra-op threads while training: the model is tiny, and on a shared CPU more threads
    # spin-wait (300 steps: 2.6 s on 1 thread, 20 s on 2 contended ones). None = leave as is.
    threads: int | None = 1
    # Ensemble members trained at once, each in a forked process on its own `threads`: members
    # share nothing but the (read-only) data, so on 2 cores two at a time nearly halve the time,
    # where two threads for one member made a step slower (README, "Training the classifier's
    # members"). The trained weights do not depend on it (a test compares them bit for bit).
    processes: int = 1
    # seconds between a member's progress lines (va_gpt.train.progress, INFO); not in the weights
    progress_s: float = 300.0

    def __post_init__(self):
        # checked where a run is described, so a recipe can refuse it before rendering any video
        if not 0.0 <= self.patch_dropout < 1.0:
            raise ValueError(f"patch_dropout must be in [0, 1) (0: off), got {self.patch_dropout}")
        if not self.focal_gamma >= 0.0:  # NaN too
            raise ValueError(f"focal_gamma must be >= 0 (0: plain cross-entropy), got {self.focal_gamma}")


def _pad(seqs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """[T_i, ...] sequences -> (x [B, T, ...] float32 zero-padded at the end, mask [B, T] bool)."""
    T = max(len(s) for s in seqs)
    x = torch.zeros(len(seqs), T, *seqs[0].shape[1:])
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
    patches: list[np.ndarray] | None = None,
    patch_labels: list[np.ndarray] | None = None,
    grid: tuple[int, int] | None = None,
    member_cache: str | Path | None = None,
) -> AnomalyClassifier | ClassifierEnsemble:
    """features: one [T_i, F] array per video; labels: 1 = anomalous video, 0 = normal;
    frame_labels: one [T_i] 0/1 array per video (frame-level training) or None (MIL);
    kinds: the anomaly kind per video (None for normal) for the kind head, or None.
    patches: one per-patch evidence array [T_i, N, Fp] per video (va_gpt.ops.evidence.
    patch_evidence; float16 is fine) when cfg.patch_hidden > 0, with the patch `grid`;
    patch_labels: one [T_i, N] 0/1 array per video marking the event actors' patches
    (frame-level training only): a class-balanced cross-entropy on the patch logits.

    Returns the trained model in eval mode (on CPU), with its feature standardisation fitted on
    all training frames. cfg.members > 1: that many classifiers, each trained as above with seed
    train.seed + i (its own init and minibatch order), as one ClassifierEnsemble; train.processes
    of them at a time, the same weights whatever it is. member_cache: a folder keeping each member
    for a rerun (va_gpt.train.member_cache); a member's train_seconds: its training, there or here."""
    if train.processes < 1:
        raise ValueError(f"processes must be at least 1, got {train.processes}")
    if cfg.members > 1:
        one = dataclasses.replace(cfg, members=1)
        train_one = functools.partial(
            train_classifier, features, labels, one, log_every=log_every, frame_labels=frame_labels,
            kinds=kinds, patches=patches, patch_labels=patch_labels, grid=grid,
        )  # fmt: skip
        runs = [dataclasses.replace(train, seed=train.seed + i, processes=1) for i in range(cfg.members)]
        cache = MemberCache.of_rows(  # None without a folder
            member_cache, one, grid, features, labels, frame_labels, kinds, patches, patch_labels
        )
        nets = trained_members(train_one, runs, train.processes, cache)
        ensemble = ClassifierEnsemble(nets[0].in_features, cfg, nets[0].kinds, nets[0].patch_features, grid)
        for member, net in zip(ensemble.members, nets):
            member.load_state_dict(net.state_dict())
            member.train_seconds = net.train_seconds
        ensemble.lookahead, ensemble.tail = train.lookahead, train.tail
        ensemble.members_from_cache = cache.hits if cache else 0  # for the report; not saved
        return ensemble.eval()
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
    if train.time_balance and frame_labels is None:
        raise ValueError("time_balance needs frame_labels: MIL has no frame classes to balance")
    if train.lookahead < 0:
        raise ValueError(f"lookahead must be >= 0 frames, got {train.lookahead}")
    if train.lookahead and frame_labels is None:
        raise ValueError("lookahead needs frame_labels: MIL has no frame labels to move")
    if train.tail and not train.lookahead:
        raise ValueError("tail needs a lookahead: without one every frame has its own output")
    if train.focal_gamma and frame_labels is None:
        raise ValueError("focal_gamma needs frame_labels: MIL has no per-frame loss to scale")
    pseqs = _patch_seqs(cfg, seqs, patches, grid)
    boxes = None
    if patch_labels is not None:
        if pseqs is None or frame_labels is None:
            raise ValueError("patch_labels need per-patch evidence (patches) and frame-level training")
        boxes = [torch.as_tensor(np.asarray(b), dtype=torch.float32) for b in patch_labels]
        if [tuple(b.shape) for b in boxes] != [tuple(p.shape[:2]) for p in pseqs]:
            raise ValueError("patch_labels must be [T_i, N] per video, like patches' first two dimensions")

    saved_threads = torch.get_num_threads()
    if train.threads:
        torch.set_num_threads(train.threads)
    # dropout draws from the global generator: seeded per member, so its weights do not depend on
    # what ran before it in its process (the demo build's third member ran after another one)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(train.seed)
            return _train_one(seqs, pseqs, labels, frame_labels, boxes, kind_ids, cfg, train, grid, log_every)
    finally:
        torch.set_num_threads(saved_threads)


def _train_one(seqs, pseqs, labels, frame_labels, boxes, kind_ids, cfg, train: TrainConfig, grid, log_every):
    model = _new_model(seqs, cfg, train.seed, pseqs, grid)
    if frame_labels is None:
        return _train_mil(model, seqs, pseqs, labels, kind_ids, train, log_every)
    tail = train.lookahead if train.tail else 0
    # labels of the held frames are never targets: delay_labels drops the last `lookahead` rows
    ys = [
        delay_labels(with_tail(torch.as_tensor(np.asarray(f), dtype=torch.float32), tail), train.lookahead)
        for f in frame_labels
    ]
    if boxes is not None:
        boxes = [delay_labels(with_tail(b, tail), train.lookahead) for b in boxes]
    model = _train_frames(model, seqs, pseqs, ys, boxes, kind_ids, train, log_every, tail)
    model.lookahead, model.tail = train.lookahead, train.tail
    return model


def delay_labels(y: torch.Tensor, lookahead: int) -> torch.Tensor:
    """Labels [T, ...] of one video -> the targets of a classifier with `lookahead`: row t holds
    frame t - lookahead's labels; the first `lookahead` rows (before the video) repeat frame 0's."""
    if lookahead == 0 or len(y) == 0:
        return y
    return torch.cat([y[:1].expand(min(lookahead, len(y)), *y.shape[1:]), y[: max(len(y) - lookahead, 0)]])


def _patch_seqs(cfg: ClassifierConfig, seqs, patches, grid) -> list[torch.Tensor] | None:
    """The per-patch evidence as tensors (kept in their dtype: float16 halves the memory), checked."""
    if not cfg.patch_hidden:
        if patches is not None:
            raise ValueError("per-patch evidence given but the classifier config has patch_hidden 0")
        return None
    if patches is None or grid is None:
        raise ValueError(f"classifier config has patch_hidden {cfg.patch_hidden}: pass patches and grid")
    if len(patches) != len(seqs):
        raise ValueError(f"{len(seqs)} feature sequences but {len(patches)} patch sequences")
    pseqs = [torch.as_tensor(np.asarray(p)) for p in patches]
    n = grid[0] * grid[1]
    bad = [
        i for i, (p, s) in enumerate(zip(pseqs, seqs)) if p.ndim != 3 or len(p) != len(s) or p.shape[1] != n
    ]
    if bad:
        raise ValueError(f"patch sequences {bad[:5]} are not [T_i, {n}, Fp] with their video's T_i frames")
    return pseqs


def _new_model(seqs, cfg: ClassifierConfig, seed: int, pseqs=None, grid=None) -> AnomalyClassifier:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AnomalyClassifier(
            seqs[0].shape[-1], cfg, patch_features=pseqs[0].shape[-1] if pseqs else 0, grid=grid
        )
    model.fit_normalisation(torch.cat(seqs))
    if pseqs:  # every 4th video's patches: enough for a mean and a std
        model.set_patch_normalisation(*patch_feature_stats(pseqs[::4]))
    return model


def patch_feature_stats(pseqs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-patch evidence [T_i, N, Fp] of some videos -> the mean and (unbiased) std [Fp] float32
    over all their rows, summed one video at a time in float64.

    Why not concatenate: each member's process built a float32 copy of its share (a quarter of
    the videos) and then the concatenation, twice that. With 2000 training videos that was 8 GB
    a process on top of the parent's float16 evidence, and the build was killed for memory."""
    n, total, squares = 0, None, None
    for p in pseqs:
        x = p.reshape(-1, p.shape[-1]).double()
        n += len(x)
        total = x.sum(0) if total is None else total + x.sum(0)
        squares = (x * x).sum(0) if squares is None else squares + (x * x).sum(0)
    if total is None or n < 2:
        raise ValueError(f"need at least 2 rows of per-patch evidence for its statistics, got {n}")
    mean = total / n
    var = ((squares - n * mean * mean) / (n - 1)).clamp(min=0.0)
    return mean.float(), var.sqrt().float()


def _batch_patches(pseqs, idx, tail: int = 0):
    # the tail per batch (with_tail), so the training data is not copied whole
    return None if pseqs is None else _pad([with_tail(pseqs[i], tail) for i in idx])[0]


def _train_patches(model, pseqs, idx, train: TrainConfig, g: torch.Generator, tail: int = 0):
    """A training batch's per-patch evidence (_batch_patches), with train.patch_dropout applied."""
    px = _batch_patches(pseqs, idx, tail)
    if train.patch_dropout and px is not None:
        px = _drop_patch_values(px, model.patch.feature_mean, train.patch_dropout, g)
    return px


def _drop_patch_values(px: torch.Tensor, mean: torch.Tensor, p: float, g: torch.Generator) -> torch.Tensor:
    """px [B, T, N, Fp] -> the same with each value's deviation from `mean` [Fp] zeroed with
    probability p and the kept ones scaled by 1 / (1 - p) (dropout on the standardised input)."""
    keep = (torch.rand(px.shape, generator=g) >= p).to(torch.float32) / (1.0 - p)
    return mean + (px.float() - mean) * keep


def _train_mil(model, seqs, pseqs, labels, kind_ids, train: TrainConfig, log_every: int):
    anom = [i for i, y in enumerate(labels) if y]
    norm = [i for i, y in enumerate(labels) if not y]
    g = torch.Generator().manual_seed(train.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=train.lr, weight_decay=train.weight_decay)
    avg = Ema(model, train.ema) if train.ema else None
    kind_w = None
    if kind_ids is not None and train.kind_balance:
        kind_w = kind_class_weights([torch.tensor([kind_ids[i] for i in anom])], len(model.kinds))
    progress = Progress(f"classifier seed {train.seed} (MIL)", train.steps, train.progress_s)
    model.train()
    for step in range(train.steps):
        set_lr(opt, train, step)
        ia = [anom[i] for i in torch.randint(len(anom), (train.pairs_per_step,), generator=g).tolist()]
        in_ = [norm[i] for i in torch.randint(len(norm), (train.pairs_per_step,), generator=g).tolist()]
        xa, ma = _pad([seqs[i] for i in ia])
        xn, mn = _pad([seqs[i] for i in in_])
        la, ka = model.outputs(xa, _train_patches(model, pseqs, ia, train, g))
        loss = mil_ranking_loss(
            torch.sigmoid(la), ma, model(xn, _train_patches(model, pseqs, in_, train, g)), mn, train.margin,
            train.smooth_weight, train.sparsity_weight,
        )  # fmt: skip
        if kind_ids is not None:
            # The kind head learns each anomalous video's kind where the anomaly head fires most.
            top = la.detach().masked_fill(~ma, float("-inf")).argmax(1)  # [Ba]
            target = torch.tensor([kind_ids[i] for i in ia])
            loss = loss + train.kind_weight * F.cross_entropy(
                ka[torch.arange(len(ia)), top], target, weight=kind_w
            )
        opt.zero_grad()
        loss.backward()
        opt.step()
        if avg is not None:
            avg.update(model)
        if log_every and (step % log_every == 0 or step == train.steps - 1):
            print(f"step {step}: loss {loss.item():.4f}", flush=True)
        progress.tick(step, loss.detach())
    if avg is not None:
        avg.copy_to(model)
    return model.eval()


def _train_frames(model, seqs, pseqs, ys, boxes, kind_ids, train: TrainConfig, log_every: int, tail: int = 0):
    """Frame-level training; `tail`: held inputs appended to each video (ys and boxes carry them)."""
    g = torch.Generator().manual_seed(train.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=train.lr, weight_decay=train.weight_decay)
    pos = float(sum(y.sum() for y in ys))
    total = float(sum(len(y) for y in ys))
    pos_weight = torch.tensor((total - pos) / max(pos, 1.0))  # class balance: events are rare
    n = len(seqs)
    batch = min(n, 2 * train.pairs_per_step)
    avg = Ema(model, train.ema) if train.ema else None
    time_w = time_balanced_weights(ys, train.time_balance) if train.time_balance else None
    kind_w = None
    if kind_ids is not None and train.kind_balance:
        kind_w = kind_class_weights(
            [(y > 0.5).long() * kind_ids[i] for i, y in enumerate(ys)], len(model.kinds)
        )
    progress = Progress(f"classifier seed {train.seed}", train.steps, train.progress_s)
    model.train()
    for step in range(train.steps):
        set_lr(opt, train, step)
        idx = torch.randint(n, (batch,), generator=g).tolist()
        x, mask = _pad([with_tail(seqs[i], tail) for i in idx])
        y, _ = _pad([ys[i][:, None] for i in idx])
        y = y[..., 0]
        logit, kind, patch_logit = model.all_outputs(x, _train_patches(model, pseqs, idx, train, g, tail))
        m = mask.float()
        if time_w is None:
            bce = frame_bce(logit, y, pos_weight, train.focal_gamma)
        else:
            b = torch.arange(y.shape[1]) // train.time_balance  # the bins cover the longest video
            w = torch.where(y > 0.5, time_w[0][b], time_w[1][b])  # [B, T]
            bce = w * frame_bce(logit, y, gamma=train.focal_gamma)
        loss = (bce * m).sum() / m.sum()
        if boxes is not None:
            # the event actors' patches: a few in a few hundred, hence the weight
            target, _ = _pad([boxes[i] for i in idx])
            pbce = F.binary_cross_entropy_with_logits(
                patch_logit, target, pos_weight=torch.tensor(train.patch_pos_weight), reduction="none"
            ).mean(-1)
            loss = loss + train.patch_weight * (pbce * m).sum() / m.sum()
        if kind_ids is not None:
            target = (y > 0.5).long() * torch.tensor([kind_ids[i] for i in idx])[:, None]  # [B, T]
            ce = F.cross_entropy(kind.transpose(1, 2), target, weight=kind_w, reduction="none")  # [B, T]
            loss = loss + train.kind_weight * (ce * m).sum() / m.sum()
        p = torch.sigmoid(logit)
        pair = m[:, 1:] * m[:, :-1]
        loss = loss + 0.1 * train.smooth_weight * (((p[:, 1:] - p[:, :-1]) ** 2) * pair).sum() / pair.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if avg is not None:
            avg.update(model)
        if log_every and (step % log_every == 0 or step == train.steps - 1):
            print(f"step {step}: loss {loss.item():.4f}", flush=True)
        progress.tick(step, loss.detach())
    if avg is not None:
        avg.copy_to(model)
    return model.eval()


@torch.no_grad()
def predict(model: AnomalyClassifier, features: np.ndarray, patches: np.ndarray | None = None) -> np.ndarray:
    """[T, F] features (and [T, N, Fp] per-patch evidence for a patch model) of one video -> [T]
    probabilities, one per frame (the model's lookahead undone, with its tail when it was
    trained with one, as the pipeline does: align_outputs, with_tail)."""
    x, px = _whole_video(model, features, patches)
    return align_outputs(model(x[None], _one(px))[0].numpy(), model.lookahead, len(features))


def _whole_video(model, features: np.ndarray, patches: np.ndarray | None):
    """One whole video's inputs as the classifier takes them: with its tail appended when it
    was trained with one (with_tail)."""
    x = torch.as_tensor(np.asarray(features), dtype=torch.float32)
    px = None if patches is None else torch.as_tensor(np.asarray(patches)).float()
    return with_tail(x, model.tail_frames), with_tail(px, model.tail_frames)


def _one(patches) -> torch.Tensor | None:
    return None if patches is None else torch.as_tensor(patches).float()[None]


def frame_auc(
    model: AnomalyClassifier,
    features: list[np.ndarray],
    frame_labels: list[np.ndarray],
    patches: list[np.ndarray] | None = None,
) -> float:
    """ROC AUC of the frame scores against frame labels, pooled over videos."""
    from sklearn.metrics import roc_auc_score

    px = patches if patches is not None else [None] * len(features)
    scores = np.concatenate([predict(model, f, p) for f, p in zip(features, px)])
    y = np.concatenate([np.asarray(lab) for lab in frame_labels])
    return float(roc_auc_score(y, scores))


@torch.no_grad()
def predict_kinds(
    model: AnomalyClassifier, features: np.ndarray, patches: np.ndarray | None = None
) -> np.ndarray:
    """[T, F] features (and per-patch evidence) of one video -> [T, K] kind probabilities over
    model.kinds, one row per frame (lookahead undone, as predict)."""
    x, px = _whole_video(model, features, patches)
    return align_outputs(
        torch.softmax(model.outputs(x[None], _one(px))[1][0], -1).numpy(), model.lookahead, len(features)
    )


@torch.no_grad()
def video_inputs(
    encoder: DinoEncoder,
    frames: np.ndarray,
    use_cls: bool,
    per_patch: bool = False,
    chunk: int = 64,
    prepare: Preparation = RAW,
    pixel_maps: bool = False,
    background_samples: int = 1,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """uint8 frames [T, S, S, 3] of one whole video -> (classifier features [T, F] float32,
    per-patch evidence [T, N, Fp] float16 when `per_patch` else None, the visual stage's
    `diff_energy` [T] (the raw motion-energy baseline; frame 0: 0)): what the visual stage
    gives its frames (each frame's depend only on the frames before it (after it, for frame 0)
    and the video's first frame). float16 per-patch evidence: a training set of hundreds of
    videos fits in memory; the model reads it as float32. `prepare`: the frames prepared against the
    first one as the visual stage prepares them (the preset's `Preparation.of(sets)`).
    `pixel_maps`: the per-patch evidence ends with the frames' pixel maps (ClassifierConfig.pixel_maps).
    `background_samples` > 1: the static evidence also against the median of the first that many
    prepared frames (SetsConfig.background_samples; va_gpt.video.clips)."""
    frames, reference = prepare(frames, frames[0])
    n = len(frames)
    background = background_frame(frames[:background_samples])[None] if background_samples > 1 else frames[:0]
    enc = [encoder.encode_frames(frames[i : i + chunk], chunk) for i in range(0, n, chunk)]
    cls = torch.cat([e.cls for e in enc])
    patches = torch.cat([e.patches for e in enc])
    bg_patches = encoder.encode_frames(background, 1).patches[0] if len(background) else None
    pixels = (frames, reference, *background) if pixel_maps else None
    feats, px = frame_inputs(cls, patches, patches[0], enc[0].grid, use_cls, per_patch, pixels, bg_patches)
    energy = difference_energy(difference_map(patches)).numpy()
    return feats.numpy(), (None if px is None else px.half().numpy()), energy


def video_features(
    encoder: DinoEncoder,
    frames: np.ndarray,
    use_cls: bool,
    chunk: int = 64,
    with_energy: bool = False,
    prepare: Preparation = RAW,
    background_samples: int = 1,
):
    """video_inputs without the per-patch evidence: features [T, F], or (features, energy)."""
    feats, _, energy = video_inputs(
        encoder, frames, use_cls, False, chunk, prepare, False, background_samples
    )
    return (feats, energy) if with_energy else feats
