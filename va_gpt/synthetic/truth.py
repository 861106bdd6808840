"""Ground truth of a synthetic archive: per-video truth, the UCF-Crime annotation file, events.json.

- ``{url}/_truth/Temporal_Anomaly_Annotation.txt`` uses the UCF-Crime format
  ``name class s1 e1 s2 e2`` with native frame indices and **exclusive ends**
  (VadCLIP's reading: ``gt[s:e] = 1``), ``-1`` for an absent event; normal
  videos are ``Normal -1 -1 -1 -1``. ``name`` is the object key relative to the
  archive URL, ``{camera_id}/{date}/{HHMMSS}.mp4``.
- ``{url}/_truth/events.json`` holds the same and more per video (camera, start
  time, fps, frame count, label, events with seconds, frames, box, caption);
  a domain-randomized video also has ``domain`` (every knob of its
  :class:`va_gpt.synthetic.domain.Domain`) and ``distractors`` (the hard
  negatives of a normal video, :mod:`va_gpt.synthetic.distractors`). Videos
  without a domain have neither key, as before.

Times: an event covers ``[start_s, end_s)``; with ``s = start_s * fps`` and
``e = end_s * fps`` (integers) it covers native frames ``s .. e-1``. Boxes:
``(x0, y0, x1, y1)`` pixels, ``x1``/``y1`` exclusive, clipped to the frame.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field

import numpy as np

from va_gpt.io.filesystem import filesystem
from va_gpt.synthetic.anomalies import NORMAL_CLASS, UCF_CLASSES
from va_gpt.synthetic.domain import Domain
from va_gpt.synthetic.scene import Event, Scene, frame_labels, make_scene


@dataclass
class VideoTruth:
    """Ground truth for one archived video."""

    key: str  # {camera_id}/{date}/{HHMMSS}.mp4, relative to the archive URL
    camera_id: str
    date: str
    start_time: str  # HH:MM:SS local wall clock
    duration_s: float
    fps: float
    num_frames: int
    width: int
    height: int
    codec: str
    seed: int
    camera_seed: int
    label: str  # anomaly kind or "normal"
    events: list[Event] = field(default_factory=list)
    domain: Domain | None = None  # None: the plain renderer
    distractors: list[str] = field(default_factory=list)  # hard negatives of a normal video

    @property
    def start(self) -> _dt.datetime:
        return _dt.datetime.fromisoformat(f"{self.date}T{self.start_time}")

    @property
    def ucf_class(self) -> str:
        return UCF_CLASSES.get(self.label, NORMAL_CLASS)

    def frame_labels(self) -> np.ndarray:
        return frame_labels(self.events, self.fps, self.num_frames)

    def annotation_line(self) -> str:
        """UCF-Crime temporal annotation line: name class s1 e1 s2 e2 (exclusive ends, -1 = absent)."""
        ranges = [ev.frames(self.fps) for ev in self.events]
        if len(ranges) > 2:
            raise ValueError(f"{self.key}: the UCF format holds at most 2 events, got {len(ranges)}")
        vals = [v for r in ranges for v in r] + [-1] * (4 - 2 * len(ranges))
        return "  ".join([self.key, self.ucf_class, *map(str, vals)]) + "  "

    def to_dict(self) -> dict:
        d = {
            "key": self.key,
            "camera_id": self.camera_id,
            "date": self.date,
            "start_time": self.start_time,
            "start": self.start.isoformat(),
            "duration_s": self.duration_s,
            "fps": self.fps,
            "num_frames": self.num_frames,
            "width": self.width,
            "height": self.height,
            "codec": self.codec,
            "seed": self.seed,
            "camera_seed": self.camera_seed,
            "label": self.label,
            "class": self.ucf_class,
            "events": [ev.to_dict(self.fps) for ev in self.events],
        }
        if self.domain is not None:  # (plain videos keep the original record)
            d["domain"] = self.domain.to_dict()
            d["distractors"] = list(self.distractors)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> VideoTruth:
        return cls(
            key=d["key"],
            camera_id=d["camera_id"],
            date=d["date"],
            start_time=d["start_time"],
            duration_s=float(d["duration_s"]),
            fps=float(d["fps"]),
            num_frames=int(d["num_frames"]),
            width=int(d["width"]),
            height=int(d["height"]),
            codec=d["codec"],
            seed=int(d["seed"]),
            camera_seed=int(d["camera_seed"]),
            label=d["label"],
            events=[Event.from_dict(e) for e in d["events"]],
            # a record without "domain" is a plain video (archives from before domains)
            domain=Domain.from_dict(d["domain"]) if "domain" in d else None,
            distractors=list(d["distractors"]) if "domain" in d else [],
        )

    def scene(self) -> Scene:
        """Rebuild the Scene this video was rendered from (same frames, before encoding)."""
        anomaly = None if self.label == "normal" else self.label
        start = self.events[0].start_s if self.events else None
        if self.domain is not None:  # size and rate come from the domain
            return make_scene(
                self.seed, anomaly, self.duration_s, None, None, None, start,
                camera_seed=self.camera_seed, domain=self.domain,
            )  # fmt: skip
        return make_scene(
            self.seed,
            anomaly,
            self.duration_s,
            self.width,
            self.height,
            self.fps,
            start,
            camera_seed=self.camera_seed,
        )


@dataclass
class ArchiveTruth:
    """Ground truth of a generated archive: one VideoTruth per mp4 under `url`."""

    url: str
    seed: int
    videos: list[VideoTruth]

    ANNOTATION = "_truth/Temporal_Anomaly_Annotation.txt"
    EVENTS = "_truth/events.json"

    def video(self, key: str) -> VideoTruth:
        for v in self.videos:
            if v.key == key:
                return v
        raise KeyError(key)

    def video_url(self, key: str) -> str:
        return f"{self.url.rstrip('/')}/{key}"

    @property
    def keys(self) -> list[str]:
        return [v.key for v in self.videos]

    def annotation_text(self) -> str:
        return "".join(v.annotation_line() + "\n" for v in self.videos)

    def to_dict(self) -> dict:
        return {
            "format": "va-gpt-synthetic/1",
            "url": self.url,
            "seed": self.seed,
            "time_convention": "events are [start_s, end_s); frames [start_frame, end_frame), end exclusive",
            "box_convention": "x0, y0, x1, y1 pixels, x1 and y1 exclusive",
            "videos": [v.to_dict() for v in self.videos],
        }


def load_truth(url: str, storage_options: dict | None = None) -> ArchiveTruth:
    """Read ``{url}/_truth/events.json`` back into an ArchiveTruth."""
    url = url.rstrip("/")
    fs, root = filesystem(url, storage_options)
    path = f"{root}/{ArchiveTruth.EVENTS}"
    try:
        raw = fs.cat_file(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"no synthetic-archive ground truth at {url}/{ArchiveTruth.EVENTS}") from None
    d = json.loads(raw)
    return ArchiveTruth(url=url, seed=int(d["seed"]), videos=[VideoTruth.from_dict(v) for v in d["videos"]])
