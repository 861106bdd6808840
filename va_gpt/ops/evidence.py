"""Per-frame evidence for the anomaly classifier: what changed, where, robust to global change.

Pure tensor math, no I/O. Inputs are encoder patch embeddings [T, N, D] of consecutive
sampled frames (N = gh * gw patches, raster order) plus the patches of the background
reference frame [N, D].

Steps, per frame t:

1. Illumination: each frame's patch embeddings are standardised over all its patches and
   channels (x = (p - mean) / std). A global brightness or contrast change (night footage,
   auto-exposure) moves every patch the same way; after this it mostly cancels.
2. Two difference maps (mean absolute channel difference per patch, [T, N]):
   `motion`  x_t vs x_{t-1}; frame 0 uses the FORWARD difference x_1 vs x_0, so the first
             frame of a video is not blind (a video's first frame used to score 0);
   `static`  x_t vs the reference frame (the video's first sample, carried by every clip:
             see va_gpt.video.clips): an object that appears and then stays (an abandoned
             bag) keeps a difference here after it stops moving.
3. Robust normalisation of each map per frame: z = (d - median) / (1.4826 MAD + 0.1 median
   + floor). A camera shake or a light change raises every patch, so the median and MAD rise
   with it and z stays small; one local event is an outlier and stands out.
4. Per map: log1p(median) (how much the whole frame changed: shake, light), log1p(mean of the
   top patches' raw difference), log1p of the max and of the top patches' mean z, the
   fraction of patches with z > Z_HIGH, and where: the centroid (x, y) and spread (sx, sy) in
   [0, 1] of the outlier patches (weights relu(z - Z_LOW)).
5. What: the outlier-weighted mean of the frame's standardised patch embeddings and of the
   absolute motion-difference vectors (D each): the appearance of what changed (fire is not a
   walking person even with a random encoder's features) and how it changed.

Layout of the result (`evidence_features`): [motion stats (9), static stats (9), pooled
appearance (D), pooled motion difference (D)] -> F = 18 + 2 D.
"""

from __future__ import annotations

import torch

from va_gpt.ops.sets import num_selected

NUM_MAP_STATS = 9  # per difference map, see map_stats
MAPS = ("motion", "static")
TOP_RATIO = 0.05  # the "top patches": a local event covers a few percent of the frame
Z_HIGH = 4.0
Z_LOW = 2.0
FLOOR = 0.02  # difference of standardised embeddings below which a map is noise (static scenes)


def num_evidence_features(hidden_size: int) -> int:
    return len(MAPS) * NUM_MAP_STATS + 2 * hidden_size


def standardise_frames(patches: torch.Tensor) -> torch.Tensor:
    """patches [T, N, D] -> float32 [T, N, D], each frame zero-mean unit-std over (N, D)."""
    x = patches.float()
    mean = x.mean((1, 2), keepdim=True)
    std = x.std((1, 2), keepdim=True, correction=0).clamp(min=1e-6)
    return (x - mean) / std


def motion_vectors(x: torch.Tensor) -> torch.Tensor:
    """x [T, N, D] standardised -> |x_t - x_{t-1}| [T, N, D]; frame 0 uses |x_1 - x_0| (forward).
    A single frame has no motion: zeros."""
    if x.shape[0] < 2:
        return torch.zeros_like(x)
    back = (x[1:] - x[:-1]).abs()  # [T-1, N, D]
    return torch.cat([back[:1], back])


def robust_z(d: torch.Tensor) -> torch.Tensor:
    """d [T, N] -> z [T, N]: (d - median) / (1.4826 MAD + 0.1 median + FLOOR), per frame."""
    med = d.median(-1, keepdim=True).values
    mad = (d - med).abs().median(-1, keepdim=True).values
    return (d - med) / (1.4826 * mad + 0.1 * med + FLOOR)


def _where(w: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """Weights w [T, N] >= 0 -> [T, 4] (cx, cy, sx, sy) in [0, 1]; (0.5, 0.5, 0, 0) when all zero."""
    gh, gw = grid
    r = (torch.arange(gh, dtype=torch.float32) + 0.5) / gh
    c = (torch.arange(gw, dtype=torch.float32) + 0.5) / gw
    ys = r[:, None].expand(gh, gw).reshape(-1)  # [N]
    xs = c[None, :].expand(gh, gw).reshape(-1)
    tot = w.sum(-1, keepdim=True)
    p = torch.where(tot > 0, w / tot.clamp(min=1e-12), torch.full_like(w, 1.0 / w.shape[-1]))
    cx, cy = (p * xs).sum(-1), (p * ys).sum(-1)
    sx = ((p * (xs - cx[:, None]) ** 2).sum(-1)).sqrt()
    sy = ((p * (ys - cy[:, None]) ** 2).sum(-1)).sqrt()
    none = tot[:, 0] <= 0
    sx, sy = sx.masked_fill(none, 0.0), sy.masked_fill(none, 0.0)
    return torch.stack([cx, cy, sx, sy], -1)


def map_stats(d: torch.Tensor, grid: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """d [T, N] difference map -> (stats [T, 9], outlier weights [T, N]); see the module docstring."""
    k = num_selected(d.shape[-1], TOP_RATIO)
    z = robust_z(d)
    med = d.median(-1).values
    top_raw = d.topk(k, -1).values.mean(-1)
    z_top = z.topk(k, -1).values.mean(-1)
    z_max = z.amax(-1)
    frac = (z > Z_HIGH).float().mean(-1)
    w = (z - Z_LOW).clamp(min=0)
    stats = torch.stack(
        [
            torch.log1p(med),
            torch.log1p(top_raw),
            torch.log1p(z_max.clamp(min=0)),
            torch.log1p(z_top.clamp(min=0)),
            frac,
        ],
        -1,
    )
    return torch.cat([stats, _where(w, grid)], -1), w


def evidence_features(patches: torch.Tensor, reference: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """patches [T, N, D] (consecutive frames), reference [N, D] -> features [T, 18 + 2 D] float32.

    Frame t's features depend only on frames t - 1, t (t + 1 for t = 0) and the reference, so a
    clip that starts with context frames gives its later frames exactly the features of a
    whole-video pass.
    """
    if patches.ndim != 3 or reference.shape != patches.shape[1:]:
        raise ValueError(
            f"patches must be [T, N, D] and reference [N, D], got {tuple(patches.shape)}, {tuple(reference.shape)}"
        )
    x = standardise_frames(patches)  # [T, N, D]
    ref = standardise_frames(reference[None])  # [1, N, D]
    mv = motion_vectors(x)  # [T, N, D]
    d_motion = mv.mean(-1)  # [T, N]
    d_static = (x - ref).abs().mean(-1)  # [T, N]
    s_motion, w_motion = map_stats(d_motion, grid)
    s_static, w_static = map_stats(d_static, grid)
    w = w_motion + w_static  # [T, N]: what changed, moving or new
    p = w / w.sum(-1, keepdim=True).clamp(min=1e-12)
    appearance = torch.einsum("tn,tnd->td", p, x)  # [T, D]; zeros when nothing stands out
    motion = torch.einsum("tn,tnd->td", p, mv)  # [T, D]
    return torch.cat([s_motion, s_static, appearance, motion], -1)
