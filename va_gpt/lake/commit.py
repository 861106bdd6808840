"""Atomic run commits of a results folder.

A run stages its Parquet files under `{results}/_staging/{run_id}/`;
`publish` copies them to their hive-partitioned home and then writes one
marker `{results}/_runs/{run_id}.json`. Readers (`committed_files`) see only
files named by markers, so a run killed halfway is invisible.
`cleanup_staging` removes what committed and abandoned runs left behind.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import fsspec

from va_gpt.io.archive import as_iso_date
from va_gpt.io.errors import StorageError, mapped_errors
from va_gpt.io.filesystem import exists, filesystem, find_files, is_local, join, url_of, write_atomic
from va_gpt.io.retry import retry

logger = logging.getLogger(__name__)

STAGING_DIR = "_staging"
RUNS_DIR = "_runs"
RUN_FORMAT = "va-gpt-run"
RUN_VERSION = 1
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _check_run_id(run_id: str) -> None:
    if not _RUN_ID.fullmatch(run_id):
        raise ValueError(f"run_id {run_id!r} must match {_RUN_ID.pattern} (it becomes part of object keys)")


def _check_table(table: str) -> None:
    if not _TABLE.fullmatch(table) or table in (STAGING_DIR, RUNS_DIR):
        raise ValueError(f"table name {table!r} must match {_TABLE.pattern}")


def partition_path(table: str, date: str | date, camera_id: str) -> str:
    """`{table}/date=YYYY-MM-DD/camera_id=X`, the hive partition of one camera-day, relative to the results root."""
    _check_table(table)
    day = as_iso_date(date)
    if not camera_id or "/" in camera_id or "=" in camera_id:
        raise ValueError(f"camera_id {camera_id!r} cannot be a hive partition value")
    return f"{table}/date={day}/camera_id={camera_id}"


def staging_url(results_url: str, run_id: str) -> str:
    """`{results}/_staging/{run_id}`: where a run writes before it publishes."""
    _check_run_id(run_id)
    return join(results_url, STAGING_DIR, run_id)


def part_url(
    results_url: str, table: str, date: str | date, camera_id: str, run_id: str, n: int, staged: bool = False
) -> str:
    """The URL of Parquet part `n` of `run_id` in one partition.

    Final: `{results}/{table}/date=D/camera_id=C/part-{run_id}-{n}.parquet`;
    staged=True: the same relative path under `{results}/_staging/{run_id}/`,
    which is where a run writes it before `publish`.
    """
    _check_run_id(run_id)
    rel = f"{partition_path(table, date, camera_id)}/part-{run_id}-{n}.parquet"
    return join(staging_url(results_url, run_id) if staged else results_url, rel)


@dataclass(frozen=True)
class RunCommit:
    """The commit record of one run: the content of `{results}/_runs/{run_id}.json`.

    Paths are relative to the results root, so a results tree can be copied
    elsewhere and stay readable. `superseded_files` are the earlier runs'
    files that `supersedes` resolved to when this run was published.
    """

    run_id: str
    committed_at: str  # UTC ISO-8601
    files: dict[str, list[str]]  # table -> relative paths
    supersedes: list[str] = field(default_factory=list)
    superseded_files: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def all_files(self) -> list[str]:
        return [rel for rels in self.files.values() for rel in rels]

    def to_json(self) -> bytes:
        doc = {"format": RUN_FORMAT, "format_version": RUN_VERSION, **vars(self)}
        return json.dumps(doc, indent=1, sort_keys=True, default=str).encode("utf-8")

    @classmethod
    def from_json(cls, url: str, raw: bytes) -> RunCommit:
        try:
            doc = json.loads(raw)
            if doc.get("format") != RUN_FORMAT or doc.get("format_version") != RUN_VERSION:
                raise ValueError(f"not a {RUN_FORMAT} v{RUN_VERSION} document")
            return cls(
                run_id=doc["run_id"],
                committed_at=doc["committed_at"],
                files={t: list(v) for t, v in doc["files"].items()},
                supersedes=list(doc["supersedes"]),
                superseded_files=list(doc["superseded_files"]),
                meta=dict(doc["meta"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StorageError(url, f"corrupt run marker: {exc}") from exc


def _is_superseded(rel: str, specs: Iterable[str]) -> bool:
    """Whether the committed file `rel` (`table/...`) falls under one of the supersede `specs`.

    A spec starting with a partition (`date=D/camera_id=C`) applies to every
    table; one starting with a table name (`videos/date=D`, or a file path)
    only to that table. A spec covers itself and everything below it.
    """
    _, _, in_table = rel.partition("/")
    for spec in specs:
        target = in_table if "=" in spec.split("/", 1)[0] else rel
        if target == spec or target.startswith(spec + "/"):
            return True
    return False


def _normalise_spec(spec: str) -> str:
    spec = spec.strip("/")
    if not spec or ".." in spec.split("/"):
        raise ValueError(
            f"bad supersede spec {spec!r}: want `date=D/camera_id=C`, `table/date=D/...` or a file path"
        )
    return spec


def _load_runs(fs: fsspec.AbstractFileSystem, root: str) -> list[RunCommit]:
    """Every committed run under results root `root`, oldest first."""
    runs_dir = f"{root}/{RUNS_DIR}"
    runs_url = url_of(fs, runs_dir)
    listing = find_files(fs, runs_dir, runs_url, "list run markers")
    markers = sorted(
        p for p, info in listing.items() if p.endswith(".json") and info.get("type", "file") == "file"
    )
    if not markers:
        return []
    with mapped_errors(runs_url, "read run markers"):
        raw = fs.cat(markers)  # one concurrent batch on object stores, not one round trip per run
    runs = []
    for path in markers:
        run = RunCommit.from_json(url_of(fs, path), raw[path])
        if f"{run.run_id}.json" != os.path.basename(path):
            raise StorageError(url_of(fs, path), f"corrupt run marker: names run {run.run_id!r}")
        runs.append(run)
    return sorted(runs, key=lambda r: (r.committed_at, r.run_id))


def committed_runs(results_url: str, storage_options: dict | None = None) -> list[RunCommit]:
    """The commit records under `results_url`, oldest first."""
    fs, root = filesystem(results_url, storage_options)
    return _load_runs(fs, root.rstrip("/"))


def _visible(runs: list[RunCommit]) -> dict[str, str]:
    """relative path -> run_id for every committed file that no later commit superseded."""
    hidden = {rel for run in runs for rel in run.superseded_files}
    return {rel: run.run_id for run in runs for rel in run.all_files() if rel not in hidden}


def committed_files(results_url: str, table: str, storage_options: dict | None = None) -> list[str]:
    """Full URLs of the Parquet files of `table` that committed, not superseded runs published. Sorted.

    Only files named by run markers count: files of a run that died before
    its marker, or leftovers in `_staging`, are never returned.
    """
    _check_table(table)
    fs, root = filesystem(results_url, storage_options)
    root = root.rstrip("/")
    visible = _visible(_load_runs(fs, root))
    return sorted(url_of(fs, f"{root}/{rel}") for rel in visible if rel.split("/", 1)[0] == table)


def _staged_relpath(fs: fsspec.AbstractFileSystem, staging_root: str, table: str, entry: str) -> str:
    """The path of staged file `entry` relative to the run's staging folder; it must start with `{table}/`."""
    if "://" in entry or entry.startswith("/"):
        path = fs._strip_protocol(entry)
        if not path.startswith(staging_root + "/"):
            raise ValueError(
                f"staged file {entry!r} is not under the run's staging folder {url_of(fs, staging_root)}"
            )
        rel = path[len(staging_root) + 1 :]
    else:
        rel = entry.strip("/")
    if not rel.startswith(table + "/") or ".." in rel.split("/"):
        raise ValueError(
            f"staged file {entry!r} of table {table!r} must lie under {table}/ in the staging folder"
        )
    return rel


def publish(
    results_url: str,
    run_id: str,
    table_files: dict[str, list[str]],
    meta: dict | None = None,
    supersedes: Iterable[str] = (),
    storage_options: dict | None = None,
) -> RunCommit:
    """Commit run `run_id`: copy its staged files to their final place, then write its marker.

    `table_files` maps a table name to that table's staged files, as URLs
    under `staging_url(results_url, run_id)` or paths relative to it (e.g.
    `videos/date=2026-11-21/camera_id=cam01/part-R-0.parquet`, see
    `part_url(..., staged=True)`); each lands at the same relative path
    under `results_url`. `meta` (JSON-serialisable) is stored in the marker.

    `supersedes` hides files of earlier commits from `committed_files`:
    `date=D/camera_id=C` (that partition in every table), `table/date=D/...`
    (one table) or a file path. Supersede a partition only when this run
    rewrote all of it; for a few changed videos, let the readers pick the
    latest run per video instead.

    The marker is written last and in one PUT: until it exists nothing of the
    run is visible, so publish can be re-run after a crash. Not safe for two
    concurrent publishers of the same partition (the nightly driver is one).
    """
    _check_run_id(run_id)
    specs = [_normalise_spec(s) for s in supersedes]
    fs, root = filesystem(results_url, storage_options)
    root = root.rstrip("/")
    staging_root = f"{root}/{STAGING_DIR}/{run_id}"
    marker = f"{root}/{RUNS_DIR}/{run_id}.json"
    if exists(url_of(fs, marker), storage_options):
        raise StorageError(url_of(fs, marker), f"run {run_id!r} is already committed")

    rels = _plan(fs, staging_root, table_files)
    runs = _load_runs(fs, root)
    _check_no_overwrite(fs, root, rels, runs)
    _copy_staged(fs, staging_root, root, [rel for table_rels in rels.values() for rel in table_rels])

    own = {rel for table_rels in rels.values() for rel in table_rels}
    superseded = sorted({rel for rel in _visible(runs) if rel not in own and _is_superseded(rel, specs)})
    commit = RunCommit(run_id, datetime.now(UTC).isoformat(), rels, specs, superseded, dict(meta or {}))
    with mapped_errors(url_of(fs, marker), "write run marker"):
        retry(lambda: write_atomic(fs, marker, commit.to_json()))
    _remove_quietly(fs, staging_root)
    return commit


def _plan(
    fs: fsspec.AbstractFileSystem, staging_root: str, table_files: dict[str, list[str]]
) -> dict[str, list[str]]:
    """table -> sorted relative paths, after checking every staged file exists (one listing)."""
    staged = find_files(fs, staging_root, url_of(fs, staging_root), "list staged files")
    rels: dict[str, list[str]] = {}
    for table, entries in sorted(table_files.items()):
        _check_table(table)
        rels[table] = sorted({_staged_relpath(fs, staging_root, table, e) for e in entries})
        for rel in rels[table]:
            if f"{staging_root}/{rel}" not in staged:
                raise StorageError(
                    url_of(fs, f"{staging_root}/{rel}"), "staged file not found; nothing was published"
                )
    return rels


def _check_no_overwrite(
    fs: fsspec.AbstractFileSystem, root: str, rels: dict[str, list[str]], runs: list[RunCommit]
) -> None:
    """Refuse to copy over a file another committed run already published (it would change its data)."""
    owners = {rel: run.run_id for run in runs for rel in run.all_files()}
    for table_rels in rels.values():
        for rel in table_rels:
            if rel in owners:
                raise StorageError(url_of(fs, f"{root}/{rel}"), f"already published by run {owners[rel]!r}")


def _copy_staged(fs: fsspec.AbstractFileSystem, staging_root: str, root: str, rels: list[str]) -> None:
    """Copy staged files to their final paths (server-side on S3, concurrently)."""
    if not rels:
        return
    sources = [f"{staging_root}/{rel}" for rel in rels]
    targets = [f"{root}/{rel}" for rel in rels]
    if is_local(fs):
        for parent in sorted({os.path.dirname(t) for t in targets}):
            os.makedirs(parent, exist_ok=True)
    # Copies are idempotent (same source, same target), so retrying the whole batch is safe.
    with mapped_errors(url_of(fs, staging_root), "copy staged files to their final place"):
        retry(lambda: fs.copy(sources, targets))


def _remove_quietly(fs: fsspec.AbstractFileSystem, path: str) -> None:
    """Best-effort recursive delete: the run is already committed, a leftover is only clutter."""
    try:
        if fs.exists(path):
            fs.rm(path, recursive=True)
    except Exception as exc:  # never fail a committed run over cleanup
        logger.warning("could not remove %s (cleanup_staging will retry): %s", url_of(fs, path), exc)


def _mtime(info: dict) -> float | None:
    """Modification time in epoch seconds from an fsspec info dict (S3 LastModified or local mtime)."""
    value = info.get("LastModified") or info.get("mtime") or info.get("last_modified")
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    return None


def cleanup_staging(
    results_url: str,
    older_than: timedelta,
    storage_options: dict | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Delete staging folders of committed runs and of runs abandoned for longer than `older_than`.

    For an abandoned (never committed) run, the copies it may already have
    made in the final layout are deleted too: they sit at the same relative
    paths as its staged files and no marker refers to them. Pick `older_than`
    well above the longest run, or a live run loses its staged files.
    Returns the run ids whose staging folders were removed, sorted.
    """
    fs, root = filesystem(results_url, storage_options)
    root = root.rstrip("/")
    staging = f"{root}/{STAGING_DIR}"
    cutoff = (now or datetime.now(UTC)).timestamp() - older_than.total_seconds()
    with mapped_errors(url_of(fs, staging), "list staging"):
        fs.invalidate_cache(staging)
        listing = fs.find(staging, detail=True, withdirs=True)

    by_run: dict[str, dict[str, dict]] = {}
    for path, info in listing.items():
        if path.startswith(staging + "/"):
            run_id, _, rel = path[len(staging) + 1 :].partition("/")
            by_run.setdefault(run_id, {})[rel] = info

    runs = _load_runs(fs, root)
    committed = {run.run_id for run in runs}
    referenced = {rel for run in runs for rel in run.all_files()}
    removed = []
    for run_id, entries in sorted(by_run.items()):
        times = [t for t in map(_mtime, entries.values()) if t is not None]
        abandoned = run_id not in committed and (not times or max(times) < cutoff)
        if run_id not in committed and not abandoned:
            continue
        if abandoned:
            partial = [
                f"{root}/{rel}"
                for rel, info in entries.items()
                if rel and info.get("type") == "file" and rel not in referenced
            ]
            with mapped_errors(url_of(fs, staging), f"remove partial copies of abandoned run {run_id}"):
                for path in partial:
                    if fs.exists(path):
                        fs.rm_file(path)
        with mapped_errors(url_of(fs, f"{staging}/{run_id}"), "remove staging folder"):
            fs.rm(f"{staging}/{run_id}", recursive=True)
        removed.append(run_id)
    return removed
