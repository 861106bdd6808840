"""Read-only SQL over a results folder with DuckDB.

Views `videos`, `frame_scores`, `intervals` and `summaries` cover only the
Parquet files of committed runs (va_gpt.lake.commit.committed_files), and for each
video only the rows of its latest run: a rerun replaces a video's rows in the
views instead of duplicating them.

S3 (the embedded SeaweedFS store included) goes through DuckDB's httpfs
extension, loaded from the duckdb-ext-httpfs package (DuckDB's own `INSTALL`
would download it); other fsspec URLs through a registered fsspec filesystem.

A query may read the committed result files and nothing else. DuckDB itself
enforces that, not string filters: once the views exist, `connect` sets
`allowed_paths` to exactly the committed Parquet files, turns
`enable_external_access` off (no other file, URL, glob, ATTACH, INSTALL or
LOAD), disables Python replacement scans and extension autoloading, and locks
the configuration so no statement can undo it. S3 keys live in a DuckDB
secret (CREATE SECRET), never in settings, and secrets cannot be shown
unredacted. What DuckDB cannot refuse on its own is a write to an allowed
path (COPY TO a committed file) or into the in-memory catalog: `check_read_only`
accepts only SELECT, and EXPLAIN [ANALYZE] of a SELECT.
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

# Settings fixed at connect time; `lock_configuration` then freezes every setting.
_CONNECT_CONFIG = {
    "allow_persistent_secrets": False,  # no ~/.duckdb/stored_secrets
    "allow_unredacted_secrets": False,  # duckdb_secrets(redact := false) refused
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "python_enable_replacements": False,  # FROM some_python_variable
}


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
    parts = ["TYPE s3", f"REGION {_sql_str(region)}"]
    if key and secret:
        parts += [f"KEY_ID {_sql_str(key)}", f"SECRET {_sql_str(secret)}"]
    if endpoint:
        u = urlparse(endpoint)
        parts += [
            f"ENDPOINT {_sql_str(u.netloc)}",
            "URL_STYLE 'path'",
            f"USE_SSL {'true' if u.scheme == 'https' else 'false'}",
        ]
    con.execute(f"CREATE OR REPLACE SECRET vagpt_s3 ({', '.join(parts)})")


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sql_list(urls: list[str]) -> str:
    return "[" + ", ".join(_sql_str(u) for u in urls) + "]"


def _lock_down(con: duckdb.DuckDBPyConnection, readable: list[str]) -> None:
    """From here on `con` reads `readable` (the views' files) and nothing else, and its settings are frozen."""
    con.execute("SET allowed_directories = []")
    con.execute(f"SET allowed_paths = {_sql_list(readable)}")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def connect(results_url: str, storage_options: dict | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the four result views over `results_url`.

    The connection can read the committed result files and nothing else (see
    the module docstring); its configuration is locked.
    """
    con = duckdb.connect(config=dict(_CONNECT_CONFIG))
    scheme = urlparse(results_url).scheme
    if scheme in ("s3", "s3a"):
        _configure_s3(con, storage_options)
    elif scheme not in ("", "file"):
        import fsspec

        con.register_filesystem(fsspec.filesystem(scheme, **(storage_options or {})))
    readable: list[str] = []
    for table, schema in TABLES.items():
        files = committed_files(results_url, table, storage_options=storage_options)
        files = [f[len("file://") :] if f.startswith("file://") else f for f in files]
        readable += files
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
    _lock_down(con, readable)
    return con


def _explained(query_text: str) -> str:
    """The statement an EXPLAIN [ANALYZE] [(options)] statement explains."""
    tokens = duckdb.tokenize(query_text)  # comments are not tokens
    i = 1  # tokens[0] is EXPLAIN
    if i < len(tokens) and query_text[tokens[i][0] :].upper().startswith(("ANALYZE", "ANALYSE")):
        i += 1
    if i < len(tokens) and query_text[tokens[i][0]] == "(":
        depth = 0
        while i < len(tokens):
            ch = query_text[tokens[i][0]]
            if tokens[i][1] == duckdb.token_type.operator and ch in "()":
                depth += 1 if ch == "(" else -1
            i += 1
            if depth == 0:
                break
    if i >= len(tokens):
        raise QueryError("EXPLAIN of nothing")
    return query_text[tokens[i][0] :]


def check_read_only(sql: str) -> None:
    """Refuse anything but SELECT statements and EXPLAIN [ANALYZE] of a SELECT.

    EXPLAIN ANALYZE runs the statement it explains, so that statement is checked too.
    """
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as e:
        raise QueryError(f"cannot parse SQL: {e}") from e
    if not statements:
        raise QueryError("empty SQL")
    for st in statements:
        kind = st.type.name
        if kind == "EXPLAIN":
            try:
                inner = duckdb.extract_statements(_explained(st.query))
            except duckdb.Error as e:
                raise QueryError(f"cannot parse SQL: {e}") from e
            kind = "EXPLAIN " + ", ".join(i.type.name for i in inner)
            if len(inner) != 1 or inner[0].type.name != "SELECT":
                raise QueryError(
                    f"only read-only queries are allowed (SELECT, EXPLAIN [ANALYZE] SELECT); got {kind}"
                )
        elif kind != "SELECT":
            raise QueryError(
                f"only read-only queries are allowed (SELECT, EXPLAIN [ANALYZE] SELECT); got {kind}"
            )


def query(results_url: str, sql: str, storage_options: dict | None = None) -> pa.Table:
    """Run read-only `sql` against the result views and return an Arrow table."""
    check_read_only(sql)
    con = connect(results_url, storage_options)
    try:
        return con.execute(sql).fetch_arrow_table()
    except duckdb.PermissionException as e:
        raise QueryError(
            "query refused: a query may read only the views "
            f"{', '.join(TABLES)} (no other files, URLs, globs, extensions or settings): "
            + str(e).split("\n")[0].strip()
        ) from e
    except duckdb.Error as e:
        # DuckDB appends a native stack trace to internal errors: the first lines say what happened.
        raise QueryError("query failed: " + str(e).split("\n\nStack Trace")[0].strip()) from e
    finally:
        con.close()
