"""HIVAU-70k files: the raw annotations (JSON keyed by video, :func:`parse_hivau`) and the
instruction JSONL (``anwser`` sic, :func:`parse_hivau_instructions`). HIVAU annotates UCF-Crime
test videos; its labels are UCF-Crime class names."""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from va_gpt.data.benchmarks.common import AnnotationError, Caption, SummarySplit, VideoAnnotation, lines

HIVAU_TYPES = ("video", "event", "clip")


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
    for number, text in lines(path):
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
