"""Where records come from: a synthetic archive or a benchmark annotation file -> :class:`VideoItem`.

Every source becomes a :class:`VideoItem` (JSON-able, what Ray ships to its workers).
Synthetic: ``video`` is the video's URI and ``video_id`` the pipeline's id, so stored features
join the nightly tables. Benchmarks: the videos are not on this machine: ``video`` is the
benchmark's file name (UCF-Crime and HIVAU: ``Class/Name.mp4`` as in ``Anomaly_Test.txt``,
normal videos under ``Testing_Normal_Videos_Anomaly/``; XD-Violence: ``Name.mp4``) and
``video_id`` the file stem. UCF-Crime and HIVAU share stems, so the same video lands in the
same split whichever file it came from.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from va_gpt.data.benchmarks import (
    UCF_NORMAL_DIR,
    parse_hivau,
    parse_ucf_temporal,
    parse_xd_annotations,
    parse_xd_multiclass,
)
from va_gpt.data.instruct.templates import (
    SHORT_ANALYSIS,
    SHORT_DESCRIPTION,
    SHORT_NORMAL,
    SYNTHETIC_ANALYSIS,
    SYNTHETIC_NORMAL,
    clean,
    r1,
)
from va_gpt.io.archive import video_id_for
from va_gpt.io.errors import StorageError, mapped_errors
from va_gpt.io.filesystem import filesystem
from va_gpt.taxonomy import NORMAL, ucf_kind


@dataclass(frozen=True)
class EventItem:
    """A described span of a video. ``anomalous`` False: ordinary activity (HIVAU normal videos)."""

    start_s: float
    end_s: float
    kind: str
    anomalous: bool = True
    description: str | None = None
    analysis: str | None = None


@dataclass(frozen=True)
class VideoItem:
    """One annotated video, the same shape for every source (JSON-able: see to_dict / from_dict).

    kind: the first anomaly kind or NORMAL; kinds: all of them (XD videos can have several);
    duration_s: None when the source does not give it; uri: where the video can be read
    (synthetic, or a benchmark video under a video root), else None;
    summary_description / summary_analysis: whole-video texts (HIVAU); key: what names the video
    wherever its files are (synthetic: the archive's seed and the video's path in it), else None:
    record ids, random draws and the split follow `name` (key, else video / video_id), so the same
    archive rendered in another folder gives the same records.
    """

    source: str
    video: str
    video_id: str
    kind: str
    kinds: tuple[str, ...]
    duration_s: float | None
    events: tuple[EventItem, ...]
    uri: str | None = None
    summary_description: str | None = None
    summary_analysis: str | None = None
    key: str | None = None

    @property
    def name(self) -> str:
        """What record ids and random draws follow: `key`, else `video`."""
        return self.key or self.video

    @property
    def anomalous(self) -> bool:
        return self.kind != NORMAL

    @property
    def truth(self) -> list[list[float]]:
        """Ground-truth anomalous intervals [[start_s, end_s], ...] as annotated."""
        return [[float(e.start_s), float(e.end_s)] for e in self.events if e.anomalous]

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["kinds"] = list(self.kinds)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> VideoItem:
        d = dict(d)
        d["kinds"] = tuple(d["kinds"])
        d["events"] = tuple(EventItem(**e) for e in d["events"])
        return cls(**d)


def items_from_synthetic(
    truth, storage_options: dict | None = None, *, short_texts: bool = False
) -> list[VideoItem]:
    """VideoItems of a synthetic archive (an ``ArchiveTruth`` from ``synthetic.load_truth``).

    Events are described by the generator's captions and :data:`SYNTHETIC_ANALYSIS`; a normal video
    by a whole-video summary. `short_texts` (the demo's plain style): one short description and
    reason per kind instead, and a normal video gets one described stretch of ordinary activity
    (about its middle) instead of the summary, asked like an event window.
    """
    del storage_options
    out = []
    for v in truth.videos:
        uri = truth.video_url(v.key)
        events = tuple(
            EventItem(
                start_s=float(e.start_s),
                end_s=float(e.end_s),
                kind=e.kind,
                description=SHORT_DESCRIPTION[e.kind] if short_texts else e.caption,
                analysis=(SHORT_ANALYSIS if short_texts else SYNTHETIC_ANALYSIS).get(e.kind),
            )
            for e in v.events
        )
        kinds = tuple(dict.fromkeys(e.kind for e in v.events)) or ((v.label,) if v.label != NORMAL else ())
        summary = None if kinds else SYNTHETIC_NORMAL
        if short_texts and not kinds:
            dur = float(v.duration_s)
            start = r1(max(0.0, dur * 0.35))
            events = (EventItem(start, r1(min(dur, start + 4.5)), NORMAL, False, SHORT_NORMAL),)
            summary = None
        out.append(
            VideoItem(
                source="synthetic",
                video=uri,
                video_id=video_id_for(uri),
                kind=kinds[0] if kinds else NORMAL,
                kinds=kinds,
                duration_s=float(v.duration_s),
                events=events,
                uri=uri,
                summary_description=summary,
                key=f"seed{truth.seed}/{v.key}",
            )
        )
    return out


def _ucf_video(name: str, labels: Sequence[str]) -> str:
    folder = labels[0] if labels else UCF_NORMAL_DIR
    return f"{folder}/{name}.mp4"


def _ucf_items(path, durations: dict[str, float] | None = None) -> list[VideoItem]:
    durations = durations or {}
    out = []
    for a in parse_ucf_temporal(path):
        v = a.to_video()
        kinds = tuple(ucf_kind(x) for x in v.labels)
        out.append(
            VideoItem(
                source="ucf_crime",
                video=_ucf_video(v.name, v.labels),
                video_id=v.name,
                kind=kinds[0] if kinds else "normal",
                kinds=kinds,
                duration_s=durations.get(v.name),
                events=tuple(EventItem(s, e, kinds[0]) for s, e in v.events_s),
            )
        )
    return out


def _xd_items(path, durations: dict[str, float] | None = None) -> list[VideoItem]:
    durations = durations or {}
    multi = "multiclass" in Path(path).name
    out = []
    for a in parse_xd_multiclass(path) if multi else parse_xd_annotations(path):
        v = a.to_video()
        kinds = tuple(v.labels)
        if multi:
            ev_kinds = [s.label for s in a.segments]
        else:
            ev_kinds = [kinds[0] if kinds else "normal"] * len(v.events_s)
        out.append(
            VideoItem(
                source="xd_violence",
                video=f"{v.name}.mp4",
                video_id=v.name,
                kind=kinds[0] if kinds else "normal",
                kinds=kinds,
                duration_s=durations.get(v.name),
                events=tuple(EventItem(s, e, k) for (s, e), k in zip(v.events_s, ev_kinds)),
            )
        )
    return out


def _hivau_items(path, durations: dict[str, float] | None = None) -> list[VideoItem]:
    out = []
    for name, h in parse_hivau(path).items():
        v = h.to_video()
        kinds = tuple(ucf_kind(x) for x in v.labels)
        kind = kinds[0] if kinds else "normal"
        events = tuple(
            EventItem(
                start_s=float(e.start_s),
                end_s=float(e.end_s),
                kind=kind,
                anomalous=h.is_anomalous,
                description=clean(e.summary_split.description),
                analysis=clean(e.summary_split.analysis) if h.is_anomalous else None,
            )
            for e in h.events
        )
        out.append(
            VideoItem(
                source="hivau",
                video=_ucf_video(name, v.labels),
                video_id=name,
                kind=kind,
                kinds=kinds,
                duration_s=h.n_frames / h.fps,
                events=events,
                summary_description=clean(h.summary_split.description),
                summary_analysis=clean(h.summary_split.analysis) if h.is_anomalous else None,
            )
        )
    return out


_PARSERS = {"ucf_crime": _ucf_items, "xd_violence": _xd_items, "hivau": _hivau_items}

# where each benchmark's file lies under a benchmarks folder (see /work/shared/benchmarks/README.md)
DEFAULT_FILES = {
    "ucf_crime": "ucf_crime/Temporal_Anomaly_Annotation.txt",
    "xd_violence": "xd_violence/annotations.txt",
    "hivau": "hivau/ucf_database_test.json",
}


def default_annotations() -> Path:
    """The shared benchmarks folder: ``../shared/benchmarks`` relative to the repository."""
    return Path(__file__).resolve().parents[3].parent / "shared" / "benchmarks"


def items_from_annotations(
    source: str, path: str | os.PathLike, durations: dict[str, float] | None = None
) -> list[VideoItem]:
    """VideoItems of a benchmark annotation file (file order). Malformed files raise the
    parser's AnnotationError, which names the file and line (or entry).

    durations: video length in seconds by video id, for sources whose files do not give it
    (UCF-Crime, XD-Violence); see :func:`hivau_durations`. HIVAU has its own.
    """
    if source not in _PARSERS:
        raise ValueError(f"unknown benchmark source {source!r}; expected one of {sorted(_PARSERS)}")
    return _PARSERS[source](path, durations)


def hivau_durations(path: str | os.PathLike) -> dict[str, float]:
    """Video lengths (n_frames / fps) of the UCF-Crime test videos HIVAU annotates, by video stem."""
    return {name: h.n_frames / h.fps for name, h in parse_hivau(path).items()}


def find_missing(
    items: Sequence[VideoItem], root: str, storage_options: dict | None = None
) -> list[VideoItem]:
    """The items whose video is not under `root` (listed once). Video names are relative to root,
    or full URIs under it (synthetic)."""
    fs, base = filesystem(root, storage_options)
    base = base.rstrip("/")
    with mapped_errors(root, "list videos"):
        fs.invalidate_cache(base)
        if not fs.exists(base):
            raise StorageError(root, "video root does not exist")
        present = {p[len(base) + 1 :] if p.startswith(base + "/") else p for p in fs.find(base)}
    prefix = root.rstrip("/") + "/"
    missing = []
    for it in items:
        rel = it.video[len(prefix) :] if it.video.startswith(prefix) else it.video
        if rel not in present:
            missing.append(it)
    return missing
