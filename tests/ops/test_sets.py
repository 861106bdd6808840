"""SETS math against plain-loop references, and its behaviour on crafted clips."""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import pytest
import torch

from va_gpt.config import EncoderConfig
from va_gpt.models.dinov2 import DinoEncoder
from va_gpt.ops import sets
from va_gpt.synthetic.scene import make_scene

# ---------------------------------------------------------------- references


def ref_difference_map(patches, prev):
    T, N, D = patches.shape
    out = torch.zeros(T, N)
    for t in range(T):
        before = patches[t - 1] if t > 0 else (prev if prev is not None else patches[0])
        for n in range(N):
            out[t, n] = sum(abs(float(patches[t, n, d]) - float(before[n, d])) for d in range(D))
    return out


def ref_background(patches, background, m):
    T, N, D = patches.shape
    bg = patches[0].double().clone() if background is None else background.double().clone()
    out = torch.zeros(T, N)
    for t in range(T):
        for n in range(N):
            out[t, n] = float((patches[t, n].double() - bg[n]).abs().sum())
        bg = m * bg + (1 - m) * patches[t].double()
    return out, bg.float()


def ref_topk(row, ratio):
    n = len(row)
    k = max(1, math.ceil(round(ratio * n, 9)))
    ranked = sorted(range(n), key=lambda i: -float(row[i]))  # stable: ties keep the lower index first
    return sorted(ranked[:k])


def ref_components(cells, gw):
    """BFS 4-connected components of a set of (r, c) cells -> list of sets."""
    cells = set(cells)
    comps = []
    while cells:
        start = cells.pop()
        comp, q = {start}, deque([start])
        while q:
            r, c = q.popleft()
            for nb in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
                if nb in cells:
                    cells.remove(nb)
                    comp.add(nb)
                    q.append(nb)
        comps.append(comp)
    return comps


def ref_box(idx_row, grid, p, mode, diff_row=None):
    gh, gw = grid
    cells = [(int(i) // gw, int(i) % gw) for i in idx_row]
    if mode == "blob":
        comps = ref_components(cells, gw)

        def size(c):
            return len(c) if diff_row is None else sum(float(diff_row[r * gw + cc]) for r, cc in c)

        # largest; ties -> the component containing the largest raster index
        best = max(comps, key=lambda c: (size(c), max(r * gw + cc for r, cc in c)))
        cells = list(best)
    rs = [r for r, _ in cells]
    cs = [c for _, c in cells]
    return [min(cs) * p, min(rs) * p, (max(cs) + 1) * p, (max(rs) + 1) * p]


# ---------------------------------------------------------------- equality with references


@pytest.mark.timeout(30)
@pytest.mark.parametrize("with_prev", [False, True])
def test_difference_map_matches_loop(with_prev):
    g = torch.Generator().manual_seed(0)
    patches = torch.randn(5, 6, 7, generator=g)
    prev = torch.randn(6, 7, generator=g) if with_prev else None
    got = sets.difference_map(patches, prev)
    assert got.shape == (5, 6)
    torch.testing.assert_close(got, ref_difference_map(patches, prev), rtol=1e-5, atol=1e-5)
    if not with_prev:
        assert torch.all(got[0] == 0)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("with_bg", [False, True])
def test_background_difference_matches_loop(with_bg):
    g = torch.Generator().manual_seed(1)
    patches = torch.randn(9, 5, 4, generator=g)
    bg = torch.randn(5, 4, generator=g) if with_bg else None
    diff, new_bg = sets.background_difference(patches, bg, 0.8)
    ref_diff, ref_bg = ref_background(patches, bg, 0.8)
    torch.testing.assert_close(diff, ref_diff, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(new_bg, ref_bg, rtol=1e-5, atol=1e-5)
    # Chaining two halves with the returned background equals one call on the whole clip.
    d1, b1 = sets.background_difference(patches[:4], bg, 0.8)
    d2, b2 = sets.background_difference(patches[4:], b1, 0.8)
    torch.testing.assert_close(torch.cat([d1, d2]), diff, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(b2, new_bg, rtol=1e-5, atol=1e-5)


@pytest.mark.timeout(30)
def test_background_momentum_zero_is_previous_frame():
    patches = torch.randn(6, 5, 4)
    prev = torch.randn(5, 4)
    diff, new_bg = sets.background_difference(patches, prev, 0.0)
    torch.testing.assert_close(diff, sets.difference_map(patches, prev))
    torch.testing.assert_close(new_bg, patches[-1])


@pytest.mark.timeout(30)
@pytest.mark.parametrize("ratio", [0.1, 0.25, 0.3, 0.5, 1.0, 0.001])
def test_topk_matches_loop(ratio):
    g = torch.Generator().manual_seed(2)
    diff = torch.randint(0, 5, (4, 30), generator=g).float()  # many ties
    got = sets.topk_indices(diff, ratio)
    expect = [ref_topk(row, ratio) for row in diff]
    assert got.dtype == torch.long
    assert got.tolist() == expect
    assert got.shape[-1] == sets.num_selected(30, ratio)


@pytest.mark.timeout(30)
def test_num_selected_rounding():
    assert sets.num_selected(256, 0.25) == 64
    assert sets.num_selected(30, 0.1) == 3  # 0.1 * 30 = 3.0000000000000004 in floats
    assert sets.num_selected(16, 0.01) == 1
    assert sets.num_selected(10, 0.21) == 3  # ceil
    with pytest.raises(ValueError, match="ratio"):
        sets.num_selected(10, 0.0)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("mode", ["all", "blob", "blob-weighted"])
def test_region_box_matches_loop(mode):
    g = torch.Generator().manual_seed(3)
    grid = (6, 5)
    idx = torch.stack([torch.randperm(30, generator=g)[:8] for _ in range(40)]).sort(1).values
    diff = torch.rand(40, 30, generator=g) if mode == "blob-weighted" else None
    got = sets.region_box(idx, grid, 14, mode=mode[:4] if diff is not None else mode, diff=diff)
    expect = [
        ref_box(row, grid, 14, mode[:4], None if diff is None else diff[i]) for i, row in enumerate(idx)
    ]
    torch.testing.assert_close(got, torch.tensor(expect, dtype=torch.float32))


@pytest.mark.timeout(30)
def test_blob_ignores_scattered_noise():
    # 2x2 blob at rows 1-2, cols 1-2 of a 5x5 grid, plus one isolated patch at (4, 4).
    idx = torch.tensor([[6, 7, 11, 12, 24]])
    assert sets.region_box(idx, (5, 5), 10, "all").tolist() == [[10.0, 10.0, 50.0, 50.0]]
    assert sets.region_box(idx, (5, 5), 10, "blob").tolist() == [[10.0, 10.0, 30.0, 30.0]]
    # Weighted by difference, a single strongly changed patch beats a bigger group of weak ones.
    diff = torch.full((1, 25), 0.1)
    diff[0, 24] = 5.0
    assert sets.region_box(idx, (5, 5), 10, "blob", diff).tolist() == [[40.0, 40.0, 50.0, 50.0]]
    # No change at all (a video's first frame): still the box of a real group of selected patches.
    assert sets.region_box(idx, (5, 5), 10, "blob", torch.zeros(1, 25)).tolist() == [[40.0, 40.0, 50.0, 50.0]]


@pytest.mark.timeout(30)
def test_stats_and_energy_match_loop():
    g = torch.Generator().manual_seed(4)
    diff = torch.rand(3, 16, generator=g)
    st = sets.diff_stats(diff, 0.25)
    for t in range(3):
        row = sorted(diff[t].tolist(), reverse=True)
        mean = sum(row) / 16
        std = math.sqrt(sum((v - mean) ** 2 for v in row) / 16)
        assert st[t].tolist() == pytest.approx([mean, row[0], sum(row[:4]) / 4, std], rel=1e-5)
    torch.testing.assert_close(sets.difference_energy(diff), st[:, 0])


# ---------------------------------------------------------------- behaviour on crafted clips


@pytest.mark.timeout(30)
def test_one_changing_patch_is_selected_and_boxed():
    gh, gw, D, p = 4, 4, 8, 14
    torch.manual_seed(0)
    base = torch.randn(gh * gw, D)
    patches = base.repeat(6, 1, 1) + 0.01 * torch.randn(6, gh * gw, D)  # small noise everywhere
    changed = 9  # row 2, col 1
    patches[3, changed] += 5.0  # only frame 3 differs at this patch (and frame 4 returns)
    diff = sets.difference_map(patches, patches[0])
    idx = sets.topk_indices(diff, 1 / 16)  # k = 1
    assert idx[3].tolist() == [changed] and idx[4].tolist() == [changed]
    box = sets.region_box(idx, (gh, gw), p, "blob")
    assert box[3].tolist() == [1 * p, 2 * p, 2 * p, 3 * p]
    # With a larger K the patch is still in, and the blob box is still that patch when the
    # other selected patches are scattered noise (top-4 of a single change + noise).
    idx4 = sets.topk_indices(diff, 0.25)
    assert changed in idx4[3].tolist()
    energy = sets.difference_energy(diff)
    assert energy[3] > 5 * energy[1]


def abandoned_object_clip(T=30, drop=5, gh=6, gw=6, D=16, seed=0):
    """Static scene with noise; at frame `drop` an 'object' changes 4 patches and stays."""
    g = torch.Generator().manual_seed(seed)
    scene = torch.randn(gh * gw, D, generator=g)
    obj = torch.randn(4, D, generator=g) * 3
    patches = scene.repeat(T, 1, 1) + 0.05 * torch.randn(T, gh * gw, D, generator=g)
    where = torch.tensor([14, 15, 20, 21])  # 2x2 block at rows 2-3, cols 2-3
    patches[drop:, where] += obj
    return patches, where


@pytest.mark.timeout(30)
def test_background_mode_keeps_selecting_a_static_object():
    patches, where = abandoned_object_clip()
    ratio = 4 / 36
    prev_idx = sets.topk_indices(sets.difference_map(patches, None), ratio)
    bg_diff, _ = sets.background_difference(patches, None, 0.95)
    bg_idx = sets.topk_indices(bg_diff, ratio)

    def hit(idx):  # [T] the object is exactly the selection
        return torch.tensor([set(r.tolist()) == set(where.tolist()) for r in idx])

    prev_hit, bg_hit = hit(prev_idx), hit(bg_idx)
    assert prev_hit[5] and not prev_hit[6:].any()  # previous-frame mode: only at the drop
    assert bg_hit[5:].all()  # background mode: every frame after the drop (25 frames)
    assert not bg_hit[:5].any()


@pytest.mark.timeout(30)
def test_shape_errors():
    with pytest.raises(ValueError, match=r"\[T, N, D\]"):
        sets.difference_map(torch.zeros(4, 5), None)
    with pytest.raises(ValueError, match="prev"):
        sets.difference_map(torch.zeros(2, 4, 5), torch.zeros(4, 6))
    with pytest.raises(ValueError, match="background"):
        sets.background_difference(torch.zeros(2, 4, 5), torch.zeros(3, 5), 0.9)
    with pytest.raises(ValueError, match="mode"):
        sets.region_box(torch.zeros(1, 1, dtype=torch.long), (2, 2), 14, "hull")


@pytest.mark.timeout(120)
def test_background_mode_on_a_synthetic_abandoned_object():
    """A synthetic street scene where a pedestrian puts a bag down and leaves it. A random
    DINOv2 at 224 px (16 x 16 patches of 14 px; the bag is smaller than a patch) and the
    paper's K = 25%: long after the drop, previous-frame differences select the bag's patch
    only when a passer-by happens to be near it, background differences nearly always."""
    size, p = 224, 14
    enc = DinoEncoder.random(EncoderConfig(None, size, p, 64, 2, 2, 2))
    g = size // p
    hits = {"previous": [], "background": []}
    inside = {"previous": [], "background": []}
    for seed in (0, 1):
        scene = make_scene(seed, "abandoned_object", duration_s=30.0, width=size, height=size, fps=30.0)
        (event,) = scene.events
        idx = np.arange(0, len(scene), 15)  # 2 fps
        t = idx / 30.0
        patches = enc.encode_frames(np.stack([scene.frame(int(i)) for i in idx])).patches
        x0, y0, x1, y1 = event.box
        in_box = torch.zeros(g, g, dtype=torch.bool)
        in_box[y0 // p : (y1 - 1) // p + 1, x0 // p : (x1 - 1) // p + 1] = True
        in_box = in_box.flatten()  # [N] patches the bag overlaps
        late = torch.from_numpy(t >= event.start_s + 3.0)  # from 3 s after the drop to the end
        assert late.sum() > 20
        diffs = {
            "previous": sets.difference_map(patches, None),
            "background": sets.background_difference(patches, None, 0.95)[0],
        }
        for mode, diff in diffs.items():
            sel = sets.topk_indices(diff, 0.25)[late]  # [T_late, 64]
            hits[mode].append(in_box[sel].any(1).float().mean().item())
            inside[mode].append(in_box[sel].float().mean().item())
    # measured: previous 0.42 / 0.34, background 0.92 / 0.84 of the late frames
    assert sum(hits["background"]) / 2 > 0.8, hits
    for s in range(2):
        assert hits["background"][s] > hits["previous"][s] + 0.3, hits
        assert inside["background"][s] > 1.5 * inside["previous"][s], inside
