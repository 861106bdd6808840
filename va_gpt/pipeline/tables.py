"""The four result tables (schemas/tables.py): rows from the pipeline's output, staged as Parquet.

`build_tables` turns per-video results and interval summaries into rows of
`videos`, `frame_scores`, `intervals` and `summaries`; `write_staged` writes one
Parquet file per (table, date, camera) under the run's staging prefix, invisible
to readers until the run is published (va_gpt.lake.commit.publish).
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections import defaultdict

import pyarrow.parquet as pq

from schemas.tables import conform
from va_gpt.io.filesystem import write_bytes
from va_gpt.io.retry import retry
from va_gpt.lake.commit import part_url
from va_gpt.pipeline.describe import PROMPT_VERSION, video_summaries
from va_gpt.pipeline.run import PIPELINE_VERSION


def _ts(start: dt.datetime | None, seconds: float) -> dt.datetime | None:
    return None if start is None else start + dt.timedelta(seconds=float(seconds))


def _finite(x) -> float | None:
    return None if x is None or x != x else float(x)


def build_tables(
    objects_by_id, results, summaries, *, run_id, model_version, processed_at
) -> dict[str, list[dict]]:
    """Pipeline output -> rows of the four tables (schemas/tables.py)."""
    label_by_interval = {(s["video_id"], int(s["interval_id"])): s.get("label") for s in summaries}
    tables: dict[str, list[dict]] = defaultdict(list)
    for r in results:
        obj = objects_by_id[r["video_id"]]
        part = {"camera_id": obj.camera_id, "date": obj.date}
        tables["videos"].append(
            {
                "video_id": r["video_id"],
                "uri": obj.uri,
                "etag": obj.etag,
                "size": obj.size,
                **part,
                "start_time": obj.start_time,
                "duration_s": r["duration_s"] if r["duration_s"] == r["duration_s"] else None,
                "decoded_s": _finite(r.get("decoded_s")),
                "fps": r["fps"] if r["fps"] == r["fps"] else None,
                "frames_sampled": r["frames_sampled"],
                "status": r["status"],
                "error_message": r["error_message"],
                "pipeline_version": PIPELINE_VERSION,
                "model_version": model_version,
                "run_id": run_id,
                "processed_at": processed_at,
            }
        )
        for t, s, e in zip(r["t"], r["score"], r["diff_energy"]):
            tables["frame_scores"].append(
                {
                    "video_id": r["video_id"],
                    **part,
                    "t": float(t),
                    "timestamp": _ts(obj.start_time, t),
                    "score": float(s),
                    "diff_energy": float(e),
                    "run_id": run_id,
                }
            )
        for iv in json.loads(r["intervals"]):
            tables["intervals"].append(
                {
                    "video_id": r["video_id"],
                    "interval_id": iv["interval_id"],
                    **part,
                    "start_s": iv["start_s"],
                    "end_s": iv["end_s"],
                    "start_time": _ts(obj.start_time, iv["start_s"]),
                    "end_time": _ts(obj.start_time, iv["end_s"]),
                    "peak_score": iv["peak_score"],
                    "mean_score": iv["mean_score"],
                    "box": iv["box"],
                    # The classifier's kind head names every interval; the describe text only
                    # when the interval has no kind (a classifier without a kind head).
                    "label": iv.get("label") or label_by_interval.get((r["video_id"], iv["interval_id"])),
                    "run_id": run_id,
                }
            )
    for s in [*summaries, *video_summaries(summaries)]:  # + a whole-video row per video
        obj = objects_by_id[s["video_id"]]
        tables["summaries"].append(
            {
                "video_id": s["video_id"],
                "interval_id": int(s["interval_id"]) if s.get("interval_id") is not None else None,
                "camera_id": obj.camera_id,
                "date": obj.date,
                "text": s["text"],
                "fields": s.get("fields"),
                "kind": s.get("label"),
                "judgement": s.get("judgement"),
                "description": s.get("description"),
                "analysis": s.get("analysis"),
                "model_version": s.get("model_version") or model_version,
                "prompt_version": s.get("prompt_version") or PROMPT_VERSION,
                "run_id": run_id,
            }
        )
    return tables


def write_staged(results_url: str, run_id: str, tables: dict[str, list[dict]], storage_options=None) -> dict:
    """One Parquet file per (table, date, camera) under the run's staging prefix."""
    staged: dict[str, list[str]] = defaultdict(list)
    for table, rows in tables.items():
        groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for row in rows:
            groups[(row["date"], row["camera_id"])].append(row)
        for (date, camera), group in sorted(groups.items()):
            url = part_url(results_url, table, date, camera, run_id, 0, staged=True)
            buf = io.BytesIO()
            pq.write_table(conform(table, group), buf, compression="zstd")
            data = buf.getvalue()
            retry(lambda u=url, b=data: write_bytes(u, b, storage_options))
            staged[table].append(url)
    return dict(staged)
