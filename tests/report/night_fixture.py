"""A small committed night for the report tests, written the way nightly writes one.

Real source videos (tests/videos.py: every frame shows its index) and the four tables
(schemas/tables.py) committed as one run (va_gpt.pipeline.tables.write_run):

    cam01  v0  12 s  ok      intervals 0 (fight, 3-6 s, peak 4.5 s) and 1 (fall, 8-10 s)
    cam01  v1  12 s  ok      no interval (normal footage)
    cam02  v2  12 s  ok      interval 0 (abandoned_object, 2-5 s); its source is deleted when
                             `drop_source` (the card must say so instead of crashing)
    cam02  v3  --    corrupt a failed video: a `videos` row with its error, nothing else
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from schemas.tables import TABLES
from tests.videos import write_video
from va_gpt.io.archive import video_id_for
from va_gpt.io.filesystem import filesystem, join, write_bytes
from va_gpt.pipeline.tables import write_run

DATE = "2026-11-21"
RUN = "20261122T030000Z-rep001"
FPS = 2.0  # frame_scores sampling rate
NIGHT = dt.datetime(2026, 11, 21, 22, 0, 0)

# name, camera, start offset from 22:00 (s), status, intervals (start, end, peak, label, box)
VIDEOS = [
    (
        "v0",
        "cam01",
        0,
        "ok",
        [(3.0, 6.0, 4.5, "fight", (0.2, 0.4, 0.6, 0.9)), (8.0, 10.0, 9.0, "fall", None)],
    ),
    ("v1", "cam01", 600, "ok", []),
    ("v2", "cam02", 120, "ok", [(2.0, 5.0, 3.5, "abandoned_object", (0.5, 0.5, 0.9, 0.95))]),
    ("v3", "cam02", 900, "corrupt", []),
]


@dataclass
class FixtureNight:
    results: str
    archive: str
    uris: dict[str, str]  # name -> source URI
    n_intervals: int
    intervals_per_camera: dict[str, int]


def _put(url: str, data: bytes, so: dict | None) -> None:
    write_bytes(url, data, so)


def write_night(
    results: str, archive: str, tmp_path, so: dict | None = None, drop_source: bool = True
) -> FixtureNight:
    src = write_video(tmp_path / "src.mp4", seconds=12.0, fps=10, gop=20)
    mp4 = src.read_bytes()
    now = dt.datetime(2026, 11, 22, 3, 0, tzinfo=dt.UTC)
    tables: dict[str, list[dict]] = {"videos": [], "frame_scores": [], "intervals": [], "summaries": []}
    uris = {}
    for name, cam, off, status, ivs in VIDEOS:
        start = NIGHT + dt.timedelta(seconds=off)
        uri = join(archive, cam, DATE, f"{start:%H%M%S}_{name}.mp4")
        uris[name] = uri
        vid = video_id_for(uri)
        part = {"camera_id": cam, "date": DATE}
        ok = status == "ok"
        if ok:
            _put(uri, mp4, so)
        tables["videos"].append(
            dict(video_id=vid, uri=uri, etag="e", size=len(mp4) if ok else 10, **part, start_time=start,
                 duration_s=12.0 if ok else None, fps=10.0 if ok else None, frames_sampled=24 if ok else 0,
                 status=status, error_message=None if ok else f"{uri}: the file is not a video (moov missing)",
                 pipeline_version="1.0", model_version="tiny;test", run_id=RUN, processed_at=now)
        )  # fmt: skip
        if not ok:
            continue
        t = np.arange(0.0, 12.0, 1.0 / FPS)
        s = 0.1 + 0.05 * np.sin(t)
        for a, b, peak, _, _ in ivs:
            s = np.where((t >= a) & (t <= b), 0.6 + 0.3 * np.exp(-((t - peak) ** 2)), s)
        for tt, ss in zip(t, s):
            tables["frame_scores"].append(
                dict(video_id=vid, **part, t=float(tt), timestamp=start + dt.timedelta(seconds=float(tt)),
                     score=float(ss), diff_energy=0.0, run_id=RUN)
            )  # fmt: skip
        for k, (a, b, _peak, label, box) in enumerate(ivs):
            tables["intervals"].append(
                dict(video_id=vid, interval_id=k, **part, start_s=a, end_s=b,
                     start_time=start + dt.timedelta(seconds=a), end_time=start + dt.timedelta(seconds=b),
                     peak_score=0.9, mean_score=0.7, box=list(box) if box else None, label=label, run_id=RUN)
            )  # fmt: skip
            tables["summaries"].append(
                dict(video_id=vid, interval_id=k, **part, text=f"A {label.replace('_', ' ')} near the <gate> & door.",
                     fields=None, model_version="tiny;test", prompt_version="p1", run_id=RUN,
                     kind="normal" if label == "fall" else label)  # VA-GPT judges the fall normal
            )  # fmt: skip
    # Columns this fixture does not set (added by later schema versions) are null.
    full = {t: [{n: r.get(n) for n in TABLES[t].names} for r in rows] for t, rows in tables.items()}
    write_run(results, RUN, full, so)
    if drop_source:
        fs, path = filesystem(uris["v2"], so)
        fs.rm(path)
    per_cam: dict[str, int] = {}
    for _, cam, _, _, ivs in VIDEOS:
        per_cam[cam] = per_cam.get(cam, 0) + len(ivs)
    return FixtureNight(results, archive, uris, sum(per_cam.values()), per_cam)
