"""`vagpt report --results URL --date D --out DIR_OR_URL`: the static HTML report of one night."""

from __future__ import annotations

import sys

from va_gpt.cli.common import add_command, add_endpoint, camera_list, parse_date, setup_logging

DESCRIPTION = """\
Write one night's report: {out}/{date}/index.html (counts per camera and kind, footage
hours, failed videos, the runs) and a page per camera (the score over the night, one card
per anomaly interval: keyframe with the region box, contact sheet, kind, score, wall-clock
times, VA-GPT summary, source object and offset). Static files, no server, nothing fetched:
open index.html from a folder or serve the prefix from the object store.

Keyframes and contact sheets are kept under {results}/media/ (cut from the source
objects the first time they are needed). A source that is gone gives a card without a
keyframe and a note."""


def register(sub) -> None:
    p = add_command(sub, "report", "static HTML report of one night's results", DESCRIPTION)
    p.add_argument("--results", required=True, help="results URL (s3://..., file://..., or a path)")
    p.add_argument("--date", required=True, type=parse_date, help="the night: YYYY-MM-DD | today | yesterday")
    p.add_argument(
        "--cameras", type=camera_list, default=None, help="comma-separated camera ids (default: every camera)"
    )
    p.add_argument("--out", required=True, help="report folder or URL; the night goes to {out}/{date}/")
    p.add_argument(
        "--no-store-media", dest="store_media", action="store_false",
        help="do not write newly cut stills under {results}/media/ (default: store them; use for a read-only results store)",
    )  # fmt: skip
    p.add_argument("--regenerate-media", action="store_true", help="cut every still again from the source")
    p.add_argument("--workers", type=int, default=4, help="intervals cut in parallel")
    add_endpoint(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from va_gpt.io.credentials import storage_options_for
    from va_gpt.report.build import write_report
    from va_gpt.report.night import ReportError

    setup_logging()
    try:
        index = write_report(
            args.results,
            args.date,
            args.out,
            cameras=args.cameras,
            storage_options=storage_options_for(args.results, args.endpoint),
            out_storage_options=storage_options_for(args.out, args.endpoint),
            store_media=args.store_media,
            regenerate_media=args.regenerate_media,
            workers=args.workers,
        )
    except ReportError as e:
        print(f"vagpt report: error: {e}", file=sys.stderr)
        return 1
    print(index)
    return 0
