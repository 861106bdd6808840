"""The visual stage's fast path (runtime.skip_static) against the plain one.

Stated tolerance: frames that are pixel-identical to the last encoded one give the plain path's
scores to 1e-4 (the same encoding, only another batch position); frames within the pixel
threshold of it give scores within 0.05 of the plain path (measured on the synthetic archive,
demo preset, threshold 2-4: max |d score| 0.035). Each skipped frame is recorded (`encoded`).
runtime.encoder_int8 (dynamic int8 Linear layers): scores within 0.05 of float32.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tests.pipeline.test_visual import TINY, batch_of, clip_rows, moving_video
from va_gpt.pipeline.visual import Visual, static_frames

S = TINY.encoder.image_size
TOL_SAME = 1e-4
TOL_NEAR = 0.05


def with_skip(threshold: float):
    return dataclasses.replace(TINY, runtime=dataclasses.replace(TINY.runtime, skip_static=threshold))


def static_video(noise: int, seed: int = 0) -> np.ndarray:
    """22 frames: moving (0-5), still (6-15: frame 6 repeated, plus +-noise), moving again (16-21)."""
    rng = np.random.default_rng(seed)
    video = moving_video(22, seed)
    still = video[6].astype(np.int16)
    for i in range(7, 16):
        jitter = rng.integers(-noise, noise + 1, still.shape) if noise else 0
        video[i] = np.clip(still + jitter, 0, 255).astype(np.uint8)
    return video


def scores(stage: Visual, video: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    out = stage(batch_of(clip_rows(video)))
    order = np.argsort(out["clip_index"].astype(int))
    return (
        np.concatenate([out["score"][i] for i in order]),
        np.concatenate([out["encoded"][i] for i in order]),
    )


def test_static_frames_picks_the_last_encoded_frame():
    f = np.zeros((5, S, S, 3), np.uint8)
    f[2, :14, :14] = 3  # one patch changes by 3 on average
    f[3] = f[2]
    f[4, :14, :14] = 9
    np.testing.assert_array_equal(static_frames(f, 0.0, 14), [0, 1, 2, 3, 4])  # off
    np.testing.assert_array_equal(static_frames(f, 2.0, 14), [0, 0, 2, 2, 4])
    np.testing.assert_array_equal(static_frames(f, 10.0, 14), [0, 0, 0, 0, 0])


@pytest.mark.timeout(120)
@pytest.mark.parametrize("noise, tol", [(0, TOL_SAME), (1, TOL_NEAR)])
def test_skip_static_scores_match_the_plain_path(noise, tol):
    video = static_video(noise)
    plain, enc_plain = scores(Visual(TINY), video)
    fast, enc_fast = scores(Visual(with_skip(2.0)), video)
    assert enc_plain.all()
    assert len(fast) == len(plain) == 22
    skipped = np.flatnonzero(~enc_fast)
    # the still stretch is skipped (its first frame 6 is encoded), the moving frames are not
    assert set(skipped) >= set(range(7, 16)) - {8, 15} and not set(skipped) & set(range(0, 6))
    np.testing.assert_allclose(fast, plain, atol=tol, rtol=0)


@pytest.mark.timeout(120)
def test_int8_encoder_scores_within_tolerance_of_float32():
    video = moving_video(22, seed=3)
    int8 = dataclasses.replace(TINY, runtime=dataclasses.replace(TINY.runtime, encoder_int8=True))
    plain, _ = scores(Visual(TINY), video)
    fast, _ = scores(Visual(int8), video)
    np.testing.assert_allclose(fast, plain, atol=TOL_NEAR, rtol=0)
    print("int8 max |d score|", np.abs(fast - plain).max())
