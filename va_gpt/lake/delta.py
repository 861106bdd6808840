"""The results folder as Delta Lake tables (delta-rs): one commit per table per run.

    {results}/videos, frame_scores, intervals, summaries   the result tables (schemas/tables.py)
    {results}/runs                                         one row per committed run
    {results}/_manifest                                    processed objects (va_gpt/lake/manifest.py)

A run replaces its videos' rows in each result table with one Delta commit
(`write_deltalake(mode="overwrite", predicate="video_id IN (...)")`): a rerun
or `--force` replaces, never duplicates, and a reader of a table sees either
the old or the new rows of a video. The run then appends its `runs` row,
which records each result table's version after its commit; readers that pin
those versions (va_gpt.lake.query) see whole runs only, even while a later
run is halfway through its four commits.

Storage options: s3:// URLs get delta-rs options from the one credential
resolver (S3Credentials.delta_options); local paths need none; other stores
(gs://, az://) take delta-rs's own environment variables.
"""

from __future__ import annotations

import datetime as dt
import logging
from urllib.parse import urlparse

import pyarrow as pa
from deltalake import DeltaTable, Field, write_deltalake
from deltalake.exceptions import TableNotFoundError

from schemas.tables import BOOKKEEPING, TABLES
from va_gpt.io.credentials import S3_SCHEMES, resolve_s3
from va_gpt.io.filesystem import join
from va_gpt.io.retry import retry

log = logging.getLogger(__name__)

RESULT_TABLES = tuple(TABLES)
MANIFEST_TABLE = "_manifest"
PARTITIONS = {name: ["date", "camera_id"] for name in RESULT_TABLES} | {"runs": ["date"], "manifest": []}
_DIRS = {name: name for name in (*RESULT_TABLES, "runs")} | {"manifest": MANIFEST_TABLE}


def schema_of(name: str) -> pa.Schema:
    return TABLES[name] if name in TABLES else BOOKKEEPING[name]


def table_url(results_url: str, name: str) -> str:
    """`{results}/{table}` as delta-rs and DuckDB want it: a plain path for local folders."""
    url = join(results_url, _DIRS[name])
    return url[len("file://") :] if url.startswith("file://") else url


def delta_options(results_url: str, storage_options: dict | None = None) -> dict[str, str] | None:
    """delta-rs storage options for `results_url` (None: local, or a store configured by environment)."""
    if urlparse(results_url).scheme in S3_SCHEMES:
        return resolve_s3(storage_options).delta_options()
    return None


def open_table(
    results_url: str, name: str, storage_options: dict | None = None, version: int | None = None
) -> DeltaTable | None:
    """The Delta table `name` under `results_url` (at `version`), or None when it does not exist yet."""
    try:
        return DeltaTable(
            table_url(results_url, name),
            version=version,
            storage_options=delta_options(results_url, storage_options),
        )
    except TableNotFoundError:
        return None


def ensure_table(results_url: str, name: str, storage_options: dict | None = None) -> DeltaTable:
    """Open table `name`, creating it empty from its schema first when it does not exist."""
    table = open_table(results_url, name, storage_options)
    if table is not None:
        add_new_columns(table, name)
        return table
    return DeltaTable.create(
        table_url(results_url, name),
        schema_of(name),
        partition_by=PARTITIONS[name] or None,
        mode="ignore",  # a concurrent creator won: use its table
        storage_options=delta_options(results_url, storage_options),
    )


def add_new_columns(table: DeltaTable, name: str) -> None:
    """A table created under an older SCHEMA_VERSION gets the nullable columns added since
    (e.g. intervals.keyframe_uri in 4), in one commit; older rows read them as null."""
    have = {f.name for f in table.schema().fields}
    new = [f for f in schema_of(name) if f.name not in have and f.nullable]
    if new:
        log.info("table %s: adding columns %s", name, ", ".join(f.name for f in new))
        table.alter.add_columns([Field.from_arrow(f) for f in new])


def _sql_in(values: list[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def replace_rows(
    results_url: str,
    name: str,
    rows: pa.Table,
    key: str,
    keys: list[str],
    storage_options: dict | None = None,
) -> int:
    """One commit: delete the rows of table `name` whose `key` is in `keys`, add `rows`. Returns the new version.

    `rows` must only hold those keys (delta-rs checks). Idempotent, so it is retried on
    transient storage errors: a retry after a lost commit response replaces the same rows again.
    """
    ensure_table(results_url, name, storage_options)
    url, opts = table_url(results_url, name), delta_options(results_url, storage_options)
    if not keys:
        return DeltaTable(url, storage_options=opts).version()

    def write() -> None:
        write_deltalake(
            url,
            rows,
            mode="overwrite",
            predicate=f"{key} IN ({_sql_in(sorted(set(keys)))})",
            partition_by=PARTITIONS[name] or None,
            storage_options=opts,
        )

    retry(write)
    return DeltaTable(url, storage_options=opts).version()


def append_rows(results_url: str, name: str, rows: pa.Table, storage_options: dict | None = None) -> int:
    """One append commit to table `name`. Returns the new version."""
    ensure_table(results_url, name, storage_options)
    url, opts = table_url(results_url, name), delta_options(results_url, storage_options)
    write_deltalake(url, rows, mode="append", partition_by=PARTITIONS[name] or None, storage_options=opts)
    return DeltaTable(url, storage_options=opts).version()


def runs(results_url: str, storage_options: dict | None = None) -> list[dict]:
    """The `runs` rows, oldest first; [] when no run committed yet."""
    table = open_table(results_url, "runs", storage_options)
    if table is None:
        return []
    rows = table.to_pyarrow_table().to_pylist()
    return sorted(rows, key=lambda r: (r["finished_at"], r["run_id"]))


def run_versions(
    results_url: str, storage_options: dict | None = None, run_id: str | None = None
) -> dict[str, int]:
    """table -> the version to read for a consistent view: the latest run's (or `run_id`'s).

    {} when no run committed yet. An unknown `run_id` is a KeyError naming the known ones.
    """
    committed = runs(results_url, storage_options)
    if run_id is not None:
        match = [r for r in committed if r["run_id"] == run_id]
        if not match:
            known = ", ".join(r["run_id"] for r in committed[-5:]) or "none"
            raise KeyError(f"run {run_id!r} is not a committed run of {results_url} (latest: {known})")
        committed = match
    if not committed:
        return {}
    last = committed[-1]
    return {name: int(last[f"{name}_version"]) for name in RESULT_TABLES}


def vacuum(
    results_url: str, retention_hours: float, storage_options: dict | None = None, dry_run: bool = False
) -> dict[str, list[str]]:
    """Delete data files no version younger than `retention_hours` needs, in every table.

    Time travel (`vagpt query --as-of-run`) to a run older than the retention
    stops working; a reader still on an old version loses its files, so keep
    the retention above the longest query. Returns table -> files (to be) deleted.
    """
    if retention_hours < 0:
        raise ValueError("retention_hours must be >= 0")
    out: dict[str, list[str]] = {}
    for name in (*RESULT_TABLES, "runs", "manifest"):
        table = open_table(results_url, name, storage_options)
        if table is None:
            continue
        out[name] = table.vacuum(
            retention_hours=int(retention_hours),
            dry_run=dry_run,
            enforce_retention_duration=False,
        )
    return out


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
