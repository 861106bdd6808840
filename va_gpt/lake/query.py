"""Read-only SQL over a results folder with DuckDB.

Views `videos`, `frame_scores`, `intervals` and `summaries` cover only the
Parquet files of committed runs (va_gpt.lake.commit.committed_files), and for each
video only the rows of its latest run: a rerun replaces a video's rows in the
views instead of duplicating them.

S3 (the embedded SeaweedFS store included) goes through DuckDB's httpfs
extension, loaded from the duckdb-ext-httpfs package (DuckDB's own `INSTALL`
would download it); other fsspec URLs through a registered fsspec filesystem.
"""

from __future__ import annotations

import glob
import os
import site
from urllib.parse import urlparse

import duckdb
import pyarrow as pa

from schemas.tables import TABLES
from va_gpt.io.credentials import resolve_s3
from va_gpt.lake.commit import committed_files

READ_ONLY_STATEMENTS = {"SELECT", "EXPLAIN"}


class QueryError(ValueError):
    pass


def _httpfs_path() -> str | None:
    version = duckdb.__version__
    for base in site.getsitepackages() + [site.getusersitepackages()]:
        hits = glob.glob(os.path.join(base, f"duckdb_ext/extensions/v{version}/*/httpfs.duckdb_extension"))
        if hits:
            return hits[0]
    return None


def _configure_s3(con: duckdb.DuckDBPyConnection, storage_options: dict | None) -> None:
    creds = resolve_s3(storage_options)
    endpoint, key, secret, region = creds.endpoint_url, creds.key, creds.secret, creds.region
    ext = _httpfs_path()
    if ext is None:
        raise QueryError(
            f"DuckDB httpfs extension for duckdb {duckdb.__version__} not found: "
            "install the matching duckdb-ext-httpfs package (make setup)"
        )
    con.execute(f"LOAD '{ext}'")
    parts = ["TYPE s3", f"REGION '{region}'"]
    if key and secret:
        parts += [f"KEY_ID '{key}'", f"SECRET '{secret}'"]
    if endpoint:
        u = urlparse(endpoint)
        parts += [
            f"ENDPOINT '{u.netloc}'",
            "URL_STYLE 'path'",
            f"USE_SSL {'true' if u.scheme == 'https' else 'false'}",
        ]
    con.execute(f"CREATE OR REPLACE SECRET vagpt_s3 ({', '.join(parts)})")


def _sql_list(urls: list[str]) -> str:
    return "[" + ", ".join("'" + u.replace("'", "''") + "'" for u in urls) + "]"


def connect(results_url: str, storage_options: dict | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the four result views over `results_url`."""
    con = duckdb.connect()
    scheme = urlparse(results_url).scheme
    if scheme in ("s3", "s3a"):
        _configure_s3(con, storage_options)
    elif scheme not in ("", "file"):
        import fsspec

        con.register_filesystem(fsspec.filesystem(scheme, **(storage_options or {})))
    for table, schema in TABLES.items():
        files = committed_files(results_url, table, storage_options=storage_options)
        files = [f[len("file://") :] if f.startswith("file://") else f for f in files]
        if files:
            con.execute(
                f"CREATE VIEW {table}_all AS SELECT * FROM read_parquet({_sql_list(files)}, union_by_name = true, hive_partitioning = false)"
            )
        else:
            con.register(f"{table}_empty", pa.Table.from_batches([], schema=schema))
            con.execute(f"CREATE VIEW {table}_all AS SELECT * FROM {table}_empty")
    # The latest committed run of each video wins; older runs' rows stay on disk but out of the views.
    con.execute(
        "CREATE VIEW latest_runs AS SELECT video_id, arg_max(run_id, processed_at) AS run_id "
        "FROM videos_all GROUP BY video_id"
    )
    for table in TABLES:
        con.execute(
            f"CREATE VIEW {table} AS SELECT t.* FROM {table}_all t SEMI JOIN latest_runs USING (video_id, run_id)"
        )
    return con


def check_read_only(sql: str) -> None:
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as e:
        raise QueryError(f"cannot parse SQL: {e}") from e
    if not statements:
        raise QueryError("empty SQL")
    for st in statements:
        kind = st.type.name
        if kind not in READ_ONLY_STATEMENTS:
            raise QueryError(f"only read-only queries are allowed (SELECT, EXPLAIN); got {kind}")


def query(results_url: str, sql: str, storage_options: dict | None = None) -> pa.Table:
    """Run read-only `sql` against the result views and return an Arrow table."""
    check_read_only(sql)
    con = connect(results_url, storage_options)
    try:
        return con.execute(sql).fetch_arrow_table()
    except duckdb.Error as e:
        # DuckDB appends a native stack trace to internal errors: the first lines say what happened.
        raise QueryError("query failed: " + str(e).split("\n\nStack Trace")[0].strip()) from e
    finally:
        con.close()
