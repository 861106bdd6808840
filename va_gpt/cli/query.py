"""`vagpt query "SQL" --results URL [--format table|csv|json|parquet] [--out FILE]`: a read-only query's result.

table (aligned text) and csv and json (an array of row objects) print to stdout unless
--out names a file (a path or any fsspec URL); parquet needs --out.
"""

from __future__ import annotations

import io
import json
import sys

from va_gpt.cli.common import add_command, add_endpoint, check_results_root, read_sql_arg

FORMATS = ("table", "csv", "json", "parquet")


def format_table(table) -> str:
    """A pyarrow table as aligned text columns, with a row count."""
    cols = table.column_names
    rows = [[("" if v is None else str(v)) for v in r.values()] for r in table.to_pylist()]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(cols)]
    out = ["  ".join(c.ljust(w) for c, w in zip(cols, widths)), "  ".join("-" * w for w in widths)]
    out += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in rows]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)


def register(sub) -> None:
    p = add_command(sub, "query", "read-only SQL over a results folder")
    p.add_argument(
        "sql",
        help="a SELECT over the views videos, frame_scores, intervals, summaries; @file.sql reads a file",
    )
    p.add_argument("--results", required=True, help="results URL (s3://..., file://..., or a path)")
    p.add_argument(
        "--as-of-run", default=None, metavar="RUN_ID",
        help="time travel: read the tables as that committed run left them (see SELECT * FROM runs)",
    )  # fmt: skip
    p.add_argument("--format", choices=FORMATS, default="table", help="output format")
    p.add_argument(
        "--out", default=None, help="write to this file or URL (default: stdout; parquet needs a file)"
    )
    add_endpoint(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from va_gpt.io.credentials import storage_options_for
    from va_gpt.io.errors import StorageError
    from va_gpt.io.filesystem import write_bytes
    from va_gpt.lake.query import QueryError, query

    if args.format == "parquet" and not args.out:
        print("vagpt query: error: --format parquet needs --out FILE", file=sys.stderr)
        return 2
    sql = read_sql_arg(args.sql)
    check_results_root(args.results, args.endpoint)
    try:
        table = query(args.results, sql, storage_options_for(args.results, args.endpoint), args.as_of_run)
    except QueryError as e:
        print(f"vagpt query: error: {e}", file=sys.stderr)
        return 1
    data = encode(table, args.format)
    if args.out:
        try:
            write_bytes(args.out, data, storage_options_for(args.out, args.endpoint))
        except StorageError as e:
            print(f"vagpt query: error: {e}", file=sys.stderr)
            return 1
        print(f"{table.num_rows} row{'s' if table.num_rows != 1 else ''} -> {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(data.decode("utf-8"))
        sys.stdout.flush()
    return 0


def encode(table, fmt: str) -> bytes:
    """A pyarrow table as the bytes of `fmt` (one of FORMATS)."""
    if fmt == "table":
        return (format_table(table) + "\n").encode("utf-8")
    if fmt == "json":
        return (json.dumps(table.to_pylist(), indent=1, default=str) + "\n").encode("utf-8")
    buf = io.BytesIO()
    if fmt == "csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, buf)
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, buf)
    else:
        raise ValueError(f"format {fmt!r}: one of {FORMATS}")
    return buf.getvalue()
