"""TETG's lightweight anomaly classifier: per-frame evidence -> anomaly probability and kind.

Features (`frame_features`): va_gpt.ops.evidence (robust, illumination-normalised motion and
static difference maps: how much changed, how locally, where, and the pooled appearance and
motion of what changed), after the frame's DINOv2 CLS embedding when `classifier.use_cls`.

Model (`AnomalyClassifier`): standardise features (mean/std buffers fitted on the training
set and saved with the weights) -> linear -> a stack of *causal* dilated 1-D temporal conv
blocks (residual, GELU; dilation 2^i) -> two heads: the anomaly logit, and the kind logits
over KINDS (normal + the taxonomy's synthetic kinds: the head's list IS va_gpt.taxonomy's).

With `patch_hidden` > 0 the model also reads per-patch evidence (va_gpt.ops.evidence.
patch_evidence: each patch's difference maps and its embedding) through `PatchPool`: a small MLP
per patch, optional per-patch causal temporal convs (with `patch_spatial` each followed by a 3x3
conv over the patch grid), one 3x3 conv over the patch grid (a fight is two actors side by side), a
per-patch event logit, and per frame the attention-pooled (softmax over the patch logits) and
max-pooled hidden plus the max and logsumexp of the patch logits, appended to the frame features
before the linear. The patch logits can be supervised with the event actors' boxes where the truth
has them (va_gpt.train.classifier). Why: the frame statistics alone say how much changed and where,
not what; on the same cache of randomized footage (240 training videos, events anywhere) the
learned pooling over the project-trained encoder's patches raised held-out frame AUC from 0.63-0.65
/ 0.73-0.74 / 0.51-0.55 (val / test / out of range, two training seeds) to 0.70-0.71 / 0.73-0.82 /
0.58-0.69 (docs/MEASUREMENTS.md, "Patch evidence"; jobs/compare_classifiers.py).

Causal means frame t sees only frames t - R + 1 .. t (R = `receptive_field`). The left edge
is REPLICATE-padded (not zeros), so the first frames of a video are scored from their own
evidence instead of from a run of zero frames. A clip that carries the R - 1 frames before it
as context (va_gpt.video.clips) gets, for its own frames, exactly the scores of one pass over
the whole video: padding only touches outputs within R - 1 frames of the window start.

Lookahead (`lookahead` frames, 0 by default; set by training, stored with the checkpoint): the
network's output at frame t is trained to score frame t - lookahead, so each frame's score sees
`lookahead` frames after it as well as the R - 1 before. The network stays causal (a clip needs
no frames after it); the per-video step that gathers a video's outputs moves them back into
place (`align_outputs`). Why: a causal score rises only as an event's evidence accumulates, so
intervals started seconds late and ran on after the event; on the classifier cache (1000
training videos, one member of seed 0 each) a lookahead of 4 or 8 frames raised held-out frame
AUC on every split and recall at tIoU 0.5 from 0.33-0.46 to 0.46-0.67 (docs/MEASUREMENTS.md, "Lookahead").
The video's last `lookahead` frames have no outputs of their own: they hold the last output
(align_outputs), and the interval stage does not count them as evidence. A classifier trained
with `tail` (TrainConfig.tail) instead scores them: its training and the clip that ends a video
append `lookahead` copies of the last frame's inputs (`with_tail`: the last moment held, as the
left edge is replicate-padded), so every frame gets an output that saw all the frames after it
there are. Only a classifier trained so is given a tail: on the one trained without, the held
inputs made new false intervals (docs/MEASUREMENTS.md, "The video's last seconds").

With `members` > 1 (`ClassifierEnsemble`, made by `build_classifier`) the classifier is that
many AnomalyClassifiers trained apart, from their own seeds and minibatch orders, whose
anomaly logits and kind log-probabilities are averaged. Why: the patch-pooling classifier
memorises its training videos, and two training seeds of one recipe differ by 0.03-0.06 in
held-out frame AUC; averaging them removes part of that variance (docs/MEASUREMENTS.md, "Averaging the classifier").

Checkpoints (save_classifier / load_classifier): va_gpt.checkpoints.classifier.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from va_gpt.config import ClassifierConfig
from va_gpt.ops.evidence import evidence, num_evidence_features, num_patch_features, pixel_maps
from va_gpt.taxonomy import NORMAL, SYNTHETIC_KINDS

KINDS: tuple[str, ...] = (NORMAL, *SYNTHETIC_KINDS)  # the kind head's classes, in order
FEATURES = "evidence-v1"  # the feature recipe (va_gpt.ops.evidence), stored with a checkpoint
PATCH_FEATURES = "patch-evidence-v1"  # the per-patch recipe (va_gpt.ops.evidence.patch_evidence)


def align_outputs(outputs, lookahead: int, frames: int | None = None):
    """Outputs of one whole video from a classifier trained with `lookahead` (output t scores
    frame t - lookahead) -> [frames, ...] per frame: frame t gets output t + lookahead. `frames`
    (default len(outputs)): the video's frames; outputs has either that many rows (the video's
    last `lookahead` frames then get its last output: nothing came after them) or `lookahead`
    more (its end was scored with a `tail`, every frame has its own output). numpy or torch."""
    if lookahead < 0:
        raise ValueError(f"lookahead must be >= 0 frames, got {lookahead}")
    n = len(outputs)
    frames = n if frames is None else frames
    if n not in (frames, frames + lookahead):
        raise ValueError(
            f"{n} classifier outputs for {frames} frames: expected {frames} or {frames + lookahead} "
            f"(lookahead {lookahead} with its tail)"
        )
    if lookahead == 0 or n == 0:
        return outputs
    return outputs[[min(i + lookahead, n - 1) for i in range(frames)]]


def with_tail(x: torch.Tensor | None, tail: int) -> torch.Tensor | None:
    """One video's inputs (or labels) x [T, ...] -> the same with `tail` copies of its last row
    appended ([T + tail, ...]): the stream held at its last moment, so a classifier with a
    lookahead has outputs for the last frames too (align_outputs). None stays None."""
    if x is None or tail <= 0 or len(x) == 0:
        return x
    return torch.cat([x, x[-1:].expand(tail, *x.shape[1:])])


def num_features(encoder_hidden_size: int, use_cls: bool) -> int:
    return (encoder_hidden_size if use_cls else 0) + num_evidence_features(encoder_hidden_size)


def patch_features_for(encoder_hidden_size: int, cfg: ClassifierConfig) -> int:
    """Per-patch input width of a classifier with `cfg` (0 when it reads no patches)."""
    return num_patch_features(encoder_hidden_size, cfg.pixel_maps) if cfg.patch_hidden else 0


def frame_inputs(
    cls: torch.Tensor,
    patches: torch.Tensor,
    reference: torch.Tensor,
    grid: tuple[int, int],
    use_cls: bool,
    per_patch: bool = False,
    pixels: tuple[np.ndarray | torch.Tensor, ...] | None = None,
    background: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """cls [T, D], patches [T, N, D], reference [N, D] -> (features [T, F] float32, per-patch
    evidence [T, N, Fp] float32 when `per_patch`, else None). `pixels`: the same frames [T, H, W,
    3] uint8 and the reference frame [H, W, 3] (then the background frame [H, W, 3] when there is
    one), for a classifier with `pixel_maps`: their per-patch pixel evidence
    (ops.evidence.pixel_maps) follows the embedding's. `background`: the background frame's
    patches [N, D] (sets.background_samples > 1; ops.evidence), or None."""
    ev, px = evidence(patches, reference, grid, per_patch, background)
    if px is not None and pixels is not None:
        # a copy: the pipeline's frames may be read-only numpy views of Arrow buffers; computed on
        # the device of the patches (a GPU's), as the rest of the evidence
        frames, ref_frame, *bg = (
            None if a is None else (a if torch.is_tensor(a) else torch.from_numpy(np.array(a))).to(px.device)
            for a in pixels
        )
        px = torch.cat([px, pixel_maps(frames, ref_frame, grid, bg[0] if bg else None)], -1)
    return (torch.cat([cls.float(), ev], -1) if use_cls else ev), px


def frame_features(
    cls: torch.Tensor, patches: torch.Tensor, reference: torch.Tensor, grid: tuple[int, int], use_cls: bool
) -> torch.Tensor:
    """cls [T, D], patches [T, N, D], reference [N, D] -> features [T, F] float32."""
    return frame_inputs(cls, patches, reference, grid, use_cls)[0]


def receptive_field(cfg: ClassifierConfig) -> int:
    """Frames (including the current one) that a frame's score depends on."""
    frame = (cfg.kernel_size - 1) * (2**cfg.num_layers - 1)
    patch = (cfg.kernel_size - 1) * (2**cfg.patch_layers - 1) if cfg.patch_hidden else 0
    return 1 + frame + patch


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


class PatchPool(nn.Module):
    """Per-patch evidence -> per-frame pooled features and per-patch event logits.

    px [B, T, N, Fp] (N = gh * gw patches, raster order) -> (pooled [B, T, 2 H + 2],
    patch logits [B, T, N]). Standardised by buffers fitted on the training patches."""

    def __init__(
        self,
        in_features: int,
        hidden: int,
        grid: tuple[int, int],
        layers: int,
        kernel_size: int,
        spatial: bool = False,
    ):
        super().__init__()
        self.in_features = in_features
        self.grid = tuple(grid)
        # patches of the grid it was trained on: read on a finer grid (use_grid), the logsumexp of
        # its patch logits is taken per as many patches, not raised by log(more patches)
        self.trained_patches = self.grid[0] * self.grid[1]
        self.register_buffer("feature_mean", torch.zeros(in_features))
        self.register_buffer("feature_std", torch.ones(in_features))
        self.inp = nn.Sequential(nn.Linear(in_features, hidden), nn.GELU(), nn.Linear(hidden, hidden))
        # per patch over time: h [B * N, H, T]
        self.blocks = nn.ModuleList(CausalConvBlock(hidden, kernel_size, 2**i, 0.0) for i in range(layers))
        # ClassifierConfig.patch_spatial: a grid conv after each temporal block (frame by frame: causal)
        self.mixes = nn.ModuleList(
            nn.Conv2d(hidden, hidden, 3, padding=1) for _ in range(layers if spatial else 0)
        )
        self.spatial = nn.Conv2d(hidden, hidden, 3, padding=1)
        self.logit = nn.Linear(hidden, 1)

    @property
    def out_features(self) -> int:
        return 2 * self.inp[-1].out_features + 2

    def _over_grid(self, conv: nn.Conv2d, h: torch.Tensor) -> torch.Tensor:
        """h + gelu(conv(h)) over the patch grid, frame by frame: h [B, T, N, H]."""
        B, T, N, H = h.shape
        s = h.reshape(B * T, *self.grid, H).permute(0, 3, 1, 2)  # [B T, H, gh, gw]
        return h + F.gelu(conv(s)).permute(0, 2, 3, 1).reshape(B, T, N, H)

    def forward(self, px: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        B, T, N, _ = px.shape
        gh, gw = self.grid
        if N != gh * gw or px.shape[-1] != self.in_features:
            raise ValueError(
                f"patch evidence must be [B, T, {gh * gw}, {self.in_features}], got {tuple(px.shape)}"
            )
        h = self.inp((px - self.feature_mean) / self.feature_std)  # [B, T, N, H]
        H = h.shape[-1]
        for i, block in enumerate(self.blocks):
            g = block(h.permute(0, 2, 3, 1).reshape(B * N, H, T))  # per patch over time
            h = g.reshape(B, N, H, T).permute(0, 3, 1, 2)
            if len(self.mixes):
                h = self._over_grid(self.mixes[i], h)
        h = self._over_grid(self.spatial, h)
        logit = self.logit(h).squeeze(-1)  # [B, T, N]
        att = (torch.softmax(logit, -1)[..., None] * h).sum(2)
        lse = torch.logsumexp(logit, -1, keepdim=True)
        if N != self.trained_patches:  # a softmax mass over N patches, as over the trained number
            lse = lse - math.log(N / self.trained_patches)
        pooled = torch.cat([att, h.amax(2), logit.amax(-1, keepdim=True), lse], -1)
        return pooled, logit


class _Scorer(nn.Module):
    """What the pipeline calls on a classifier, given `all_outputs` (one network or an ensemble)."""

    # frames; see align_outputs. A plain attribute, not a weight: the checkpoint's config holds it
    lookahead: int = 0
    # trained to score a video's last `lookahead` frames from its inputs held past the end
    # (with_tail); stored with the checkpoint like lookahead
    tail: bool = False

    @property
    def tail_frames(self) -> int:
        """Held inputs to append to a video's end (with_tail): the lookahead with a tail, else 0."""
        return self.lookahead if self.tail else 0

    def all_outputs(self, x: torch.Tensor, px: torch.Tensor | None = None):
        raise NotImplementedError

    def use_grid(self, grid: tuple[int, int]) -> None:
        """Read per-patch evidence on `grid` (gh, gw) from now on, in place. The patch pooling's
        weights are per patch plus a 3x3 conv over the grid, so a classifier trained on one grid
        reads another: the visual stage serves it finer ones too (config.ClassifierConfig.views)."""
        for m in self.modules():
            if isinstance(m, PatchPool):
                m.grid = tuple(grid)

    def outputs(self, x: torch.Tensor, px: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """x [B, T, F], px [B, T, N, Fp] or None -> (anomaly logits [B, T], kind logits [B, T, K])."""
        return self.all_outputs(x, px)[:2]

    def logits(self, x: torch.Tensor, px: torch.Tensor | None = None) -> torch.Tensor:
        """x [B, T, F] -> anomaly logits [B, T]."""
        return self.outputs(x, px)[0]

    def forward(self, x: torch.Tensor, px: torch.Tensor | None = None) -> torch.Tensor:
        """x [B, T, F] -> per-frame anomaly probability [B, T] in [0, 1]."""
        return torch.sigmoid(self.logits(x, px))

    @torch.no_grad()
    def score_window(
        self, x: torch.Tensor, n_new: int, px: torch.Tensor | None = None, tail: int = 0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One clip with its context: x [C + n_new, F] (px [C + n_new, N, Fp]) -> (probabilities
        [n_new + tail], kind probabilities [n_new + tail, K]) for the last n_new frames, and with
        `tail` > 0 (the clip ends its video) that many outputs past its end (with_tail)."""
        n = n_new + (tail if len(x) else 0)
        x, px = with_tail(x, tail), with_tail(px, tail)
        logit, kind = self.outputs(x[None], None if px is None else px[None])
        return torch.sigmoid(logit[0, -n:]), torch.softmax(kind[0, -n:], -1)


class AnomalyClassifier(_Scorer):
    def __init__(
        self,
        in_features: int,
        cfg: ClassifierConfig,
        kinds: tuple[str, ...] = KINDS,
        patch_features: int = 0,
        grid: tuple[int, int] | None = None,
    ):
        super().__init__()
        if cfg.num_layers < 1 or cfg.kernel_size < 1:
            raise ValueError(f"classifier needs num_layers >= 1 and kernel_size >= 1, got {cfg}")
        if cfg.members != 1:
            raise ValueError(f"one AnomalyClassifier has members 1, got {cfg.members}: use build_classifier")
        if cfg.patch_hidden and (patch_features < 1 or grid is None):
            raise ValueError(
                f"a classifier with patch_hidden {cfg.patch_hidden} needs patch_features and grid"
            )
        self.cfg = cfg
        self.in_features = in_features
        self.kinds = tuple(kinds)
        self.register_buffer("feature_mean", torch.zeros(in_features))
        self.register_buffer("feature_std", torch.ones(in_features))
        self.patch = (
            PatchPool(
                patch_features, cfg.patch_hidden, grid, cfg.patch_layers, cfg.kernel_size, cfg.patch_spatial
            )
            if cfg.patch_hidden
            else None
        )
        width = in_features + (self.patch.out_features if self.patch is not None else 0)
        self.inp = nn.Linear(width, cfg.hidden_size)
        self.blocks = nn.ModuleList(
            CausalConvBlock(cfg.hidden_size, cfg.kernel_size, 2**i, cfg.dropout)
            for i in range(cfg.num_layers)
        )
        self.head = nn.Linear(cfg.hidden_size, 1)
        self.kind_head = nn.Linear(cfg.hidden_size, len(self.kinds))

    @property
    def receptive_field(self) -> int:
        return receptive_field(self.cfg)

    @property
    def uses_patches(self) -> bool:
        return self.patch is not None

    @property
    def patch_features(self) -> int:
        """Per-patch input width (0: reads no patches)."""
        return self.patch.in_features if self.patch is not None else 0

    @property
    def grid(self) -> tuple[int, int] | None:
        """The patch grid (gh, gw) of the per-patch evidence, None without patches."""
        return self.patch.grid if self.patch is not None else None

    @torch.no_grad()
    def fit_normalisation(self, features: torch.Tensor, patch_features: torch.Tensor | None = None) -> None:
        """Set the standardisation from training features [M, F] (all frames of all videos) and,
        for a patch model, per-patch evidence [P, Fp] (a sample of the training patches)."""
        self.feature_mean.copy_(features.mean(0))
        self.feature_std.copy_(features.std(0).clamp(min=1e-3))
        if self.patch is not None and patch_features is not None:
            self.set_patch_normalisation(patch_features.mean(0), patch_features.std(0))

    def set_patch_normalisation(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """The per-patch evidence's standardisation from its mean and std [Fp] (computed elsewhere:
        va_gpt.train.classifier.patch_feature_stats streams them over the training videos)."""
        if self.patch is None:
            raise ValueError("this classifier reads no per-patch evidence (patch_hidden 0)")
        self.patch.feature_mean.copy_(mean)
        self.patch.feature_std.copy_(std.clamp(min=1e-3))

    def _check_patches(self, x: torch.Tensor, px: torch.Tensor | None) -> None:
        if self.patch is None:
            if px is not None:
                raise ValueError("this classifier reads no per-patch evidence (patch_hidden 0)")
            return
        if px is None:
            raise ValueError("this classifier reads per-patch evidence: pass px [B, T, N, Fp]")
        if px.ndim != 4 or px.shape[:2] != x.shape[:2]:
            raise ValueError(f"per-patch evidence must be [B, T, N, Fp] with x's B, T, got {tuple(px.shape)}")

    def hidden(
        self, x: torch.Tensor, px: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x [B, T, F], px [B, T, N, Fp] or None -> (h [B, T, H], patch logits [B, T, N] or None)."""
        if x.ndim != 3 or x.shape[-1] != self.in_features:
            raise ValueError(f"classifier input must be [B, T, {self.in_features}], got {tuple(x.shape)}")
        self._check_patches(x, px)
        z = (x - self.feature_mean) / self.feature_std
        patch_logit = None
        if self.patch is not None:
            pooled, patch_logit = self.patch(px)
            z = torch.cat([z, pooled], -1)
        h = self.inp(z).transpose(1, 2)  # [B, H, T]
        for block in self.blocks:
            h = block(h)
        return h.transpose(1, 2), patch_logit

    def all_outputs(
        self, x: torch.Tensor, px: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """x [B, T, F], px -> (anomaly logits [B, T], kind logits [B, T, K], patch logits [B, T, N] or None)."""
        h, patch_logit = self.hidden(x, px)
        return self.head(h).squeeze(-1), self.kind_head(h), patch_logit


class ClassifierEnsemble(_Scorer):
    """`cfg.members` AnomalyClassifiers of one architecture (each with cfg.members 1), trained
    apart; outputs are the members' mean anomaly logit, mean kind log-probability and mean patch
    logit. State dict keys: members.<i>.<the member's keys>."""

    def __init__(
        self,
        in_features: int,
        cfg: ClassifierConfig,
        kinds: tuple[str, ...] = KINDS,
        patch_features: int = 0,
        grid: tuple[int, int] | None = None,
    ):
        super().__init__()
        if cfg.members < 2:
            raise ValueError(f"an ensemble needs members >= 2, got {cfg.members}")
        self.cfg = cfg
        one = dataclasses.replace(cfg, members=1)
        self.members = nn.ModuleList(
            AnomalyClassifier(in_features, one, kinds, patch_features, grid) for _ in range(cfg.members)
        )

    # the members share their inputs and heads' meaning: read them off the first
    in_features = property(lambda self: self.members[0].in_features)
    kinds = property(lambda self: self.members[0].kinds)
    receptive_field = property(lambda self: self.members[0].receptive_field)
    uses_patches = property(lambda self: self.members[0].uses_patches)
    patch_features = property(lambda self: self.members[0].patch_features)
    grid = property(lambda self: self.members[0].grid)

    def all_outputs(
        self, x: torch.Tensor, px: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """x [B, T, F], px -> (anomaly logits [B, T], kind log-probabilities [B, T, K], patch
        logits [B, T, N] or None), each the members' mean."""
        outs = [m.all_outputs(x, px) for m in self.members]
        logit = torch.stack([o[0] for o in outs]).mean(0)
        kind = torch.stack([torch.log_softmax(o[1], -1) for o in outs]).mean(0)
        patch = None if outs[0][2] is None else torch.stack([o[2] for o in outs]).mean(0)
        return logit, kind, patch


def build_classifier(
    in_features: int,
    cfg: ClassifierConfig,
    kinds: tuple[str, ...] = KINDS,
    patch_features: int = 0,
    grid: tuple[int, int] | None = None,
) -> AnomalyClassifier | ClassifierEnsemble:
    """The classifier `cfg` describes: one AnomalyClassifier, or an ensemble of cfg.members."""
    cls = ClassifierEnsemble if cfg.members > 1 else AnomalyClassifier
    return cls(in_features, cfg, kinds, patch_features=patch_features, grid=grid)
