"""The output tables as code: pyarrow schemas with a version number.

Writers build their Arrow tables against these schemas (`conform`), tests
assert the Parquet read back against them, and DuckDB views are created over
the files they describe. Bump SCHEMA_VERSION on any change to a field's name,
type or meaning.

Storage: each table is a Delta Lake table `{results}/{table}` (va_gpt/lake/delta.py),
the four result tables partitioned by `date` and `camera_id` (Delta escapes any
value, so a camera id like `cam=1` is a valid partition), `runs` by `date`.
Delta stores timestamps in microseconds; readers get `timestamp[us]` back.

Every row carries the `run_id` that wrote it. A rerun (`--force`, or a changed
object) replaces a video's rows in one Delta commit per table (overwrite with a
`video_id IN (...)` predicate), so a rerun replaces rather than duplicates.
"""

from __future__ import annotations

import pyarrow as pa

SCHEMA_VERSION = 4  # 2: videos.decoded_s; 3: Delta tables, camera_tz and UTC times, runs, manifest;
# 4: intervals.peak_s, keyframe_uri, preview_uri

BOX = pa.list_(pa.float32(), 4)  # (x0, y0, x1, y1), normalised to [0, 1] of the frame

VIDEOS = pa.schema(
    [
        pa.field("video_id", pa.string(), nullable=False),  # stable id of the source object (sha1 of uri)
        pa.field("uri", pa.string(), nullable=False),
        pa.field("etag", pa.string(), nullable=False),
        pa.field("size", pa.int64(), nullable=False),
        pa.field("camera_id", pa.string(), nullable=False),
        pa.field("date", pa.string(), nullable=False),  # YYYY-MM-DD, camera-local
        pa.field("start_time", pa.timestamp("ms")),  # camera-local wall clock of the first frame, if known
        pa.field("camera_tz", pa.string()),  # IANA zone of the camera's clock (--camera-tz; default UTC)
        pa.field("start_utc", pa.timestamp("ms", tz="UTC")),  # start_time in UTC
        pa.field("duration_s", pa.float64()),  # what the container header claims
        # Seconds of video actually decoded: duration_s for a complete video, the end of the
        # last decoded sample for a partial one (a cut file claiming 10 s may hold 3.3), null on error.
        pa.field("decoded_s", pa.float64()),
        pa.field("fps", pa.float64()),  # native average frame rate
        pa.field("frames_sampled", pa.int64()),
        pa.field("status", pa.string(), nullable=False),  # ok | partial | <error kind>
        pa.field("error_message", pa.string()),
        pa.field("pipeline_version", pa.string(), nullable=False),
        pa.field("model_version", pa.string(), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("processed_at", pa.timestamp("ms", tz="UTC"), nullable=False),
    ],
    metadata={"table": "videos", "schema_version": str(SCHEMA_VERSION)},
)

FRAME_SCORES = pa.schema(
    [
        pa.field("video_id", pa.string(), nullable=False),
        pa.field("camera_id", pa.string(), nullable=False),
        pa.field("date", pa.string(), nullable=False),
        pa.field("t", pa.float64(), nullable=False),  # seconds from the video's start
        pa.field("timestamp", pa.timestamp("ms")),  # start_time + t, when start_time is known
        pa.field("score", pa.float32(), nullable=False),  # classifier anomaly probability in [0, 1]
        pa.field("diff_energy", pa.float32(), nullable=False),  # mean SETS patch difference
        pa.field("run_id", pa.string(), nullable=False),
    ],
    metadata={"table": "frame_scores", "schema_version": str(SCHEMA_VERSION)},
)

INTERVALS = pa.schema(
    [
        pa.field("video_id", pa.string(), nullable=False),
        pa.field("interval_id", pa.int32(), nullable=False),  # 0.. within the video, by start time
        pa.field("camera_id", pa.string(), nullable=False),
        pa.field("date", pa.string(), nullable=False),
        pa.field("start_s", pa.float64(), nullable=False),
        pa.field("end_s", pa.float64(), nullable=False),
        pa.field("start_time", pa.timestamp("ms")),  # camera-local wall clock
        pa.field("end_time", pa.timestamp("ms")),
        pa.field("camera_tz", pa.string()),
        pa.field("start_utc", pa.timestamp("ms", tz="UTC")),  # absolute; null only for an untimed key
        pa.field("end_utc", pa.timestamp("ms", tz="UTC")),
        pa.field("peak_score", pa.float32(), nullable=False),
        pa.field("mean_score", pa.float32(), nullable=False),
        pa.field("box", BOX),
        pa.field("peak_s", pa.float64()),  # time of the highest score inside the interval
        # The interval's stills under the results root (va_gpt.lake.media.media_url): the peak
        # frame with the box, and a contact sheet; null when not cut (--no-keyframes, a failed cut).
        pa.field("keyframe_uri", pa.string()),
        pa.field("preview_uri", pa.string()),
        # The classifier's kind head: the likeliest anomaly kind over the interval (else the kind its
        # summary names). VA-GPT's judgement, which may be "normal", is summaries.kind.
        pa.field("label", pa.string()),
        pa.field("run_id", pa.string(), nullable=False),
    ],
    metadata={"table": "intervals", "schema_version": str(SCHEMA_VERSION)},
)

SUMMARIES = pa.schema(
    [
        pa.field("video_id", pa.string(), nullable=False),
        pa.field("interval_id", pa.int32()),  # null = whole-video summary
        pa.field("camera_id", pa.string(), nullable=False),
        pa.field("date", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("fields", pa.string()),  # JSON: judgement / description / analysis when present
        # The summary's parts (va_gpt.pipeline.describe): kind is the judgement's anomaly kind
        # through va_gpt.taxonomy.parse_kind ("normal" included), null when it names none.
        pa.field("kind", pa.string()),
        pa.field("judgement", pa.string()),
        pa.field("description", pa.string()),
        pa.field("analysis", pa.string()),
        pa.field("model_version", pa.string(), nullable=False),
        pa.field("prompt_version", pa.string(), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
    ],
    metadata={"table": "summaries", "schema_version": str(SCHEMA_VERSION)},
)

TABLES: dict[str, pa.Schema] = {
    "videos": VIDEOS,
    "frame_scores": FRAME_SCORES,
    "intervals": INTERVALS,
    "summaries": SUMMARIES,
}


# Bookkeeping tables beside the four result tables (Delta tables too, see va_gpt/lake/delta.py).
RUNS = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("date", pa.string(), nullable=False),  # UTC day the run started, YYYY-MM-DD
        pa.field("started_at", pa.timestamp("ms", tz="UTC"), nullable=False),
        pa.field("finished_at", pa.timestamp("ms", tz="UTC"), nullable=False),
        pa.field("listed", pa.int64(), nullable=False),
        pa.field("processed", pa.int64(), nullable=False),
        pa.field("skipped", pa.int64(), nullable=False),  # already processed (manifest)
        pa.field("ok", pa.int64(), nullable=False),
        pa.field("partial", pa.int64(), nullable=False),
        pa.field("failed", pa.int64(), nullable=False),
        pa.field("retry_next_night", pa.int64(), nullable=False),
        pa.field("skipped_keys", pa.int64(), nullable=False),  # listed keys not processed (pattern, bad date)
        pa.field("skipped_detail", pa.string()),  # JSON [{key, reason}]
        pa.field("untimed_keys", pa.int64(), nullable=False),  # keys whose name gives no start time
        pa.field("intervals", pa.int64(), nullable=False),
        pa.field("footage_hours", pa.float64(), nullable=False),
        pa.field("stage_seconds", pa.string()),  # JSON {stage: seconds}
        pa.field("pipeline_version", pa.string(), nullable=False),
        pa.field("model_version", pa.string(), nullable=False),
        pa.field("exit_state", pa.string(), nullable=False),  # committed
        # The version of each result table right after this run's commits: readers pin
        # these, so they see whole runs only (va_gpt.lake.query), and `--as-of-run` reads them.
        pa.field("videos_version", pa.int64(), nullable=False),
        pa.field("frame_scores_version", pa.int64(), nullable=False),
        pa.field("intervals_version", pa.int64(), nullable=False),
        pa.field("summaries_version", pa.int64(), nullable=False),
    ],
    metadata={"table": "runs", "schema_version": str(SCHEMA_VERSION)},
)

MANIFEST = pa.schema(
    [
        pa.field("uri", pa.string(), nullable=False),
        pa.field("etag", pa.string(), nullable=False),
        pa.field("size", pa.int64(), nullable=False),
        pa.field("pipeline_version", pa.string(), nullable=False),  # pipeline|model version key
        pa.field("status", pa.string(), nullable=False),  # the video's status in that run
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("recorded_at", pa.timestamp("ms", tz="UTC"), nullable=False),
    ],
    metadata={"table": "manifest", "schema_version": str(SCHEMA_VERSION)},
)

BOOKKEEPING: dict[str, pa.Schema] = {"runs": RUNS, "manifest": MANIFEST}


class SchemaError(ValueError):
    pass


def conform(table_name: str, columns: dict | list[dict]) -> pa.Table:
    """Build a table of `table_name` from columns (dict of lists) or rows (list of dicts).

    Missing columns, extra columns, or values of the wrong type are a SchemaError
    naming the table and the column: a writer never lands a file that disagrees
    with the schema.
    """
    schema = TABLES[table_name] if table_name in TABLES else BOOKKEEPING[table_name]
    if isinstance(columns, list):
        names = schema.names
        for i, row in enumerate(columns):
            extra = set(row) - set(names)
            if extra:
                raise SchemaError(f"{table_name}: row {i} has unknown column(s) {sorted(extra)}")
        columns = {n: [row.get(n) for row in columns] for n in names}
    missing = [n for n in schema.names if n not in columns]
    extra = [n for n in columns if n not in schema.names]
    if missing or extra:
        raise SchemaError(f"{table_name}: missing column(s) {missing}, unknown column(s) {extra}")
    arrays = []
    for field in schema:
        try:
            arr = pa.array(columns[field.name], type=field.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as e:
            raise SchemaError(f"{table_name}.{field.name}: {e}") from e
        if not field.nullable and arr.null_count:
            raise SchemaError(
                f"{table_name}.{field.name}: {arr.null_count} null value(s) in a non-null column"
            )
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, schema=schema)
