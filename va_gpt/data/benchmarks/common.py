"""What every benchmark parser shares: the common per-video view, errors, line reading, frame/second conversions.

End convention. Every frame range is half-open, ``[start, end)``: frames
``start .. end-1`` are anomalous. This is VadCLIP's reading (``gt[s:e] = 1`` in
``list/make_gt_ucf.py``); LAVAD reads the same numbers as inclusive ends, which
marks one more frame per event. In seconds an event is ``[start / fps, end / fps)``.
Annotated ends can lie past the video's last frame (UCF ``Arson011_x264`` ends at
1267 in a 1266-frame video); :func:`to_frame_labels` clips them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

# A time in seconds within this many frames of an integer frame index is that
# frame: HIVAU stores seconds rounded to 3 decimals (33.333 s = frame 1000 at 30 fps).
_SNAP_FRAMES = 0.05


class AnnotationError(ValueError):
    """A malformed annotation: names the file, the line (or the JSON entry) and the problem."""

    def __init__(self, path: str | os.PathLike, line: int | None, message: str, *, entry: str | None = None):
        self.path = str(path)
        self.line = line
        self.entry = entry
        self.message = message
        where = self.path
        if line is not None:
            where += f", line {line}"
        if entry is not None:
            where += f", entry {entry!r}"
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class Caption:
    """A piece of text tied to a time span of the video, in seconds, ``[start_s, end_s)``."""

    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True)
class SummarySplit:
    """HIVAU's split summary. Normal videos have no ``analysis`` (None)."""

    judgement: str
    description: str
    analysis: str | None


@dataclass(frozen=True)
class VideoAnnotation:
    """One video's ground truth, the same shape for every source.

    name:         video stem, without extension (``Arson011_x264``)
    source:       ``ucf_crime`` | ``xd_violence`` | ``hivau``
    labels:       anomaly class names, ``()`` for a normal video (UCF class
                  names as written, e.g. ``RoadAccidents``; XD names from
                  :data:`XD_LABELS`, e.g. ``car accident``)
    fps:          native frame rate the annotation refers to
    events_s:     anomalous intervals ``[start_s, end_s)`` in seconds, file order
    n_frames:     number of native frames when the source knows it (HIVAU), else None
    captions:     clip captions (HIVAU); spans in seconds
    event_summaries: one text per annotated HIVAU event with its span; for a
                  normal video these describe ordinary activity, not anomalies
    summary, summary_split: whole-video summary (HIVAU)
    """

    name: str
    source: str
    labels: tuple[str, ...]
    fps: float
    events_s: tuple[tuple[float, float], ...]
    n_frames: int | None = None
    captions: tuple[Caption, ...] = ()
    event_summaries: tuple[Caption, ...] = ()
    summary: str | None = None
    summary_split: SummarySplit | None = None

    @property
    def is_anomalous(self) -> bool:
        return bool(self.labels)

    @property
    def label(self) -> str:
        """First label, or ``normal``."""
        return self.labels[0] if self.labels else "normal"

    def frame_ranges(self) -> list[tuple[int, int]]:
        """Events as half-open native-frame ranges ``[start, end)`` (not clipped to the video)."""
        return [(seconds_to_frame(s, self.fps), seconds_to_frame(e, self.fps)) for s, e in self.events_s]


def seconds_to_frame(t_s: float, fps: float) -> int:
    """Index of the first native frame at or after ``t_s`` (frame i is at ``i / fps``).

    Times within 0.05 frame of an integer index snap to it, so seconds written
    with 3 decimals (HIVAU) map back to the frame they were computed from.
    """
    x = float(t_s) * float(fps)
    r = round(x)
    if abs(x - r) < _SNAP_FRAMES:
        return int(r)
    return int(math.ceil(x))


def frames_to_seconds(ranges: tuple[tuple[int, int], ...], fps: float) -> tuple[tuple[float, float], ...]:
    return tuple((s / fps, e / fps) for s, e in ranges)


# --------------------------------------------------------------------------- line-oriented files


def lines(path: str | os.PathLike) -> Iterator[tuple[int, str]]:
    """(1-based line number, text without newline) for non-blank lines."""
    try:
        with open(path, encoding="utf-8") as f:
            for number, raw in enumerate(f, start=1):
                text = raw.rstrip("\r\n")
                if text.strip():
                    yield number, text
    except OSError as e:
        raise AnnotationError(path, None, f"cannot read file: {e}") from e
    except UnicodeDecodeError as e:
        raise AnnotationError(path, None, f"not UTF-8 text: {e}") from e


def frame_int(path, line: int, token: str, what: str) -> int:
    try:
        return int(token)
    except ValueError:
        raise AnnotationError(path, line, f"{what} is not an integer frame index: {token!r}") from None


def check_range(path, line: int, start: int, end: int, what: str) -> None:
    if start < 0 or end < 0:
        raise AnnotationError(path, line, f"{what}: negative frame index in ({start}, {end})")
    if end < start:
        raise AnnotationError(path, line, f"{what}: end {end} is before start {start}")
    if end == start:
        raise AnnotationError(path, line, f"{what}: empty event, end {end} equals start {start}")


def check_unique(path, line: int, name: str, seen: dict[str, int]) -> None:
    if name in seen:
        raise AnnotationError(path, line, f"duplicate video {name!r} (first on line {seen[name]})")
    seen[name] = line


# --------------------------------------------------------------------------- uniform view


class Annotation(Protocol):
    """Any parsed annotation of a video (UCF, XD, HIVAU): it converts to the common view."""

    def to_video(self) -> VideoAnnotation: ...


def to_video_annotation(annotation: Annotation) -> VideoAnnotation:
    """The common :class:`VideoAnnotation` of any parsed annotation (identity for one already)."""
    if isinstance(annotation, VideoAnnotation):
        return annotation
    if callable(getattr(annotation, "to_video", None)):
        return annotation.to_video()
    raise TypeError(f"not an annotation: {type(annotation).__name__}")


def to_frame_labels(annotation: Annotation, n_frames: int) -> np.ndarray:
    """Per-native-frame ground truth: int8 array of shape (n_frames,), 1 inside any anomalous event.

    Events are half-open ``[start, end)`` in native frames (VadCLIP's reading),
    clipped to ``[0, n_frames)``; overlapping events take their union; a normal
    video is all zeros (HIVAU's ordinary-activity events are not anomalies).
    ``n_frames`` is the caller's frame count (the decoded video's, or the
    source's ``n_frames``); it need not match the source's.
    """
    if isinstance(n_frames, bool) or not isinstance(n_frames, int | np.integer) or n_frames < 0:
        raise ValueError(f"n_frames must be a non-negative integer, got {n_frames!r}")
    video = to_video_annotation(annotation)
    out = np.zeros(int(n_frames), dtype=np.int8)
    if not video.is_anomalous:
        return out
    for start, end in video.frame_ranges():
        start, end = max(start, 0), min(end, int(n_frames))
        if end > start:
            out[start:end] = 1
    return out
