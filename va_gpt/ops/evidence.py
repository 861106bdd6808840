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
             bag) keeps a difference here after it stops moving. With a `background` (the
             per-pixel median of the video's first few samples, sets.background_samples) the
             smaller of the differences to the two: a passer-by in the first sample who walks
             on leaves no "new" patch behind for the rest of the video, while an object new to
             both stays as different as before.
3. Robust normalisation of each map per frame: z = (d - median) / (1.4826 MAD + 0.1 median
   + floor). A camera shake or a light change raises every patch, so the median and MAD rise
   with it and z stays small; one local event is an outlier and stands out.
4. Per map: log1p(median) (how much the whole frame changed: shake, light), log1p(mean of the
   top patches' raw difference), log1p of the max and of the top patches' mean z, the
   fraction of patches with z > Z_HIGH, and where: the centroid (x, y) and spread (sx, sy) in
   [0, 1] of the outlier patches (weights relu(z - Z_LOW)).
5. Over the last HISTORY frames, per patch: the mean positive motion z (motion that stays
   in one place: a fight, a fire; a walking person crosses a patch in a frame or two) and the
   mean positive static z beyond it (new but still: a bag left behind, a person lying down);
   log1p of the max and the top patches' mean of each.

Layout of the result (`evidence_features`): [motion map stats (9), static map stats (9),
sustained motion (2), new-and-still (2)] -> NUM_EVIDENCE = 22 per frame. Measured on the
synthetic archive: pooling the changed patches' embeddings (2 x D more features) let the
classifier overfit the random encoder's channels (held-out frame AUC 0.72 against 0.82
without), so only statistics of the maps are kept here.

`patch_evidence` keeps the same evidence per patch instead of pooling it, for a classifier
that learns its own pooling (va_gpt.models.classifier.PatchPool): per patch, log1p of the
motion and static differences, of their positive z, of the sustained motion and of the
new-and-still z (6), then the patch's standardised embedding (D): with the project-trained
encoder the embedding says what is there (a person lying, a fire, a car), which map
statistics cannot. Same dependence on frames as `evidence_features`.

`pixel_maps` is the same per-patch evidence read from the frames' pixels instead of the
embeddings, for a classifier with `pixel_maps` on (config.ClassifierConfig): a 14-px patch of a
224-px frame is too coarse for a small far-field object (a bag covers 0.2-1.3 patches), whose
change the embedding of its patch dilutes, while its pixels change plainly. Per patch, the
largest change of any 2x2-pixel block in it (grey levels, against the previous frame and the
reference), then the same robust z, sustained motion and new-and-still as the embedding maps:
NUM_PIXEL_MAPS values, appended after the embedding. Same dependence on frames.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from va_gpt.ops.sets import num_selected

NUM_MAP_STATS = 9  # per difference map, see map_stats
MAPS = ("motion", "static")
HISTORY = 4  # frames of per-patch history (2 s at the demo's 2 fps): sustained and still change
NUM_EVIDENCE = len(MAPS) * NUM_MAP_STATS + 4
NUM_PATCH_MAPS = 6  # per-patch map values before the embedding, see patch_evidence
NUM_PIXEL_MAPS = 6  # per-patch pixel map values after it, see pixel_maps
PIXEL_BLOCK = 2  # pixels averaged before the per-patch max: sensor noise of one pixel is not an event
PIXEL_SCALE = 10.0  # grey-level differences in [0, 1], scaled so that log1p does not flatten them
TOP_RATIO = 0.05  # the "top patches": a local event covers a few percent of the frame
Z_HIGH = 4.0
Z_LOW = 2.0
FLOOR = 0.02  # difference of standardised embeddings below which a map is noise (static scenes)


def num_evidence_features(hidden_size: int) -> int:
    """Features per frame (the encoder width does not matter: only statistics of its maps)."""
    return NUM_EVIDENCE


def num_patch_features(hidden_size: int, pixels: bool = False) -> int:
    """Features per patch of `patch_evidence`: the map values and the embedding (and the
    `pixel_maps` values when `pixels`)."""
    return NUM_PATCH_MAPS + hidden_size + (NUM_PIXEL_MAPS if pixels else 0)


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
    r = (torch.arange(gh, dtype=torch.float32, device=w.device) + 0.5) / gh
    c = (torch.arange(gw, dtype=torch.float32, device=w.device) + 0.5) / gw
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


def map_stats(d: torch.Tensor, z: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """d [T, N] difference map, z [T, N] its robust_z -> stats [T, 9]; see the module docstring."""
    k = num_selected(d.shape[-1], TOP_RATIO)
    med = d.median(-1).values
    top_raw = d.topk(k, -1).values.mean(-1)
    z_top = z.topk(k, -1).values.mean(-1)
    z_max = z.amax(-1)
    frac = (z > Z_HIGH).float().mean(-1)
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
    return torch.cat([stats, _where((z - Z_LOW).clamp(min=0), grid)], -1)


def trailing_mean(x: torch.Tensor, k: int) -> torch.Tensor:
    """x [T, N] -> [T, N]: mean of x[max(0, t - k + 1) .. t] (fewer frames at the start)."""
    c = torch.cat([torch.zeros_like(x[:1]), x.cumsum(0)])  # [T+1, N]
    t = torch.arange(x.shape[0], device=x.device)
    lo = (t - k + 1).clamp(min=0)
    return (c[t + 1] - c[lo]) / (t + 1 - lo).unsqueeze(-1).to(x.dtype)


def _peak(x: torch.Tensor) -> torch.Tensor:
    """x [T, N] >= 0 -> [T, 2]: log1p of the max and of the top patches' mean."""
    k = num_selected(x.shape[-1], TOP_RATIO)
    return torch.log1p(torch.stack([x.amax(-1), x.topk(k, -1).values.mean(-1)], -1))


def _check(patches: torch.Tensor, reference: torch.Tensor, background: torch.Tensor | None = None) -> None:
    if patches.ndim != 3 or reference.shape != patches.shape[1:]:
        raise ValueError(
            f"patches must be [T, N, D] and reference [N, D], got {tuple(patches.shape)}, {tuple(reference.shape)}"
        )
    if background is not None and background.shape != reference.shape:
        raise ValueError(
            f"background must be [N, D] like the reference {tuple(reference.shape)}, got {tuple(background.shape)}"
        )


def _maps(
    patches: torch.Tensor, reference: torch.Tensor, background: torch.Tensor | None = None
) -> dict[str, torch.Tensor]:
    """The standardised embeddings x [T, N, D] and the per-patch maps [T, N] both results use."""
    x = standardise_frames(patches)  # [T, N, D]
    d_motion = motion_vectors(x).mean(-1)  # [T, N]
    d_static = (x - standardise_frames(reference[None])).abs().mean(-1)  # [T, N]
    if background is not None:
        d_static = torch.minimum(d_static, (x - standardise_frames(background[None])).abs().mean(-1))
    return dict(x=x, **_history_maps(d_motion, d_static))


def _history_maps(d_motion: torch.Tensor, d_static: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-patch difference maps d_motion, d_static [T, N] -> them with their robust z and the
    sustained-motion and new-and-still maps [T, N]."""
    z_motion, z_static = robust_z(d_motion), robust_z(d_static)
    # Per patch over the last HISTORY frames: motion that stays in one place (a fight, a fire:
    # a walking person crosses a patch in a frame or two at 2 fps), and what is new but still
    # (a bag left behind, a person lying down, crashed cars).
    moving = trailing_mean(z_motion.clamp(min=0), HISTORY)  # [T, N]
    new = trailing_mean(z_static.clamp(min=0), HISTORY)
    return dict(d_motion=d_motion, d_static=d_static, z_motion=z_motion, z_static=z_static,
                moving=moving, still=(new - moving).clamp(min=0))  # fmt: skip


def evidence_features(patches: torch.Tensor, reference: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """patches [T, N, D] (consecutive frames), reference [N, D] -> features [T, NUM_EVIDENCE] float32.

    Frame t's features depend only on frames t - HISTORY .. t (t + 1 for t = 0) and the
    reference, so a clip that starts with HISTORY + the classifier's receptive field context
    frames gives its own frames exactly the features of a whole-video pass.
    """
    _check(patches, reference)
    return _frame_stats(_maps(patches, reference), grid)


def _frame_stats(m: dict[str, torch.Tensor], grid: tuple[int, int]) -> torch.Tensor:
    return torch.cat(
        [
            map_stats(m["d_motion"], m["z_motion"], grid),
            map_stats(m["d_static"], m["z_static"], grid),
            _peak(m["moving"]),
            _peak(m["still"]),
        ],
        -1,
    )


def _map_values(m: dict[str, torch.Tensor]) -> torch.Tensor:
    """The six per-patch map values [T, N, 6] of _history_maps' result."""
    maps = [
        m["d_motion"],
        m["d_static"],
        m["z_motion"].clamp(min=0),
        m["z_static"].clamp(min=0),
        m["moving"],
        m["still"],
    ]
    return torch.log1p(torch.stack(maps, -1))


def _patch_values(m: dict[str, torch.Tensor]) -> torch.Tensor:
    return torch.cat([_map_values(m), m["x"]], -1)


def grey(frames: torch.Tensor) -> torch.Tensor:
    """uint8 frames [T, H, W, 3] -> grey levels [T, H, W] float32 in [0, 1], averaged over
    PIXEL_BLOCK x PIXEL_BLOCK blocks ([T, H // PIXEL_BLOCK, W // PIXEL_BLOCK])."""
    g = frames.float().mean(-1, keepdim=True).permute(0, 3, 1, 2) / 255.0  # [T, 1, H, W]
    return F.avg_pool2d(g, PIXEL_BLOCK)[:, 0]


def pixel_maps(
    frames: torch.Tensor,
    reference: torch.Tensor,
    grid: tuple[int, int],
    background: torch.Tensor | None = None,
) -> torch.Tensor:
    """uint8 frames [T, H, W, 3] (consecutive, prepared as the encoder's), the reference frame
    [H, W, 3] (and the background frame [H, W, 3], see the module docstring) -> per-patch pixel
    evidence [T, gh * gw, NUM_PIXEL_MAPS] float32 (raster order, as the encoder's patches; any
    frame size: a patch is its share of the frame). Frame t's rows depend on the same frames as
    patch_evidence's."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or reference.shape != frames.shape[1:]:
        raise ValueError(
            f"frames must be [T, H, W, 3] and reference [H, W, 3], got {tuple(frames.shape)}, "
            f"{tuple(reference.shape)}"
        )
    if background is not None and background.shape != reference.shape:
        raise ValueError(
            f"background frame must be {tuple(reference.shape)} like the reference, got {tuple(background.shape)}"
        )
    g = grey(frames)
    T = g.shape[0]
    # motion_vectors' forward difference at frame 0, on [T, pixels, 1]
    motion = motion_vectors(g.reshape(T, -1, 1)).reshape(g.shape)
    static = (g - grey(reference[None])).abs()
    if background is not None:
        static = torch.minimum(static, (g - grey(background[None])).abs())

    def per_patch(d: torch.Tensor) -> torch.Tensor:  # [T, h, w] -> the largest block of each patch [T, N]
        return F.adaptive_max_pool2d(d[:, None], tuple(grid)).reshape(T, -1) * PIXEL_SCALE

    return _map_values(_history_maps(per_patch(motion), per_patch(static)))


def patch_evidence(patches: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """patches [T, N, D], reference [N, D] -> per-patch evidence [T, N, NUM_PATCH_MAPS + D] float32
    (see the module docstring); frame t's rows depend on the same frames as evidence_features'."""
    _check(patches, reference)
    return _patch_values(_maps(patches, reference))


def evidence(
    patches: torch.Tensor,
    reference: torch.Tensor,
    grid: tuple[int, int],
    per_patch: bool,
    background: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Both results from one pass over the maps: (evidence_features, patch_evidence or None).
    background: the background frame's patches [N, D] (module docstring), or None."""
    _check(patches, reference, background)
    m = _maps(patches, reference, background)
    return _frame_stats(m, grid), (_patch_values(m) if per_patch else None)
