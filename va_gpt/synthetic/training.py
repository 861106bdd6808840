"""Synthetic videos for training the anomaly classifier: rendered, sampled and resized as served.

A `va_gpt.synthetic.scene` scene is rendered at its native fps, every
native_fps / fps-th frame kept (the decode stage's sampling), each frame
resized to the encoder input with the serving path's own resize
(va_gpt.video.preprocess), and each kept frame labelled as its native frame (Scene.frame_labels).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from va_gpt.synthetic.domain import sample_domain
from va_gpt.synthetic.scene import make_scene
from va_gpt.video.preprocess import resize_frames


@dataclass
class SyntheticVideo:
    kind: str | None  # the injected anomaly, None for a normal video
    frames: np.ndarray  # uint8 [T, S, S, 3] at the decode fps, resized to the encoder input
    t: np.ndarray  # [T] seconds
    frame_labels: np.ndarray  # [T] 1 where an event covers the frame, else 0
    look: str = "plain"  # the randomized domain's time of day (day | dusk | night), else plain


def synthetic_video(
    seed: int,
    kind: str | None,
    image_size: int,
    duration_s: float = 20.0,
    fps: float = 2.0,
    width: int | None = 160,
    height: int | None = 120,
    native_fps: float = 30.0,
    domain_split: str | None = None,
    event_start_s: float | None = None,
) -> SyntheticVideo:
    """Render a scene at `native_fps`, keep every native_fps / fps-th frame (the decode stage's
    sampling), resize to the encoder input as serving does, and label the kept frames.
    `domain_split` (train | val | test | out_of_range, va_gpt.synthetic.domain): a randomized
    look drawn from the seed (light, night, shake, weather, hard negatives), rendered at
    `width` x `height` (None: the camera's own drawn resolution, 320x240 to 1280x720) and
    `native_fps` all the same; None: the plain renderer (which needs width and height).
    `event_start_s`: when the anomaly starts (None: the renderer's own draw, 25-45 % into the video)."""
    domain = None
    if domain_split is not None:
        rng = np.random.default_rng([seed, 29])
        size = None if width is None or height is None else (width, height)
        domain = sample_domain(rng, domain_split, size=size, fps=native_fps)
    if domain is None:
        scene = make_scene(
            seed, kind, duration_s=duration_s, width=width, height=height, fps=native_fps,
            event_start_s=event_start_s,
        )  # fmt: skip
    else:
        scene = make_scene(seed, kind, duration_s=duration_s, domain=domain, event_start_s=event_start_s)
    step = native_fps / fps
    idx = np.unique(np.round(np.arange(0, len(scene), step)).astype(int))
    idx = idx[idx < len(scene)]
    t = idx / native_fps
    frames = resize_frames(np.stack([scene.frame(int(i)) for i in idx]), image_size)
    look = "plain" if domain is None else domain.time_of_day
    return SyntheticVideo(kind, frames, t, scene.frame_labels()[idx].astype(np.int64), look)
