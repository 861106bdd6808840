"""`vagpt nightly`: process the new or changed footage of an archive into Delta Lake result tables."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from va_gpt.cli.common import add_command, add_endpoint, add_preset, camera_list, parse_dates, setup_logging

DESCRIPTION = """Process the new or changed footage of an archive into Parquet results.

    vagpt nightly --archive s3://footage --results s3://results --date yesterday \\
        --checkpoint s3://models/va-gpt/demo [--ray-address auto]

Credentials for s3:// come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and
AWS_ENDPOINT_URL or --endpoint for a non-AWS store). Exit status: 0 when the run
committed (even if some videos failed: they are rows), 1 when it could not run,
3 when the store is unreachable: the archive listing failed, or
--max-storage-failures videos in a row could not be read (the run stops early and
commits nothing; the next night redoes it).
"""


def register(sub) -> None:
    p = add_command(sub, "nightly", "run the nightly pipeline over an archive", DESCRIPTION)
    p.add_argument("--archive", required=True, help="archive root URL (s3://, file://, a path)")
    p.add_argument("--results", required=True, help="results root URL")
    p.add_argument(
        "--date",
        type=parse_dates,
        default=None,
        help="YYYY-MM-DD | today | yesterday, or A..B (inclusive) | A,B,C (default: every date)",
    )
    p.add_argument(
        "--cameras", type=camera_list, default=None, help="comma-separated camera ids (default: every camera)"
    )
    p.add_argument("--pattern", default="{camera_id}/{date}/{name}.mp4", help="archive key pattern")
    add_preset(p)
    p.add_argument(
        "--checkpoint",
        default=None,
        help="VA-GPT checkpoint folder URL: config, LLM, projector, classifier (default: none)",
    )
    p.add_argument(
        "--classifier", default=None, help="anomaly classifier folder URL (default: the checkpoint's)"
    )
    p.add_argument("--fps", type=float, default=None, help="sampling fps (default: the preset's)")
    p.add_argument("--ray-address", default=None, help="Ray cluster address (default: start a local Ray)")
    p.add_argument("--ray-temp-dir", default=None, help="temp dir for a local Ray (default: Ray's)")
    add_endpoint(p)
    p.add_argument("--force", action="store_true", help="reprocess objects already in the manifest")
    p.add_argument("--no-describe", action="store_true", help="skip the VA-GPT summaries")
    p.add_argument(
        "--no-keyframes",
        action="store_true",
        help="skip cutting each interval's keyframe and preview JPEGs (the report cuts them when needed)",
    )
    p.add_argument("--local", action="store_true", help="run in this process without Ray (debugging)")
    p.add_argument(
        "--max-storage-failures", type=_non_negative, default=5, metavar="N",  # breaker.DEFAULT_MAX_...
        help="stop the run, committing nothing (exit 3), after N videos in a row fail with a transient "
        "storage error, e.g. the store went down; 0 = never",
    )  # fmt: skip
    p.add_argument(
        "--allow-random-weights", action="store_true",
        help="run without a trained classifier (no --classifier/--checkpoint) or, when describing, without a "
        "VA-GPT --checkpoint: the results are then meaningless (tests, throughput runs)",
    )  # fmt: skip
    p.add_argument(
        "--camera-tz", action="append", default=[], metavar="CAM=ZONE",
        help="a camera's IANA time zone (cam01=Europe/Paris), repeatable; key times are that "
        "camera's wall clock, stored with UTC start/end (default UTC)",
    )  # fmt: skip
    p.add_argument(
        "--vacuum-hours", type=float, default=None, metavar="N",
        help="after the run, delete table files no version younger than N hours needs "
        "(time travel to older runs stops working; default: keep everything)",
    )  # fmt: skip
    p.set_defaults(run=run)


def random_weights(args) -> list[str]:
    """What would run with random weights: a refused run commits untrained results otherwise."""
    missing = []
    if not (args.classifier or args.checkpoint):
        missing.append("no --classifier or --checkpoint: the anomaly classifier would be random")
    if not args.no_describe and not args.checkpoint:
        missing.append(
            "no --checkpoint: the summaries would come from a random VA-GPT (or pass --no-describe)"
        )
    return missing


def run(args) -> int:
    """Errors (ConfigError, StorageError, CheckpointError, a bad --pattern) go to the one
    handler in va_gpt.cli.main: `vagpt nightly: error: ...`, no traceback."""
    from va_gpt.config import ConfigError, load_preset
    from va_gpt.io.credentials import require_credentials, storage_options_for
    from va_gpt.pipeline.nightly import NightlyArgs, run_nightly

    setup_logging()
    missing = random_weights(args)
    if missing and not args.allow_random_weights:
        raise ConfigError(
            "refusing to run with random weights: "
            + "; ".join(missing)
            + " (train them: vagpt train-classifier "
            "/ vagpt train, or pass --allow-random-weights for a run whose results mean nothing)"
        )
    camera_tz = parse_camera_tz(args.camera_tz)
    for url in (args.archive, args.results, args.checkpoint, args.classifier):
        if url:
            require_credentials(url, args.endpoint)
    preset = load_preset(args.preset)
    if args.fps is not None:
        preset = dataclasses.replace(preset, decode=dataclasses.replace(preset.decode, fps=args.fps))
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
            storage_options=storage_options_for(args.archive, args.endpoint),
            force=args.force,
            describe=not args.no_describe,
            keyframes=not args.no_keyframes,
            local=args.local,
            max_storage_failures=args.max_storage_failures,
            ray_address=args.ray_address,
            ray_temp_dir=args.ray_temp_dir,
            camera_tz=camera_tz,
        )
    )
    print(summary.render())
    if args.vacuum_hours is not None:
        from va_gpt.lake.delta import vacuum

        try:
            removed = vacuum(
                args.results, args.vacuum_hours, storage_options_for(args.results, args.endpoint)
            )
            print(f"vacuum: {sum(map(len, removed.values()))} unused file(s) deleted")
        except Exception as e:  # the run committed: a failed cleanup is reported, not an exit 1
            print(f"vagpt nightly: vacuum failed (the run committed): {e}", file=sys.stderr)
    return 0


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 0")
    return value


def parse_camera_tz(values: list[str]) -> dict[str, str]:
    """`cam=Zone` items -> {camera_id: zone}; the zone is after the last `=` (`cam=1=UTC`)."""
    from va_gpt.config import ConfigError

    out: dict[str, str] = {}
    for value in values:
        cam, _, zone = value.rpartition("=")
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"--camera-tz {value!r}: want CAM=ZONE with an IANA zone like Europe/Paris"
            ) from None
        out[cam] = zone
    return out
