"""`vagpt instruct`: build VA-Instruction, instruction-tuning records from annotated videos."""

from __future__ import annotations

import argparse
import os
import sys

from va_gpt.cli.common import add_command, add_endpoint, add_preset, setup_logging

DESCRIPTION = """Build VA-Instruction: instruction-tuning records from annotated videos (va_gpt/data/instruct.py).

    vagpt instruct --source synthetic --archive s3://footage/synth \\
        --source ucf --source xd --source hivau --out s3://datasets/va-instruction \\
        [--annotations DIR | --annotations ucf=FILE ...] [--video-root s3://benchmarks/videos] \\
        [--test-fraction 0.2] [--seed 0] [--with-scores --classifier s3://models/classifier/demo] [--local]

Sources: synthetic (a synthetic archive's ground truth, --archive), ucf (UCF-Crime
Temporal_Anomaly_Annotation.txt), xd (XD-Violence annotations.txt, or
annotations_multiclasses.txt when named), hivau (HIVAU-70k ucf_database_test.json).
Benchmark files default to ../shared/benchmarks relative to the repository.
With --video-root, benchmark videos missing there are reported and skipped.

Runs as a Ray Data job (from_items(videos).flat_map(make_records)); --local runs
in this process. Writes {out}/{train,test}/records.parquet|jsonl, card.json,
README.md (and features/{video_id}.npz with --with-scores). Credentials for s3://
come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and AWS_ENDPOINT_URL).
Exit status: 0 written, 1 bad input (malformed annotation file, unreadable
archive), 2 bad arguments.
"""

SOURCE_NAMES = {"synthetic": "synthetic", "ucf": "ucf_crime", "xd": "xd_violence", "hivau": "hivau"}


def register(sub) -> None:
    p = add_command(
        sub, "instruct", "build the VA-Instruction dataset (synthetic, UCF, XD, HIVAU)", DESCRIPTION
    )
    p.add_argument(
        "--source",
        action="append",
        choices=sorted(SOURCE_NAMES),
        required=True,
        help="a source of annotated videos (repeatable)",
    )
    p.add_argument(
        "--archive", default=None, help="synthetic archive URL with _truth/events.json (default: none)"
    )
    p.add_argument(
        "--annotations",
        action="append",
        default=[],
        metavar="DIR|SOURCE=FILE",
        help="benchmarks folder, or one source's file as ucf=FILE (repeatable) (default: ../shared/benchmarks)",
    )
    p.add_argument("--out", required=True, help="output folder URL (local path, file://, s3://, ...)")
    p.add_argument("--test-fraction", type=float, default=0.2, help="fraction of videos in the test split")
    p.add_argument("--seed", type=int, default=0, help="seed of template choice and option order")
    p.add_argument("--pad", type=float, default=1.0, help="seconds of context around an event window")
    p.add_argument(
        "--video-root",
        default=None,
        help="folder URL of the benchmark videos (default: presence not checked)",
    )
    p.add_argument("--local", action="store_true", help="run in this process without Ray")
    p.add_argument("--with-scores", action="store_true", help="store per-frame scores under features/")
    p.add_argument(
        "--classifier", default=None, help="anomaly classifier folder URL for --with-scores (default: none)"
    )
    add_preset(p)
    add_endpoint(p)
    p.add_argument("--ray-address", default=None, help="Ray cluster address (default: start a local Ray)")
    p.add_argument("--ray-temp-dir", default=None, help="temp dir for a local Ray (default: Ray's)")
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs for a local Ray (default: all)")
    p.set_defaults(run=run, parser=p)


def _annotations(values: list[str], p: argparse.ArgumentParser) -> tuple[str | None, dict[str, str]]:
    root, files = None, {}
    for v in values:
        name, sep, path = v.partition("=")
        if sep and name in SOURCE_NAMES and name != "synthetic":
            files[SOURCE_NAMES[name]] = path
        elif sep and name in SOURCE_NAMES.values():
            files[name] = path
        elif root is None and not sep:
            root = v
        else:
            p.error(f"--annotations {v!r}: expected a folder or ucf=FILE / xd=FILE / hivau=FILE")
    return root, files


def run(args) -> int:
    from va_gpt.data.benchmarks import AnnotationError
    from va_gpt.data.instruct import BuildArgs, build, render_summary
    from va_gpt.io.credentials import storage_options_for
    from va_gpt.io.errors import StorageError

    p = args.parser
    sources = list(dict.fromkeys(SOURCE_NAMES[s] for s in args.source))
    if "synthetic" in sources and not args.archive:
        p.error("--source synthetic needs --archive URL")
    if not 0.0 <= args.test_fraction <= 1.0:
        p.error(f"--test-fraction must be in [0, 1], got {args.test_fraction}")
    if args.classifier and not args.with_scores:
        p.error("--classifier is only used with --with-scores")
    root, files = _annotations(args.annotations, p)
    for f in (root, *files.values()):
        if f is not None and not os.path.exists(f):
            p.error(f"--annotations: {f} does not exist")
    setup_logging()
    urls = [u for u in (args.out, args.archive, args.video_root) if u]
    so = next((o for o in (storage_options_for(u, args.endpoint) for u in urls) if o), None)
    try:
        card = build(
            BuildArgs(
                sources=sources,
                out=args.out,
                archive=args.archive,
                annotations=files,
                annotations_dir=root,
                seed=args.seed,
                test_fraction=args.test_fraction,
                pad_s=args.pad,
                video_root=args.video_root,
                storage_options=so,
                local=args.local,
                with_scores=args.with_scores,
                classifier_dir=args.classifier,
                preset=args.preset,
                ray_address=args.ray_address,
                ray_temp_dir=args.ray_temp_dir,
                num_cpus=args.num_cpus,
            )
        )
    except (AnnotationError, StorageError, FileNotFoundError, ValueError) as e:
        print(f"vagpt instruct: error: {e}", file=sys.stderr)
        return 1
    print(render_summary(card))
    return 0
