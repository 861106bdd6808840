"""Synthetic videos for training the anomaly classifier: rendered, sampled and resized as served.

A `va_gpt.synthetic.scene` scene is rendered at its native fps, every
native_fps / fps-th frame kept (the decode stage's sampling), each frame
resized to the encoder input with the serving path's own resize
(va_gpt.video.preprocess), and each kept frame labelled as its native frame (Scene.frame_labels).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from va_gpt.models.classifier import KINDS
from va_gpt.synthetic.domain import check_event_hard_negative_p, sample_domain
from va_gpt.synthetic.scene import Scene, make_scene
from va_gpt.video.preprocess import resize_frames

BACKGROUND, NORMAL_ACTOR = 0, 1  # patch classes; an event actor's is 1 + KINDS.index(kind)


def patch_labels(scene: Scene, i: int, event_on: bool, grid: tuple[int, int]) -> np.ndarray:
    """int8 [gh, gw] class per patch of native frame `i` resized to the encoder input: an event
    actor's box (while `event_on`) is its kind's class, any other actor's box NORMAL_ACTOR, the
    rest BACKGROUND; where boxes overlap the event wins."""
    gh, gw = grid
    out = np.zeros(grid, np.int8)
    kind = scene.anomaly
    for _, role, (x0, y0, x1, y1) in scene.actor_boxes(int(i)):
        cls = 1 + KINDS.index(kind) if role == "anomaly" and event_on and kind else NORMAL_ACTOR
        gx0, gx1 = int(x0 * gw / scene.width), int(np.ceil(x1 * gw / scene.width))
        gy0, gy1 = int(y0 * gh / scene.height), int(np.ceil(y1 * gh / scene.height))
        sl = out[max(gy0, 0) : min(gy1, gh), max(gx0, 0) : min(gx1, gw)]
        np.maximum(sl, cls, out=sl)
    return out


@dataclass
class SyntheticVideo:
    kind: str | None  # the injected anomaly, None for a normal video
    frames: np.ndarray  # uint8 [T, S, S, 3] at the decode fps, resized to the encoder input
    t: np.ndarray  # [T] seconds
    frame_labels: np.ndarray  # [T] 1 where an event covers the frame, else 0
    look: str = "plain"  # the randomized domain's time of day (day | dusk | night), else plain
    # [T, gh * gw] uint8, 1 on the patches of the event's actors while the event is on
    # (patch_labels); only with synthetic_video(..., patch_grid=)
    event_patches: np.ndarray | None = None


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
    patch_grid: tuple[int, int] | None = None,
    event_hard_negative_p: float = 0.0,
) -> SyntheticVideo:
    """Render a scene at `native_fps`, keep every native_fps / fps-th frame (the decode stage's
    sampling), resize to the encoder input as serving does, and label the kept frames.
    `domain_split` (train | val | test | out_of_range, va_gpt.synthetic.domain): a randomized
    look drawn from the seed (light, night, shake, weather, hard negatives), rendered at
    `width` x `height` (None: the camera's own drawn resolution, 320x240 to 1280x720) and
    `native_fps` all the same; None: the plain renderer (which needs width and height).
    `event_start_s`: when the anomaly starts (None: the renderer's own draw, 25-45 % into the video).
    `patch_grid` (gh, gw): also mark the event actors' patches per kept frame (event_patches).
    `event_hard_negative_p`: hard negatives in a video with an event too (sample_domain; needs
    a `domain_split`)."""
    domain = None
    check_event_hard_negative_p(event_hard_negative_p, domain_split)
    if domain_split is not None:
        rng = np.random.default_rng([seed, 29])
        size = None if width is None or height is None else (width, height)
        domain = sample_domain(
            rng, domain_split, size=size, fps=native_fps, event_hard_negative_p=event_hard_negative_p
        )
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
    labels = scene.frame_labels()[idx].astype(np.int64)
    patches = None
    if patch_grid is not None:
        patches = np.stack(
            [
                patch_labels(scene, int(i), bool(on), patch_grid).reshape(-1) > NORMAL_ACTOR
                for i, on in zip(idx, labels)
            ]
        ).astype(np.uint8)
    return SyntheticVideo(kind, frames, t, labels, look, patches)
