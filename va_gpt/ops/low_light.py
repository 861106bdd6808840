"""Lift frames darker than the classifier has seen before the patch differences.

Pure numpy, no I/O. A frame whose mean brightness (0..1 over pixels and channels) is below
`min_brightness` gets the gamma curve x -> x ** g (g < 1) that would bring a uniform frame of
its mean up to `min_brightness`; brighter frames pass unchanged. Per frame, so a clip's frames
do not depend on which clip they are in; one 256-entry table per frame.

Why: darkness is what costs the classifier most out of its training range. On 24 held-out
videos with only the darkness outside training (an unlit night, 7-14 % of daylight) the
committed classifier's frame AUC was 0.814 against 0.970 with every knob in range; at that
level the encoder sees little but sensor noise. Lifting frames below 0.15 (the darkest training
nights reach about 0.10-0.14) raised the whole out-of-range split (dark, shaking, low
resolution) from 0.768 to 0.834 with the frames stabilised, and changed the same seeds with
every knob in range by -0.002 (docs/MEASUREMENTS.md, "Camera shake and dark footage"). Only frames darker
than `min_brightness` are touched, so footage in the training range keeps what the classifier
learnt on.
"""

from __future__ import annotations

import numpy as np

MIN_GAMMA = 0.25  # the strongest lift: x ** 0.25 (a frame at 0.0004 mean would otherwise blow up)


def lift_dark_frames(frames: np.ndarray, min_brightness: float) -> np.ndarray:
    """uint8 frames [..., H, W, 3] -> uint8, the same shape: each frame darker than
    `min_brightness` (mean of all its values / 255) gamma-lifted towards it; 0 = off."""
    if not 0.0 <= min_brightness < 1.0:
        raise ValueError(f"min_brightness must be in [0, 1), got {min_brightness}")
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim < 3 or frames.shape[-1] != 3:
        raise ValueError(
            f"lift_dark_frames: frames must be uint8 [..., H, W, 3], got {frames.dtype} {frames.shape}"
        )
    if min_brightness == 0.0 or frames.size == 0:
        return frames
    flat = frames.reshape(-1, *frames.shape[-3:])
    mean = flat.reshape(len(flat), -1).mean(1) / 255.0
    dark = np.flatnonzero(mean < min_brightness)
    if not len(dark):
        return frames
    out = flat.copy()
    levels = np.arange(256) / 255.0
    for i in dark:
        g = max(MIN_GAMMA, np.log(min_brightness) / np.log(max(mean[i], 1e-4)))
        out[i] = (levels**g * 255.0 + 0.5).astype(np.uint8)[flat[i]]
    return out.reshape(frames.shape)
