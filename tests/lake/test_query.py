"""`va_gpt.lake.query`: the result views query fine, and a query can read nothing else, write nothing,
and show no secret (issue 15 items 1-3). Real DuckDB on a real folder and a real SeaweedFS store."""

from __future__ import annotations

import datetime as dt
import os
import urllib.parse

import duckdb
import pyarrow as pa
import pytest

from schemas.tables import TABLES
from va_gpt.lake.query import QueryError, check_read_only, connect, query
from va_gpt.pipeline.tables import commit_tables, write_run

DAY = "2026-11-21"
REFUSED = "a query may read only the views"


def _videos_row(video_id: str, run_id: str) -> dict:
    return dict(
        video_id=video_id,
        uri=f"s3://archive/cam01/{video_id}.mp4",
        etag="e",
        size=1,
        camera_id="cam01",
        date=DAY,
        status="ok",
        pipeline_version="p",
        model_version="m",
        run_id=run_id,
        processed_at=dt.datetime(2026, 11, 22, tzinfo=dt.UTC),
    )


@pytest.fixture
def results(backend):
    """A results root with one committed run (two videos), a later run that committed its
    table writes but not its `runs` row, and an archive object that queries must not reach."""
    root = backend.url("results")
    run = "20261122T000000Z-r1"
    write_run(root, run, {"videos": [_videos_row("v1", run), _videos_row("v2", run)]}, backend.options)
    half = "20261123T000000Z-r2"
    commit_tables(root, {"videos": [_videos_row("v3", half)]}, ["v3"], backend.options)
    archive = backend.put("archive/cam01/secret.mp4", b"not for analysts")
    return backend, root, archive


def test_result_views_still_query(results):
    backend, root, _ = results
    got = query(root, "SELECT video_id FROM videos ORDER BY video_id", backend.options)
    assert got.column("video_id").to_pylist() == ["v1", "v2"]
    for table in (*TABLES, "runs", "review"):
        assert query(root, f"SELECT count(*) AS n FROM {table}", backend.options).num_rows == 1
    plan = query(root, "EXPLAIN ANALYZE SELECT count(*) FROM videos", backend.options)
    assert plan.num_rows == 1


def _bypasses(root: str, archive: str) -> list[str]:
    path = lambda url: url[len("file://") :] if url.startswith("file://") else url  # noqa: E731
    # (Files inside the table folders are readable: that is where the Delta tables live.)
    return [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM glob('/etc/*')",
        "SELECT * FROM read_csv_auto('/etc/passwd')",
        "SELECT * FROM read_json_auto('/etc/*.json')",
        "SELECT * FROM sniff_csv('/etc/passwd')",
        f"SELECT size FROM read_blob('{path(archive)}')",
        f"SELECT * FROM glob('{path(root)}/*')",
        f"SELECT * FROM read_json('{path(root)}/_manifest/_delta_log/*.json')",  # not a view's table
    ]


def test_reading_anything_else_is_refused(results):
    backend, root, archive = results
    for sql in _bypasses(root, archive):
        with pytest.raises(QueryError, match=REFUSED):
            query(root, sql, backend.options)


def test_http_urls_are_refused(s3_store, results):
    """Even the store's own endpoint over plain HTTP, and with the s3 secret in place."""
    backend, root, _ = results
    port = urllib.parse.urlparse(s3_store.endpoint_url).port
    s3_root = s3_store.url("anything")
    for sql in (
        f"SELECT * FROM read_csv('http://127.0.0.1:{port}/{s3_store.bucket}/x.csv')",
        f"SELECT * FROM read_blob('http://127.0.0.1:{port}/')",
        f"SELECT * FROM read_blob('{s3_root}')",
    ):
        with pytest.raises(QueryError, match=REFUSED):
            query(root, sql, backend.options)


@pytest.mark.parametrize(
    "sql",
    [
        "COPY (SELECT 42) TO '{target}'",
        "EXPLAIN ANALYZE COPY (SELECT 42) TO '{target}'",
        "EXPLAIN (ANALYZE, FORMAT json) COPY (SELECT 42) TO '{target}'",
        "explain /* c */ analyse COPY (SELECT 42) TO '{target}'",
        "EXPLAIN ANALYZE CREATE TABLE t AS SELECT 42",
        "EXPLAIN ANALYZE INSERT INTO t VALUES (1)",
        "SELECT 1; COPY (SELECT 42) TO '{target}'",
        "CREATE TEMP TABLE t AS SELECT 1",
        "ATTACH '{target}' AS x",
        "SET enable_external_access = true",
        "INSTALL httpfs",
        "LOAD httpfs",
        "CREATE SECRET s (TYPE s3)",
        "PRAGMA enable_profiling",
        "CALL duckdb_secrets()",
    ],
)
def test_writes_and_state_changes_are_refused(sql, results):
    backend, root, _ = results
    target = backend.url("written.csv")
    with pytest.raises(QueryError, match="only read-only queries"):
        query(root, sql.format(target=target), backend.options)
    assert not backend.fs_exists(target)


def test_explain_of_a_select_is_allowed():
    check_read_only("EXPLAIN SELECT 1")
    check_read_only("explain (format json) select 1")
    check_read_only("EXPLAIN ANALYZE FROM videos")


def test_duckdb_itself_refuses_files_writes_and_settings(results):
    """The statement check aside, the connection's own controls hold."""
    backend, root, _ = results
    con = connect(root, backend.options)
    target = backend.url("copied.csv")
    try:
        for sql in (
            f"COPY (SELECT 42) TO '{target}'",
            "SELECT * FROM read_csv('/etc/passwd')",
            "ATTACH '/tmp/vagpt-query-test.duckdb' AS x",
            "LOAD spatial",  # (httpfs is already loaded for s3 results: LOAD is then a no-op)
            "INSTALL spatial",
        ):
            with pytest.raises(duckdb.PermissionException):
                con.execute(sql)
        for sql in (
            "SET enable_external_access = true",
            "SET allowed_directories = ['/']",
            "SET allowed_paths = ['/etc/passwd']",
            "SET python_enable_replacements = true",
            "RESET lock_configuration",
        ):
            with pytest.raises(duckdb.InvalidInputException, match="locked"):
                con.execute(sql)
        passwd = pa.table({"line": ["root:x:0:0"]})  # noqa: F841 -- a Python replacement scan target
        with pytest.raises(duckdb.CatalogException):
            con.execute("SELECT * FROM passwd")
    finally:
        con.close()
    assert not backend.fs_exists(target)


def test_secret_key_is_not_shown(s3_store):
    secret = s3_store.secret
    root = s3_store.url("test_query/secret")
    options = s3_store.storage_options()
    settings = query(root, "SELECT name, value FROM duckdb_settings()", options)
    assert not any(secret in (v or "") for v in settings.column("value").to_pylist())
    secrets = query(root, "SELECT secret_string FROM duckdb_secrets()", options).column(0).to_pylist()
    assert len(secrets) == 1 and secret not in secrets[0] and "redacted" in secrets[0]
    for sql in (
        "SELECT current_setting('s3_secret_access_key') AS v",
        "SELECT current_setting('s3_access_key_id') AS v",
    ):
        try:
            shown = query(root, sql, options).column("v").to_pylist()
        except QueryError as e:
            assert secret not in str(e)
        else:
            assert secret not in str(shown)
    with pytest.raises(QueryError, match="unredacted secrets is disabled"):
        query(root, "SELECT * FROM duckdb_secrets(redact := false)", options)


def test_local_results_do_not_open_the_filesystem(tmp_path):
    """An empty local results folder: no file is allowed at all."""
    root = tmp_path / "results"
    os.makedirs(root)
    (tmp_path / "other.csv").write_text("a\n1\n")
    assert query(str(root), "SELECT count(*) AS n FROM videos").column("n")[0].as_py() == 0
    with pytest.raises(QueryError, match=REFUSED):
        query(str(root), f"SELECT * FROM read_csv('{tmp_path / 'other.csv'}')")
