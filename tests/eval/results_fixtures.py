"""A committed results folder and a UCF-Crime annotation file for the eval tests: three videos at 30 fps."""

from __future__ import annotations

import datetime as dt

import numpy as np

from va_gpt.io.archive import video_id_for
from va_gpt.pipeline.tables import write_run

RUN = "20261121T220000Z-test01"
FPS = 30.0
# name, class, events (native frames, exclusive ends), duration s
VIDEOS = [
    ("Abuse001_x264", "Abuse", [(60, 150)], 10.0),
    ("Arson002_x264", "Arson", [(30, 90), (200, 260)], 10.0),
    ("Normal_Videos_003_x264", "Normal", [], 10.0),
]


def _score_curve(events, duration, seed):
    """2 fps scores: noisy, higher inside the events."""
    rng = np.random.default_rng(seed)
    t = np.arange(0, duration, 0.5)
    s = rng.uniform(0.0, 0.5, len(t))
    for a, b in events:
        inside = (t * FPS >= a) & (t * FPS < b)
        s[inside] = rng.uniform(0.3, 1.0, inside.sum())
    return t, s.astype(np.float32).astype(np.float64)


def write_results(
    root: str, videos=VIDEOS, intervals=None, uri_prefix="s3://archive/ucf/", score_seed: int = 0
) -> dict:
    """A committed results folder with the four tables (schemas/tables.py), the way nightly writes one.
    `score_seed`: another value gives the same videos other scores (another classifier)."""
    now = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)
    tables = {"videos": [], "frame_scores": [], "intervals": [], "summaries": []}
    curves = {}
    for i, (name, _, events, dur) in enumerate(videos):
        uri = f"{uri_prefix}{name}.mp4"
        vid = video_id_for(uri)
        part = {"camera_id": "cam01", "date": "2026-11-21"}
        tables["videos"].append(
            dict(video_id=vid, uri=uri, etag="e", size=1, **part, start_time=None, duration_s=dur, fps=FPS,
                 frames_sampled=int(dur * 2), status="ok", error_message=None, pipeline_version="p",
                 model_version="m", run_id=RUN, processed_at=now)
        )  # fmt: skip
        t, s = _score_curve(events, dur, i + score_seed)
        curves[name] = (t, s)
        for tt, ss in zip(t, s):
            tables["frame_scores"].append(
                dict(
                    video_id=vid,
                    **part,
                    t=float(tt),
                    timestamp=None,
                    score=float(ss),
                    diff_energy=0.0,
                    run_id=RUN,
                )
            )
        for k, (a, b) in enumerate((intervals or {}).get(name, [])):
            tables["intervals"].append(
                dict(video_id=vid, interval_id=k, **part, start_s=a, end_s=b, start_time=None, end_time=None,
                     peak_score=0.9, mean_score=0.7, box=[0.0, 0.0, 1.0, 1.0], label=None, run_id=RUN)
            )  # fmt: skip
    write_run(root, RUN, {t: rows for t, rows in tables.items() if rows})
    return curves


def write_ucf(path, videos=VIDEOS) -> str:
    lines = []
    for name, cls, events, _ in videos:
        vals = [v for e in events for v in e] + [-1] * (4 - 2 * len(events))
        lines.append("  ".join([f"{name}.mp4", cls, *map(str, vals)]))
    path.write_text("\n".join(lines) + "\n")
    return str(path)
