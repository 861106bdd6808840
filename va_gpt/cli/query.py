"""`vagpt query "SQL" --results URL`: print a read-only query's result as a table."""

from __future__ import annotations

import sys

from va_gpt.cli.common import add_command, add_endpoint, check_results_root, read_sql_arg


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
    add_endpoint(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from va_gpt.io.credentials import storage_options_for
    from va_gpt.lake.query import QueryError, query

    sql = read_sql_arg(args.sql)
    check_results_root(args.results, args.endpoint)
    try:
        table = query(args.results, sql, storage_options_for(args.results, args.endpoint), args.as_of_run)
    except QueryError as e:
        print(f"vagpt query: {e}", file=sys.stderr)
        return 1
    print(format_table(table))
    return 0
