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
(va_gpt.lake.files.replace_with_files) and writes the small tables itself. The
group-by is a barrier (Ray Data shuffles every clip row before the first group),
so describe starts once the visual stage is done, but inside the same streaming
execution: it describes each video as its group arrives, not after a driver
round trip. `run_stream_local` chains the same functions in this process, so the
rows are the same with or without Ray.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import numpy as np
import ray

from schemas.tables import conform
from va_gpt.lake.files import write_data_file
from va_gpt.pipeline.breaker import raise_if_tripped, until_outage
from va_gpt.pipeline.describe import Describe
from va_gpt.pipeline.keyframes import add_keyframes
from va_gpt.pipeline.run import (
    Job,
    VisualStage,
    _batch,
    _column,
    _describe_kwargs,
    _plain,
    _resources,
    _rows,
    build_dataset,
    decode_videos,
    interval_rows,
    interval_settings,
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


def _json(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON: {type(o).__name__}")


class DescribeVideos:
    """Per-video rows -> the same rows with `summaries` (JSON) filled for videos with intervals and
    the score arrays dropped. Each video's intervals are described in batches of their own, so the
    text does not depend on which videos Ray put in a batch."""

    def __init__(self, job: Job):
        self.describe = Describe(**_describe_kwargs(job))
        self.bs = max(1, job.preset.runtime.batch_size)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows = [_plain(r) for r in _rows(batch)]
        for r in rows:
            todo = interval_rows([r])
            out: list[dict] = []
            for i in range(0, len(todo), self.bs):
                out += [_plain(s) for s in _rows(self.describe(_batch(todo[i : i + self.bs])))]
            if out:
                r["summaries"] = json.dumps(out, default=_json)
        return _batch([{k: v for k, v in r.items() if k not in ("t", "score")} for r in rows])


def _drop_scores(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: v for k, v in batch.items() if k not in ("t", "score")}


def _finish(rows) -> tuple[list[dict], list[dict], list[dict]]:
    """Per-video rows -> (results for build_tables, summary rows, frame file specs)."""
    results, summaries, files = [], [], []
    for r in rows:
        r = _plain(dict(r))
        summaries += json.loads(r.pop("summaries") or "[]")
        spec = r.pop("frame_file")
        if spec:
            files.append(json.loads(spec))
        if not isinstance(r["error_message"], str):
            r["error_message"] = None  # a null string column comes back as NaN from a numpy batch
        r.update(t=[], score=[], diff_energy=[])  # frame scores are in the files, not in the rows
        results.append(r)
    return results, summaries, files


def run_stream_local(rows: list[dict], job: Job, sink: Sink) -> tuple[list[dict], list[dict], list[dict]]:
    """The same functions in this process: (results, summaries, frame file specs)."""
    visual = VisualStage(job)
    groups: dict[str, list[dict]] = {}
    for row in rows:
        for clip_batch in decode_videos(_batch([row]), job):
            for r in _rows(visual(clip_batch)):
                groups.setdefault(str(r["video_id"]), []).append(r)
        raise_if_tripped(job.breaker)  # the store is down: stop here, before any write
    settings = interval_settings(job)
    per = [_rows(per_video(_batch(g), job, sink, settings))[0] for g in groups.values()]
    if job.describe and per:
        describe = DescribeVideos(job)
        per = _rows(describe(_batch(per)))
    else:
        per = _rows(_drop_scores(_batch(per))) if per else []
    return _finish(per)


def stream_dataset(rows: list[dict], job: Job, sink: Sink):
    """The whole nightly dataflow as one Ray dataset: small per-video rows out."""
    res = _stream_resources(job)
    ds = (
        build_dataset(rows, job)
        .groupby("video_id", num_partitions=max(1, min(len(rows), 16)))
        .map_groups(
            per_video,
            batch_format="numpy",
            fn_kwargs={"job": job, "sink": sink, "settings": interval_settings(job)},
            num_cpus=res["decode_cpus"],
        )
    )
    if not job.describe:
        return ds.map_batches(_drop_scores, num_cpus=res["decode_cpus"])
    return ds.map_batches(
        DescribeVideos,
        fn_constructor_kwargs={"job": job},
        batch_size=job.preset.runtime.batch_size,
        compute=ray.data.ActorPoolStrategy(size=res["describe_actors"]),
        num_cpus=res["describe_cpus"],
        num_gpus=res["describe_gpus"],
    )


def _stream_resources(job: Job) -> dict:
    """`_resources`, with the describe actors sized to live beside the visual actors and a
    decode task: every actor pool of the one execution starts at once, and actors that
    took every CPU would starve the decode tasks forever."""
    res = _resources(job)
    if job.describe and not res["describe_gpus"] and "describe_cpus" not in job.ray:
        cpus = ray.cluster_resources().get("CPU", 1.0)
        spare = cpus - res["visual_cpus"] * res["visual_actors"] - res["decode_cpus"]
        if spare < res["describe_cpus"]:
            res["decode_cpus"] = min(res["decode_cpus"], 0.5)
            res["describe_cpus"] = max(0.25, min(res["describe_cpus"], spare + 0.5))
    return res


def run_stream_ray(rows: list[dict], job: Job, sink: Sink) -> tuple[list[dict], list[dict], list[dict]]:
    """`stream_dataset` executed on the connected Ray cluster: (results, summaries, frame file specs)."""
    if not rows:
        return [], [], []
    return _finish(until_outage(stream_dataset(rows, job, sink).iter_rows(), job.breaker))
