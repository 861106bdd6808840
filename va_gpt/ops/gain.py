"""Undo global brightness changes before the patch differences: every frame at its reference's gain.

Pure numpy, no I/O. Auto gain and exposure steps, a cloud, street lights switching on: the whole
picture brightens or darkens by one factor, every patch's embedding moves, and against the
video's reference (the static-change evidence, va_gpt.ops.evidence) the change never ends, so a
normal video scores high from the step to its end. Each frame is scaled so that its median luma
is the reference's. A change that is local (an explosion's flash, headlights, a person) moves
the median little and keeps its contrast with the rest of the frame.

Per frame against the video's reference, as the other preparations (va_gpt.ops.prepare), so a
clip's frames do not depend on which clip they are in. Measured (docs/MEASUREMENTS.md, "The
stabiliser locked on to snow, and frames at the reference's gain"): served to the committed
classifier, never trained with it, held-out frame AUC on /tmp/a2 0.895 -> 0.911, out of range
0.833 -> 0.833 (/tmp/c2) and 0.862 -> 0.865 (dark only).
"""

from __future__ import annotations

import numpy as np

MAX_GAIN = 2.0  # the strongest correction either way: a frame is scaled by 1/2 to 2
_FLOOR = 1.0  # luma below which a median counts as black (no gain is read from it)


def median_luma(frames: np.ndarray) -> np.ndarray:
    """uint8 [..., H, W, 3] -> float32 [...]: each frame's median of its channel mean (the
    channel sums in uint16, a third of the float work)."""
    frames = np.asarray(frames)
    luma = frames.sum(-1, dtype=np.uint16)
    med = np.median(luma.reshape(*luma.shape[:-2], -1), axis=-1)
    return np.asarray(med, np.float32) / np.float32(3.0)


def match_gain(frames: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """uint8 frames [T, H, W, 3] and reference [H, W, 3] -> uint8 [T, H, W, 3]: each frame
    times (reference's median luma / its own), within 1/MAX_GAIN..MAX_GAIN; a frame at the
    reference's gain is returned unchanged."""
    frames, reference = np.asarray(frames), np.asarray(reference)
    if frames.ndim != 4 or frames.shape[-1] != 3 or reference.shape != frames.shape[1:]:
        raise ValueError(
            f"match_gain: frames must be [T, H, W, 3] and reference [H, W, 3] of the same size, "
            f"got {frames.shape} and {reference.shape}"
        )
    if frames.dtype != np.uint8 or reference.dtype != np.uint8:
        raise ValueError(
            f"match_gain: frames and reference must be uint8, got {frames.dtype} and {reference.dtype}"
        )
    if len(frames) == 0:
        return frames
    ref = max(float(median_luma(reference)), _FLOOR)
    gain = np.clip(ref / np.maximum(median_luma(frames), _FLOOR), 1.0 / MAX_GAIN, MAX_GAIN)
    out = np.array(frames, copy=True)
    levels = np.arange(256, dtype=np.float32)
    for i in np.flatnonzero(np.abs(gain - 1.0) > 1e-3):  # one 256-entry table a frame
        out[i] = np.clip(levels * np.float32(gain[i]) + 0.5, 0, 255).astype(np.uint8)[frames[i]]
    return out
