"""Object-store video -> fixed-length clips of sampled, resized RGB frames.

- `iter_clips(uri, fps=, clip_len=, size=, strategy=, storage_options=, video_id=)`:
  a generator of `Clip`s; memory is bounded by one clip (plus one decoded frame).
- `decode_window(uri, start_s, end_s, fps=, size=)`: the samples of one time window,
  found by seeking to the keyframe before `start_s` (re-decoding around an interval).

Which frames are sampled and how: va_gpt.video.sampling. Opening and probing:
va_gpt.video.container (`probe`). Failures: va_gpt.video.errors (`DecodeError`); a
damaged video's last clip has `partial=True` and its `VideoSummary` says why. Frames
are resized by va_gpt.video.preprocess, the one resize training uses too. The Ray Data
callable over `iter_clips` is va_gpt.pipeline.decode.Decode.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from va_gpt.video.container import DEFAULT_THREADS, Video, VideoInfo
from va_gpt.video.errors import DecodeError
from va_gpt.video.frames import Run, sampled_frames, zero_frames_error
from va_gpt.video.preprocess import frame_to_rgb
from va_gpt.video.sampling import STRATEGIES, Sampler, choose_strategy


@dataclass(frozen=True)
class VideoSummary:
    """How the decode of one video ended; carried by its last clip."""

    strategy: str  # the strategy actually used (auto resolved)
    samples: int  # distinct sampled frames (overlap frames counted once)
    clips: int
    decoded_frames: int  # frames the decoder produced (work done)
    seeks: int
    glitches: int  # decode errors skipped (each loses the frames up to the next keyframe)
    partial: bool  # damaged after the yielded frames
    damage: str | None  # why, in plain words


@dataclass
class Clip:
    video_id: str
    uri: str
    index: int
    frames: np.ndarray  # uint8 [T, size, size, 3] RGB
    t: np.ndarray  # float64 [T], seconds from video start (the frames' own timestamps)
    first_is_overlap: bool  # frames[0] is the previous clip's last frame (context > 0)
    partial: bool  # the video was damaged after these frames (only ever on the last clip)
    is_last: bool
    info: VideoInfo
    summary: VideoSummary | None = None  # on the last clip only
    context: int = 0  # leading frames that belong to earlier clips (scored there, context here)
    reference: np.ndarray | None = None  # uint8 [size, size, 3]: the video's first sample
    # uint8 [size, size, 3]: the per-pixel median of the video's first `background_samples`
    # samples, each prepared against the reference (iter_clips), or None when asked for none
    background: np.ndarray | None = None


def check_args(fps: float, size: int, clip_len: int | None = None, strategy: str = "auto") -> None:
    """ValueError for decode arguments that cannot work (before any object is opened)."""
    if not fps or fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    if size <= 0:
        raise ValueError(f"size must be > 0, got {size}")
    if clip_len is not None and clip_len < 2:
        raise ValueError(f"clip_len must be >= 2 (one overlap frame + at least one new), got {clip_len}")
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")


def iter_clips(
    uri: str,
    *,
    fps: float,
    clip_len: int,
    size: int,
    strategy: str = "auto",
    storage_options: dict | None = None,
    video_id: str | None = None,
    threads: int = DEFAULT_THREADS,
    context: int = 1,
    background_samples: int = 1,
    prepare: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None,
) -> Iterator[Clip]:
    """Sampled, resized clips of one video, as a generator (memory: one clip).

    Clip 0 holds the first `clip_len` samples, every later clip the next `clip_len - 1`
    (at least 1 for the last), whatever `context` is. Each clip after the first starts
    with the `context` samples before its own (fewer near the video start: all there are),
    so a stage that needs history (a difference to the previous frame, the classifier's
    receptive field) has it in the clip and never depends on which worker saw the clip
    before. With context=1 every clip but the last has `clip_len` frames, the first one
    shared with the previous clip (a video with a single sample gives one 1-frame clip).
    Every clip also carries `reference`, the video's first sample (the background the
    static-change evidence compares with, va_gpt.ops.evidence), and with `background_samples`
    > 1 `background`, the per-pixel median of its first that many samples (all it has when
    shorter; sets.background_samples), each first prepared against the reference by `prepare`
    (the preset's va_gpt.ops.prepare.Preparation; None: as decoded): aligned first, a shaking
    camera's median is not a blur. The frames and reference stay as decoded. No clip is yielded
    before those samples are read, so every clip of a video carries the same background whoever
    reads which. Raises DecodeError (the clips read before it are yielded first).
    """
    check_args(fps, size, clip_len, strategy)
    if context < 0:
        raise ValueError(f"context must be >= 0 frames, got {context}")
    if background_samples < 1:
        raise ValueError(f"background_samples must be >= 1, got {background_samples}")
    if background_samples == 1:
        yield from _clips(uri, fps, clip_len, size, strategy, storage_options, video_id, threads, context, [])
        return
    head: list[np.ndarray] = []  # the first background_samples samples, as _clips reads them
    held: list[Clip] = []
    background = None

    def release() -> Iterator[Clip]:
        nonlocal background
        if background is None:
            samples = np.stack(head)
            background = background_frame(samples if prepare is None else prepare(samples, head[0])[0])
        for c in held:
            c.background = background
        yield from held
        held.clear()

    clips = _clips(
        uri,
        fps,
        clip_len,
        size,
        strategy,
        storage_options,
        video_id,
        threads,
        context,
        head,
        background_samples,
    )
    try:
        for clip in clips:
            held.append(clip)
            if len(head) >= background_samples:
                yield from release()
    except DecodeError:
        if held:
            yield from release()
        raise
    if held:
        yield from release()


def background_frame(samples: np.ndarray) -> np.ndarray:
    """uint8 samples [K, S, S, 3] (a video's first K, prepared) -> their per-pixel median [S, S, 3]
    uint8 (rounded): the scene without whoever passed through it then. Training makes it the same
    way (va_gpt.train.classifier.video_inputs)."""
    if samples.ndim != 4 or samples.shape[-1] != 3 or samples.dtype != np.uint8 or not len(samples):
        raise ValueError(f"samples must be uint8 [K >= 1, S, S, 3], got {samples.dtype} {samples.shape}")
    return np.rint(np.median(samples, axis=0)).astype(np.uint8)


def _clips(
    uri: str,
    fps: float,
    clip_len: int,
    size: int,
    strategy: str,
    storage_options: dict | None,
    video_id: str | None,
    threads: int,
    context: int,
    head: list,
    keep_head: int = 0,
) -> Iterator[Clip]:
    """iter_clips without the background; appends the first `keep_head` samples to `head`."""
    video_id = uri if video_id is None else video_id
    with Video(uri, storage_options, threads) as vid:
        run = Run(choose_strategy(vid, fps) if strategy == "auto" else strategy)
        info = vid.info
        buf_f: list[np.ndarray] = []
        buf_t: list[float] = []
        pending: Clip | None = None
        index = 0
        samples = 0
        ctx = 0  # leading context frames in buf_f
        reference = None

        def make() -> Clip:
            return Clip(
                video_id=video_id,
                uri=uri,
                index=index,
                frames=np.stack(buf_f),
                t=np.asarray(buf_t, dtype=np.float64),
                first_is_overlap=ctx > 0,
                partial=False,
                is_last=False,
                info=info,
                context=ctx,
                reference=reference,
            )

        sampler = Sampler(fps)
        for t, frame in sampled_frames(vid, sampler, run):
            samples += 1
            arr = frame_to_rgb(frame, size)
            if reference is None:
                reference = arr
            if len(head) < keep_head:
                head.append(arr)
            if pending is not None:
                yield pending
                pending = None
            buf_f.append(arr)
            buf_t.append(t)
            if len(buf_f) - ctx == (clip_len if index == 0 else clip_len - 1):
                pending = make()
                index += 1
                keep = min(context, len(buf_f))
                buf_f, buf_t = (buf_f[-keep:], buf_t[-keep:]) if keep else ([], [])
                ctx = keep
        if run.error is not None:
            if pending is not None:
                yield pending
            raise run.error
        if samples == 0:
            raise zero_frames_error(vid, run)
        partial = run.damage is not None
        if pending is not None and len(buf_f) <= ctx:
            last = pending
        else:
            if pending is not None:
                yield pending
            last = make()
            index += 1
        summary = VideoSummary(
            strategy=run.strategy,
            samples=samples,
            clips=last.index + 1,
            decoded_frames=run.decoded,
            seeks=vid.seeks,
            glitches=run.glitches,
            partial=partial,
            damage=run.damage,
        )
        last.is_last = True
        last.partial = partial
        last.summary = summary
        yield last


def decode_window(
    uri: str,
    start_s: float,
    end_s: float,
    *,
    fps: float,
    size: int,
    storage_options: dict | None = None,
    threads: int = DEFAULT_THREADS,
) -> tuple[np.ndarray, np.ndarray]:
    """The samples (same grid k / fps as `iter_clips`) with start_s <= target <= end_s.

    Seeks to the keyframe before `start_s` and decodes forward. Returns
    (frames uint8 [T, size, size, 3], t float64 [T]); T may be 0 when the window lies
    past the end of the video. Raises DecodeError.
    """
    check_args(fps, size)
    if end_s < start_s:
        raise ValueError(f"end_s ({end_s}) must be >= start_s ({start_s})")
    with Video(uri, storage_options, threads) as vid:
        run = Run("seek")
        sampler = Sampler(fps, start_s, end_s)
        frames: list[np.ndarray] = []
        times: list[float] = []
        for t, frame in sampled_frames(vid, sampler, run):
            frames.append(frame_to_rgb(frame, size))
            times.append(t)
        if run.error is not None:
            raise run.error
        if not frames and run.decoded == 0 and run.damage is not None:
            raise zero_frames_error(vid, run)
        if not frames:
            return np.zeros((0, size, size, 3), np.uint8), np.zeros((0,), np.float64)
        return np.stack(frames), np.asarray(times, dtype=np.float64)
