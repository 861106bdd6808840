"""One night's rows for the report, read through the result views (va_gpt.lake.query.connect).

The views hold only committed runs and, per video, only its latest run, so the
report shows exactly what `vagpt query` shows. A results URL without any committed
run is a ReportError that says so, not an empty report.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

import numpy as np

from va_gpt.io.archive import as_iso_date
from va_gpt.io.errors import StorageError
from va_gpt.lake.delta import runs as committed_runs
from va_gpt.lake.query import QueryError, connect
from va_gpt.ops.intervals import peak_time


class ReportError(ValueError):
    pass


__all__ = ["Night", "ReportError", "RunInfo", "load_night"]

RUN_COLUMNS = ("listed", "processed", "ok", "partial", "failed", "skipped_keys", "untimed_keys",
               "intervals", "footage_hours", "exit_state")  # fmt: skip


@dataclass(frozen=True)
class RunInfo:
    """One row of the `runs` table: its id, when it committed, and the other columns as `meta`."""

    run_id: str
    committed_at: str
    meta: dict

    @classmethod
    def from_row(cls, row: dict) -> RunInfo:
        # What an operator reads: counts, footage hours and the run's timings (wall seconds and
        # one column per stage); table versions and the skipped-key JSON stay in SQL.
        meta = {k: v for k, v in row.items() if k in RUN_COLUMNS and v is not None}
        meta["wall_s"] = round((row["finished_at"] - row["started_at"]).total_seconds(), 1)
        stages = json.loads(row.get("stage_seconds") or "{}")
        meta.update({f"{stage}_s": round(float(sec), 1) for stage, sec in stages.items()})
        return cls(row["run_id"], row["finished_at"].isoformat(), meta)


@dataclass
class Night:
    results: str
    date: str
    videos: list[dict]  # `videos` rows of the night, by camera, start time, uri
    scores: dict[str, tuple[np.ndarray, np.ndarray]]  # video_id -> (t, score), sorted by t
    intervals: list[
        dict
    ]  # `intervals` rows + uri, summary, summary_fields, summary_kind, peak_t, video_start
    runs: list[RunInfo]  # the committed runs (the `runs` table)
    other_dates: list[str] = field(default_factory=list)  # nights that do have results

    @property
    def cameras(self) -> list[str]:
        return sorted({v["camera_id"] for v in self.videos})

    def videos_of(self, camera_id: str) -> list[dict]:
        return [v for v in self.videos if v["camera_id"] == camera_id]

    def intervals_of(self, camera_id: str) -> list[dict]:
        return [i for i in self.intervals if i["camera_id"] == camera_id]


def _start_key(v: dict):
    return (v["camera_id"], v["start_time"] or dt.datetime.max, v["uri"])


def load_night(
    results: str, date: str, cameras: list[str] | None = None, storage_options: dict | None = None
) -> Night:
    """The rows of `date` (and `cameras`, when given) under `results`. Raises ReportError."""
    try:
        day = as_iso_date(date)
    except ValueError as e:
        raise ReportError(f"--date {date!r}: {e}") from None
    try:
        runs = [RunInfo.from_row(r) for r in committed_runs(results, storage_options)]
    except (StorageError, OSError) as e:
        raise ReportError(f"cannot read results at {results}: {e}") from e
    if not runs:
        raise ReportError(
            f"{results} holds no committed results (no rows in the Delta table {results.rstrip('/')}/runs): "
            "not a results folder, or `vagpt nightly` has not committed a run there yet"
        )
    try:
        con = connect(results, storage_options)
    except (QueryError, StorageError) as e:
        raise ReportError(f"cannot open the result tables at {results}: {e}") from e
    try:
        videos = con.execute("SELECT * FROM videos WHERE date = ?", [day]).fetch_arrow_table().to_pylist()
        scores_tbl = con.execute(
            "SELECT video_id, t, score FROM frame_scores WHERE date = ? ORDER BY video_id, t", [day]
        ).fetch_arrow_table()
        intervals = (
            con.execute(
                "SELECT i.*, s.text AS summary, s.fields AS summary_fields, s.kind AS summary_kind FROM intervals i "
                "LEFT JOIN summaries s ON s.video_id = i.video_id AND s.interval_id = i.interval_id "
                "WHERE i.date = ? ORDER BY i.camera_id, i.start_time NULLS LAST, i.video_id, i.interval_id",
                [day],
            )
            .fetch_arrow_table()
            .to_pylist()
        )
        other_dates = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT date FROM videos WHERE date <> ? ORDER BY 1", [day]
            ).fetchall()
        ]
    finally:
        con.close()
    if cameras:
        wanted = set(cameras)
        videos = [v for v in videos if v["camera_id"] in wanted]
        intervals = [i for i in intervals if i["camera_id"] in wanted]
    videos.sort(key=_start_key)
    by_id = {v["video_id"]: v for v in videos}

    scores: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if scores_tbl.num_rows:
        vid = scores_tbl.column("video_id").to_numpy(zero_copy_only=False)
        t = scores_tbl.column("t").to_numpy()
        s = scores_tbl.column("score").to_numpy().astype(np.float64)
        cuts = np.flatnonzero(vid[1:] != vid[:-1]) + 1
        for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(vid)]):
            if vid[a] in by_id:
                scores[vid[a]] = (t[a:b], s[a:b])

    for row in intervals:
        v = by_id.get(row["video_id"], {})
        row["uri"] = v.get("uri")
        row["video_start"] = v.get("start_time")
        if row.get("peak_s") is not None:  # stored by the pipeline's keyframe stage
            row["peak_t"] = float(row["peak_s"])
        else:  # results from before it
            t, s = scores.get(row["video_id"], (np.zeros(0), np.zeros(0)))
            row["peak_t"] = peak_time(t, s, row["start_s"], row["end_s"])
    run_ids = {v["run_id"] for v in videos}
    return Night(
        results=results,
        date=day,
        videos=videos,
        scores=scores,
        intervals=intervals,
        runs=[r for r in runs if r.run_id in run_ids],
        other_dates=other_dates,
    )
