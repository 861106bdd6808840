"""SETS (Spatial Effective Token Selection): difference maps and top-K patch selection.

Pure tensor math, no I/O, no models. Shapes: T frames, N = gh * gw patches in
row-major (raster) order, D channels.

The paper: DINOv2 patch embeddings of adjacent frames, the Manhattan (L1)
distance per patch is the difference map, and only the top-K ratio of patches
with the largest difference go to the LLM (K = 25% was best).

Beyond the paper, `reference: background` measures the difference to a slowly
updated (EMA) background embedding instead of the previous frame, so an
object that appears and then stays (an abandoned bag: the paper's named weak
spot, "static anomalies cause no frame difference") keeps being selected
until the background absorbs it.

All differences are computed in float32 whatever the input dtype: an L1 sum
over hundreds of bfloat16 channels loses the small differences that matter.
"""

from __future__ import annotations

import math

import torch

NUM_DIFF_STATS = 4  # energy, max, top-k mean, std (see diff_stats)


def difference_map(patches: torch.Tensor, prev: torch.Tensor | None = None) -> torch.Tensor:
    """Per-patch L1 distance of each frame to the frame before it.

    patches [T, N, D], prev [N, D] | None -> diff [T, N] float32.

    diff[t, n] = sum_d |patches[t, n, d] - patches[t-1, n, d]|. For frame 0 the
    previous frame is `prev` (the overlap frame, i.e. the last frame of the
    previous clip); with `prev=None` there is nothing to compare with and
    diff[0] is all zeros (a video's very first frame has no motion).
    """
    if patches.ndim != 3:
        raise ValueError(f"patches must be [T, N, D], got {tuple(patches.shape)}")
    x = patches.float()
    if prev is None:
        before = torch.cat([x[:1], x[:-1]])  # [T, N, D]; frame 0 compared with itself -> 0
    else:
        if prev.shape != patches.shape[1:]:
            raise ValueError(f"prev must be [N, D] = {tuple(patches.shape[1:])}, got {tuple(prev.shape)}")
        before = torch.cat([prev.float()[None], x[:-1]])  # [T, N, D]
    return (x - before).abs().sum(-1)  # [T, N]


def background_difference(
    patches: torch.Tensor, background: torch.Tensor | None, momentum: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-patch L1 distance of each frame to an EMA background embedding.

    patches [T, N, D], background [N, D] | None -> (diff [T, N], new_background [N, D]), float32.

    With b_0 = `background` (or patches[0] when None, so diff[0] = 0):
        diff[t] = |patches[t] - b_t|_1 per patch,   b_{t+1} = m * b_t + (1 - m) * patches[t].
    Frame t is compared with the background *before* it is absorbed. The
    returned new_background is b_T, to pass in with the next clip of the same
    video. An object that appears at frame s and stays keeps a difference of
    about m^(t-s) times its first-frame difference, so with m = 0.95 it stays
    among the top patches for tens of frames instead of one.

    Vectorised as one matrix product: b_t = m^t b_0 + (1 - m) sum_{s<t} m^(t-1-s) patches[s].
    """
    if patches.ndim != 3:
        raise ValueError(f"patches must be [T, N, D], got {tuple(patches.shape)}")
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    x = patches.float()
    T = x.shape[0]
    if background is None:
        b0 = x[0]
    else:
        if background.shape != patches.shape[1:]:
            raise ValueError(
                f"background must be [N, D] = {tuple(patches.shape[1:])}, got {tuple(background.shape)}"
            )
        b0 = background.float()
    # Weights over (b_0, patches[0..T-1]) for b_0..b_T: W [T+1, T+1].
    t = torch.arange(T + 1, dtype=torch.float64)
    s = torch.arange(T, dtype=torch.float64)
    m = torch.tensor(momentum, dtype=torch.float64)
    w_b0 = m**t  # [T+1]
    expo = t[:, None] - 1 - s[None, :]  # [T+1, T]
    w_x = torch.where(expo >= 0, (1 - m) * m ** expo.clamp(min=0), torch.zeros((), dtype=torch.float64))
    w = torch.cat([w_b0[:, None], w_x], 1).to(x.device, torch.float32)  # [T+1, 1+T]
    stacked = torch.cat([b0[None], x])  # [1+T, N, D]
    bg = torch.einsum("ts,snd->tnd", w, stacked)  # [T+1, N, D]: b_0 .. b_T
    diff = (x - bg[:T]).abs().sum(-1)  # [T, N]
    return diff, bg[T]


def num_selected(n: int, ratio: float) -> int:
    """k = max(1, ceil(ratio * n)): patches kept out of n (tolerant to float error in ratio * n)."""
    if not 0 < ratio <= 1:
        raise ValueError(f"top-K ratio must be in (0, 1], got {ratio}")
    return max(1, min(n, math.ceil(ratio * n - 1e-9)))


def topk_indices(diff: torch.Tensor, ratio: float) -> torch.Tensor:
    """Indices of the k patches with the largest difference, in ascending (raster) order.

    diff [..., N] -> LongTensor [..., k], k = num_selected(N, ratio). Ties are
    broken towards the lower index (a stable sort), so the result is
    deterministic. Sorted ascending so the LLM sees the patches in raster order.
    """
    k = num_selected(diff.shape[-1], ratio)
    order = torch.sort(diff.float(), dim=-1, descending=True, stable=True).indices  # [..., N]
    return torch.sort(order[..., :k], dim=-1).values  # [..., k]


def _largest_component(mask: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """mask [T, gh, gw] bool -> the largest 4-connected component of each frame, [T, gh, gw] bool.

    Largest = most cells, or the largest summed `weight` [T, gh, gw] when given.
    Label propagation: every selected cell starts with its own label (raster
    index + 1) and takes the max label of its selected 4-neighbours until
    nothing changes, so a component's label is its largest raster index + 1.
    Ties go to the component with the larger label.
    """
    T, gh, gw = mask.shape
    n = gh * gw
    labels = torch.where(mask, torch.arange(1, n + 1).view(1, gh, gw).expand(T, gh, gw), 0)
    while True:
        p = torch.nn.functional.pad(labels, (1, 1, 1, 1))
        neigh = torch.stack([p[:, :-2, 1:-1], p[:, 2:, 1:-1], p[:, 1:-1, :-2], p[:, 1:-1, 2:], labels])
        new = torch.where(mask, neigh.max(0).values, 0)
        if torch.equal(new, labels):
            break
        labels = new
    flat = labels.view(T, n)
    w = torch.ones(T, n, dtype=torch.float64) if weight is None else weight.reshape(T, n).double()
    size = torch.zeros(T, n + 1, dtype=torch.float64).scatter_add_(1, flat, w * mask.view(T, n))
    count = torch.zeros(T, n + 1, dtype=torch.long).scatter_add_(1, flat, torch.ones_like(flat))
    size[count == 0] = -1  # labels of no component (weights can be all zero: a frame without change)
    size[:, 0] = -1  # unselected cells
    # Largest size; among equals the largest label (flip so argmax's first hit is the largest label).
    best = n - size.flip(1).argmax(1)  # [T]
    return (labels == best.view(T, 1, 1)) & mask


def region_box(
    indices: torch.Tensor,
    grid: tuple[int, int],
    patch_size: int,
    mode: str = "all",
    diff: torch.Tensor | None = None,
) -> torch.Tensor:
    """Pixel bounding box of the selected patches in the encoder input.

    indices [T, k] (raster patch indices), grid (gh, gw), diff [T, N] | None ->
    boxes [T, 4] float32 as (x0, y0, x1, y1) pixels, x1/y1 exclusive (a single
    patch (r, c) gives (c*p, r*p, (c+1)*p, (r+1)*p)).

    mode "all": the box around every selected patch (simple, but scattered
    noise patches stretch it). mode "blob": the box around one 4-connected
    group of selected patches only: the group with the largest summed
    difference when `diff` is given (where the change is), else the one with
    the most patches (ties: see _largest_component). This is what localises
    one moving or new object among scattered background noise.
    """
    if indices.ndim != 2:
        raise ValueError(f"indices must be [T, k], got {tuple(indices.shape)}")
    gh, gw = grid
    T = indices.shape[0]
    mask = torch.zeros(T, gh * gw, dtype=torch.bool, device=indices.device)
    mask.scatter_(1, indices.long(), True)
    mask = mask.view(T, gh, gw).cpu()
    if mode == "blob":
        if diff is not None and diff.shape != (T, gh * gw):
            raise ValueError(f"diff must be [T, N] = ({T}, {gh * gw}), got {tuple(diff.shape)}")
        mask = _largest_component(mask, None if diff is None else diff.detach().cpu().view(T, gh, gw))
    elif mode != "all":
        raise ValueError(f"region box mode must be all | blob, got {mode!r}")
    rows = mask.any(2)  # [T, gh]
    cols = mask.any(1)  # [T, gw]
    r_idx = torch.arange(gh).expand(T, gh)
    c_idx = torch.arange(gw).expand(T, gw)
    r0 = torch.where(rows, r_idx, gh).min(1).values
    r1 = torch.where(rows, r_idx, -1).max(1).values + 1
    c0 = torch.where(cols, c_idx, gw).min(1).values
    c1 = torch.where(cols, c_idx, -1).max(1).values + 1
    return (torch.stack([c0, r0, c1, r1], 1) * patch_size).float()  # [T, 4]


def difference_energy(diff: torch.Tensor) -> torch.Tensor:
    """diff [T, N] -> [T]: the mean difference over patches (how much the frame changed)."""
    return diff.float().mean(-1)


def diff_stats(diff: torch.Tensor, ratio: float) -> torch.Tensor:
    """Difference-map statistics used as classifier features.

    diff [T, N] -> [T, 4] float32: (energy = mean, max, mean of the top-K
    selected patches, std (population, over patches)). The top-K mean is
    what SETS passes on; max/energy/std describe how concentrated the change is.
    """
    d = diff.float()
    k = num_selected(d.shape[-1], ratio)
    topk_mean = d.topk(k, dim=-1).values.mean(-1)
    return torch.stack([d.mean(-1), d.amax(-1), topk_mean, d.std(-1, correction=0)], -1)  # [T, 4]
