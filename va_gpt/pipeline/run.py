"""The stages wired: decode -> visual -> per-video intervals (-> describe).

The stages are the callables of `va_gpt/pipeline/` (decode, visual, describe);
this module only wires them, for callers that want the per-video results back
(the instruction-set feature build, evaluation, the bench's plain loop).
The nightly job (va_gpt.pipeline.stream) builds on the same pieces.
`run_local` chains them in-process (tests, debugging, the sequential baseline);
`run_ray` runs the same functions as one Ray Data execution:

    from_items(video rows)
      .map_batches(decode_videos)                  CPU tasks, a generator: one clip at a time, frames prepared
      .map_batches(VisualStage, ActorPool)         encoder + SETS + classifier, GPU when configured
      .groupby("video_id").map_groups(summarize_video)     one result row per video, in Ray
      .map_batches(DescribeVideos, ActorPool)      only with job.describe: each video's intervals

The driver receives one row per video (status, intervals, and the per-frame score
arrays the callers asked for), never a per-clip row. Memory is bounded by one clip
per decode task plus the actor batches, whatever the video length: frames never
exist for a whole video at once. Per-video errors are rows (status + message),
never exceptions; an exception from our own code stops the run, as Ray Data does
by default.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import ray
import torch

from va_gpt.checkpoints.classifier import config_lookahead, read_classifier_config
from va_gpt.config import IntervalConfig, Preset
from va_gpt.io.retry import retry
from va_gpt.models.classifier import KINDS, align_outputs
from va_gpt.ops.intervals import (
    calibrated_normal_share,
    interval_kind_probs,
    label_of,
    resolve_intervals,
    scores_to_intervals,
)
from va_gpt.pipeline.decode import OUTPUT_COLUMNS, Decode
from va_gpt.pipeline.describe import Describe
from va_gpt.pipeline.visual import CONSUMED, Visual, context_frames

PIPELINE_VERSION = "1.0"

# Decode error kinds worth another try: the object store may be briefly unreachable.
TRANSIENT_KINDS = ("storage",)

# Columns the Visual stage adds; error rows get empty arrays of the same shapes.
SCORE_COLUMNS = ("t", "score", "kind_prob", "diff_energy", "box")


@dataclass(frozen=True)
class Job:
    """What one run needs besides its input rows. Picklable: Ray ships it to workers."""

    preset: Preset
    classifier_dir: str | None = None  # TETG classifier checkpoint folder (any fsspec URL)
    checkpoint_url: str | None = None  # VA-GPT checkpoint folder for the describe stage
    storage_options: dict | None = None
    describe: bool = True
    retries: int = 3  # extra attempts for a transient storage error
    retry_delay_s: float = 0.5  # first backoff; doubles per attempt
    # va_gpt.pipeline.breaker.Breaker / RemoteBreaker: stops reading after N storage failures in a row.
    breaker: object = field(default=None, compare=False)
    ray: dict = field(default_factory=dict)  # resource overrides, see build_dataset


# ---------------------------------------------------------------------------------------------
# Stage adapters


def _column(values: list) -> np.ndarray:
    """A batch column from python values: arrays stay per-row objects (ragged allowed)."""
    if values and all(isinstance(v, np.ndarray) for v in values):
        out = np.empty(len(values), dtype=object)
        for i, v in enumerate(values):
            out[i] = v
        return out
    try:
        arr = np.asarray(values)
        if arr.dtype.kind in "biufU" and arr.ndim == 1:
            return arr
    except (ValueError, TypeError):
        pass
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        out[i] = v
    return out


def _rows(batch: dict[str, np.ndarray]) -> list[dict]:
    n = len(next(iter(batch.values()))) if batch else 0
    return [{k: v[i] for k, v in batch.items()} for i in range(n)]


def _batch(rows: list[dict]) -> dict[str, np.ndarray]:
    keys = list(rows[0]) if rows else []
    return {k: _column([r[k] for r in rows]) for k in keys}


def _is_error(row: dict) -> bool:
    kind = row.get("error_kind")
    return kind is not None and kind == kind and str(kind) != ""  # NaN-safe


def decode_videos(batch: dict[str, np.ndarray], job: Job) -> Iterator[dict[str, np.ndarray]]:
    """Decode stage with bounded retries: video rows -> clip rows, one batch per clip.

    A transient storage error before the first clip is retried with exponential
    backoff (va_gpt.io.retry); if it persists the error row goes on (status
    `storage`), and the nightly job leaves the object out of the manifest so the
    next night retries it.
    """
    decode = Decode.from_config(
        job.preset.decode,
        job.preset.decode_size,
        job.storage_options,
        context=context_frames(job.preset.classifier),
        sets=job.preset.sets,  # frames prepared on the decode tasks' cores, not in the visual actor
    )
    breaker = job.breaker
    for row in _rows(batch):
        one = {k: np.asarray([v], dtype=object) for k, v in row.items()}
        skip = breaker.tripped() if breaker is not None else None
        if skip:  # the store is down: a `storage` row at once, not another round of retries
            carry = {k: v for k, v in row.items() if k not in OUTPUT_COLUMNS}
            yield decode._error_row(row["video_id"], row["uri"], 0, "storage", f"{row['uri']}: {skip}", carry)
            continue

        def first_clip(one=one) -> tuple[dict[str, np.ndarray], Iterator[dict[str, np.ndarray]]]:
            out = decode(one)
            return next(out), out

        first, rest = retry(
            first_clip,
            attempts=job.retries + 1,
            base_delay=job.retry_delay_s,
            transient_result=_transient_failure,
        )
        if breaker is not None:
            breaker.record(str(row["uri"]), _transient_failure((first, rest)))
        yield first
        yield from rest


def _transient_failure(result: tuple[dict[str, np.ndarray], Iterator]) -> str | None:
    """Why a decode's first row is worth another try (a transient error row), else None."""
    first = result[0]
    if _is_error(first) and first["error_kind"][0] in TRANSIENT_KINDS:
        return str(first["error_message"][0])
    return None


class VisualStage:
    """`Visual` with decode error rows routed around it (they carry no frames).

    Drops the per-frame `selected` patch indices: nothing downstream of the
    pipeline needs them, and the group-by shuffle stays small.
    """

    def __init__(self, job: Job, threads: int | None = None):
        if threads:
            # Ray gives an actor one torch thread per CPU it reserves; the encoder may use more
            # (the decode tasks' share: they need ~1% of a core at 100x real time).
            torch.set_num_threads(threads)
        self.visual = Visual(job.preset, job.classifier_dir, job.storage_options)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows = _rows(batch)
        ok = [r for r in rows if not _is_error(r)]
        bad = [r for r in rows if _is_error(r)]
        out: list[dict] = []
        if ok:
            scored = _rows(self.visual(_batch(ok)))
            out += [{k: v for k, v in r.items() if k != "selected"} for r in scored]
        for r in bad:
            r = {k: v for k, v in r.items() if k not in CONSUMED}
            r.update(
                t=np.zeros(0, np.float64),
                score=np.zeros(0, np.float32),
                kind_prob=np.zeros((0, len(KINDS)), np.float32),
                diff_energy=np.zeros(0, np.float32),
                box=np.zeros((0, 4), np.float32),
            )
            out.append(r)
        # One schema for every output row: the error rows' keys follow the scored rows'.
        keys = list(out[0])
        return {k: _column([r.get(k) for r in out]) for k in keys}


class VideoSettings(NamedTuple):
    """What turns one video's classifier outputs into its frame scores and intervals."""

    intervals: IntervalConfig  # the checkpoint's calibration over the preset's values
    kinds: tuple[str, ...]  # the kind head's kinds
    lookahead: int = 0  # frames the classifier's outputs run ahead (models.classifier.align_outputs)


def interval_settings(job: Job) -> VideoSettings:
    """The interval settings (the classifier checkpoint's calibration over the preset's
    values, va_gpt.ops.intervals.resolve_intervals), the kind head's kinds and the lookahead."""
    if job.classifier_dir is None:
        return VideoSettings(resolve_intervals(job.preset.intervals, None), KINDS)
    config = read_classifier_config(job.classifier_dir, job.storage_options)
    return VideoSettings(
        resolve_intervals(
            job.preset.intervals, config.get("calibration"), f"classifier {job.classifier_dir}"
        ),
        tuple(config["kinds"]),
        config_lookahead(config, job.classifier_dir),
    )


def summarize_video(
    batch: dict[str, np.ndarray], job: Job, settings: VideoSettings | None = None
) -> dict[str, np.ndarray]:
    """All score rows of ONE video -> one result row: status, frame scores, intervals (each
    labelled with the kind head's most probable anomaly kind over it).

    One group of `per_video_dataset` (in Ray) or `scored_groups` (in-process); `settings` as
    `interval_settings(job)` gives them (read once per run, not per video).
    """
    cfg, kinds, lookahead = settings or interval_settings(job)
    rows = sorted(_rows(batch), key=lambda r: int(r["clip_index"]))
    video_id = str(rows[0]["video_id"])
    errors = [r for r in rows if _is_error(r)]
    clips = [r for r in rows if not _is_error(r)]
    t = np.concatenate([np.asarray(r["t"], np.float64) for r in clips]) if clips else np.zeros(0)
    score = (
        np.concatenate([np.asarray(r["score"], np.float32) for r in clips])
        if clips
        else np.zeros(0, np.float32)
    )
    energy = (
        np.concatenate([np.asarray(r["diff_energy"], np.float32) for r in clips])
        if clips
        else np.zeros(0, np.float32)
    )
    box = (
        np.concatenate([np.asarray(r["box"], np.float32).reshape(-1, 4) for r in clips])
        if clips
        else np.zeros((0, 4), np.float32)
    )
    kind_prob = (
        np.concatenate([np.asarray(r["kind_prob"], np.float32).reshape(len(r["score"]), -1) for r in clips])
        if clips and all("kind_prob" in r for r in clips)
        else None
    )
    # The visual stage's outputs run `lookahead` frames ahead of the frames they score (the
    # video's last clip has `lookahead` more when the classifier scores a tail); only here, with
    # the whole video gathered, can they be put in place. Without a tail the last `lookahead`
    # frames hold the last output: not evidence of their own for the interval stage.
    held = lookahead if len(score) == len(t) else 0
    score = align_outputs(score, lookahead, len(t))
    kind_prob = None if kind_prob is None else align_outputs(kind_prob, lookahead, len(t))
    partial = any(bool(r.get("partial")) for r in clips)
    if errors:
        # A video with any error row failed, even if clips came before (a storage error mid-file).
        status, message = str(errors[-1]["error_kind"]), str(errors[-1]["error_message"])
    elif partial:
        status = "partial"
        message = next(
            (str(r["error_message"]) for r in clips if r.get("error_message")), "damaged after the last frame"
        )
    else:
        status, message = "ok", None
    intervals = []
    if status in ("ok", "partial") and len(t):
        for i, iv in enumerate(scores_to_intervals(t, score, cfg, box, held, kind_prob, kinds)):
            probs = interval_kind_probs(t, kind_prob, kinds, iv.start_s, iv.end_s, score)
            label, label_p = label_of(probs, kinds)
            intervals.append(
                {
                    "interval_id": i,
                    "start_s": float(iv.start_s),
                    "end_s": float(iv.end_s),
                    "peak_score": float(iv.peak_score),
                    "mean_score": float(iv.mean_score),
                    "box": None if iv.box is None else [float(x) for x in iv.box],
                    "label": label,  # the kind head's, for the table and describe's prior
                    "label_p": label_p,
                    # the kind head's "normal" share there, shifted by the calibration's
                    # normal_bias: describe's judgement may say normal
                    "normal_p": None if probs is None else calibrated_normal_share(probs[0], cfg.normal_bias),
                }
            )
    info = (clips or rows)[0]
    duration = float(info.get("duration_s") if info.get("duration_s") is not None else np.nan)
    if not np.isfinite(duration) and len(t):
        duration = float(t[-1])
    fps = info.get("native_fps")
    decoded = _decoded_seconds(status, t, duration, fps)
    result = {
        "video_id": video_id,
        "uri": str(rows[0]["uri"]),
        "status": status,
        "error_message": message,
        "duration_s": duration,
        "decoded_s": decoded,
        "fps": float(fps) if fps is not None and np.isfinite(float(fps)) else np.nan,
        "frames_sampled": int(len(t)),
        "t": t,
        "score": score,
        "diff_energy": energy,
        "intervals": json.dumps(intervals),
    }
    return {k: _column([v]) for k, v in result.items()}


def _decoded_seconds(status: str, t: np.ndarray, duration: float, fps) -> float:
    """Seconds of the video that decoded: the whole `duration` for a complete video, the end of
    the last sampled frame for a partial one (never more than the container claims); NaN on error."""
    if status not in ("ok", "partial") or not len(t):
        return float("nan")
    frame = 1.0 / float(fps) if fps is not None and np.isfinite(float(fps)) and float(fps) > 0 else 0.0
    end = float(t[-1]) + frame
    if status == "ok" and np.isfinite(duration):
        return max(duration, float(t[-1]))
    return min(end, duration) if np.isfinite(duration) else end


def interval_rows(results: Iterable[dict]) -> list[dict]:
    """Per-video results -> one describe row per interval (only videos with intervals)."""
    rows = []
    for r in results:
        for iv in json.loads(r["intervals"]):
            rows.append(
                {
                    "video_id": r["video_id"],
                    "interval_id": iv["interval_id"],
                    "uri": r["uri"],
                    "start_s": iv["start_s"],
                    "end_s": iv["end_s"],
                    "t": np.asarray(r["t"], np.float64),
                    "score": np.asarray(r["score"], np.float64),
                    "label": iv.get("label"),
                    "label_p": iv.get("label_p"),
                    "normal_p": iv.get("normal_p"),
                }
            )
    return rows


def _describe_kwargs(job: Job) -> dict:
    return {
        "preset": job.preset,
        "checkpoint_url": job.checkpoint_url,
        "storage_options": job.storage_options,
    }


class DescribeVideos:
    """Per-video rows -> the same rows with `summaries` (JSON) filled for videos with intervals.
    Each video's intervals are described in batches of their own, so the text does not depend on
    which videos Ray put in a batch (or whether Ray ran at all). `keep_scores=False` drops the
    per-frame arrays `t` and `score` afterwards (describe's TETG input, not needed further)."""

    def __init__(self, job: Job, keep_scores: bool = False):
        self.describe = Describe(**_describe_kwargs(job))
        self.bs = max(1, job.preset.runtime.batch_size)
        self.keep_scores = keep_scores

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows = [_plain(r) for r in _rows(batch)]
        for r in rows:
            todo = interval_rows([r])
            out: list[dict] = []
            for i in range(0, len(todo), self.bs):
                out += [_plain(s) for s in _rows(self.describe(_batch(todo[i : i + self.bs])))]
            r["summaries"] = json.dumps(out, default=_json) if out else "[]"
        if not self.keep_scores:
            rows = [{k: v for k, v in r.items() if k not in ("t", "score")} for r in rows]
        return _batch(rows)


def _json(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON: {type(o).__name__}")


def _plain(row: dict) -> dict:
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}


def from_batch_row(row) -> dict:
    """A per-video row as Ray hands it back -> plain Python values, as in-process."""
    r = _plain(dict(row))
    if "error_message" in r and not isinstance(r["error_message"], str):
        r["error_message"] = None  # a null string column comes back as NaN from a numpy batch
    return r


def split_summaries(rows: Iterable[dict]) -> tuple[list[dict], list[dict]]:
    """Per-video rows -> (the rows without `summaries`, every summary row, video by video)."""
    results, summaries = [], []
    for r in rows:
        summaries += json.loads(r.pop("summaries", None) or "[]")
        results.append(r)
    return results, summaries


# ---------------------------------------------------------------------------------------------
# In-process


def scored_groups(rows: list[dict], job: Job, after_video=None) -> list[dict[str, np.ndarray]]:
    """Decode + visual in this process: one batch of per-clip score rows per video, in input
    order (what `map_groups` hands each group in Ray). `after_video()` runs after each video."""
    visual = VisualStage(job)
    groups: dict[str, list[dict]] = {}
    for row in rows:
        for clip_batch in decode_videos(_batch([row]), job):
            for r in _rows(visual(clip_batch)):
                groups.setdefault(str(r["video_id"]), []).append(r)
        if after_video is not None:
            after_video()
    return [_batch(g) for g in groups.values()]


def run_local(rows: list[dict], job: Job) -> tuple[list[dict], list[dict]]:
    """Chain the stages in this process. rows: dicts with at least video_id and uri.

    Returns (per-video results in input order, summary rows), the same as `run_ray`.
    """
    settings = interval_settings(job)
    per = [_rows(summarize_video(g, job, settings))[0] for g in scored_groups(rows, job)]
    if job.describe and per:
        per = _rows(DescribeVideos(job, keep_scores=True)(_batch(per)))
    return split_summaries([from_batch_row(r) for r in per])


# ---------------------------------------------------------------------------------------------
# Ray Data


def _resources(job: Job) -> dict:
    """Per-operator resources. Every actor pool must leave a CPU to the decode tasks, or
    Ray Data waits forever for a read slot: on CPU, one visual actor per 4 CPUs; on GPU,
    actors take `runtime.num_gpus` each (fractional: small models share a GPU) and no CPU."""
    cpus = ray.cluster_resources().get("CPU", 1.0)
    gpus = job.preset.runtime.num_gpus if job.preset.runtime.device.startswith("cuda") else 0.0
    # One CPU (half below two CPUs) per visual actor; decode tasks request half that. The
    # requests must differ: Ray Data fuses consecutive map operators whose resource requests
    # are equal, and decode fused into the visual actor runs serially inside it (no overlap
    # of decode with the encoder).
    actor_cpus = 1.0 if cpus >= 2 else 0.5
    res = {
        "decode_cpus": actor_cpus / 2,
        "visual_cpus": 0.0 if gpus else actor_cpus,
        "visual_gpus": gpus,
        "visual_actors": max(1, int(ray.cluster_resources().get("GPU", 0) / gpus))
        if gpus
        else max(1, int(cpus // 4)),
        # torch threads per CPU visual actor: the actors split every CPU, the decode tasks' CPU
        # included. Decode runs at ~100x real time per core (~60x with the frame preparation it
        # now does) against the encoder's ~1-2x, so a reserved decode core sits ~95% idle; the
        # encoder takes it, and the OS shares it when a decode task runs.
        "visual_threads": None,
        "describe_cpus": 0.0 if gpus else actor_cpus,
        "describe_gpus": gpus,
        "describe_actors": 1,
    }
    overrides = dict(job.ray)
    if job.describe and not gpus and "describe_cpus" not in overrides:
        # Every actor pool of the one execution starts at once: the describe actors must live
        # beside the visual actors and a decode task, or they would starve the decode tasks
        # (an actor with 0 CPUs is still scheduled; it only reserves nothing).
        spare = cpus - res["visual_cpus"] * res["visual_actors"] - res["decode_cpus"]
        res["describe_cpus"] = max(0.0, min(res["describe_cpus"], spare))
    res.update(overrides)
    if res["visual_threads"] is None and not gpus:
        res["visual_threads"] = max(1, int(cpus // res["visual_actors"]))
    return res


def build_dataset(rows: list[dict], job: Job, res: dict | None = None):
    """Decode + visual as a Ray Data dataset: video rows in, small per-clip score rows out."""
    res = res or _resources(job)
    ds = ray.data.from_items(rows, override_num_blocks=max(1, len(rows)))
    ds = ds.map_batches(decode_videos, fn_kwargs={"job": job}, batch_size=1, num_cpus=res["decode_cpus"])
    return ds.map_batches(
        VisualStage,
        fn_constructor_kwargs={"job": job, "threads": res["visual_threads"]},
        batch_size=job.preset.runtime.batch_size,
        compute=ray.data.ActorPoolStrategy(min_size=1, max_size=res["visual_actors"]),
        num_cpus=res["visual_cpus"],
        num_gpus=res["visual_gpus"],
    )


def per_video_dataset(rows: list[dict], job: Job, fn, fn_kwargs: dict, res: dict | None = None):
    """`build_dataset` grouped by video inside Ray: `fn(batch of one video's clip rows,
    **fn_kwargs)` -> that video's row (`summarize_video`, or the nightly's `per_video`)."""
    res = res or _resources(job)
    return (
        build_dataset(rows, job, res)
        .groupby("video_id", num_partitions=max(1, min(len(rows), 16)))
        .map_groups(fn, batch_format="numpy", fn_kwargs=fn_kwargs, num_cpus=res["decode_cpus"])
    )


def describe_stage(ds, job: Job, res: dict, keep_scores: bool = False):
    """`DescribeVideos` on an actor pool (GPU when configured) after the per-video rows. One
    video per call: its intervals are batched together inside, so a video is described as soon
    as its row arrives instead of waiting for `batch_size` videos."""
    return ds.map_batches(
        DescribeVideos,
        fn_constructor_kwargs={"job": job, "keep_scores": keep_scores},
        batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=res["describe_actors"]),
        num_cpus=res["describe_cpus"],
        num_gpus=res["describe_gpus"],
    )


def run_ray(rows: list[dict], job: Job) -> tuple[list[dict], list[dict]]:
    """The same as `run_local`, as one Ray Data execution on the connected cluster: the
    per-video grouping and describe run in Ray, the driver gets one row per video."""
    if not rows:
        return [], []
    res = _resources(job)
    ds = per_video_dataset(rows, job, summarize_video, {"job": job, "settings": interval_settings(job)}, res)
    if job.describe:
        ds = describe_stage(ds, job, res, keep_scores=True)
    order = {str(r["video_id"]): i for i, r in enumerate(rows)}
    per = sorted((from_batch_row(r) for r in ds.iter_rows()), key=lambda r: order[str(r["video_id"])])
    return split_summaries(per)
