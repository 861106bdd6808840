"""XD-Violence annotation files.

- ``annotations.txt``: ``name s1 e1 [s2 e2 ...]`` at 24 fps, labels encoded in
  the name (``..._label_B1-B2-0``) -> :func:`parse_xd_annotations`
- ``annotations_multiclasses.txt``: ``name B4 0 1517 B4 1970 3038`` -> :func:`parse_xd_multiclass`

Label codes and their kinds: :data:`va_gpt.taxonomy.XD_LABELS`. Ends are exclusive.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

from va_gpt.data.benchmarks.common import (
    AnnotationError,
    VideoAnnotation,
    check_range,
    check_unique,
    frame_int,
    frames_to_seconds,
    lines,
)
from va_gpt.taxonomy import XD_LABELS

XD_FPS = 24.0  # native frame rate of the XD-Violence annotation frame indices


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


def _xd_lines(path) -> Iterator[tuple[int, str, str, tuple[str, ...], list[str]]]:
    """Both XD-Violence files, line by line: (line number, raw name, name, label codes, the
    fields after the name), each name checked for known codes and seen once."""
    seen: dict[str, int] = {}
    for number, text in lines(path):
        raw, *values = text.split()
        name, codes = _xd_name(path, number, raw)
        check_unique(path, number, name, seen)
        yield number, raw, name, codes, values


class _XdVideo:
    """What both XD-Violence line types derive from their name's codes and their events."""

    name: str
    codes: tuple[str, ...]
    events: tuple[tuple[int, int], ...]
    fps: float

    @property
    def labels(self) -> tuple[str, ...]:
        """Readable class names, e.g. ``("fighting", "shooting")``; ``()`` for normal."""
        return tuple(XD_LABELS[c] for c in self.codes if c != "A")

    @property
    def is_anomalous(self) -> bool:
        return self.codes != ("A",)

    @property
    def events_s(self) -> tuple[tuple[float, float], ...]:
        return frames_to_seconds(self.events, self.fps)

    def to_video(self) -> VideoAnnotation:
        return VideoAnnotation(
            name=self.name, source="xd_violence", labels=self.labels, fps=self.fps, events_s=self.events_s
        )


@dataclass(frozen=True)
class XdAnnotation(_XdVideo):
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
class XdMulticlassAnnotation(_XdVideo):
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
    def events(self) -> tuple[tuple[int, int], ...]:
        return tuple((s.start, s.end) for s in self.segments)


def parse_xd_annotations(path: str | os.PathLike) -> list[XdAnnotation]:
    """Parse XD-Violence ``annotations.txt``: ``name s1 e1 [s2 e2 ...]`` at 24 fps, file order.

    The real file lists the 500 violent test videos (the last line has no
    trailing newline). A normal (``label_A``) line may have no segments.
    Errors: odd number of frame fields, non-integer frame, end before start,
    unknown label code, a violent video without segments.
    """
    out: list[XdAnnotation] = []
    for number, raw, name, codes, values in _xd_lines(path):
        if len(values) % 2:
            raise AnnotationError(
                path, number, f"expected 'name s1 e1 [s2 e2 ...]': {len(values)} frame fields is odd"
            )
        frames = [frame_int(path, number, tok, f"field {i + 2}") for i, tok in enumerate(values)]
        events = []
        for k in range(0, len(frames), 2):
            check_range(path, number, frames[k], frames[k + 1], f"segment {k // 2 + 1}")
            events.append((frames[k], frames[k + 1]))
        if codes == ("A",) and events:
            raise AnnotationError(path, number, f"normal video {raw!r} (label A) has violent segments")
        if codes != ("A",) and not events:
            raise AnnotationError(path, number, f"violent video {raw!r} has no segment")
        out.append(XdAnnotation(name=name, raw_name=raw, codes=codes, events=tuple(events), line=number))
    return out


def parse_xd_multiclass(path: str | os.PathLike) -> list[XdMulticlassAnnotation]:
    """Parse XD-Violence ``annotations_multiclasses.txt``: ``name C s e [C s e ...]``, file order.

    Errors: field count not ``1 + 3k`` (k >= 1), unknown or normal (``A``)
    segment class, non-integer frame, end before start, unknown code in the name.
    """
    out: list[XdMulticlassAnnotation] = []
    for number, raw, name, codes, values in _xd_lines(path):
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
            s = frame_int(path, number, values[k + 1], f"field {k + 3}")
            e = frame_int(path, number, values[k + 2], f"field {k + 4}")
            check_range(path, number, s, e, f"segment {k // 3 + 1}")
            segments.append(XdSegment(code, s, e))
        out.append(
            XdMulticlassAnnotation(
                name=name, raw_name=raw, codes=codes, segments=tuple(segments), line=number
            )
        )
    return out
