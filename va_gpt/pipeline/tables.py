"""The four result tables (schemas/tables.py): rows from the pipeline's output, committed as Delta tables.

`build_tables` turns per-video results and interval summaries into rows of
`videos`, `frame_scores`, `intervals` and `summaries`; `commit_tables` replaces
the run's videos' rows in each Delta table with one commit (va_gpt.lake.delta).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from schemas.tables import TABLES, conform
from va_gpt.lake.delta import append_rows, replace_rows
from va_gpt.pipeline.describe import PROMPT_VERSION, video_summaries
from va_gpt.pipeline.run import PIPELINE_VERSION


def _ts(start: dt.datetime | None, seconds: float) -> dt.datetime | None:
    return None if start is None else start + dt.timedelta(seconds=float(seconds))


def _finite(x) -> float | None:
    return None if x is None or x != x else float(x)


def bad_key_result(obj) -> dict | None:
    """A `bad_key` error result for an object whose camera id cannot be a partition value, else None.

    Delta escapes any non-empty value (`cam=1`, spaces, non-ASCII are fine); an empty id,
    one with a slash or a control character, or an absurdly long one is refused per video,
    before decoding, instead of failing the night's commit.
    """
    cam = obj.camera_id
    if cam and "/" not in cam and len(cam) <= 200 and all(ch.isprintable() for ch in cam):
        return None
    return {
        "video_id": obj.video_id,
        "uri": obj.uri,
        "status": "bad_key",
        "error_message": f"camera id {cam!r} cannot be a partition value; rename the key",
        "duration_s": float("nan"),
        "decoded_s": float("nan"),
        "fps": float("nan"),
        "frames_sampled": 0,
        "t": [],
        "score": [],
        "diff_energy": [],
        "intervals": "[]",
    }


def _partition_camera(camera_id: str) -> str:
    """The camera id as stored: a refused one (bad_key) is kept, made safe, in the partition."""
    if camera_id and "/" not in camera_id and all(ch.isprintable() for ch in camera_id):
        return camera_id[:200]
    return "_bad_key_" + json.dumps(camera_id)[1:-1].replace("/", "%2F")[:180]


def run_row(
    summary, started_at, stages: dict, pipeline_version: str, model_version: str, versions: dict
) -> dict:
    """The `runs` row (schemas/tables.py RUNS) of a run that committed `versions`."""
    return {
        "run_id": summary.run_id,
        "date": started_at.date().isoformat(),
        "started_at": started_at,
        "finished_at": dt.datetime.now(dt.UTC),
        "listed": summary.listed,
        "processed": summary.processed,
        "skipped": summary.skipped,
        "ok": summary.ok,
        "partial": summary.partial,
        "failed": summary.failed,
        "retry_next_night": summary.retry_next_night,
        "skipped_keys": len(summary.skipped_keys),
        "skipped_detail": json.dumps([s.to_dict() for s in summary.skipped_keys]),
        "untimed_keys": len(summary.untimed_keys),
        "intervals": summary.intervals,
        "footage_hours": summary.footage_hours,
        "stage_seconds": json.dumps({k: round(v, 3) for k, v in stages.items()}),
        "pipeline_version": pipeline_version,
        "model_version": model_version,
        "exit_state": "committed",
        **{f"{t}_version": versions[t] for t in TABLES},
    }


def _utc(local: dt.datetime | None, zone: str) -> dt.datetime | None:
    """Camera-local wall clock -> UTC (an ambiguous or skipped DST time resolves with fold=0)."""
    return None if local is None else local.replace(tzinfo=ZoneInfo(zone)).astimezone(dt.UTC)


def build_tables(
    objects_by_id, results, summaries, *, run_id, model_version, processed_at, camera_tz=None
) -> dict[str, list[dict]]:
    """Pipeline output -> rows of the four tables (schemas/tables.py).

    `camera_tz`: camera_id -> IANA zone of its wall clock (missing: UTC)."""
    zones = camera_tz or {}
    label_by_interval = {(s["video_id"], int(s["interval_id"])): s.get("label") for s in summaries}
    tables: dict[str, list[dict]] = defaultdict(list)
    for r in results:
        obj = objects_by_id[r["video_id"]]
        part = {"camera_id": _partition_camera(obj.camera_id), "date": obj.date}
        zone = zones.get(obj.camera_id, "UTC")
        tables["videos"].append(
            {
                "video_id": r["video_id"],
                "uri": obj.uri,
                "etag": obj.etag,
                "size": obj.size,
                **part,
                "start_time": obj.start_time,
                "camera_tz": zone,
                "start_utc": _utc(obj.start_time, zone),
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
                    "camera_tz": zone,
                    "start_utc": _utc(_ts(obj.start_time, iv["start_s"]), zone),
                    "end_utc": _utc(_ts(obj.start_time, iv["end_s"]), zone),
                    "peak_score": iv["peak_score"],
                    "mean_score": iv["mean_score"],
                    "box": iv["box"],
                    "peak_s": iv.get("peak_s"),
                    "keyframe_uri": iv.get("keyframe_uri"),
                    "preview_uri": iv.get("preview_uri"),
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
                "camera_id": _partition_camera(obj.camera_id),
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


def commit_tables(
    results_url: str, tables: dict[str, list[dict]], video_ids: list[str], storage_options=None
) -> dict[str, int]:
    """One Delta commit per result table replacing the rows of `video_ids`; table -> new version.

    Every table is written, with no rows too, so a rerun that finds fewer intervals
    drops the old ones. A reader of one table never sees part of this run's rows.
    """
    return {
        table: replace_rows(
            results_url, table, conform(table, tables.get(table, [])), "video_id", video_ids, storage_options
        )
        for table in TABLES
    }


def write_run(
    results_url: str, run_id: str, tables: dict[str, list[dict]], storage_options=None
) -> dict[str, int]:
    """Commit rows of the four tables as one run, the way nightly does (result tables, then the
    `runs` row that makes them visible). For fixtures and tools; returns table -> version."""
    video_ids = sorted({r["video_id"] for rows in tables.values() for r in rows})
    versions = commit_tables(results_url, tables, video_ids, storage_options)
    now = dt.datetime.now(dt.UTC)
    videos = tables.get("videos", [])
    summary = SimpleNamespace(
        run_id=run_id, listed=len(videos), processed=len(videos), skipped=0,
        ok=sum(v["status"] == "ok" for v in videos), partial=sum(v["status"] == "partial" for v in videos),
        failed=sum(v["status"] not in ("ok", "partial") for v in videos), retry_next_night=0,
        skipped_keys=[], untimed_keys=[], intervals=len(tables.get("intervals", [])), footage_hours=0.0,
    )  # fmt: skip
    row = run_row(summary, now, {}, PIPELINE_VERSION, videos[0]["model_version"] if videos else "-", versions)
    append_rows(results_url, "runs", conform("runs", [row]), storage_options)
    return versions
