"""Dark frames lifted before the patch differences (va_gpt.ops.low_light)."""

import numpy as np
import pytest

from va_gpt.ops.low_light import lift_dark_frames


def frames_at(means, size=32, seed=0):
    """One textured frame per requested mean brightness (0..1), the same texture scaled."""
    tex = np.random.default_rng(seed).uniform(0.3, 1.7, (size, size, 3))
    return np.stack([np.clip(tex * m * 255, 0, 255) for m in means]).astype(np.uint8)


def test_only_frames_darker_than_the_floor_are_lifted_and_their_order_of_values_is_kept():
    f = frames_at([0.04, 0.08, 0.3, 0.6])
    out = lift_dark_frames(f, 0.15)
    means = out.reshape(4, -1).mean(1) / 255
    assert 0.11 < means[0] < 0.2 and 0.11 < means[1] < 0.2  # brought up to about the floor
    np.testing.assert_array_equal(out[2:], f[2:])  # in range: untouched
    for i in (0, 1):  # a monotone curve: brighter stays brighter, the picture's structure is kept
        a, b = f[i].ravel().astype(int), out[i].ravel().astype(int)
        order = np.argsort(a, kind="stable")
        assert (np.diff(b[order]) >= 0).all()
        assert len(np.unique(b)) >= len(np.unique(a)) * 0.9
    assert out.dtype == np.uint8 and out.shape == f.shape


def test_each_frame_is_lifted_on_its_own_whatever_batch_it_is_in():
    """Clips of one video cut at different places must get the same frames (no scheduling effect)."""
    f = frames_at([0.03, 0.05, 0.2, 0.07, 0.5], seed=1)
    whole = lift_dark_frames(f, 0.15)
    parts = np.concatenate([lift_dark_frames(f[:2], 0.15), lift_dark_frames(f[2:], 0.15)])
    np.testing.assert_array_equal(parts, whole)
    np.testing.assert_array_equal(lift_dark_frames(f[1], 0.15), whole[1])  # one frame [H, W, 3]


def test_off_and_bad_inputs():
    f = frames_at([0.02, 0.5])
    assert lift_dark_frames(f, 0.0) is f
    black = np.zeros((1, 8, 8, 3), np.uint8)  # nothing to lift: stays black, no division by zero
    np.testing.assert_array_equal(lift_dark_frames(black, 0.15), black)
    with pytest.raises(ValueError, match="min_brightness must be in"):
        lift_dark_frames(f, 1.5)
    with pytest.raises(ValueError, match=r"uint8 \[\.\.\., H, W, 3\], got float32"):
        lift_dark_frames(f.astype(np.float32), 0.15)
