"""One night's run: list -> diff against the manifest -> pipeline -> Delta commits -> runs row -> manifest.

    summary = run_nightly(NightlyArgs(archive=..., results=..., dates=("2026-11-21",)))

Idempotent: objects already in the manifest with the same etag and pipeline
version are skipped, so a rerun of the same night adds nothing. `force` (or a
new pipeline version, or a changed object) reprocesses; the new rows carry a
new run_id and replace the old rows of those videos (one Delta commit per table).

A video that fails is a `videos` row with its error; so is a key whose camera id
cannot be a partition value (status `bad_key`). A transient storage error that
outlasts the retries is written too but left out of the manifest, so the next
night tries that object again. The `runs` row is the run's commit point: readers
pin the table versions it records (va_gpt.lake.query), so they see the previous
run until it exists. The manifest is written after it; when that write fails the
run still counts as committed (exit 0), and the next night reprocesses those
objects, replacing their rows rather than duplicating them.

A store outage is not a row per video: after `max_storage_failures` videos in a row
fail with a transient storage error (or when the archive listing itself fails), the
run stops with StorageOutage (va_gpt.pipeline.breaker) before any commit: no table
commit, no `runs` row, the manifest untouched, so the next night redoes it all.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from schemas.tables import TABLES, conform
from va_gpt.checkpoints.classifier import load_classifier
from va_gpt.checkpoints.fetch import CheckpointError
from va_gpt.config import Preset, to_dict
from va_gpt.io.archive import Skipped, scan_archive
from va_gpt.io.errors import StorageError, TransientStorageError
from va_gpt.io.filesystem import filesystem, find_files, join, read_bytes
from va_gpt.io.retry import retry
from va_gpt.lake.delta import append_rows, replace_rows
from va_gpt.lake.files import replace_with_files
from va_gpt.lake.manifest import Manifest
from va_gpt.pipeline.breaker import (
    DEFAULT_MAX_STORAGE_FAILURES,
    Breaker,
    RemoteBreaker,
    StorageOutage,
    store_name,
)
from va_gpt.pipeline.raylocal import start_ray, stop_ray
from va_gpt.pipeline.run import PIPELINE_VERSION, TRANSIENT_KINDS, Job
from va_gpt.pipeline.stream import Sink, run_stream_local, run_stream_ray
from va_gpt.pipeline.tables import _partition_camera, bad_key_result, build_tables, run_row

log = logging.getLogger(__name__)


@dataclass
class NightlyArgs:
    archive: str
    results: str
    preset: Preset
    dates: object = None  # None (all), a list of YYYY-MM-DD, or an inclusive (start, end) tuple
    cameras: list[str] | None = None
    pattern: str = "{camera_id}/{date}/{name}.mp4"
    classifier_dir: str | None = None
    checkpoint_url: str | None = None
    model_version: str | None = None  # default: derived from the checkpoint / preset
    storage_options: dict | None = None
    force: bool = False
    describe: bool = True
    keyframes: bool = True  # cut each interval's keyframe + preview JPEGs (va_gpt.pipeline.keyframes)
    local: bool = False  # run_local in this process instead of Ray (debugging)
    ray_address: str | None = None  # None: start a local Ray
    ray_temp_dir: str | None = None
    ray_resources: dict = field(default_factory=dict)
    run_id: str | None = None
    camera_tz: dict[str, str] = field(default_factory=dict)  # camera_id -> IANA zone (default UTC)
    # Stop the run (StorageOutage, nothing committed) after this many videos in a row fail with a
    # transient storage error; 0 = never (va_gpt.pipeline.breaker).
    max_storage_failures: int = DEFAULT_MAX_STORAGE_FAILURES
    # Local mode only: called after each video's first read with (uri, transient error or None);
    # tests use it to stop the store mid-run.
    after_read: Callable[[str, str | None], None] | None = None
    # Called after the result tables' commits, before the `runs` row: tests use it to
    # simulate a run killed at the worst moment, or to read while a run is half done.
    before_publish: Callable[[], None] | None = None


@dataclass
class NightlySummary:
    run_id: str | None
    listed: int
    processed: int
    skipped: int
    ok: int
    failed: int
    partial: int
    retry_next_night: int
    intervals: int
    footage_hours: float
    wall_s: float
    committed: bool
    # Listed objects that are not processed, and why (key does not fit the pattern, bad date...).
    skipped_keys: list[Skipped] = field(default_factory=list)
    untimed_keys: list[str] = field(default_factory=list)  # processed, but the key gives no start time
    manifest_error: str | None = None  # the run committed; the manifest write after it failed

    @property
    def hours_per_hour(self) -> float:
        return self.footage_hours / (self.wall_s / 3600.0) if self.wall_s > 0 else 0.0

    def render(self) -> str:
        out = self._render_run() + self._render_skipped()
        if self.untimed_keys:
            out += f"\n{len(self.untimed_keys)} key(s) give no start time (start_time null): "
            out += ", ".join(self.untimed_keys[:10]) + (" ..." if len(self.untimed_keys) > 10 else "")
        if self.manifest_error:
            out += f"\nmanifest not updated ({self.manifest_error}): the next night redoes these videos"
        return out

    def _render_skipped(self, show: int = 20) -> str:
        if not self.skipped_keys:
            return ""
        lines = [f"\n{len(self.skipped_keys)} listed object(s) not processed:"]
        lines += [f"  {s.key}: {s.reason}" for s in self.skipped_keys[:show]]
        if len(self.skipped_keys) > show:
            lines.append(f"  ... and {len(self.skipped_keys) - show} more (all in the run record)")
        return "\n".join(lines)

    def _render_run(self) -> str:
        if not self.processed:
            return f"nothing to do: {self.listed} objects listed, all already processed (use --force to redo)"
        return (
            f"run {self.run_id}: {self.processed} videos ({self.ok} ok, {self.partial} partial, {self.failed} failed"
            f"{f', {self.retry_next_night} to retry next night' if self.retry_next_night else ''}), "
            f"{self.skipped} already done; {self.intervals} anomaly intervals; "
            f"{self.footage_hours:.3f} h of footage in {self.wall_s:.1f} s = {self.hours_per_hour:.1f} footage-h per hour"
        )


def _model_version(args: NightlyArgs) -> str:
    """Names the models and settings that produced the rows; part of the manifest key, so a
    new preset, classifier or checkpoint reprocesses the night instead of skipping it."""
    if args.model_version:
        return args.model_version
    parts = [args.preset.name]
    parts.append(f"clf={args.classifier_dir}" if args.classifier_dir else "clf=random")
    if args.describe:
        parts.append(f"llm={args.checkpoint_url}" if args.checkpoint_url else "llm=random")
    # The content, not just the names: a retrained classifier at the same URL is a new model.
    h = hashlib.sha1(json.dumps(to_dict(args.preset), sort_keys=True).encode())
    for url, name in ((args.classifier_dir, "config.json"), (args.checkpoint_url, "checkpoint.json")):
        if url:
            try:
                h.update(read_bytes(join(url, name), args.storage_options))
            except StorageError:
                h.update(url.encode())
    parts.append(h.hexdigest()[:12])
    return ";".join(parts)


def check_model_folders(args: NightlyArgs) -> None:
    """CheckpointError naming the folder (or file) when --classifier or --checkpoint is not a
    readable folder with files, or the classifier cannot be loaded: checked before the listing and
    before Ray starts, not in an actor after minutes of work."""
    folders = {
        args.classifier_dir: "classifier",
        args.checkpoint_url if args.describe else None: "checkpoint",
    }
    for url, what in folders.items():
        if not url:
            continue
        fs, root = filesystem(url, args.storage_options)
        try:
            files = find_files(fs, root.rstrip("/"), url, f"list the {what} folder")
        except StorageError as e:
            raise CheckpointError(f"{what} folder {url}: cannot be read ({e.reason})") from None
        if not files:
            raise CheckpointError(
                f"{what} folder {url}: no such folder, or it is empty (check --checkpoint/--classifier)"
            )
    if args.classifier_dir:
        # The classifier is a few hundred kB: read it whole here, so a missing or broken weights
        # file is one line before the listing, not a Ray actor's traceback after it (and not a
        # run that succeeds on a night with no new footage and fails on the next).
        load_classifier(args.classifier_dir, args.storage_options)


def _commit(
    results_url: str, tables: dict, frame_files: list[dict], video_ids: list[str], so
) -> dict[str, int]:
    """One Delta commit per result table replacing `video_ids`' rows: frame_scores from the files
    the workers wrote, the other tables from the driver's small rows. Table -> new version."""
    versions = {}
    for table in TABLES:
        if table == "frame_scores":
            versions[table] = replace_with_files(results_url, table, frame_files, "video_id", video_ids, so)
        else:
            rows = conform(table, tables.get(table, []))
            versions[table] = replace_rows(results_url, table, rows, "video_id", video_ids, so)
    return versions


def run_nightly(args: NightlyArgs) -> NightlySummary:
    t0 = time.monotonic()
    so = args.storage_options
    check_model_folders(args)
    store = store_name(args.archive, so)
    try:
        listing = scan_archive(args.archive, args.pattern, so, dates=args.dates, cameras=args.cameras)
    except TransientStorageError as e:  # the store is down before the run starts
        raise StorageOutage(store, 0, str(e), "the archive listing failed") from None
    objects, skipped_keys = listing.objects, listing.skipped
    for s in skipped_keys:
        log.warning("not processed: %s: %s", s.key, s.reason)
    started_at = dt.datetime.now(dt.UTC)
    manifest = Manifest.load(args.results, so)
    model_version = _model_version(args)
    version_key = f"{PIPELINE_VERSION}|{model_version}"
    diff = manifest.diff(objects, version_key)
    todo = list(objects) if args.force else list(diff.to_process)
    skipped = len(objects) - len(todo)
    if not todo:
        return NightlySummary(
            None, len(objects), 0, skipped, 0, 0, 0, 0, 0, 0.0, time.monotonic() - t0, False, skipped_keys
        )

    run_id = args.run_id or dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]
    job = Job(
        preset=args.preset,
        classifier_dir=args.classifier_dir,
        checkpoint_url=args.checkpoint_url,
        storage_options=so,
        describe=args.describe,
        ray=args.ray_resources,
    )
    bad_keys = [o for o in todo if bad_key_result(o) is not None]
    rows = [{"video_id": o.video_id, "uri": o.uri} for o in todo if o not in bad_keys]
    t_listed = time.monotonic()
    log.info(
        "run %s: %d objects to process (%d listed, %d already done)", run_id, len(todo), len(objects), skipped
    )
    # Workers write each video's frame_scores file; the driver gets small per-video rows only.
    sink = Sink(
        args.results,
        run_id,
        so,
        {
            o.video_id: {
                "camera_id": _partition_camera(o.camera_id),
                "date": o.date,
                "start_time": o.start_time,
            }
            for o in todo
        },
        keyframes=args.keyframes,
    )
    if not rows:
        results, summaries, frame_files = [], [], []
    elif args.local:
        job = dataclasses.replace(job, breaker=Breaker(args.max_storage_failures, store, args.after_read))
        results, summaries, frame_files = run_stream_local(rows, job, sink)
    else:
        started = start_ray(args.ray_address, args.ray_temp_dir)
        try:
            job = dataclasses.replace(job, breaker=RemoteBreaker(args.max_storage_failures, store))
            results, summaries, frame_files = run_stream_ray(rows, job, sink)
        finally:
            if started:
                stop_ray()

    results = list(results) + [bad_key_result(o) for o in bad_keys]
    t_pipeline = time.monotonic()
    by_id = {o.video_id: o for o in todo}
    processed_at = dt.datetime.now(dt.UTC)
    tables = build_tables(
        by_id,
        results,
        summaries,
        run_id=run_id,
        model_version=model_version,
        processed_at=processed_at,
        camera_tz=args.camera_tz,
    )
    versions = _commit(args.results, tables, frame_files, [o.video_id for o in todo], so)
    if args.before_publish:
        args.before_publish()
    status = {r["video_id"]: r["status"] for r in results}
    retry_later = [o for o in todo if status.get(o.video_id) in TRANSIENT_KINDS]
    untimed = sorted(o.uri for o in todo if o.start_time is None)
    ok = sum(s == "ok" for s in status.values())
    partial = sum(s == "partial" for s in status.values())
    # Footage actually analysed: a cut file counts what decoded, not what its header claims.
    hours = sum(
        r["decoded_s"]
        for r in results
        if r["status"] in ("ok", "partial") and r.get("decoded_s") == r.get("decoded_s")
    )
    summary = NightlySummary(
        run_id=run_id,
        listed=len(objects),
        processed=len(todo),
        skipped=skipped,
        ok=ok,
        failed=len(results) - ok - partial,
        partial=partial,
        retry_next_night=len(retry_later),
        intervals=len(tables["intervals"]),
        footage_hours=hours / 3600.0,
        wall_s=time.monotonic() - t0,
        committed=True,
        skipped_keys=skipped_keys,
        untimed_keys=untimed,
    )
    stages = {
        "list": t_listed - t0,
        "pipeline": t_pipeline - t_listed,
        "commit": time.monotonic() - t_pipeline,
    }
    row = run_row(summary, started_at, stages, PIPELINE_VERSION, model_version, versions)
    # The commit point: retried, idempotent only in effect (a duplicate row of one run is harmless,
    # readers take the latest), and a failure here fails the run: nothing of it is pinned.
    retry(lambda: append_rows(args.results, "runs", conform("runs", [row]), so))
    # Bookkeeping after the commit: a failure must not fail a committed run.
    manifest.record([o for o in todo if o not in retry_later], version_key, run_id, status)
    try:
        manifest.save()
    except Exception as exc:
        log.error("run %s committed, but the manifest write failed (next night redoes it): %s", run_id, exc)
        summary.manifest_error = str(exc).split("\n")[0]
    summary.wall_s = time.monotonic() - t0
    return summary
