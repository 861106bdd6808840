"""VA-Instruction builder: annotated videos -> LLaVA-style instruction-tuning records.

Sources
-------
- ``synthetic``: a synthetic archive's ground truth (:func:`va_gpt.synthetic.generate.load_truth`);
  the videos are in the archive, ``video`` is their URI and ``video_id`` the
  pipeline's id (:func:`va_gpt.io.archive.video_id_for`), so stored features join
  the nightly tables.
- ``ucf_crime`` / ``xd_violence`` / ``hivau``: the real annotation files, read
  by :mod:`va_gpt.data.benchmarks`. The videos are not on this machine:
  ``video`` is the benchmark's file name (UCF-Crime and HIVAU, which annotates
  UCF-Crime test videos: ``Class/Name.mp4`` as in ``Anomaly_Test.txt``, normal
  videos under ``Testing_Normal_Videos_Anomaly/``; XD-Violence: ``Name.mp4``)
  and ``video_id`` the file stem. UCF-Crime and HIVAU share stems, so the same
  video lands in the same split whichever file it came from.

Every source becomes a :class:`VideoItem` (JSON-able, what Ray ships to its
workers); :func:`make_records` turns one item into its records. It is a pure
function of the item and the :class:`RecordConfig`: templates and
multiple-choice shuffles come from RNGs seeded by ``(seed, source, video,
task, index)`` through SHA-1, never Python's ``hash``, so every process and
machine makes the same records.

Records (one row of :data:`RECORD_SCHEMA`; :func:`validate_record` checks one)
-------------------------------------------------------------------------------
``id``            16 hex digits: sha1 of source | video | task | index | template index
``source``        synthetic | ucf_crime | xd_violence | hivau
``video``         URI (synthetic) or benchmark file name (relative to a video root)
``video_id``      pipeline id (synthetic) or file stem (benchmarks)
``clip_start_s``, ``clip_end_s``  the part of the video the question is about:
                  the whole video ``[0, duration]``, or an event with ``pad_s``
                  seconds of context each side (the describe stage's window).
                  ``clip_end_s`` is null when the video's length is unknown
                  (XD-Violence, and UCF-Crime videos HIVAU does not annotate:
                  UCF lengths come from HIVAU's ``n_frames`` where it has the
                  video, see :func:`hivau_durations`): "to the end".
``task``          judgement | description | analysis | temporal | mc_temporal
``kind``          anomaly kind (lower case: synthetic kinds as in
                  ``synthetic.ALL_KINDS``, UCF classes lower-cased with
                  RoadAccidents -> "road accident", XD names from ``XD_LABELS``)
                  or "normal"
``split``         train | test, by video (:func:`split_for`), never by record
``conversations`` [{from: human, value: "<video>\\n" + question}, {from: gpt, value: answer}]
``options``       mc_temporal: 4 strings "(A) 12.0s-17.5s"; else null
``answer_index``  mc_temporal: index of the right option; else null
``events``        the video's ground-truth anomalies [[start_s, end_s], ...] (half-open
                  seconds, as annotated; [] for a normal video), for scoring

Tasks per video
---------------
- judgement (every video, whole clip): "Is there an anomaly ...?" ->
  "Yes. There is an anomaly in this video: fighting." / "No. The video is normal: ...".
- description: the describe stage's question (``DESCRIBE_QUESTION``, or a
  paraphrase with the same "Answer as: Judgement: ... Description: ...
  Analysis: ..." instruction) about an event window, answered in that format,
  so the trained model answers the way ``parse_fields`` reads. Synthetic: one
  per anomalous event (caption + per-kind analysis) and one per normal video
  (whole video, judgement normal). HIVAU: one per annotated event (a normal
  video's events are ordinary activity, judgement normal) plus one for the
  whole video from the video summary. UCF-Crime and XD-Violence carry no text:
  no description records.
- analysis (anomalous only, when there is a reason to give): "Why is the event
  between 12.0s and 17.5s abnormal?" -> "Judgement: fighting. Analysis: ...".
  Synthetic: a template per kind; HIVAU: the event's and the video's analysis text.
- temporal (anomalous only, whole clip): "The anomaly happens from 12.0s to
  17.5s." (overlapping annotated events merged, times to 0.1 s).
- mc_temporal (anomalous only, whole clip): four "(A) 12.0s-17.5s" options,
  one of them an annotated event (chosen by the seeded RNG when there are
  several), three distractors with IoU < 0.3 against every event (and, when
  the video leaves room, at most half covered by anomalies), shuffled by the
  seeded RNG; the answer is "(B)". Distractors lie inside the video, or, when
  its length is unknown, before the end of the last event plus one event
  length (so the right option is not always the latest). A video with no room
  for three distractors gets no mc_temporal record and is listed in the card's
  ``skipped``.

Outputs (:func:`write_dataset`, any fsspec URL)
-----------------------------------------------
``{out}/{train,test}/records.parquet`` and ``records.jsonl``, ``{out}/card.json``
and ``{out}/README.md`` (counts per split, task, kind and source; sources;
seeds; missing videos; skipped records), optionally
``{out}/features/{video_id}.npz`` (t, score, diff_energy per sampled frame,
from the pipeline's decode + visual stages, see :func:`compute_features`).

Missing videos: with a ``video_root`` (benchmarks) or for the synthetic
archive, the videos are listed once; a video that is not there is logged,
listed in the card's ``missing_videos`` and gets no records.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import math
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from va_gpt.io.archive import video_id_for
from va_gpt.io.errors import StorageError, mapped_errors
from va_gpt.io.filesystem import filesystem, join, read_bytes, write_bytes
from va_gpt.pipeline.describe import DESCRIBE_QUESTION
from va_gpt.pipeline.raylocal import start_ray

__all__ = [
    "BUILDER_VERSION",
    "RECORD_SCHEMA",
    "SOURCES",
    "SPLITS",
    "TASKS",
    "BuildArgs",
    "EventItem",
    "RecordConfig",
    "VideoItem",
    "build",
    "build_records",
    "compute_features",
    "default_annotations",
    "find_missing",
    "iou",
    "kind_text",
    "items_from_annotations",
    "items_from_synthetic",
    "hivau_durations",
    "make_records",
    "mc_options",
    "parse_option",
    "read_card",
    "read_records",
    "render_summary",
    "skipped_records",
    "split_for",
    "validate_record",
    "write_dataset",
]

log = logging.getLogger(__name__)

BUILDER_VERSION = "va-instruction/1"
SOURCES = ("synthetic", "ucf_crime", "xd_violence", "hivau")
TASKS = ("judgement", "description", "analysis", "temporal", "mc_temporal")
SPLITS = ("train", "test")
SPLIT_SALT = "va-instruction/1"  # the split depends on the video id only, not on the seed
VIDEO_TOKEN = "<video>\n"
LETTERS = "ABCD"
MC_IOU_MAX = 0.3  # a distractor's IoU with every ground-truth event is below this
MC_COVER_MAX = 0.5  # ... and, when the video leaves room, at most this much of it is anomalous
MC_DISTINCT_IOU = 0.5  # options differ from each other by at least this much
MIN_OPTION_S = 0.5

RECORD_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("video", pa.string(), nullable=False),
        pa.field("video_id", pa.string(), nullable=False),
        pa.field("clip_start_s", pa.float64(), nullable=False),
        pa.field("clip_end_s", pa.float64(), nullable=True),
        pa.field("task", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),
        pa.field(
            "conversations",
            pa.list_(pa.struct([pa.field("from", pa.string()), pa.field("value", pa.string())])),
            nullable=False,
        ),
        pa.field("options", pa.list_(pa.string()), nullable=True),
        pa.field("answer_index", pa.int32(), nullable=True),
        pa.field("events", pa.list_(pa.list_(pa.float64())), nullable=False),
    ]
)
FIELDS = tuple(RECORD_SCHEMA.names)

# UCF-Crime class names (also HIVAU's labels) -> kind
UCF_KINDS = {"RoadAccidents": "road accident"}

# describe stage's answer-format instruction, shared by every description paraphrase
_FORMAT = "Answer as:" + DESCRIBE_QUESTION.split("Answer as:", 1)[1]

TEMPLATES: dict[str, tuple[str, ...]] = {
    "judgement": (
        "Is there an anomaly in this video? If so, which kind?",
        "Does anything abnormal happen in this video? If it does, name the kind of anomaly.",
        "Watch the video. Is there an abnormal event, and what kind is it?",
        "Are there anomalies in this surveillance footage? Answer yes or no and name the anomaly if there is one.",
    ),
    # about a window: the describe stage's own question first, then paraphrases with the same format
    "description": (
        DESCRIBE_QUESTION,
        "What happens between {start:.1f}s and {end:.1f}s? " + _FORMAT,
        "Describe the event from {start:.1f}s to {end:.1f}s. " + _FORMAT,
        "Look at the video from {start:.1f}s to {end:.1f}s and describe the event there. " + _FORMAT,
    ),
    "description_video": (
        "Describe what happens in this video. " + _FORMAT,
        "Summarise the events in this video. " + _FORMAT,
        "What goes on in this footage? " + _FORMAT,
    ),
    "analysis": (
        "Why is the event between {start:.1f}s and {end:.1f}s abnormal?",
        "Explain what makes the event from {start:.1f}s to {end:.1f}s an anomaly.",
        "What is abnormal about what happens between {start:.1f}s and {end:.1f}s, and why?",
    ),
    "analysis_video": (
        "Why is this video considered abnormal?",
        "Explain what makes the events in this video anomalous.",
        "What is abnormal in this video, and why?",
    ),
    "temporal": (
        "When does the anomaly happen in this video? Give the start and end times in seconds.",
        "Give the start and end time of the abnormal event, in seconds.",
        "Locate the anomaly in time: from when to when does it happen?",
        "At what time does the abnormal event start and end?",
    ),
    "mc_temporal": (
        "During which interval does {what} happen?",
        "Which time interval contains {what}?",
        "When does {what} take place? Choose one option.",
    ),
}

# why each synthetic kind is abnormal
SYNTHETIC_ANALYSIS = {
    "fighting": "People hitting and grappling with each other is violence that can injure someone, "
    "unlike the calm walking around them",
    "falling": "A person who collapses and stays on the ground may be hurt and need help; "
    "pedestrians normally stay on their feet",
    "running": "Several people suddenly breaking into a run suggests panic or flight from danger; "
    "pedestrians here normally walk",
    "explosion": "A sudden blast with fire endangers everyone nearby and damages property; "
    "nothing in an ordinary street scene flares up like this",
    "collision": "Vehicles crashing into each other can injure people and block the road; "
    "traffic normally passes without contact",
    "abandoned_object": "A bag left behind and unattended in a public place can be a security threat; "
    "people normally keep their belongings with them",
}
SYNTHETIC_NORMAL = "Pedestrians walk along the sidewalks at an ordinary pace and nothing unusual happens"
NORMAL_ANALYSIS = "Nothing abnormal happens; this is ordinary activity"
_FIELD_MARK = re.compile(r"\b(judgement|judgment|description|analysis)(\s*):", re.IGNORECASE)


# --------------------------------------------------------------------------- items


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

    kind: the first anomaly kind or "normal"; kinds: all of them (XD videos can have several);
    duration_s: None when the source does not give it; uri: where the video can be read
    (synthetic, or a benchmark video under a video root), else None;
    summary_description / summary_analysis: whole-video texts (HIVAU).
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

    @property
    def anomalous(self) -> bool:
        return self.kind != "normal"

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


def _kind_from_ucf(label: str) -> str:
    return UCF_KINDS.get(label, label.lower())


def kind_text(kind: str) -> str:
    return kind.replace("_", " ")


def items_from_synthetic(truth, storage_options: dict | None = None) -> list[VideoItem]:
    """VideoItems of a synthetic archive (an ``ArchiveTruth`` from ``synthetic.load_truth``)."""
    del storage_options
    out = []
    for v in truth.videos:
        uri = truth.video_url(v.key)
        events = tuple(
            EventItem(
                start_s=float(e.start_s),
                end_s=float(e.end_s),
                kind=e.kind,
                description=e.caption,
                analysis=SYNTHETIC_ANALYSIS.get(e.kind),
            )
            for e in v.events
        )
        kinds = tuple(dict.fromkeys(e.kind for e in v.events)) or ((v.label,) if v.label != "normal" else ())
        out.append(
            VideoItem(
                source="synthetic",
                video=uri,
                video_id=video_id_for(uri),
                kind=kinds[0] if kinds else "normal",
                kinds=kinds,
                duration_s=float(v.duration_s),
                events=events,
                uri=uri,
                summary_description=None if kinds else SYNTHETIC_NORMAL,
            )
        )
    return out


def _ucf_video(name: str, labels: Sequence[str]) -> str:
    from va_gpt.data.benchmarks import UCF_NORMAL_DIR

    folder = labels[0] if labels else UCF_NORMAL_DIR
    return f"{folder}/{name}.mp4"


def _clean(text: str | None) -> str | None:
    """Text for a field of a 'Judgement: ... Description: ...' answer: stripped, no trailing period,
    and no 'Analysis:'-style marks of its own that would confuse parse_fields."""
    if text is None:
        return None
    text = " ".join(text.split()).strip().rstrip(".").strip()
    return _FIELD_MARK.sub(lambda m: m.group(1) + m.group(2) + " -", text) or None


def _ucf_items(path, durations: dict[str, float] | None = None) -> list[VideoItem]:
    from va_gpt.data.benchmarks import parse_ucf_temporal

    durations = durations or {}
    out = []
    for a in parse_ucf_temporal(path):
        v = a.to_video()
        kinds = tuple(_kind_from_ucf(x) for x in v.labels)
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
    from va_gpt.data.benchmarks import parse_xd_annotations, parse_xd_multiclass

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
    from va_gpt.data.benchmarks import parse_hivau

    out = []
    for name, h in parse_hivau(path).items():
        v = h.to_video()
        kinds = tuple(_kind_from_ucf(x) for x in v.labels)
        kind = kinds[0] if kinds else "normal"
        events = tuple(
            EventItem(
                start_s=float(e.start_s),
                end_s=float(e.end_s),
                kind=kind,
                anomalous=h.is_anomalous,
                description=_clean(e.summary_split.description),
                analysis=_clean(e.summary_split.analysis) if h.is_anomalous else None,
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
                summary_description=_clean(h.summary_split.description),
                summary_analysis=_clean(h.summary_split.analysis) if h.is_anomalous else None,
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
    return Path(__file__).resolve().parents[2].parent / "shared" / "benchmarks"


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
    from va_gpt.data.benchmarks import parse_hivau

    return {name: h.n_frames / h.fps for name, h in parse_hivau(path).items()}


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class RecordConfig:
    """What records depend on besides the item. Picklable (Ray ships it)."""

    seed: int = 0
    test_fraction: float = 0.2
    pad_s: float = 1.0  # context each side of an event window (the describe stage's pad_s)

    def __post_init__(self):
        if not 0.0 <= self.test_fraction <= 1.0:
            raise ValueError(f"test_fraction must be in [0, 1], got {self.test_fraction}")
        if self.pad_s < 0:
            raise ValueError(f"pad_s must be >= 0, got {self.pad_s}")


def _digest(*parts) -> bytes:
    return hashlib.sha1("|".join(str(p) for p in parts).encode("utf-8")).digest()


def split_for(video_id: str, test_fraction: float) -> str:
    """'test' for a fixed `test_fraction` of videos, chosen by SHA-1 of the video id (seed-independent)."""
    u = int.from_bytes(_digest(SPLIT_SALT, video_id)[:8], "big") / 2.0**64
    return "test" if u < test_fraction else "train"


def _rng(seed: int, *parts) -> np.random.Generator:
    words = np.frombuffer(_digest(seed, *parts)[:16], dtype="<u4")
    return np.random.default_rng(np.random.SeedSequence([int(w) for w in words]))


def _s(x: float) -> str:
    return f"{x:.1f}s"


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Temporal IoU of two intervals [start, end)."""
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def _merge(intervals: Iterable[Sequence[float]]) -> list[list[float]]:
    out: list[list[float]] = []
    for s, e in sorted((float(s), float(e)) for s, e in intervals):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return out


def _covered(d: Sequence[float], merged: list[list[float]]) -> float:
    length = d[1] - d[0]
    inter = sum(max(0.0, min(d[1], e) - max(d[0], s)) for s, e in merged)
    return inter / length if length > 0 else 1.0


def _r1(x: float) -> float:
    return round(float(x) * 10.0) / 10.0


def mc_options(
    events: Sequence[Sequence[float]], right: int, domain_end: float, rng: np.random.Generator
) -> tuple[list[list[float]], int] | None:
    """Four option intervals (0.1 s grid) and the right one's index, or None when 3 distractors do not fit.

    The right option is ``events[right]`` rounded; distractors lie in ``[0, domain_end]``, have
    IoU < MC_IOU_MAX with every event and IoU < MC_DISTINCT_IOU with each other option. The search
    relaxes in steps: lengths 0.5-1.5x the right event's with at most MC_COVER_MAX of the option
    anomalous, then 0.2-3x, then without the coverage limit. The order is shuffled by `rng`.
    """
    s0, e0 = _r1(events[right][0]), _r1(events[right][1])
    if e0 <= s0:
        e0 = s0 + 0.1
    truth = [(float(s), float(e)) for s, e in events]
    merged = _merge(truth)
    length = e0 - s0
    chosen: list[list[float]] = [[s0, e0]]
    dom = float(domain_end)
    for lo, hi, cover in ((0.5, 1.5, MC_COVER_MAX), (0.2, 3.0, MC_COVER_MAX), (0.2, 3.0, 1.0)):
        for _ in range(300):
            if len(chosen) == 4:
                break
            span = min(max(length * rng.uniform(lo, hi), MIN_OPTION_S), dom)
            start = rng.uniform(0.0, max(dom - span, 0.0))
            d = [_r1(start), min(_r1(start + span), math.floor(dom * 10.0) / 10.0)]
            if d[1] - d[0] < min(MIN_OPTION_S, length) - 1e-9 or d[1] <= d[0]:
                continue
            if any(iou(d, t) >= MC_IOU_MAX for t in truth):
                continue
            if _covered(d, merged) > cover:
                continue
            if any(iou(d, c) >= MC_DISTINCT_IOU or d == c for c in chosen):
                continue
            chosen.append(d)
    if len(chosen) < 4:
        return None
    order = [int(i) for i in rng.permutation(4)]
    return [chosen[i] for i in order], order.index(0)


def _record(item: VideoItem, task: str, n: int, template: int, clip, kind, question, answer, cfg, **extra):
    rec = {
        "id": _digest(item.source, item.video, task, n, template).hex()[:16],
        "source": item.source,
        "video": item.video,
        "video_id": item.video_id,
        "clip_start_s": float(clip[0]),
        "clip_end_s": None if clip[1] is None else float(clip[1]),
        "task": task,
        "kind": kind,
        "split": split_for(item.video_id, cfg.test_fraction),
        "conversations": [
            {"from": "human", "value": VIDEO_TOKEN + question},
            {"from": "gpt", "value": answer},
        ],
        "options": None,
        "answer_index": None,
        "events": item.truth,
    }
    rec.update(extra)
    return rec


def _pick(cfg: RecordConfig, item: VideoItem, task: str, n: int, family: str | None = None) -> int:
    return int(
        _rng(cfg.seed, item.source, item.video, task, n, "template").integers(len(TEMPLATES[family or task]))
    )


def _kinds_text(kinds: Sequence[str]) -> str:
    words = [kind_text(k) for k in kinds]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _when(s: float, e: float) -> str:
    return f"It happens from {_s(_r1(s))} to {_s(_r1(e))}"


def _fmt(judgement: str, description: str | None = None, analysis: str | None = None) -> str:
    parts = [f"Judgement: {judgement}."]
    if description:
        parts.append(f"Description: {description}.")
    if analysis:
        parts.append(f"Analysis: {analysis}.")
    return " ".join(parts)


def make_records(item: VideoItem, cfg: RecordConfig) -> list[dict]:
    """All records of one video (see the module docstring for the tasks). Pure and deterministic."""
    recs: list[dict] = []
    whole = (0.0, item.duration_s)

    def window(ev: EventItem):
        end = ev.end_s + cfg.pad_s
        if item.duration_s is not None:
            end = min(end, max(item.duration_s, ev.end_s))
        return (max(0.0, ev.start_s - cfg.pad_s), end)

    # judgement
    t = _pick(cfg, item, "judgement", 0)
    if item.anomalous:
        answer = f"Yes. There is an anomaly in this video: {_kinds_text(item.kinds)}."
    else:
        answer = "No. The video is normal: nothing abnormal happens."
    recs.append(_record(item, "judgement", 0, t, whole, item.kind, TEMPLATES["judgement"][t], answer, cfg))

    # description and analysis, per described event
    nd = na = 0
    for ev in item.events:
        if ev.description:
            t = _pick(cfg, item, "description", nd)
            q = TEMPLATES["description"][t].format(start=ev.start_s, end=ev.end_s)
            if ev.anomalous:
                desc = f"{ev.description.rstrip('.')}. {_when(ev.start_s, ev.end_s)}"
                a = _fmt(kind_text(ev.kind), desc, ev.analysis)
                kind = ev.kind
            else:
                a = _fmt("normal", ev.description.rstrip("."), NORMAL_ANALYSIS)
                kind = "normal"
            recs.append(_record(item, "description", nd, t, window(ev), kind, q, a, cfg))
            nd += 1
        if ev.anomalous and ev.analysis:
            t = _pick(cfg, item, "analysis", na)
            q = TEMPLATES["analysis"][t].format(start=ev.start_s, end=ev.end_s)
            a = _fmt(kind_text(ev.kind), None, ev.analysis.rstrip("."))
            recs.append(_record(item, "analysis", na, t, window(ev), ev.kind, q, a, cfg))
            na += 1

    # whole-video description and analysis (HIVAU summaries, synthetic normal videos)
    if item.summary_description:
        t = _pick(cfg, item, "description", nd, "description_video")
        judgement = _kinds_text(item.kinds) if item.anomalous else "normal"
        analysis = item.summary_analysis if item.anomalous else NORMAL_ANALYSIS
        a = _fmt(judgement, item.summary_description.rstrip("."), analysis)
        q = TEMPLATES["description_video"][t]
        recs.append(_record(item, "description", nd, t, whole, item.kind, q, a, cfg))
        nd += 1
    if item.anomalous and item.summary_analysis:
        t = _pick(cfg, item, "analysis", na, "analysis_video")
        a = _fmt(_kinds_text(item.kinds), None, item.summary_analysis.rstrip("."))
        q = TEMPLATES["analysis_video"][t]
        recs.append(_record(item, "analysis", na, t, whole, item.kind, q, a, cfg))
        na += 1

    truth = item.truth
    if not item.anomalous or not truth:
        return recs

    # temporal localisation
    merged = _merge(truth)
    t = _pick(cfg, item, "temporal", 0)
    spans = " and ".join(f"from {_s(_r1(s))} to {_s(_r1(e))}" for s, e in merged)
    a = f"The anomaly happens {spans}."
    recs.append(_record(item, "temporal", 0, t, whole, item.kind, TEMPLATES["temporal"][t], a, cfg))

    # multiple-choice temporal question
    rng = _rng(cfg.seed, item.source, item.video, "mc_temporal", 0, "options")
    right = int(rng.integers(len(truth)))
    anomalous_events = [e for e in item.events if e.anomalous]
    kind = anomalous_events[right].kind
    known = item.duration_s is not None
    last_end = max(e for _, e in truth)
    if known:
        domain = max(float(item.duration_s), last_end)
    else:  # length unknown: up to one event length past the last event, so the truth is not always last
        r0, r1 = truth[right]
        domain = last_end + max(r1 - r0, MIN_OPTION_S)
    picked = mc_options(truth, right, domain, rng)
    if picked is None:
        return recs  # make_records_report lists it as skipped
    options, answer_index = picked
    t = _pick(cfg, item, "mc_temporal", 0)
    what = f"the {kind_text(kind)}" if len(truth) == 1 else f"an anomaly ({kind_text(kind)})"
    texts = [f"({LETTERS[i]}) {_s(s)}-{_s(e)}" for i, (s, e) in enumerate(options)]
    q = (
        TEMPLATES["mc_temporal"][t].format(what=what)
        + "\n"
        + "\n".join(texts)
        + "\nAnswer with the option's letter."
    )
    recs.append(
        _record(
            item,
            "mc_temporal",
            0,
            t,
            whole,
            kind,
            q,
            f"({LETTERS[answer_index]})",
            cfg,
            options=texts,
            answer_index=answer_index,
        )
    )
    return recs


def skipped_records(item: VideoItem, records: Sequence[dict]) -> list[dict]:
    """What an item should have had but did not get (an anomalous video without mc_temporal)."""
    if item.anomalous and item.truth and not any(r["task"] == "mc_temporal" for r in records):
        return [
            {
                "source": item.source,
                "video": item.video,
                "task": "mc_temporal",
                "reason": "no room for 3 distractor intervals with IoU < 0.3",
            }
        ]
    return []


# --------------------------------------------------------------------------- validation

_OPTION_RE = re.compile(r"^\(([A-D])\) (\d+\.\d)s-(\d+\.\d)s$")
_ID_RE = re.compile(r"^[0-9a-f]{16}$")


def parse_option(text: str) -> tuple[str, float, float]:
    """'(B) 12.0s-17.5s' -> ('B', 12.0, 17.5)."""
    m = _OPTION_RE.match(text)
    if m is None:
        raise ValueError(f"not an option '(A) 1.0s-2.0s': {text!r}")
    return m.group(1), float(m.group(2)), float(m.group(3))


def _is_num(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def validate_record(rec: dict) -> None:
    """Raise ValueError naming the record id and the field when `rec` does not fit RECORD_SCHEMA's rules."""
    rid = rec.get("id") if isinstance(rec, dict) else None

    def bad(fieldname: str, why: str):
        raise ValueError(f"record {rid!r}: field {fieldname!r}: {why}")

    if not isinstance(rec, dict):
        raise ValueError(f"record: expected a dict, got {type(rec).__name__}")
    missing = [f for f in FIELDS if f not in rec]
    if missing:
        bad(missing[0], "missing")
    extra = sorted(set(rec) - set(FIELDS))
    if extra:
        bad(extra[0], "not in the record schema")
    if not isinstance(rid, str) or not _ID_RE.match(rid):
        bad("id", f"expected 16 hex digits, got {rid!r}")
    for f in ("video", "video_id", "kind"):
        if not isinstance(rec[f], str) or not rec[f]:
            bad(f, f"expected a non-empty string, got {rec[f]!r}")
    if rec["source"] not in SOURCES:
        bad("source", f"{rec['source']!r} is not one of {SOURCES}")
    if rec["task"] not in TASKS:
        bad("task", f"{rec['task']!r} is not one of {TASKS}")
    if rec["split"] not in SPLITS:
        bad("split", f"{rec['split']!r} is not one of {SPLITS}")
    cs, ce = rec["clip_start_s"], rec["clip_end_s"]
    if not _is_num(cs) or cs < 0:
        bad("clip_start_s", f"expected a finite number >= 0, got {cs!r}")
    if ce is not None and (not _is_num(ce) or ce <= cs):
        bad("clip_end_s", f"expected null or a number > clip_start_s ({cs}), got {ce!r}")
    conv = rec["conversations"]
    if not isinstance(conv, list) or len(conv) < 2 or len(conv) % 2:
        bad("conversations", "expected an even number (>= 2) of turns")
    for i, turn in enumerate(conv):
        want = "human" if i % 2 == 0 else "gpt"
        if not isinstance(turn, dict) or set(turn) != {"from", "value"}:
            bad("conversations", f"turn {i}: expected {{from, value}}, got {turn!r}")
        if turn["from"] != want:
            bad("conversations", f"turn {i}: expected from={want!r}, got {turn['from']!r}")
        if not isinstance(turn["value"], str) or not turn["value"].strip():
            bad("conversations", f"turn {i}: empty value")
    if not conv[0]["value"].startswith(VIDEO_TOKEN):
        bad("conversations", f"the first human turn must start with {VIDEO_TOKEN!r}")
    events = rec["events"]
    if not isinstance(events, list):
        bad("events", f"expected a list, got {type(events).__name__}")
    for ev in events:
        if not (isinstance(ev, list | tuple) and len(ev) == 2 and all(_is_num(x) for x in ev)):
            bad("events", f"expected [start_s, end_s], got {ev!r}")
        if ev[0] < 0 or ev[1] < ev[0]:
            bad("events", f"bad interval {ev!r}")
    if rec["task"] in ("temporal", "mc_temporal") and not events:
        bad("events", f"a {rec['task']} record needs ground-truth events")
    opts, ai = rec["options"], rec["answer_index"]
    if rec["task"] == "mc_temporal":
        if not isinstance(opts, list) or len(opts) != 4:
            bad("options", f"expected 4 options, got {opts!r}")
        for i, o in enumerate(opts):
            try:
                letter, s, e = parse_option(o) if isinstance(o, str) else ("", 0, 0)
            except ValueError as exc:
                bad("options", str(exc))
            if letter != LETTERS[i] or e <= s:
                bad("options", f"option {i} is {o!r}")
        if not isinstance(ai, int) or isinstance(ai, bool) or not 0 <= ai < 4:
            bad("answer_index", f"expected 0..3, got {ai!r}")
        if conv[-1]["value"] != f"({LETTERS[ai]})":
            bad("conversations", f"the answer {conv[-1]['value']!r} is not option ({LETTERS[ai]})")
    else:
        if opts is not None:
            bad("options", "only mc_temporal records have options")
        if ai is not None:
            bad("answer_index", "only mc_temporal records have an answer index")


# --------------------------------------------------------------------------- building


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


def _records_row(row: dict, cfg: RecordConfig) -> list[dict]:
    """Ray flat_map: one item row -> its records as JSON (Arrow need not infer the nested schema)."""
    item = VideoItem.from_dict(json.loads(row["item"]))
    recs = make_records(item, cfg)
    out = [{"order": int(row["order"]), "n": n, "record": json.dumps(r)} for n, r in enumerate(recs)]
    return out or [{"order": int(row["order"]), "n": -1, "record": ""}]


def build_records(items: Sequence[VideoItem], cfg: RecordConfig, *, local: bool = True) -> list[dict]:
    """Records of all items, in item order. local=False runs ``make_records`` as a Ray Data
    ``flat_map`` over ``from_items`` on the connected Ray cluster (same records)."""
    if local:
        return [json.loads(json.dumps(r)) for it in items for r in make_records(it, cfg)]
    import ray

    rows = [{"order": i, "item": json.dumps(it.to_dict())} for i, it in enumerate(items)]
    if not rows:
        return []
    cpus = int(ray.cluster_resources().get("CPU", 1))
    ds = ray.data.from_items(rows, override_num_blocks=max(1, min(len(rows), 4 * cpus)))
    ds = ds.flat_map(_records_row, fn_kwargs={"cfg": cfg})
    out = sorted(ds.take_all(), key=lambda r: (int(r["order"]), int(r["n"])))
    return [json.loads(r["record"]) for r in out if int(r["n"]) >= 0]


def _counts(records: Sequence[dict]) -> dict:
    return {
        "records": len(records),
        "videos": len({(r["source"], r["video_id"]) for r in records}),
        "tasks": dict(sorted(Counter(r["task"] for r in records).items())),
        "kinds": dict(sorted(Counter(r["kind"] for r in records).items())),
        "sources": dict(sorted(Counter(r["source"] for r in records).items())),
    }


def _parquet_bytes(records: Sequence[dict]) -> bytes:
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(list(records), schema=RECORD_SCHEMA)
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def _jsonl_bytes(records: Sequence[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")


def write_dataset(
    records: Sequence[dict], out_url: str, card: dict, storage_options: dict | None = None
) -> dict:
    """Validate and write ``{split}/records.parquet`` + ``records.jsonl``, ``card.json`` and ``README.md``.

    Fills ``card["counts"]`` and ``card["files"]`` and returns the card. Raises ValueError on an
    invalid record or a repeated id, before writing anything.
    """
    seen: dict[str, dict] = {}
    for r in records:
        validate_record(r)
        if r["id"] in seen:
            raise ValueError(f"record {r['id']!r}: field 'id': repeated ({r['video']} {r['task']})")
        seen[r["id"]] = r
    videos: dict[str, set] = {s: set() for s in SPLITS}
    for r in records:
        videos[r["split"]].add(r["video_id"])
    both = videos["train"] & videos["test"]
    if both:
        raise ValueError(f"videos in both splits: {sorted(both)[:5]}")
    card = dict(card)
    card["counts"] = {"total": len(records), "splits": {}}
    card["files"] = {}
    for split in SPLITS:
        part = [r for r in records if r["split"] == split]
        card["counts"]["splits"][split] = _counts(part)
        files = {"parquet": f"{split}/records.parquet", "jsonl": f"{split}/records.jsonl"}
        write_bytes(join(out_url, files["parquet"]), _parquet_bytes(part), storage_options)
        write_bytes(join(out_url, files["jsonl"]), _jsonl_bytes(part), storage_options)
        card["files"][split] = files
    card["counts"]["tasks"] = _counts(records)["tasks"]
    write_bytes(join(out_url, "card.json"), json.dumps(card, indent=1).encode("utf-8"), storage_options)
    write_bytes(join(out_url, "README.md"), render_readme(card).encode("utf-8"), storage_options)
    return card


def read_records(
    out_url: str, split: str, storage_options: dict | None = None, fmt: str = "parquet"
) -> list[dict]:
    """Read one split back, from Parquet or JSONL, as record dicts."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    url = join(out_url, split, f"records.{fmt}")
    if fmt == "jsonl":
        text = read_bytes(url, storage_options).decode("utf-8")
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    if fmt != "parquet":
        raise ValueError(f"fmt must be parquet or jsonl, got {fmt!r}")
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(read_bytes(url, storage_options)))
    return table.to_pylist()


def read_card(out_url: str, storage_options: dict | None = None) -> dict:
    return json.loads(read_bytes(join(out_url, "card.json"), storage_options))


def _table(rows: list[tuple], header: tuple[str, ...]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(x) for x in row) + " |" for row in rows]
    return lines


def render_summary(card: dict) -> str:
    """A few lines for the console: totals per split and task, missing and skipped videos."""
    c = card["counts"]
    lines = [f"VA-Instruction: {c['total']} records -> {card.get('out', '')}"]
    for split in SPLITS:
        s = c["splits"][split]
        tasks = ", ".join(f"{k} {v}" for k, v in s["tasks"].items())
        lines.append(f"  {split}: {s['records']} records, {s['videos']} videos ({tasks})")
    for src in card["sources"]:
        lines.append(
            f"  source {src['source']}: {src['videos']} videos ({src['anomalous']} anomalous, "
            f"{src['normal']} normal), "
            + (f"{src['missing']} missing" if src["checked"] else "videos not checked (no video root)")
        )
    m = card["missing_videos"]
    if m["count"]:
        lines.append(f"  missing videos: {m['count']} (skipped; names in card.json)")
    if card["skipped"]:
        lines.append(f"  skipped records: {len(card['skipped'])} (see card.json)")
    if card.get("features"):
        f = card["features"]
        lines.append(f"  features: {f['written']} videos, {len(f['errors'])} errors")
    return "\n".join(lines)


def render_readme(card: dict) -> str:
    c = card["counts"]
    out = [
        "# VA-Instruction",
        "",
        "LLaVA-style instruction-tuning records for video anomaly understanding, built by "
        "`jobs/build_instructions.py` (`va_gpt/data/instruct.py`, which documents the record fields).",
        "",
        f"- format: `{card['format']}`; seed {card['seed']} (templates and option order), "
        f"test fraction {card['test_fraction']} (split by video id, salt `{card['split_salt']}`)",
        f"- {c['total']} records; files: `train/records.parquet|jsonl`, `test/records.parquet|jsonl`",
        "",
        "## Sources",
        "",
    ]
    out += _table(
        [
            (s["source"], s["origin"], s["videos"], s["anomalous"], s["normal"], s["missing"])
            for s in card["sources"]
        ],
        ("source", "from", "videos", "anomalous", "normal", "missing"),
    )
    out += ["", "## Records per split and task", ""]
    out += _table(
        [(t, *(c["splits"][s]["tasks"].get(t, 0) for s in SPLITS)) for t in TASKS]
        + [("videos", *(c["splits"][s]["videos"] for s in SPLITS))],
        ("task", *SPLITS),
    )
    kinds = sorted({k for s in SPLITS for k in c["splits"][s]["kinds"]})
    out += ["", "## Records per kind", ""]
    out += _table(
        [(k, *(c["splits"][s]["kinds"].get(k, 0) for s in SPLITS)) for k in kinds], ("kind", *SPLITS)
    )
    m = card["missing_videos"]
    out += ["", "## Missing videos", ""]
    if m["count"]:
        out.append(f"{m['count']} annotated videos were not found under the video root and have no records:")
        out += [""] + [f"- `{n}`" for n in m["names"]]
    else:
        out.append(
            "none" if card.get("video_root") or any(s["checked"] for s in card["sources"]) else "not checked"
        )
    if card["skipped"]:
        out += ["", "## Skipped records", ""]
        out += [f"- `{s['video']}` {s['task']}: {s['reason']}" for s in card["skipped"]]
    if card.get("features"):
        f = card["features"]
        out += [
            "",
            "## Features",
            "",
            f"`features/{{video_id}}.npz` (t, score, diff_energy) for {f['written']} videos; "
            f"preset {f['preset']}, classifier {f['classifier'] or 'random (scores meaningless)'}.",
        ]
        out += [f"- error `{e['video']}`: {e['error']}" for e in f["errors"]]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- features


def compute_features(
    items: Sequence[VideoItem],
    out_url: str,
    *,
    preset: str = "demo",
    classifier_dir: str | None = None,
    storage_options: dict | None = None,
    local: bool = True,
) -> dict:
    """Per-frame classifier scores (and SETS difference energy) for every item with a readable video,
    through the pipeline's decode + visual stages (no describe), stored as
    ``{out}/features/{video_id}.npz`` with arrays t (s), score, diff_energy, so training needs no
    second decode for TETG. Returns the card's ``features`` entry; a video that fails is listed
    there with its error, not raised."""
    from va_gpt.config import load_preset
    from va_gpt.pipeline.run import Job, run_local, run_ray

    p = load_preset(preset)
    rows, seen = [], set()
    for it in items:
        if it.uri and it.video_id not in seen:
            seen.add(it.video_id)
            rows.append({"video_id": it.video_id, "uri": it.uri})
    job = Job(preset=p, classifier_dir=classifier_dir, storage_options=storage_options, describe=False)
    results, _ = (run_local if local else run_ray)(rows, job)
    errors, written = [], 0
    for r in sorted(results, key=lambda r: str(r["video_id"])):
        if r["status"] not in ("ok", "partial"):
            errors.append({"video": str(r["uri"]), "error": f"{r['status']}: {r['error_message']}"})
            continue
        buf = io.BytesIO()
        np.savez(
            buf,
            t=np.asarray(r["t"], np.float64),
            score=np.asarray(r["score"], np.float32),
            diff_energy=np.asarray(r["diff_energy"], np.float32),
        )
        write_bytes(join(out_url, "features", f"{r['video_id']}.npz"), buf.getvalue(), storage_options)
        written += 1
    for e in errors:
        log.warning("features: %s: %s", e["video"], e["error"])
    return {
        "dir": "features",
        "preset": p.name,
        "classifier": classifier_dir,
        "fps": p.decode.fps,
        "written": written,
        "without_video": sum(1 for it in items if not it.uri),
        "errors": errors,
    }


@dataclass
class BuildArgs:
    """One build. sources: synthetic | ucf_crime | xd_violence | hivau (any number, in order).

    annotations: per benchmark source, its file (default: DEFAULT_FILES under
    `annotations_dir`, the shared benchmarks folder). video_root: where the benchmark
    videos are (then missing ones are reported and skipped, and with `with_scores`
    present ones get features).
    """

    sources: Sequence[str]
    out: str
    archive: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    annotations_dir: str | None = None
    seed: int = 0
    test_fraction: float = 0.2
    pad_s: float = 1.0
    video_root: str | None = None
    storage_options: dict | None = None
    local: bool = True
    with_scores: bool = False
    classifier_dir: str | None = None
    preset: str = "demo"
    durations_from_hivau: bool = True  # UCF-Crime video lengths from HIVAU's n_frames where it has them
    ray_address: str | None = None
    ray_temp_dir: str | None = None
    num_cpus: int | None = None


def build(args: BuildArgs) -> dict:
    """Read the sources, make and write the records (and features); returns the card.

    Raises the parsers' AnnotationError for a malformed file, StorageError for an unreadable
    archive or video root, ValueError for bad arguments.
    """
    from va_gpt.synthetic import generate as synthetic

    cfg = RecordConfig(seed=args.seed, test_fraction=args.test_fraction, pad_s=args.pad_s)
    bad = [s for s in args.sources if s not in SOURCES]
    if bad or not args.sources:
        raise ValueError(f"sources must be among {SOURCES}, got {list(args.sources)}")
    if len(set(args.sources)) != len(args.sources):
        raise ValueError(f"a source is given twice: {list(args.sources)}")
    ann_dir = Path(args.annotations_dir) if args.annotations_dir else default_annotations()
    items: list[VideoItem] = []
    sources: list[dict] = []
    missing: list[VideoItem] = []
    for src in args.sources:
        durations_from = None
        if src == "synthetic":
            if not args.archive:
                raise ValueError("the synthetic source needs an archive URL")
            origin = args.archive
            got = items_from_synthetic(synthetic.load_truth(args.archive, args.storage_options))
            root = args.archive
        else:
            origin = str(args.annotations.get(src) or ann_dir / DEFAULT_FILES[src])
            durations, durations_from = None, None
            hivau = str(args.annotations.get("hivau") or ann_dir / DEFAULT_FILES["hivau"])
            if src == "ucf_crime" and args.durations_from_hivau and os.path.exists(hivau):
                durations, durations_from = hivau_durations(hivau), hivau
            got = items_from_annotations(src, origin, durations)
            root = args.video_root
            if root:
                got = [dataclasses.replace(it, uri=join(root, it.video)) for it in got]
        lost = find_missing(got, root, args.storage_options) if root else []
        if lost:
            names = [it.video for it in lost]
            log.warning(
                "%s: %d of %d videos missing under %s, skipped: %s%s",
                src,
                len(lost),
                len(got),
                root,
                ", ".join(names[:10]),
                " ..." if len(names) > 10 else "",
            )
        lost_ids = {id(it) for it in lost}
        sources.append(
            {
                "source": src,
                "origin": origin,
                "videos": len(got),
                "anomalous": sum(it.anomalous for it in got),
                "normal": sum(not it.anomalous for it in got),
                "events": sum(len(it.truth) for it in got),
                "checked": bool(root),
                "missing": len(lost),
                "with_duration": sum(it.duration_s is not None for it in got),
                "durations_from": durations_from,
            }
        )
        missing += lost
        items += [it for it in got if id(it) not in lost_ids]

    started = False if args.local else start_ray(args.ray_address, args.ray_temp_dir, args.num_cpus)
    try:
        records = build_records(items, cfg, local=args.local)
        features = None
        if args.with_scores:
            features = compute_features(
                items,
                args.out,
                preset=args.preset,
                classifier_dir=args.classifier_dir,
                storage_options=args.storage_options,
                local=args.local,
            )
    finally:
        if started:
            import ray

            ray.shutdown()
    by_video: dict[tuple, list[dict]] = {}
    for r in records:
        by_video.setdefault((r["source"], r["video"]), []).append(r)
    skipped = [s for it in items for s in skipped_records(it, by_video.get((it.source, it.video), []))]
    card = {
        "format": BUILDER_VERSION,
        "out": args.out,
        "seed": cfg.seed,
        "test_fraction": cfg.test_fraction,
        "split_salt": SPLIT_SALT,
        "pad_s": cfg.pad_s,
        "schema": list(FIELDS),
        "tasks": list(TASKS),
        "sources": sources,
        "video_root": args.video_root,
        "missing_videos": {"count": len(missing), "names": [it.video for it in missing]},
        "skipped": skipped,
        "features": features,
        "built_with": "ray" if not args.local else "local",
    }
    return write_dataset(records, args.out, card, args.storage_options)
