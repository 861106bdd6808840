"""Per-patch evidence (ops.evidence: pixel_maps, and the embedding maps' background): what it sees and what it ignores."""

import numpy as np
import pytest
import torch

from va_gpt.ops.evidence import HISTORY, NUM_PIXEL_MAPS, evidence, pixel_maps
from va_gpt.video.clips import background_frame

S, GRID = 64, (4, 4)  # 16-px patches


def scene(T: int, seed: int = 0) -> np.ndarray:
    """A textured still scene with sensor noise: uint8 [T, S, S, 3]."""
    rng = np.random.default_rng(seed)
    bg = rng.integers(40, 200, (S, S, 3)).astype(np.float32)
    return np.clip(bg + rng.normal(0, 3, (T, S, S, 3)), 0, 255).astype(np.uint8)


def maps(frames: np.ndarray) -> torch.Tensor:
    return pixel_maps(torch.from_numpy(frames), torch.from_numpy(frames[0]), GRID)


def test_a_small_object_left_in_one_patch_stands_out_there():
    """A 4x4-pixel object (1/16 of a patch) appears at frame 3 and stays: from then on its patch
    (row 2, column 1 -> patch 9) has the largest static z of the frame, far above the others, and
    when it stops moving it is new-and-still."""
    v = scene(10)
    v[3:, 40:44, 20:24] = 255
    m = maps(v)
    assert m.shape == (10, 16, NUM_PIXEL_MAPS)
    z_static = torch.expm1(m[..., 3])
    for t in range(3, 10):
        assert int(z_static[t].argmax()) == 9
        others = torch.cat([z_static[t, :9], z_static[t, 10:]])
        assert z_static[t, 9] > 4 * others.max() + 1
    assert z_static[:3].max() < 3  # before it, nothing stands out
    still = torch.expm1(m[..., 5])
    assert int(still[3 + HISTORY].argmax()) == 9 and still[3 + HISTORY, 9] > 1


def test_a_global_light_change_or_darkness_is_not_local_evidence():
    """Every pixel 40% brighter from frame 4 on, or the whole video at a quarter of the light:
    no patch's z stands out (the robust z is taken over the frame's patches)."""
    brighter = scene(8, seed=1).astype(np.float32)
    brighter[4:] *= 1.4
    dark = scene(8, seed=2).astype(np.float32) * 0.25
    for v in (brighter, dark):
        m = maps(np.clip(v, 0, 255).astype(np.uint8))
        assert torch.isfinite(m).all()
        assert torch.expm1(m[..., 2:4]).max() < 4.0  # the motion and static z


def test_any_frame_size_reads_as_the_same_grid_and_bad_shapes_are_refused():
    v = scene(3)
    big = np.repeat(np.repeat(v, 2, axis=1), 2, axis=2)  # the same scene at twice the size
    assert maps(big).shape == maps(v).shape
    with pytest.raises(ValueError, match=r"frames must be \[T, H, W, 3\]"):
        pixel_maps(torch.from_numpy(v), torch.from_numpy(big[0]), GRID)
    with pytest.raises(ValueError, match=r"frames must be \[T, H, W, 3\]"):
        pixel_maps(torch.from_numpy(v[..., 0]), torch.from_numpy(v[0, ..., 0]), GRID)


def test_a_passer_by_in_the_first_sample_leaves_no_new_patch_behind_with_the_background():
    """Someone stands in patch 5 in the first 2 samples, then walks off; a bag is left in patch 9
    from frame 6 on. Against the first sample alone patch 5 is "new and still" for the rest of
    the video (the scene there differs from the first sample), as much as the bag; with the
    background (the median of the first 5 samples: the passer-by is gone in 3 of them) it is not,
    and the bag is as plain as before. The same holds for the embedding maps."""
    v = scene(14, seed=3)
    v[:2, 16:32, 16:32] = 20  # patch 5 (row 1, column 1)
    v[6:, 40:46, 20:26] = 250  # patch 9
    bg = background_frame(v[:5])
    t = 6 + HISTORY
    before = torch.expm1(maps(v)[..., 5])  # new-and-still
    after = torch.expm1(
        pixel_maps(torch.from_numpy(v), torch.from_numpy(v[0]), GRID, torch.from_numpy(bg))[..., 5]
    )
    assert before[t, 5] > 0.5 * before[t, 9] and before[t, 9] > 1
    assert after[t, 5] < 0.1 * after[t, 9] and after[t, 9] > 1
    assert int(after[t].argmax()) == 9
    # embedding maps: patch 5 of the first two frames far off its later value, the bag likewise
    rng = np.random.default_rng(0)
    patches = torch.from_numpy(
        rng.normal(0, 1, (1, 16, 32)).repeat(14, 0) + rng.normal(0, 0.05, (14, 16, 32))
    ).float()
    patches[:2, 5] += 3.0
    patches[6:, 9] += 3.0
    background = patches[:5].median(0).values
    _, plain = evidence(patches, patches[0], GRID, per_patch=True)
    _, with_bg = evidence(patches, patches[0], GRID, per_patch=True, background=background)
    still_plain, still_bg = torch.expm1(plain[t, :, 5]), torch.expm1(with_bg[t, :, 5])
    assert still_plain[5] > 0.5 * still_plain[9] and still_bg[5] < 0.1 * still_bg[9]
    assert int(still_bg.argmax()) == 9
    with pytest.raises(ValueError, match="background must be"):
        evidence(patches, patches[0], GRID, per_patch=True, background=background[:3])
    with pytest.raises(ValueError, match="background frame must be"):
        pixel_maps(torch.from_numpy(v), torch.from_numpy(v[0]), GRID, torch.from_numpy(bg[:8]))
