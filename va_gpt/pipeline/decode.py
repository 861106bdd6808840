"""Decode stage of the nightly pipeline: the Ray Data callable over va_gpt.video.clips."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from va_gpt.ops.prepare import RAW, Preparation
from va_gpt.video.clips import Clip, check_args, iter_clips
from va_gpt.video.container import DEFAULT_THREADS
from va_gpt.video.errors import DecodeError

OUTPUT_COLUMNS = (
    "video_id",
    "uri",
    "clip_index",
    "frames",
    "t",
    "first_is_overlap",
    "context",
    "reference",
    "background",
    "prepared",
    "partial",
    "is_last",
    "error_kind",
    "error_message",
    "duration_s",
    "native_fps",
    "codec",
    "width",
    "height",
    "has_audio",
    "strategy",
)


class Decode:
    """Ray Data `map_batches` callable: rows with `uri` and `video_id` -> one batch per clip.

    Output columns (OUTPUT_COLUMNS): video_id, uri, clip_index, frames uint8
    [1, T, size, size, 3], t float64 [1, T], first_is_overlap, context (leading frames of
    earlier clips: `context` of them, fewer at the video start), reference uint8
    [1, size, size, 3] (the video's first sample), background uint8 [1, B, size, size, 3] (B = 1:
    the per-pixel median of the video's first `background_samples` samples, each prepared
    (va_gpt.video.clips), whatever `prepared` says of the frames; B = 0 when that is 1, and on error
    rows), prepared (how frames and reference were prepared,
    va_gpt.ops.prepare.Preparation.label: the visual stage then leaves them as they are; None: raw), partial, is_last,
    error_kind, error_message, and video facts (duration_s, native_fps, codec, width,
    height, has_audio, strategy). Other input columns are carried through unchanged.

    A video that fails yields one row with `error_kind` set and empty frames
    [1, 0, size, size, 3]; a storage error in the middle of a video yields that row
    after the clips already emitted (treat a video with any error row as failed). A
    damaged video's last clip has `partial` True and `error_message` saying why, with
    `error_kind` None. Nothing is raised for bad input.
    """

    def __init__(
        self,
        fps: float,
        clip_len: int,
        size: int,
        strategy: str = "auto",
        storage_options: dict | None = None,
        threads: int = DEFAULT_THREADS,
        context: int = 1,
        prepare: Preparation = RAW,
        background_samples: int = 1,
    ):
        check_args(fps, size, clip_len, strategy)
        if background_samples < 1:
            raise ValueError(f"background_samples must be >= 1, got {background_samples}")
        self.background_samples = int(background_samples)
        # frame preparation (va_gpt.ops.prepare) happens here, on the decode tasks' cores;
        # `prepared` is what the rows say of it (None when there is nothing to do: raw frames)
        self.prepare = prepare
        self.prepared = prepare.label if prepare.active else None
        self.context = int(context)
        self.fps = float(fps)
        self.clip_len = int(clip_len)
        self.size = int(size)
        self.strategy = strategy
        self.storage_options = dict(storage_options or {})
        self.threads = threads

    @classmethod
    def from_config(
        cls, cfg, size: int, storage_options: dict | None = None, context: int = 1, sets=None
    ) -> Decode:
        """From a `va_gpt.config.DecodeConfig`, the encoder's image size, the context frames
        the visual stage needs (va_gpt.pipeline.visual.context_frames) and the preset's
        `SetsConfig` whose frame preparation to apply (None: none)."""
        prepare = RAW if sets is None else Preparation.of(sets)
        return cls(
            cfg.fps, cfg.clip_len, size, cfg.strategy, storage_options, context=context, prepare=prepare,
            background_samples=1 if sets is None else sets.background_samples,
        )  # fmt: skip

    def __call__(self, batch: dict[str, np.ndarray]) -> Iterator[dict[str, np.ndarray]]:
        for col in ("uri", "video_id"):
            if col not in batch:
                raise KeyError(f"Decode needs a {col!r} column; got {sorted(batch)}")
        n = len(batch["uri"])
        extra = [c for c in batch if c not in OUTPUT_COLUMNS]
        for i in range(n):
            carry = {c: batch[c][i] for c in extra}
            yield from self._video(str(batch["uri"][i]), str(batch["video_id"][i]), carry)

    def _video(self, uri: str, video_id: str, carry: dict) -> Iterator[dict[str, np.ndarray]]:
        next_index = 0
        try:
            for clip in iter_clips(
                uri,
                fps=self.fps,
                clip_len=self.clip_len,
                size=self.size,
                strategy=self.strategy,
                storage_options=self.storage_options,
                video_id=video_id,
                threads=self.threads,
                context=self.context,
                background_samples=self.background_samples,
                prepare=self.prepare,
            ):
                next_index = clip.index + 1
                yield self._clip_row(clip, carry)
        except DecodeError as e:
            yield self._error_row(video_id, uri, next_index, e.kind, e.message, carry)
        except Exception as e:  # a bug here, not bad input: still a row, never a crash
            msg = f"{uri}: internal error in the decode stage: {type(e).__name__}: {e}"
            yield self._error_row(video_id, uri, next_index, "corrupt", msg, carry)

    @staticmethod
    def _col(value, dtype=object) -> np.ndarray:
        out = np.empty(1, dtype=dtype)
        out[0] = value
        return out

    def _row(self, carry: dict, **cols) -> dict[str, np.ndarray]:
        row = {k: self._col(v) if not isinstance(v, np.ndarray) else v for k, v in cols.items()}
        for c, v in carry.items():
            row[c] = np.asarray([v])
        return row

    def _clip_row(self, clip: Clip, carry: dict) -> dict[str, np.ndarray]:
        info = clip.info
        message = None
        if clip.partial and clip.summary is not None:
            message = f"{clip.uri}: partial: {clip.summary.damage}"
        frames, reference = clip.frames, clip.reference
        background = (
            np.zeros((0, *reference.shape), np.uint8) if clip.background is None else clip.background[None]
        )
        if self.prepared is not None:
            frames, reference = self.prepare(frames, reference)
        return self._row(
            carry,
            video_id=clip.video_id,
            uri=clip.uri,
            clip_index=np.asarray([clip.index], np.int64),
            frames=frames[None],
            t=clip.t[None],
            first_is_overlap=np.asarray([clip.first_is_overlap]),
            context=np.asarray([clip.context], np.int64),
            reference=reference[None],
            background=background[None],
            prepared=self.prepared,  # None: the visual stage prepares the raw frames its preset's way
            partial=np.asarray([clip.partial]),
            is_last=np.asarray([clip.is_last]),
            error_kind=None,
            error_message=message,
            duration_s=np.asarray([np.nan if info.duration_s is None else info.duration_s]),
            native_fps=np.asarray([np.nan if info.fps is None else info.fps]),
            codec=info.codec,
            width=np.asarray([info.width], np.int64),
            height=np.asarray([info.height], np.int64),
            has_audio=np.asarray([info.has_audio]),
            strategy=clip.summary.strategy if clip.summary else None,
        )

    def _error_row(self, video_id, uri, index, kind, message, carry) -> dict[str, np.ndarray]:
        s = self.size
        return self._row(
            carry,
            video_id=video_id,
            uri=uri,
            clip_index=np.asarray([index], np.int64),
            frames=np.zeros((1, 0, s, s, 3), np.uint8),
            t=np.zeros((1, 0), np.float64),
            first_is_overlap=np.asarray([False]),
            context=np.asarray([0], np.int64),
            reference=np.zeros((1, s, s, 3), np.uint8),
            background=np.zeros((1, 0, s, s, 3), np.uint8),
            prepared=None,
            partial=np.asarray([False]),
            is_last=np.asarray([True]),
            error_kind=kind,
            error_message=message,
            duration_s=np.asarray([np.nan]),
            native_fps=np.asarray([np.nan]),
            codec=None,
            width=np.asarray([0], np.int64),
            height=np.asarray([0], np.int64),
            has_audio=np.asarray([False]),
            strategy=None,
        )
