"""Nightly job: process the new or changed footage of an archive into Parquet results.

    python jobs/nightly.py --archive s3://footage --results s3://results --date yesterday \
        --checkpoint s3://models/va-gpt/demo [--ray-address auto]

Credentials for s3:// come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and
AWS_ENDPOINT_URL for a non-AWS store). Exit status: 0 when the run committed
(even if some videos failed: they are rows), 1 when it could not run.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import logging
import sys


def parse_dates(text: str | None):
    """`yesterday`, `today`, `YYYY-MM-DD`, `A..B` (inclusive) or `A,B,C`; None = every date."""
    if text is None or text == "all":
        return None
    today = dt.date.today()
    named = {"today": today, "yesterday": today - dt.timedelta(days=1)}
    if text in named:
        return [named[text].isoformat()]

    def one(s: str) -> str:
        try:
            return dt.date.fromisoformat(s.strip()).isoformat()
        except ValueError:
            raise argparse.ArgumentTypeError(f"--date: {s!r} is not YYYY-MM-DD") from None

    if ".." in text:
        a, b = text.split("..", 1)
        a, b = one(a), one(b)
        if b < a:
            raise argparse.ArgumentTypeError(f"--date: range {text!r} ends before it starts")
        return (a, b)
    return [one(s) for s in text.split(",")]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="vagpt nightly", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--archive", required=True, help="archive root URL (s3://, file://, a path)")
    p.add_argument("--results", required=True, help="results root URL")
    p.add_argument(
        "--date",
        type=parse_dates,
        default=None,
        help="yesterday | today | YYYY-MM-DD | A..B | A,B (default: all)",
    )
    p.add_argument(
        "--cameras",
        type=lambda s: [c for c in s.split(",") if c],
        default=None,
        help="comma-separated camera ids",
    )
    p.add_argument("--pattern", default="{camera_id}/{date}/{name}.mp4", help="archive key pattern")
    p.add_argument("--preset", default="demo", help="preset name or YAML path (default demo)")
    p.add_argument(
        "--checkpoint", default=None, help="VA-GPT checkpoint folder URL (config, LLM, projector, classifier)"
    )
    p.add_argument(
        "--classifier", default=None, help="anomaly classifier folder URL (default: the checkpoint's)"
    )
    p.add_argument("--fps", type=float, default=None, help="sampling fps (default: the preset's)")
    p.add_argument("--ray-address", default=None, help="Ray cluster address; default starts a local Ray")
    p.add_argument("--ray-temp-dir", default=None, help="temp dir for a local Ray (default Ray's)")
    p.add_argument("--endpoint", default=None, help="S3 endpoint URL (default AWS_ENDPOINT_URL)")
    p.add_argument("--force", action="store_true", help="reprocess objects already in the manifest")
    p.add_argument("--no-describe", action="store_true", help="skip the VA-GPT summaries")
    p.add_argument("--local", action="store_true", help="run in this process without Ray (debugging)")
    return p


def main(argv: list[str] | None = None) -> int:
    from va_gpt.config import ConfigError, load_preset
    from va_gpt.io.credentials import storage_options_for
    from va_gpt.io.storage import StorageError
    from va_gpt.pipeline.nightly import NightlyArgs, run_nightly

    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        preset = load_preset(args.preset)
        if args.fps is not None:
            preset = dataclasses.replace(preset, decode=dataclasses.replace(preset.decode, fps=args.fps))
        so = storage_options_for(args.archive, args.endpoint)
        summary = run_nightly(
            NightlyArgs(
                archive=args.archive,
                results=args.results,
                preset=preset,
                dates=args.date,
                cameras=args.cameras,
                pattern=args.pattern,
                classifier_dir=args.classifier or args.checkpoint,
                checkpoint_url=args.checkpoint,
                storage_options=so,
                force=args.force,
                describe=not args.no_describe,
                local=args.local,
                ray_address=args.ray_address,
                ray_temp_dir=args.ray_temp_dir,
            )
        )
    except (ConfigError, StorageError) as e:
        print(f"vagpt nightly: {e}", file=sys.stderr)
        return 1
    print(summary.render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
