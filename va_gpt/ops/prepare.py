"""Frame preparation before the patch differences: the one order the visual stage and training share.

Frames darker than `min_brightness` are lifted (va_gpt.ops.low_light), the reference with them,
then every frame is aligned to the lifted reference when `stabilise` (va_gpt.ops.stabilise), then
brought to the reference's gain when `match_gain` (va_gpt.ops.gain). Each
frame's result depends on it and the reference only, so a clip's frames do not depend on which
clip they are in (scores stay independent of scheduling). Settings: the preset's `sets`.

The nightly prepares frames in its decode stage (CPU tasks, as many as the cluster has cores), not
in the visual stage's GPU actor: on a GPU the preparation (a few ms a frame on one core) would
bound the actor far below its encoder (jobs/bench_gpu.py, README "On a GPU"). A clip row says
how its frames were prepared (`preparation`), and the visual stage checks it against its preset.
"""

from __future__ import annotations

import numpy as np

from va_gpt.ops.gain import match_gain as to_reference_gain
from va_gpt.ops.low_light import lift_dark_frames
from va_gpt.ops.stabilise import stabilise as align_to


def prepare_frames(
    frames: np.ndarray,
    reference: np.ndarray,
    stabilise: bool,
    min_brightness: float,
    match_gain: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """uint8 frames [T, S, S, 3] and the video's reference [S, S, 3] -> both prepared."""
    frames = lift_dark_frames(frames, min_brightness)
    reference = lift_dark_frames(reference, min_brightness)
    if stabilise:
        frames = align_to(frames, reference)
    if match_gain:
        frames = to_reference_gain(frames, reference)
    return frames, reference


def preparation(stabilise: bool, min_brightness: float, match_gain: bool = False) -> str:
    """What `prepare_frames` with these settings did, as a clip row records it ("stabilise=True
    min_brightness=0.15", then " match_gain=True" when on): the visual stage compares it with its
    own preset's."""
    gain = " match_gain=True" if match_gain else ""
    return f"stabilise={bool(stabilise)} min_brightness={float(min_brightness):g}{gain}"
