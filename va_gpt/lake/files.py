"""Data files written by workers, committed by the driver: a Delta table's rows never pass through the driver.

    spec = write_data_file(results, "frame_scores", rows, storage_options)   # on a Ray worker
    version = replace_with_files(results, "frame_scores", [spec, ...], "video_id", ids, so)  # driver

A worker writes one Parquet file per video under the table's folder (the
table's physical schema: partition columns left out, timestamps in
microseconds) and returns a small JSON-safe spec: path, size, partition
values, row count and column statistics. The driver then commits every spec
as `add` actions, with `remove` actions for the files holding the same
videos' old rows, in ONE Delta commit (deltalake `create_write_transaction`),
so a reader sees the old or the new rows of the run, never a mix.

A file not committed (a run that died before its commit) is referenced by no
version; `vacuum` deletes it once older than the retention.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import uuid
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import Schema
from deltalake.transaction import AddAction, RemoveAction

from va_gpt.io.filesystem import join, read_bytes, write_bytes
from va_gpt.io.retry import retry
from va_gpt.lake.delta import _DIRS, PARTITIONS, ensure_table, schema_of

# Columns whose min/max go into a file's statistics (data skipping by video, time and score).
_STATS = ("video_id", "t", "score", "diff_energy", "run_id")


def physical_schema(name: str) -> pa.Schema:
    """The Parquet schema of table `name`'s data files: Delta's types, partition columns left out."""
    delta = pa.schema(Schema.from_arrow(schema_of(name)).to_arrow())
    return pa.schema([f for f in delta if f.name not in PARTITIONS[name]])


def _stats(table: pa.Table) -> str:
    out: dict = {"numRecords": table.num_rows, "minValues": {}, "maxValues": {}, "nullCount": {}}
    for col in table.column_names:
        out["nullCount"][col] = table[col].null_count
        if col not in _STATS or not table.num_rows:
            continue
        mm = pc.min_max(table[col]).as_py()
        if mm["min"] is None or any(isinstance(v, float) and not math.isfinite(v) for v in mm.values()):
            continue
        out["minValues"][col], out["maxValues"][col] = mm["min"], mm["max"]
    return json.dumps(out)


def write_data_file(results_url: str, name: str, rows: pa.Table, storage_options: dict | None = None) -> dict:
    """Write `rows` (table `name`'s schema, ONE partition) as a data file under the table; its spec.

    Called on workers. The file name is new each call, so a retried task never
    overwrites a committed file.
    """
    parts = PARTITIONS[name]
    values = {p: rows[p][0].as_py() for p in parts} if rows.num_rows else {}
    for p in parts:
        if pc.count_distinct(rows[p]).as_py() != 1:
            raise ValueError(f"{name}: a data file holds one partition, got several values of {p}")
    data = rows.drop_columns(parts).cast(physical_schema(name))
    buf = io.BytesIO()
    pq.write_table(data, buf, compression="snappy")
    # The date partition as a folder (an ISO date is URL-safe); other values only in the log.
    folder = f"date={values['date']}" if "date" in values else ""
    rel = "/".join(x for x in (folder, f"part-w-{uuid.uuid4().hex}.snappy.parquet") if x)
    write_bytes(join(results_url, _DIRS[name], rel), buf.getvalue(), storage_options)
    return {
        "path": rel,
        "size": buf.tell(),
        "partition_values": {k: str(v) for k, v in values.items()},
        "modification_time": int(dt.datetime.now(dt.UTC).timestamp() * 1000),
        "num_records": rows.num_rows,
        "stats": _stats(data),
    }


def _add(spec: dict) -> AddAction:
    return AddAction(
        spec["path"], spec["size"], spec["partition_values"], spec["modification_time"], True, spec["stats"]
    )


def replace_with_files(
    results_url: str,
    name: str,
    files: list[dict],
    key: str,
    keys: list[str],
    storage_options: dict | None = None,
) -> int:
    """One commit: the worker-written `files` added, every row of table `name` whose `key` is in
    `keys` removed. Returns the new version.

    A file holding only those keys is removed whole; one that also holds other keys
    (written by `replace_rows`, several videos to a file) is rewritten without them
    in the same commit. Retried on transient storage errors; a retry after a commit
    that landed removes nothing it adds, so the result is the same.
    """
    wanted = set(keys)
    if not wanted and not files:
        return ensure_table(results_url, name, storage_options).version()

    def commit() -> int:
        table = ensure_table(results_url, name, storage_options)
        adds = [_add(f) for f in files]
        ours = {a.path for a in adds}
        removes, rewritten = _removals(results_url, name, table, key, wanted, ours, storage_options)
        table.create_write_transaction(
            adds + [_add(f) for f in rewritten] + removes,
            mode="append",
            schema=table.schema(),
            partition_by=PARTITIONS[name] or None,
        )
        return ensure_table(results_url, name, storage_options).version()

    return retry(commit)


def _removals(results_url, name, table, key, wanted, ours, storage_options):
    """The remove actions for the files holding `wanted` keys, and the specs of rewritten remainders."""
    actions = pa.table(table.get_add_actions(flatten=True))
    cols = set(actions.column_names)
    lo = actions[f"min.{key}"].to_pylist() if f"min.{key}" in cols else [None] * actions.num_rows
    hi = actions[f"max.{key}"].to_pylist() if f"max.{key}" in cols else [None] * actions.num_rows
    now = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    removes, rewritten = [], []
    for i, path in enumerate(actions["path"].to_pylist()):
        if path in ours:
            continue
        a, b = lo[i], hi[i]
        if a is not None and b is not None and not any(a <= k <= b for k in wanted):
            continue  # its statistics say it holds none of them
        part = {c.split(".", 1)[1]: actions[c][i].as_py() for c in cols if c.startswith("partition.")}
        if not (a is not None and a == b):  # several keys (or no statistics): look inside
            url = join(results_url, _DIRS[name], unquote(path))
            data = pq.read_table(io.BytesIO(read_bytes(url, storage_options)))
            held = set(data[key].to_pylist())
            if not held & wanted:
                continue
            keep = data.filter(pc.invert(pc.is_in(data[key], pa.array(sorted(wanted)))))
            if keep.num_rows:
                full = keep
                for p, v in part.items():
                    full = full.append_column(p, pa.array([v] * keep.num_rows, pa.string()))
                rewritten.append(
                    write_data_file(results_url, name, full.select(schema_of(name).names), storage_options)
                )
        size = int(actions["size_bytes"][i].as_py())
        # get_add_actions gives the log's (URL-encoded) path; delta-rs encodes what it is given.
        removes.append(RemoveAction(unquote(path), True, now, size, part))
    return removes, rewritten


def data_files(results_url: str, name: str, storage_options: dict | None = None) -> list[str]:
    """The data files of table `name`'s current version (paths relative to the table folder)."""
    table = ensure_table(results_url, name, storage_options)
    return pa.table(table.get_add_actions(flatten=True))["path"].to_pylist()
