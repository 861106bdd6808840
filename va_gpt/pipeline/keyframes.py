"""The keyframe stage: per interval, the peak frame (SETS box drawn) and a contact sheet, stored
under the results root for the report and for SQL.

It runs in the per-video task right after the intervals (va_gpt.pipeline.stream.per_video),
where the video's source URI, frame scores and intervals are at hand. Each interval gets

    peak_s        the time of the highest score inside it (va_gpt.ops.intervals.peak_time)
    keyframe_uri  {results}/media/{date}/{camera_id}/{video_id}/{run_id}-{interval_id}_key.jpg
    preview_uri   ..._sheet.jpg                     (va_gpt.lake.media.media_url)

The JPEGs are cut in one pass over the source (va_gpt.video.keyframes.cut_interval_media).
A cut or write that fails (the source gone mid-run, a decode or storage error) leaves that
interval's URIs null and logs a warning; it never fails the video. The report cuts missing
stills itself (va_gpt.report.media), so a night without them still gets its pictures.
"""

from __future__ import annotations

import json
import logging

import numpy as np

from va_gpt.io.errors import StorageError
from va_gpt.io.filesystem import write_bytes
from va_gpt.lake.media import media_url
from va_gpt.ops.intervals import peak_time
from va_gpt.video.errors import DecodeError
from va_gpt.video.keyframes import cut_interval_media

log = logging.getLogger(__name__)


def _store(iv: dict, where: dict, uri: str, storage_options: dict | None) -> None:
    """Cut interval `iv`'s stills from `uri` and write them at `where`'s media URLs; sets the URIs."""
    key_url, sheet_url = (
        media_url(where["results"], where, "key"),
        media_url(where["results"], where, "sheet"),
    )
    try:
        cut = cut_interval_media(
            uri,
            peak_s=iv["peak_s"],
            start_s=float(iv["start_s"]),
            end_s=float(iv["end_s"]),
            box=iv.get("box"),
            storage_options=storage_options,
        )
        write_bytes(key_url, cut.keyframe, storage_options)
        write_bytes(sheet_url, cut.sheet, storage_options)
    except (DecodeError, StorageError, OSError, ValueError) as e:
        log.warning("no keyframe for %s interval %s (%s): %s", where["video_id"], iv["interval_id"], uri, e)
        return
    iv["keyframe_uri"], iv["preview_uri"] = key_url, sheet_url


def add_keyframes(
    intervals_json: str,
    *,
    uri: str,
    t,
    score,
    results: str,
    run_id: str,
    video_id: str,
    camera_id: str,
    date: str,
    storage_options: dict | None = None,
    cut: bool = True,
) -> str:
    """A video's intervals (JSON, as summarize_video gives them) with `peak_s`, `keyframe_uri` and
    `preview_uri` added to each; the URIs stay null with `cut` False or when cutting fails."""
    intervals = json.loads(intervals_json)
    if not intervals:
        return intervals_json
    t, score = np.asarray(t, np.float64), np.asarray(score, np.float64)
    for iv in intervals:
        iv["peak_s"] = peak_time(t, score, float(iv["start_s"]), float(iv["end_s"]))
        iv["keyframe_uri"] = iv["preview_uri"] = None
        if cut:
            where = {
                "results": results,
                "run_id": run_id,
                "interval_id": iv["interval_id"],
                "date": date,
                "camera_id": camera_id,
                "video_id": video_id,
            }
            _store(iv, where, uri, storage_options)
    return json.dumps(intervals)
