"""Frame preparation before the patch differences: the one order the visual stage and training share.

Frames darker than `min_brightness` are lifted (va_gpt.ops.low_light), the reference with them,
then every frame is aligned to the lifted reference when `stabilise` (va_gpt.ops.stabilise). Each
frame's result depends on it and the reference only, so a clip's frames do not depend on which
clip they are in (scores stay independent of scheduling). Settings: the preset's `sets`.
"""

from __future__ import annotations

import numpy as np

from va_gpt.ops.low_light import lift_dark_frames
from va_gpt.ops.stabilise import stabilise as align_to


def prepare_frames(
    frames: np.ndarray, reference: np.ndarray, stabilise: bool, min_brightness: float
) -> tuple[np.ndarray, np.ndarray]:
    """uint8 frames [T, S, S, 3] and the video's reference [S, S, 3] -> both prepared."""
    frames = lift_dark_frames(frames, min_brightness)
    reference = lift_dark_frames(reference, min_brightness)
    if stabilise:
        frames = align_to(frames, reference)
    return frames, reference
