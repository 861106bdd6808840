"""Frame preparation before the patch differences: the one order the visual stage and training share.

Frames darker than `min_brightness` are lifted (va_gpt.ops.low_light), the reference with them,
then every frame is aligned to the lifted reference when `stabilise` (va_gpt.ops.stabilise), then
brought to the reference's gain when `match_gain` (va_gpt.ops.gain). Each
frame's result depends on it and the reference only, so a clip's frames do not depend on which
clip they are in (scores stay independent of scheduling). Settings: the preset's `sets`.

The nightly prepares frames in its decode stage (CPU tasks, as many as the cluster has cores), not
in the visual stage's GPU actor: on a GPU the preparation (a few ms a frame on one core) would
bound the actor far below its encoder (jobs/bench_gpu.py, README "On a GPU"). A clip row says
how its frames were prepared (`Preparation.label`), and the visual stage checks it against its preset.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from va_gpt.ops.gain import match_gain as to_reference_gain
from va_gpt.ops.low_light import lift_dark_frames
from va_gpt.ops.stabilise import stabilise as align_to


@dataclass(frozen=True)
class Preparation:
    """The preset's frame preparation (its `sets` keys of the same names); the default does nothing."""

    stabilise: bool = False
    min_brightness: float = 0.0
    match_gain: bool = False

    @classmethod
    def of(cls, sets) -> Preparation:
        """From a `va_gpt.config.SetsConfig`."""
        return cls(bool(sets.stabilise), float(sets.min_brightness), bool(sets.match_gain))

    @property
    def active(self) -> bool:
        return self.stabilise or self.min_brightness > 0 or self.match_gain

    @property
    def label(self) -> str:
        """What these settings did, as a clip row records it ("stabilise=True min_brightness=0.15",
        then " match_gain=True" when on): the visual stage compares it with its own preset's."""
        gain = " match_gain=True" if self.match_gain else ""
        return f"stabilise={self.stabilise} min_brightness={self.min_brightness:g}{gain}"

    def __call__(self, frames: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 frames [T, S, S, 3] and the video's reference [S, S, 3] -> both prepared."""
        frames = lift_dark_frames(frames, self.min_brightness)
        reference = lift_dark_frames(reference, self.min_brightness)
        if self.stabilise:
            frames = align_to(frames, reference)
        if self.match_gain:
            frames = to_reference_gain(frames, reference)
        return frames, reference


RAW = Preparation()  # frames as decoded: nothing prepared
