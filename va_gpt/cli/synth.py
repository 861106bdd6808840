"""`vagpt synth URL`: write a night of synthetic camera footage with ground truth."""

from __future__ import annotations

import sys

from va_gpt.cli.common import add_command, add_endpoint, parse_date


def register(sub) -> None:
    p = add_command(sub, "synth", "write a synthetic camera archive with ground truth")
    p.add_argument("url", help="archive root, any fsspec URL (file:///..., s3://bucket/prefix, a local path)")
    p.add_argument("--num-cameras", type=int, default=3, help="number of cameras (cam01, cam02, ...)")
    p.add_argument("--videos-per-camera", type=int, default=2, help="videos per camera")
    p.add_argument("--duration", type=float, default=30.0, help="seconds per video")
    p.add_argument("--seed", type=int, default=0, help="seed of scenes, cameras and event order")
    p.add_argument("--width", type=int, default=640, help="frame width in pixels")
    p.add_argument("--height", type=int, default=480, help="frame height in pixels")
    p.add_argument("--fps", type=float, default=30.0, help="frames per second")
    p.add_argument("--codec", choices=["h264", "hevc"], default="h264", help="video codec")
    p.add_argument(
        "--start-date",
        type=parse_date,
        default="2026-11-21",
        help="the night's date: YYYY-MM-DD, today, yesterday",
    )
    p.add_argument("--start-time", default="22:00:00", help="first video's wall-clock start, HH:MM:SS")
    p.add_argument(
        "--kinds", default=None, help="comma-separated anomaly kinds to cycle through (default: all of them)"
    )
    p.add_argument("--normal-fraction", type=float, default=1 / 3, help="fraction of videos with no event")
    p.add_argument("--gop", type=int, default=None, help="frames per GOP (default: 2 s)")
    p.add_argument(
        "--event-start", type=float, nargs=2, default=None, metavar=("LO", "HI"),
        help="fractions of a video its event starts within, drawn per video (default: the renderer's 0.25-0.45)",
    )  # fmt: skip
    p.add_argument(
        "--domain-split",
        choices=["train", "val", "test", "out_of_range"],
        default=None,
        help="randomize each video's look (light, weather, shake, resolution, fps, codec, GOP; "
        "overrides --width/--height/--fps/--codec/--gop) from this split's ranges; "
        "out_of_range: resolution, darkness and shake outside training (default: none, plain renders)",
    )
    p.add_argument(
        "--out-of-range", default=None, metavar="KNOBS",
        help="with --domain-split out_of_range: the comma-separated knobs to take outside training, of "
        "height, darkness, shake (default: all three); the others are drawn as training draws them and "
        "everything else matches the full split's archive of the same seed",
    )  # fmt: skip
    p.add_argument(
        "--event-hard-negative-p", type=float, default=0.0, metavar="P",
        help="with --domain-split: give the videos with an event hard negatives too (shake, lighting, "
        "crowd, fast car, door, a person lying down), each with probability P (default 0: normal videos only)",
    )  # fmt: skip
    add_endpoint(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from va_gpt.io.credentials import storage_options_for
    from va_gpt.io.errors import StorageError
    from va_gpt.synthetic.anomalies import ALL_KINDS
    from va_gpt.synthetic.archive import generate_archive
    from va_gpt.synthetic.domain import OOR_KNOBS
    from va_gpt.synthetic.truth import ArchiveTruth

    knobs = OOR_KNOBS
    if args.out_of_range is not None:
        if args.domain_split != "out_of_range":
            print("vagpt synth: error: --out-of-range needs --domain-split out_of_range", file=sys.stderr)
            return 2
        knobs = tuple(k.strip() for k in args.out_of_range.split(",") if k.strip())
    try:
        truth = generate_archive(
            args.url,
            cameras=args.num_cameras,
            date=args.start_date,
            videos_per_camera=args.videos_per_camera,
            duration_s=args.duration,
            width=args.width,
            height=args.height,
            fps=args.fps,
            anomaly_kinds=[k for k in args.kinds.split(",") if k] if args.kinds else ALL_KINDS,
            normal_fraction=args.normal_fraction,
            seed=args.seed,
            codec=args.codec,
            storage_options=storage_options_for(args.url, args.endpoint),
            start_time=args.start_time,
            gop=args.gop,
            domain_split=args.domain_split,
            out_of_range=knobs,
            event_start=tuple(args.event_start) if args.event_start else None,
            event_hard_negative_p=args.event_hard_negative_p,
        )
    except (ValueError, StorageError) as exc:
        print(f"vagpt synth: error: {exc}", file=sys.stderr)
        return 2
    for v in truth.videos:
        ev = "; ".join(f"{e.kind} {e.start_s:.1f}-{e.end_s:.1f}s" for e in v.events) or "normal"
        print(f"{truth.video_url(v.key)}  {ev}")
    print(f"ground truth: {truth.url}/{ArchiveTruth.ANNOTATION} and {truth.url}/{ArchiveTruth.EVENTS}")
    return 0
