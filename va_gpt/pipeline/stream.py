"""The nightly dataflow with the per-video work inside Ray: no per-frame data through the driver.

    from_items(video rows)
      .map_batches(decode_videos)                  CPU tasks (va_gpt.pipeline.run)
      .map_batches(VisualStage, ActorPool)         per-clip score rows
      .groupby("video_id").map_groups(per_video)   status, intervals, and the video's frame_scores
                                                   Parquet file, written by the task itself; each
                                                   interval's keyframe + preview JPEGs (CPU,
                                                   va_gpt.pipeline.keyframes), written there too
      .map_batches(DescribeVideos, ActorPool)      describes the videos with intervals, passes the rest
    -> one small row per video to the driver: status, counts, intervals (JSON), the frame file's
       spec (path, size, statistics), summaries (JSON)

The driver commits the worker-written frame files in one Delta commit
(va_gpt.lake.files.replace_with_files) and writes the small tables itself.
`run_stream_local` chains the same functions in this process, so the rows are the
same with or without Ray.

Why describe still waits for the group-by (Ray Data 2.60, read in the installed
source, not guessed): `GroupedData.map_groups` first co-locates each key, by
`repartition(n, keys=..., sort=True)` under the default SHUFFLE_V2 (and
HASH_SHUFFLE) strategy or by a global `sort` under the sort strategies. The
shuffle's map side (`ShuffleMapOp._maybe_emit_partition_bundles`; for
HASH_SHUFFLE `HashShuffleOperator._try_finalize`) hands partitions on only once
all its inputs are complete and no map task is pending, so the first group
leaves the shuffle after the last clip has been scored. Nothing else in Ray Data
finishes a group early: no operator routes rows by key to a stateful actor, and
the visual actor pool gives a video's clips to any of its actors, so no operator
can know a video is complete (that would take a coordinator actor of our own
beside Ray Data). What overlaps anyway: every operator of the one execution
starts at once, so the describe actor loads its model while decode and visual
run; after the barrier the per-video tasks (intervals, frame file, stills) and
describe run side by side, describe taking each video as soon as its row leaves
`per_video` (batch_size=1: a video's intervals are batched together inside
`DescribeVideos`, so nothing is gained by waiting for more videos); and it is
the same execution, not a second dataset after a driver round trip.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import numpy as np

from schemas.tables import conform
from va_gpt.lake.files import write_data_file
from va_gpt.pipeline.breaker import raise_if_tripped, until_outage
from va_gpt.pipeline.keyframes import add_keyframes
from va_gpt.pipeline.run import (
    DescribeVideos,
    Job,
    _batch,
    _column,
    _plain,
    _resources,
    _rows,
    describe_stage,
    from_batch_row,
    interval_settings,
    per_video_dataset,
    scored_groups,
    split_summaries,
    summarize_video,
)

# What a per-video row carries to the driver (besides `frame_file` and `summaries`).
VIDEO_KEYS = (
    "video_id", "uri", "status", "error_message", "duration_s", "decoded_s", "fps", "frames_sampled", "intervals",
)  # fmt: skip


@dataclass(frozen=True)
class Sink:
    """Where workers write the frame_scores files, and what each video's rows need from its key."""

    results: str
    run_id: str
    storage_options: dict | None
    videos: (
        dict  # video_id -> {"camera_id": partition value, "date": YYYY-MM-DD, "start_time": datetime | None}
    )
    keyframes: bool = True  # cut each interval's stills (va_gpt.pipeline.keyframes); False: URIs null


def _ts(start: dt.datetime | None, seconds: float) -> dt.datetime | None:
    """start + seconds (va_gpt.pipeline.tables does the same for interval times)."""
    return None if start is None else start + dt.timedelta(seconds=float(seconds))


def frame_rows(result: dict, sink: Sink) -> dict[str, list]:
    """A video's `frame_scores` columns: one value per sampled frame."""
    meta = sink.videos[result["video_id"]]
    t = np.asarray(result["t"], np.float64)
    n = len(t)
    return {
        "video_id": [result["video_id"]] * n,
        "camera_id": [meta["camera_id"]] * n,
        "date": [meta["date"]] * n,
        "t": t.tolist(),
        "timestamp": [_ts(meta["start_time"], x) for x in t],
        "score": np.asarray(result["score"], np.float64).tolist(),
        "diff_energy": np.asarray(result["diff_energy"], np.float64).tolist(),
        "run_id": [sink.run_id] * n,
    }


def per_video(batch: dict[str, np.ndarray], job: Job, sink: Sink, settings) -> dict[str, np.ndarray]:
    """All clip rows of ONE video -> its small result row; its frame scores go to a data file here."""
    (result,) = [_plain(r) for r in _rows(summarize_video(batch, job, settings))]
    spec = None
    if result["frames_sampled"]:
        spec = write_data_file(
            sink.results,
            "frame_scores",
            conform("frame_scores", frame_rows(result, sink)),
            sink.storage_options,
        )
    meta = sink.videos[result["video_id"]]
    result["intervals"] = add_keyframes(
        result["intervals"], uri=result["uri"], t=result["t"], score=result["score"], results=sink.results,
        run_id=sink.run_id, video_id=result["video_id"], camera_id=meta["camera_id"], date=meta["date"],
        storage_options=sink.storage_options, cut=sink.keyframes,
    )  # fmt: skip
    row = {k: result[k] for k in VIDEO_KEYS}
    row["frame_file"] = json.dumps(spec) if spec else ""
    row["summaries"] = "[]"
    described = job.describe and json.loads(result["intervals"])
    # The describe stage needs the scores (TETG tokens) of videos with intervals only.
    row["t"] = np.asarray(result["t"], np.float64) if described else np.zeros(0)
    row["score"] = np.asarray(result["score"], np.float64) if described else np.zeros(0)
    return {k: _column([v]) for k, v in row.items()}


def _drop_scores(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: v for k, v in batch.items() if k not in ("t", "score")}


def _finish(rows) -> tuple[list[dict], list[dict], list[dict]]:
    """Per-video rows -> (results for build_tables, summary rows, frame file specs)."""
    results, summaries = split_summaries(from_batch_row(r) for r in rows)
    files = []
    for r in results:
        spec = r.pop("frame_file")
        if spec:
            files.append(json.loads(spec))
        r.update(t=[], score=[], diff_energy=[])  # frame scores are in the files, not in the rows
    return results, summaries, files


def run_stream_local(rows: list[dict], job: Job, sink: Sink) -> tuple[list[dict], list[dict], list[dict]]:
    """The same functions in this process: (results, summaries, frame file specs)."""
    # After each video: the store is down? stop here, before any write.
    groups = scored_groups(rows, job, after_video=lambda: raise_if_tripped(job.breaker))
    settings = interval_settings(job)
    per = [_rows(per_video(g, job, sink, settings))[0] for g in groups]
    if job.describe and per:
        per = _rows(DescribeVideos(job)(_batch(per)))
    else:
        per = _rows(_drop_scores(_batch(per))) if per else []
    return _finish(per)


def stream_dataset(rows: list[dict], job: Job, sink: Sink):
    """The whole nightly dataflow as one Ray dataset: small per-video rows out."""
    res = _resources(job)
    kwargs = {"job": job, "sink": sink, "settings": interval_settings(job)}
    ds = per_video_dataset(rows, job, per_video, kwargs, res)
    if not job.describe:
        return ds.map_batches(_drop_scores, num_cpus=res["decode_cpus"])
    return describe_stage(ds, job, res)


def run_stream_ray(rows: list[dict], job: Job, sink: Sink) -> tuple[list[dict], list[dict], list[dict]]:
    """`stream_dataset` executed on the connected Ray cluster: (results, summaries, frame file specs)."""
    if not rows:
        return [], [], []
    return _finish(until_outage(stream_dataset(rows, job, sink).iter_rows(), job.breaker))
