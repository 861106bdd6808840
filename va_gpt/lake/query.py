"""Read-only SQL over a results folder's Delta tables with DuckDB.

Views `videos`, `frame_scores`, `intervals` and `summaries` read the Delta tables
(va_gpt.lake.delta) through DuckDB's delta extension, each pinned to the version
the latest committed run recorded in `runs` (or the run named by `as_of_run`:
time travel). A run that is still writing, or died between its table commits,
is therefore invisible. Views `runs` (one row per run) and `review` (intervals
with their video and summary, highest peak first) come with them.

The httpfs and delta extensions are loaded from the duckdb-ext-httpfs and
duckdb-ext-delta packages (DuckDB's own `INSTALL` would download them).

A query may read the result tables and nothing else. DuckDB itself enforces
that, not string filters: once the views exist, `connect` sets
`allowed_directories` to exactly the table folders, turns
`enable_external_access` off (no other file, URL, glob, ATTACH, INSTALL or
LOAD), disables Python replacement scans and extension autoloading, and locks
the configuration so no statement can undo it. S3 keys live in a DuckDB
secret (CREATE SECRET) scoped to the results prefix, never in settings, and
secrets cannot be shown unredacted. Inside the table folders a query can read
files the current version no longer uses (older runs' rows, until
`vagpt lake vacuum`). The delta extension reads a Delta log itself: on local
disk `DESCRIBE delta_scan('/other/table')` can show another Delta table's
schema (its data files stay refused). What DuckDB cannot refuse on its own is
a write to an allowed path or into the in-memory catalog: `check_read_only`
accepts only SELECT, and EXPLAIN [ANALYZE] of a SELECT.
"""

from __future__ import annotations

import glob
import os
import site
from urllib.parse import urlparse

import duckdb
import pyarrow as pa

from schemas.tables import BOOKKEEPING, TABLES
from va_gpt.io.credentials import resolve_s3
from va_gpt.lake.delta import run_versions, table_url

# Interval review: what an operator looks at first (schemas/queries/review_top.sql uses it). The
# order is total: intervals of two videos at one peak and second list the same way every time.
# `label` is the classifier's kind, `kind` VA-GPT's judgement ("normal" where it finds none).
REVIEW_VIEW = """CREATE VIEW review AS
SELECT i.camera_id, i.date, i.start_utc, i.end_utc, i.camera_tz, i.start_time, i.end_time,
       i.peak_score, i.mean_score, i.label, s.kind, s.text AS summary, v.uri, v.status,
       i.start_s, i.end_s, i.video_id, i.interval_id, i.run_id
FROM intervals i
JOIN videos v USING (video_id)
LEFT JOIN summaries s ON s.video_id = i.video_id AND s.interval_id = i.interval_id
ORDER BY i.peak_score DESC, i.camera_id, i.start_s, i.video_id, i.interval_id"""

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


def _extension_path(name: str) -> str:
    """The extension `name` shipped by the duckdb-ext-{name} package for this DuckDB version."""
    version = duckdb.__version__
    for base in site.getsitepackages() + [site.getusersitepackages()]:
        hits = glob.glob(os.path.join(base, f"duckdb_ext/extensions/v{version}/*/{name}.duckdb_extension"))
        if hits:
            return hits[0]
    raise QueryError(
        f"DuckDB {name} extension for duckdb {version} not found: "
        f"install the matching duckdb-ext-{name} package (make setup)"
    )


def _configure_s3(con: duckdb.DuckDBPyConnection, storage_options: dict | None, results_url: str) -> None:
    creds = resolve_s3(storage_options)
    endpoint, key, secret, region = creds.endpoint_url, creds.key, creds.secret, creds.region
    con.execute(f"LOAD {_sql_str(_extension_path('httpfs'))}")
    # Scoped: the keys are offered for the results prefix only.
    parts = ["TYPE s3", f"SCOPE {_sql_str(results_url.rstrip('/') + '/')}", f"REGION {_sql_str(region)}"]
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


def _lock_down(con: duckdb.DuckDBPyConnection, roots: list[str]) -> None:
    """From here on `con` reads the table folders `roots` and nothing else, and its settings are frozen."""
    con.execute(f"SET allowed_directories = {_sql_list([r.rstrip('/') + '/' for r in roots])}")
    con.execute("SET allowed_paths = []")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def _empty_view(con: duckdb.DuckDBPyConnection, name: str, schema: pa.Schema) -> None:
    con.register(f"_{name}_empty", pa.Table.from_batches([], schema=schema))
    con.execute(f"CREATE VIEW {name} AS SELECT * FROM _{name}_empty")


def connect(
    results_url: str, storage_options: dict | None = None, as_of_run: str | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the result views over the Delta tables of `results_url`.

    Views: videos, frame_scores, intervals, summaries (each pinned to the version the
    latest committed run recorded, or `as_of_run`'s: a run still writing is invisible),
    runs, and review (intervals with their video and summary, highest peak first).
    The connection can read the table folders and nothing else (see the module
    docstring); its configuration is locked.
    """
    con = duckdb.connect(config=dict(_CONNECT_CONFIG))
    scheme = urlparse(results_url).scheme
    if scheme in ("s3", "s3a"):
        _configure_s3(con, storage_options, results_url)
    elif scheme not in ("", "file"):
        raise QueryError(
            f"{results_url}: results on {scheme}:// are not supported by the query views (s3:// or a path)"
        )
    con.execute(f"LOAD {_sql_str(_extension_path('delta'))}")
    try:
        versions = run_versions(results_url, storage_options, as_of_run)
    except KeyError as e:
        raise QueryError(str(e.args[0])) from None
    except OSError as e:
        raise QueryError(f"cannot read the runs table of {results_url}: {e}") from e
    roots = []
    for table, schema in TABLES.items():
        root = table_url(results_url, table)
        if table in versions:
            roots.append(root)
            con.execute(
                f"ATTACH {_sql_str(root)} AS _{table}_delta (TYPE delta, VERSION {int(versions[table])})"
            )
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM _{table}_delta")
        else:
            _empty_view(con, table, schema)
    if versions:
        roots.append(table_url(results_url, "runs"))
        con.execute(f"CREATE VIEW runs AS SELECT * FROM delta_scan({_sql_str(roots[-1])})")
    else:
        _empty_view(con, "runs", BOOKKEEPING["runs"])
    con.execute(REVIEW_VIEW)
    _lock_down(con, roots)
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


def query(
    results_url: str, sql: str, storage_options: dict | None = None, as_of_run: str | None = None
) -> pa.Table:
    """Run read-only `sql` against the result views (as of run `as_of_run`) and return an Arrow table."""
    check_read_only(sql)
    con = connect(results_url, storage_options, as_of_run)
    try:
        return con.execute(sql).fetch_arrow_table()
    except duckdb.PermissionException as e:
        raise QueryError(
            "query refused: a query may read only the views "
            f"{', '.join(TABLES)}, runs, review (no other files, URLs, globs, extensions or settings): "
            + str(e).split("\n")[0].strip()
        ) from e
    except duckdb.Error as e:
        # DuckDB appends a native stack trace to internal errors: the first lines say what happened.
        raise QueryError("query failed: " + str(e).split("\n\nStack Trace")[0].strip()) from e
    finally:
        con.close()
