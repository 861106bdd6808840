"""The one frame preprocessing: a decoded picture -> RGB uint8 at the encoder's square size.

Serving (the decode stage) and training (frames rendered or decoded as arrays) both go
through `frame_to_rgb`, so a model sees the same pixels in both: the whole frame is
stretched to `size` x `size` by FFmpeg's swscale (PyAV `VideoFrame.reformat`, its default
interpolation), converting to rgb24 in the same step.
"""

from __future__ import annotations

import av
import numpy as np


def frame_to_rgb(frame: av.VideoFrame, size: int) -> np.ndarray:
    """A decoded frame (any pixel format) -> uint8 [size, size, 3] RGB."""
    return frame.reformat(width=size, height=size, format="rgb24").to_ndarray()


def resize_frames(frames: np.ndarray, size: int) -> np.ndarray:
    """uint8 [N, H, W, 3] RGB -> uint8 [N, size, size, 3]: exactly `frame_to_rgb` of each picture."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 [N, H, W, 3], got {frames.dtype} {list(frames.shape)}")
    out = np.empty((len(frames), size, size, 3), np.uint8)
    for i, picture in enumerate(frames):
        out[i] = frame_to_rgb(av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="rgb24"), size)
    return out
