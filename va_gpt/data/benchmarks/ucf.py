"""UCF-Crime annotation files.

- ``Temporal_Anomaly_Annotation.txt``: ``name class s1 e1 s2 e2``, frame indices
  at 30 fps, ``-1 -1`` for an absent event -> :func:`parse_ucf_temporal`
- ``Anomaly_Test.txt``: ``Class/Name.mp4`` -> :func:`parse_ucf_test_list`

Ends are exclusive (see :mod:`va_gpt.data.benchmarks.common`).
"""

from __future__ import annotations

import os
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

UCF_FPS = 30.0  # native frame rate of the UCF-Crime annotation frame indices
UCF_NORMAL = "Normal"  # class field of normal videos in Temporal_Anomaly_Annotation.txt
UCF_NORMAL_DIR = "Testing_Normal_Videos_Anomaly"  # folder of normal videos in Anomaly_Test.txt


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
        return frames_to_seconds(self.events, self.fps)

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


def parse_ucf_temporal(path: str | os.PathLike) -> list[UcfTemporalAnnotation]:
    """Parse UCF-Crime ``Temporal_Anomaly_Annotation.txt`` (290 test videos), in file order.

    Each line is ``name class s1 e1 s2 e2`` (whitespace-separated); ``-1 -1``
    marks an absent event. Ends are exclusive (see the module docstring).
    Errors: wrong field count, non-integer frame, half-absent pair, end before
    start, a ``Normal`` video with events or an anomalous one without.
    """
    out: list[UcfTemporalAnnotation] = []
    seen: dict[str, int] = {}
    for number, text in lines(path):
        fields = text.split()
        if len(fields) != 6:
            raise AnnotationError(
                path, number, f"expected 6 fields 'name class s1 e1 s2 e2', got {len(fields)}: {text!r}"
            )
        name, label = fields[0], fields[1]
        frames = [frame_int(path, number, tok, f"field {i + 3}") for i, tok in enumerate(fields[2:])]
        events: list[tuple[int, int]] = []
        for k in (0, 2):
            s, e = frames[k], frames[k + 1]
            which = f"event {k // 2 + 1}"
            if s == -1 and e == -1:
                continue
            if s == -1 or e == -1:
                raise AnnotationError(path, number, f"{which}: only one of start/end is -1 ({s}, {e})")
            check_range(path, number, s, e, which)
            events.append((s, e))
        if frames[0] == -1 and frames[2] != -1:
            raise AnnotationError(path, number, "event 2 given without event 1")
        if label == UCF_NORMAL and events:
            raise AnnotationError(path, number, f"Normal video {name!r} has anomaly events")
        if label != UCF_NORMAL and not events:
            raise AnnotationError(path, number, f"anomalous video {name!r} ({label}) has no event")
        check_unique(path, number, name, seen)
        out.append(UcfTemporalAnnotation(name=name, label=label, events=tuple(events), line=number))
    return out


def parse_ucf_test_list(path: str | os.PathLike) -> list[UcfTestEntry]:
    """Parse UCF-Crime ``Anomaly_Test.txt``: one ``Class/Name.mp4`` per line, in file order."""
    out: list[UcfTestEntry] = []
    seen: dict[str, int] = {}
    for number, text in lines(path):
        entry = text.strip()
        parts = entry.split("/")
        if len(parts) != 2 or not parts[0] or not parts[1] or any(c.isspace() for c in entry):
            raise AnnotationError(path, number, f"expected 'Class/Name.mp4', got {text!r}")
        folder, filename = parts
        if not filename.endswith(".mp4") or filename == ".mp4":
            raise AnnotationError(path, number, f"expected an .mp4 file name, got {filename!r}")
        name = filename[: -len(".mp4")]
        label = UCF_NORMAL if folder == UCF_NORMAL_DIR else folder
        check_unique(path, number, name, seen)
        out.append(UcfTestEntry(path=entry, folder=folder, name=name, label=label, line=number))
    return out
