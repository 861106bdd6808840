"""Frames at the reference's gain (va_gpt.ops.gain): a global brightness step is undone, a local
change is kept, and the preparation stays a function of the frame and the reference."""

import numpy as np
import pytest

from va_gpt.ops.gain import MAX_GAIN, match_gain, median_luma
from va_gpt.ops.prepare import Preparation


def street(seed=0, size=64):
    rng = np.random.default_rng(seed)
    x = rng.uniform(60, 160, (size, size, 3))
    return x.astype(np.float32)


def test_a_lighting_step_is_undone_and_a_local_flash_is_kept():
    ref = street()
    dim = ref * 0.6  # the lights went down by 40% everywhere
    flash = ref.copy()
    flash[20:30, 20:30] = 255.0  # an explosion in one corner of the picture
    frames = np.clip(np.stack([ref, dim, flash]), 0, 255).astype(np.uint8)
    out = match_gain(frames, frames[0])
    np.testing.assert_array_equal(out[0], frames[0])
    assert (
        np.abs(out[1].astype(float) - frames[0]).mean()
        < 1.0
        < np.abs(frames[1].astype(float) - frames[0]).mean()
    )
    # the flash is still there, at nearly its brightness; the rest of the frame is left alone
    assert out[2, 20:30, 20:30].mean() > 240
    assert np.abs(out[2, 40:, 40:].astype(float) - frames[0, 40:, 40:]).mean() < 2.0


def test_the_gain_is_bounded_and_black_frames_stay_black():
    ref = street(1).astype(np.uint8)
    frames = np.stack([np.zeros_like(ref), (ref // 8).astype(np.uint8)])
    out = match_gain(frames, ref)
    np.testing.assert_array_equal(out[0], 0)
    assert median_luma(out[1]) == pytest.approx(median_luma(frames[1]) * MAX_GAIN, abs=1.0)


def test_each_frame_depends_on_itself_and_the_reference_only():
    """A clip's frames are prepared the same whichever clip they are in (scheduling independence)."""
    rng = np.random.default_rng(2)
    ref = street(3).astype(np.uint8)
    frames = np.clip(ref[None] * rng.uniform(0.5, 1.5, (6, 1, 1, 1)), 0, 255).astype(np.uint8)
    prepare = Preparation(stabilise=True, min_brightness=0.15, match_gain=True)
    whole, _ = prepare(frames, ref)
    part, _ = prepare(frames[3:], ref)
    np.testing.assert_array_equal(whole[3:], part)


def test_the_preparation_says_when_the_gain_is_matched():
    assert Preparation(True, 0.15).label == "stabilise=True min_brightness=0.15"  # as older clip rows say
    assert Preparation(True, 0.15, True).label == "stabilise=True min_brightness=0.15 match_gain=True"


def test_bad_inputs_name_the_problem():
    f = np.zeros((2, 16, 16, 3), np.uint8)
    with pytest.raises(ValueError, match="match_gain: frames must be"):
        match_gain(f, np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="must be uint8"):
        match_gain(f.astype(np.float32), f[0])
