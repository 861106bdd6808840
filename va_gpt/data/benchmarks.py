"""Parsers for the public video-anomaly benchmark annotation files.

Formats (the real files are in ``/work/shared/benchmarks``, see its README):

- UCF-Crime ``Temporal_Anomaly_Annotation.txt``: ``name class s1 e1 s2 e2``,
  frame indices at 30 fps, ``-1 -1`` for an absent event.
  -> :func:`parse_ucf_temporal` -> list of :class:`UcfTemporalAnnotation`
- UCF-Crime ``Anomaly_Test.txt``: ``Class/Name.mp4`` -> :func:`parse_ucf_test_list`
- XD-Violence ``annotations.txt``: ``name s1 e1 [s2 e2 ...]`` at 24 fps, labels
  encoded in the name (``..._label_B1-B2-0``) -> :func:`parse_xd_annotations`
- XD-Violence ``annotations_multiclasses.txt``: ``name B4 0 1517 B4 1970 3038``
  -> :func:`parse_xd_multiclass`
- HIVAU-70k raw annotations (JSON keyed by video) -> :func:`parse_hivau`
- HIVAU-70k instruction JSONL (``anwser`` sic) -> :func:`parse_hivau_instructions`

End convention. Every frame range in this module is half-open,
``[start, end)``: frames ``start .. end-1`` are anomalous. This is VadCLIP's
reading (``gt[s:e] = 1`` in ``list/make_gt_ucf.py``); LAVAD reads the same
numbers as inclusive ends, which marks one more frame per event. In seconds an
event is ``[start / fps, end / fps)``. Annotated ends can lie past the video's
last frame (UCF ``Arson011_x264`` ends at 1267 in a 1266-frame video);
:func:`to_frame_labels` clips them.

Every source converts to one :class:`VideoAnnotation` (``.to_video()`` or
:func:`to_video_annotation`), so the instruction builder and the evaluator
treat the sources alike, and :func:`to_frame_labels` turns any of them into
per-native-frame 0/1 ground truth.

Malformed input raises :class:`AnnotationError`, which names the file, the
line (or, for the JSON file, the video) and what is wrong.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "UCF_FPS",
    "XD_FPS",
    "XD_LABELS",
    "AnnotationError",
    "Caption",
    "HivauClip",
    "HivauEvent",
    "HivauInstruction",
    "HivauVideo",
    "SummarySplit",
    "UcfTemporalAnnotation",
    "UcfTestEntry",
    "VideoAnnotation",
    "XdAnnotation",
    "XdMulticlassAnnotation",
    "XdSegment",
    "decode_xd_labels",
    "parse_hivau",
    "parse_hivau_instructions",
    "parse_ucf_temporal",
    "parse_ucf_test_list",
    "parse_xd_annotations",
    "parse_xd_multiclass",
    "seconds_to_frame",
    "to_frame_labels",
    "to_video_annotation",
]

UCF_FPS = 30.0  # native frame rate of the UCF-Crime annotation frame indices
XD_FPS = 24.0  # native frame rate of the XD-Violence annotation frame indices

# XD-Violence label codes (there is no B3). "A" is the normal class.
XD_LABELS: dict[str, str] = {
    "A": "normal",
    "B1": "fighting",
    "B2": "shooting",
    "B4": "riot",
    "B5": "abuse",
    "B6": "car accident",
    "G": "explosion",
}

UCF_NORMAL = "Normal"  # class field of normal videos in Temporal_Anomaly_Annotation.txt
UCF_NORMAL_DIR = "Testing_Normal_Videos_Anomaly"  # folder of normal videos in Anomaly_Test.txt

HIVAU_TYPES = ("video", "event", "clip")

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


# --------------------------------------------------------------------------- common view


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


def _frames_to_seconds(ranges: tuple[tuple[int, int], ...], fps: float) -> tuple[tuple[float, float], ...]:
    return tuple((s / fps, e / fps) for s, e in ranges)


# --------------------------------------------------------------------------- UCF-Crime


@dataclass(frozen=True)
class UcfTemporalAnnotation:
    """A line of UCF-Crime's ``Temporal_Anomaly_Annotation.txt``.

    events: half-open native-frame ranges ``[start, end)`` at 30 fps (VadCLIP
    reading), zero, one or two of them; empty for ``Normal`` videos.
    """

    name: str
    label: str
    events: tuple[tuple[int, int], ...]
    line: int
    fps: float = UCF_FPS

    @property
    def is_anomalous(self) -> bool:
        return self.label != UCF_NORMAL

    @property
    def events_s(self) -> tuple[tuple[float, float], ...]:
        return _frames_to_seconds(self.events, self.fps)

    def to_video(self) -> VideoAnnotation:
        return VideoAnnotation(
            name=self.name,
            source="ucf_crime",
            labels=(self.label,) if self.is_anomalous else (),
            fps=self.fps,
            events_s=self.events_s,
        )


@dataclass(frozen=True)
class UcfTestEntry:
    """A line of UCF-Crime's ``Anomaly_Test.txt``: ``Class/Name.mp4``.

    folder: ``Abuse`` or ``Testing_Normal_Videos_Anomaly``; label: the class,
    ``Normal`` for the normal-videos folder; name: file stem.
    """

    path: str
    folder: str
    name: str
    label: str
    line: int

    @property
    def is_anomalous(self) -> bool:
        return self.label != UCF_NORMAL


def _lines(path: str | os.PathLike) -> Iterator[tuple[int, str]]:
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


def _int(path, line: int, token: str, what: str) -> int:
    try:
        return int(token)
    except ValueError:
        raise AnnotationError(path, line, f"{what} is not an integer frame index: {token!r}") from None


def _check_range(path, line: int, start: int, end: int, what: str) -> None:
    if start < 0 or end < 0:
        raise AnnotationError(path, line, f"{what}: negative frame index in ({start}, {end})")
    if end < start:
        raise AnnotationError(path, line, f"{what}: end {end} is before start {start}")
    if end == start:
        raise AnnotationError(path, line, f"{what}: empty event, end {end} equals start {start}")


def _check_unique(path, line: int, name: str, seen: dict[str, int]) -> None:
    if name in seen:
        raise AnnotationError(path, line, f"duplicate video {name!r} (first on line {seen[name]})")
    seen[name] = line


def parse_ucf_temporal(path: str | os.PathLike) -> list[UcfTemporalAnnotation]:
    """Parse UCF-Crime ``Temporal_Anomaly_Annotation.txt`` (290 test videos), in file order.

    Each line is ``name class s1 e1 s2 e2`` (whitespace-separated); ``-1 -1``
    marks an absent event. Ends are exclusive (see the module docstring).
    Errors: wrong field count, non-integer frame, half-absent pair, end before
    start, a ``Normal`` video with events or an anomalous one without.
    """
    out: list[UcfTemporalAnnotation] = []
    seen: dict[str, int] = {}
    for number, text in _lines(path):
        fields = text.split()
        if len(fields) != 6:
            raise AnnotationError(
                path, number, f"expected 6 fields 'name class s1 e1 s2 e2', got {len(fields)}: {text!r}"
            )
        name, label = fields[0], fields[1]
        frames = [_int(path, number, tok, f"field {i + 3}") for i, tok in enumerate(fields[2:])]
        events: list[tuple[int, int]] = []
        for k in (0, 2):
            s, e = frames[k], frames[k + 1]
            which = f"event {k // 2 + 1}"
            if s == -1 and e == -1:
                continue
            if s == -1 or e == -1:
                raise AnnotationError(path, number, f"{which}: only one of start/end is -1 ({s}, {e})")
            _check_range(path, number, s, e, which)
            events.append((s, e))
        if frames[0] == -1 and frames[2] != -1:
            raise AnnotationError(path, number, "event 2 given without event 1")
        if label == UCF_NORMAL and events:
            raise AnnotationError(path, number, f"Normal video {name!r} has anomaly events")
        if label != UCF_NORMAL and not events:
            raise AnnotationError(path, number, f"anomalous video {name!r} ({label}) has no event")
        _check_unique(path, number, name, seen)
        out.append(UcfTemporalAnnotation(name=name, label=label, events=tuple(events), line=number))
    return out


def parse_ucf_test_list(path: str | os.PathLike) -> list[UcfTestEntry]:
    """Parse UCF-Crime ``Anomaly_Test.txt``: one ``Class/Name.mp4`` per line, in file order."""
    out: list[UcfTestEntry] = []
    seen: dict[str, int] = {}
    for number, text in _lines(path):
        entry = text.strip()
        parts = entry.split("/")
        if len(parts) != 2 or not parts[0] or not parts[1] or any(c.isspace() for c in entry):
            raise AnnotationError(path, number, f"expected 'Class/Name.mp4', got {text!r}")
        folder, filename = parts
        if not filename.endswith(".mp4") or filename == ".mp4":
            raise AnnotationError(path, number, f"expected an .mp4 file name, got {filename!r}")
        name = filename[: -len(".mp4")]
        label = UCF_NORMAL if folder == UCF_NORMAL_DIR else folder
        _check_unique(path, number, name, seen)
        out.append(UcfTestEntry(path=entry, folder=folder, name=name, label=label, line=number))
    return out


# --------------------------------------------------------------------------- XD-Violence


def decode_xd_labels(name: str) -> tuple[str, ...]:
    """Label codes from an XD-Violence name: ``..._label_B2-G-0`` -> ``("B2", "G")``.

    A trailing ``.mp4`` (present on some annotation lines) is ignored, ``0``
    fills unused slots. Raises ValueError for a name without ``_label_``, an
    unknown code, or ``A`` (normal) mixed with violent codes.
    """
    stem = name[: -len(".mp4")] if name.endswith(".mp4") else name
    if "_label_" not in stem:
        raise ValueError(f"no '_label_' in video name {name!r}")
    codes = [c for c in stem.rsplit("_label_", 1)[1].split("-") if c != "0"]
    if not codes:
        raise ValueError(f"no label code in video name {name!r}")
    for c in codes:
        if c not in XD_LABELS:
            raise ValueError(
                f"unknown label code {c!r} in video name {name!r} (known: {', '.join(XD_LABELS)})"
            )
    if "A" in codes and len(codes) > 1:
        raise ValueError(f"normal label 'A' mixed with violent labels in {name!r}")
    if len(set(codes)) != len(codes):
        raise ValueError(f"repeated label code in video name {name!r}")
    return tuple(codes)


def _xd_name(path, number: int, raw: str) -> tuple[str, tuple[str, ...]]:
    try:
        codes = decode_xd_labels(raw)
    except ValueError as e:
        raise AnnotationError(path, number, str(e)) from None
    name = raw[: -len(".mp4")] if raw.endswith(".mp4") else raw
    return name, codes


@dataclass(frozen=True)
class XdAnnotation:
    """A line of XD-Violence ``annotations.txt``.

    name: video stem (a trailing ``.mp4`` on the line is dropped; ``raw_name``
    keeps the line's spelling); codes: label codes decoded from the name, e.g.
    ``("B1", "B2")``; events: half-open frame ranges at 24 fps, file order.
    """

    name: str
    raw_name: str
    codes: tuple[str, ...]
    events: tuple[tuple[int, int], ...]
    line: int
    fps: float = XD_FPS

    @property
    def labels(self) -> tuple[str, ...]:
        """Readable class names, e.g. ``("fighting", "shooting")``; ``()`` for normal."""
        return tuple(XD_LABELS[c] for c in self.codes if c != "A")

    @property
    def is_anomalous(self) -> bool:
        return self.codes != ("A",)

    @property
    def events_s(self) -> tuple[tuple[float, float], ...]:
        return _frames_to_seconds(self.events, self.fps)

    def to_video(self) -> VideoAnnotation:
        return VideoAnnotation(
            name=self.name, source="xd_violence", labels=self.labels, fps=self.fps, events_s=self.events_s
        )


@dataclass(frozen=True)
class XdSegment:
    """One class-tagged segment of ``annotations_multiclasses.txt``: ``[start, end)`` frames at 24 fps."""

    code: str
    start: int
    end: int

    @property
    def label(self) -> str:
        return XD_LABELS[self.code]


@dataclass(frozen=True)
class XdMulticlassAnnotation:
    """A line of XD-Violence ``annotations_multiclasses.txt``.

    segments keep the file's order. In the real file segments can overlap, be
    out of order, and carry a class that is not in the name (``Ip.Man.2008``
    is named B4 with a B1 segment): they are kept as written.
    ``codes`` are decoded from the name, as in :class:`XdAnnotation`.
    """

    name: str
    raw_name: str
    codes: tuple[str, ...]
    segments: tuple[XdSegment, ...]
    line: int
    fps: float = XD_FPS

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(XD_LABELS[c] for c in self.codes if c != "A")

    @property
    def is_anomalous(self) -> bool:
        return self.codes != ("A",)

    @property
    def events(self) -> tuple[tuple[int, int], ...]:
        return tuple((s.start, s.end) for s in self.segments)

    @property
    def events_s(self) -> tuple[tuple[float, float], ...]:
        return _frames_to_seconds(self.events, self.fps)

    def to_video(self) -> VideoAnnotation:
        return VideoAnnotation(
            name=self.name, source="xd_violence", labels=self.labels, fps=self.fps, events_s=self.events_s
        )


def parse_xd_annotations(path: str | os.PathLike) -> list[XdAnnotation]:
    """Parse XD-Violence ``annotations.txt``: ``name s1 e1 [s2 e2 ...]`` at 24 fps, file order.

    The real file lists the 500 violent test videos (the last line has no
    trailing newline). A normal (``label_A``) line may have no segments.
    Errors: odd number of frame fields, non-integer frame, end before start,
    unknown label code, a violent video without segments.
    """
    out: list[XdAnnotation] = []
    seen: dict[str, int] = {}
    for number, text in _lines(path):
        fields = text.split()
        raw = fields[0]
        name, codes = _xd_name(path, number, raw)
        values = fields[1:]
        if len(values) % 2:
            raise AnnotationError(
                path, number, f"expected 'name s1 e1 [s2 e2 ...]': {len(values)} frame fields is odd"
            )
        frames = [_int(path, number, tok, f"field {i + 2}") for i, tok in enumerate(values)]
        events = []
        for k in range(0, len(frames), 2):
            _check_range(path, number, frames[k], frames[k + 1], f"segment {k // 2 + 1}")
            events.append((frames[k], frames[k + 1]))
        if codes == ("A",) and events:
            raise AnnotationError(path, number, f"normal video {raw!r} (label A) has violent segments")
        if codes != ("A",) and not events:
            raise AnnotationError(path, number, f"violent video {raw!r} has no segment")
        _check_unique(path, number, name, seen)
        out.append(XdAnnotation(name=name, raw_name=raw, codes=codes, events=tuple(events), line=number))
    return out


def parse_xd_multiclass(path: str | os.PathLike) -> list[XdMulticlassAnnotation]:
    """Parse XD-Violence ``annotations_multiclasses.txt``: ``name C s e [C s e ...]``, file order.

    Errors: field count not ``1 + 3k`` (k >= 1), unknown or normal (``A``)
    segment class, non-integer frame, end before start, unknown code in the name.
    """
    out: list[XdMulticlassAnnotation] = []
    seen: dict[str, int] = {}
    for number, text in _lines(path):
        fields = text.split()
        raw = fields[0]
        name, codes = _xd_name(path, number, raw)
        values = fields[1:]
        if not values or len(values) % 3:
            raise AnnotationError(
                path,
                number,
                f"expected 'name class s e [class s e ...]': {len(values)} fields after the name "
                "is not a positive multiple of 3",
            )
        segments = []
        for k in range(0, len(values), 3):
            code = values[k]
            if code not in XD_LABELS or code == "A":
                raise AnnotationError(
                    path, number, f"segment {k // 3 + 1}: unknown violent label code {code!r}"
                )
            s = _int(path, number, values[k + 1], f"field {k + 3}")
            e = _int(path, number, values[k + 2], f"field {k + 4}")
            _check_range(path, number, s, e, f"segment {k // 3 + 1}")
            segments.append(XdSegment(code, s, e))
        _check_unique(path, number, name, seen)
        out.append(
            XdMulticlassAnnotation(
                name=name, raw_name=raw, codes=codes, segments=tuple(segments), line=number
            )
        )
    return out


# --------------------------------------------------------------------------- HIVAU


@dataclass(frozen=True)
class HivauClip:
    """A captioned clip inside a HIVAU event. Clips may extend past their event's end (real data)."""

    start_s: float
    end_s: float
    caption: str


@dataclass(frozen=True)
class HivauEvent:
    """A HIVAU event ``[start_s, end_s)`` with its clips and summary.

    For an anomalous video the events are the anomalies (they match the UCF
    temporal annotation); for a normal video they are ordinary activity.
    """

    start_s: float
    end_s: float
    clips: tuple[HivauClip, ...]
    summary: str
    summary_split: SummarySplit


@dataclass(frozen=True)
class HivauVideo:
    """One entry of a HIVAU-70k raw annotation file (``ucf_database_test.json``).

    labels: UCF class names, ``()`` for a normal video. Some videos list the
    same anomaly twice with ends a few frames apart (``Arson016_x264``); they
    are kept as written, and frame labels take their union.
    """

    name: str
    n_frames: int
    fps: float
    labels: tuple[str, ...]
    events: tuple[HivauEvent, ...]
    summary: str
    summary_split: SummarySplit

    @property
    def is_anomalous(self) -> bool:
        return bool(self.labels)

    @property
    def events_s(self) -> tuple[tuple[float, float], ...]:
        """Anomalous intervals only: empty for a normal video."""
        if not self.is_anomalous:
            return ()
        return tuple((e.start_s, e.end_s) for e in self.events)

    def to_video(self) -> VideoAnnotation:
        return VideoAnnotation(
            name=self.name,
            source="hivau",
            labels=self.labels,
            fps=self.fps,
            events_s=self.events_s,
            n_frames=self.n_frames,
            captions=tuple(Caption(c.start_s, c.end_s, c.caption) for e in self.events for c in e.clips),
            event_summaries=tuple(Caption(e.start_s, e.end_s, e.summary) for e in self.events),
            summary=self.summary,
            summary_split=self.summary_split,
        )


_HIVAU_KEYS = (
    "n_frames",
    "fps",
    "label",
    "events",
    "clips",
    "clips_caption",
    "events_summary",
    "video_summary",
    "events_summary_split",
    "video_summary_split",
)


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _span(path, name: str, x: Any, what: str) -> tuple[float, float]:
    if not (isinstance(x, list) and len(x) == 2 and all(_is_number(v) for v in x)):
        raise AnnotationError(path, None, f"{what}: expected [start_s, end_s], got {x!r}", entry=name)
    s, e = float(x[0]), float(x[1])
    if s < 0:
        raise AnnotationError(path, None, f"{what}: negative start {s}", entry=name)
    if e < s:
        raise AnnotationError(path, None, f"{what}: end {e} is before start {s}", entry=name)
    return s, e


def _str(path, name: str, x: Any, what: str) -> str:
    if not isinstance(x, str):
        raise AnnotationError(path, None, f"{what}: expected a string, got {type(x).__name__}", entry=name)
    return x


def _split(path, name: str, x: Any, what: str) -> SummarySplit:
    if not isinstance(x, dict):
        raise AnnotationError(path, None, f"{what}: expected an object, got {type(x).__name__}", entry=name)
    for key in ("judgement", "description"):
        if key not in x:
            raise AnnotationError(path, None, f"{what}: missing key {key!r}", entry=name)
    unknown = set(x) - {"judgement", "description", "analysis"}
    if unknown:
        raise AnnotationError(path, None, f"{what}: unknown keys {sorted(unknown)}", entry=name)
    analysis = x.get("analysis")
    return SummarySplit(
        judgement=_str(path, name, x["judgement"], f"{what}.judgement"),
        description=_str(path, name, x["description"], f"{what}.description"),
        analysis=None if analysis is None else _str(path, name, analysis, f"{what}.analysis"),
    )


def _list(path, name: str, x: Any, what: str) -> list:
    if not isinstance(x, list):
        raise AnnotationError(path, None, f"{what}: expected a list, got {type(x).__name__}", entry=name)
    return x


def _hivau_video(path, name: str, v: Any) -> HivauVideo:
    if not isinstance(v, dict):
        raise AnnotationError(path, None, f"expected an object, got {type(v).__name__}", entry=name)
    missing = [k for k in _HIVAU_KEYS if k not in v]
    if missing:
        raise AnnotationError(path, None, f"missing keys {missing}", entry=name)
    n_frames = v["n_frames"]
    if not isinstance(n_frames, int) or isinstance(n_frames, bool) or n_frames <= 0:
        raise AnnotationError(
            path, None, f"n_frames must be a positive integer, got {n_frames!r}", entry=name
        )
    fps = v["fps"]
    if not _is_number(fps) or fps <= 0:
        raise AnnotationError(path, None, f"fps must be a positive number, got {fps!r}", entry=name)
    labels = tuple(_str(path, name, x, "label[]") for x in _list(path, name, v["label"], "label"))
    events = _list(path, name, v["events"], "events")
    clips = _list(path, name, v["clips"], "clips")
    captions = _list(path, name, v["clips_caption"], "clips_caption")
    summaries = _list(path, name, v["events_summary"], "events_summary")
    splits = _list(path, name, v["events_summary_split"], "events_summary_split")
    lengths = {
        "events": len(events),
        "clips": len(clips),
        "clips_caption": len(captions),
        "events_summary": len(summaries),
        "events_summary_split": len(splits),
    }
    if len(set(lengths.values())) != 1:
        raise AnnotationError(path, None, f"per-event lists differ in length: {lengths}", entry=name)
    if labels and not events:
        raise AnnotationError(path, None, f"anomalous video ({', '.join(labels)}) has no event", entry=name)
    out_events = []
    for i, (ev, cl, cc, su, sp) in enumerate(zip(events, clips, captions, summaries, splits)):
        start, end = _span(path, name, ev, f"events[{i}]")
        cl = _list(path, name, cl, f"clips[{i}]")
        cc = _list(path, name, cc, f"clips_caption[{i}]")
        if len(cl) != len(cc):
            raise AnnotationError(
                path, None, f"event {i}: {len(cl)} clips but {len(cc)} clip captions", entry=name
            )
        out_clips = tuple(
            HivauClip(
                *_span(path, name, c, f"clips[{i}][{j}]"),
                caption=_str(path, name, t, f"clips_caption[{i}][{j}]"),
            )
            for j, (c, t) in enumerate(zip(cl, cc))
        )
        out_events.append(
            HivauEvent(
                start_s=start,
                end_s=end,
                clips=out_clips,
                summary=_str(path, name, su, f"events_summary[{i}]"),
                summary_split=_split(path, name, sp, f"events_summary_split[{i}]"),
            )
        )
    return HivauVideo(
        name=name,
        n_frames=n_frames,
        fps=float(fps),
        labels=labels,
        events=tuple(out_events),
        summary=_str(path, name, v["video_summary"], "video_summary"),
        summary_split=_split(path, name, v["video_summary_split"], "video_summary_split"),
    )


def parse_hivau(path: str | os.PathLike) -> dict[str, HivauVideo]:
    """Parse a HIVAU-70k raw annotation JSON (``{video_name: {...}}``), keeping the file's order.

    Each entry has ``n_frames``, ``fps``, ``label`` (list, empty = normal),
    ``events`` ([start_s, end_s] per event), ``clips`` / ``clips_caption``
    (per event, lists of spans and captions), ``events_summary`` /
    ``events_summary_split`` (per event), ``video_summary`` /
    ``video_summary_split``; a split is ``{judgement, description, analysis}``
    with no ``analysis`` for normal videos. Errors name the file and the video.
    """
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as e:
        raise AnnotationError(path, None, f"cannot read file: {e}") from e
    except json.JSONDecodeError as e:
        raise AnnotationError(path, e.lineno, f"invalid JSON: {e.msg} (column {e.colno})") from None
    if not isinstance(data, dict):
        raise AnnotationError(path, None, f"expected a JSON object keyed by video, got {type(data).__name__}")
    return {name: _hivau_video(path, name, v) for name, v in data.items()}


_HIVAU_VIDEO_RE = {
    "video": re.compile(r"^(?P<name>.+)$"),
    "event": re.compile(r"^(?P<name>.+)_E(?P<event>\d+)$"),
    "clip": re.compile(r"^(?P<name>.+)_E(?P<event>\d+)C(?P<clip>\d+)$"),
}


@dataclass(frozen=True)
class HivauInstruction:
    """A line of a HIVAU-70k instruction JSONL: ``{id, type, task, video, prompt, anwser}``.

    The file's key is misspelled ``anwser``; here it is ``answer``.
    type: ``video`` | ``event`` | ``clip``; task: ``judgement`` | ``description``
    | ``analysis`` | ``caption`` in the real file. The video path names the
    source video, and for events and clips their indices:
    ``ucf-crime/clips/test/Abuse028_x264_E0C0.mp4`` -> video_name
    ``Abuse028_x264``, event_index 0, clip_index 0.
    """

    id: int
    type: str
    task: str
    video: str
    prompt: str
    answer: str
    line: int
    video_name: str
    event_index: int | None
    clip_index: int | None


def parse_hivau_instructions(path: str | os.PathLike) -> list[HivauInstruction]:
    """Parse a HIVAU-70k instruction JSONL file, in file order.

    Errors (with line numbers): invalid JSON, a missing key (``anwser``, or
    ``answer``, is required), a non-integer id, a type other than
    video/event/clip, a video path whose stem does not fit the type
    (``..._E0`` for an event, ``..._E0C0`` for a clip), a repeated id.
    """
    out: list[HivauInstruction] = []
    seen: dict[int, int] = {}
    for number, text in _lines(path):
        try:
            row = json.loads(text)
        except json.JSONDecodeError as e:
            raise AnnotationError(path, number, f"invalid JSON: {e.msg} (column {e.colno})") from None
        if not isinstance(row, dict):
            raise AnnotationError(path, number, f"expected a JSON object, got {type(row).__name__}")
        answer_key = "anwser" if "anwser" in row else "answer"
        missing = [k for k in ("id", "type", "task", "video", "prompt", answer_key) if k not in row]
        if missing:
            raise AnnotationError(path, number, f"missing keys {missing}")
        rid = row["id"]
        if not isinstance(rid, int) or isinstance(rid, bool):
            raise AnnotationError(path, number, f"id must be an integer, got {rid!r}")
        for key in ("type", "task", "video", "prompt", answer_key):
            if not isinstance(row[key], str):
                raise AnnotationError(path, number, f"{key} must be a string, got {type(row[key]).__name__}")
        kind = row["type"]
        if kind not in HIVAU_TYPES:
            raise AnnotationError(path, number, f"unknown type {kind!r} (known: {', '.join(HIVAU_TYPES)})")
        if not row["task"]:
            raise AnnotationError(path, number, "empty task")
        stem = Path(row["video"]).stem
        m = _HIVAU_VIDEO_RE[kind].match(stem)
        if m is None or not row["video"]:
            raise AnnotationError(
                path,
                number,
                f"video path {row['video']!r} does not fit type {kind!r} (expected name_E<i>[C<j>])",
            )
        groups = m.groupdict()
        if rid in seen:
            raise AnnotationError(path, number, f"duplicate id {rid} (first on line {seen[rid]})")
        seen[rid] = number
        out.append(
            HivauInstruction(
                id=rid,
                type=kind,
                task=row["task"],
                video=row["video"],
                prompt=row["prompt"],
                answer=row[answer_key],
                line=number,
                video_name=groups["name"],
                event_index=int(groups["event"]) if groups.get("event") is not None else None,
                clip_index=int(groups["clip"]) if groups.get("clip") is not None else None,
            )
        )
    return out


# --------------------------------------------------------------------------- uniform view

Annotation = VideoAnnotation | UcfTemporalAnnotation | XdAnnotation | XdMulticlassAnnotation | HivauVideo


def to_video_annotation(annotation: Annotation) -> VideoAnnotation:
    """The common :class:`VideoAnnotation` of any parsed annotation (identity for one already)."""
    if isinstance(annotation, VideoAnnotation):
        return annotation
    if isinstance(annotation, UcfTemporalAnnotation | XdAnnotation | XdMulticlassAnnotation | HivauVideo):
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
