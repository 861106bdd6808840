"""`vagpt demo --work work`: what `make run` runs (va_gpt/demo.py); `--build-models DIR`: what
`make models` runs (va_gpt/train/demo_models.py)."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

from va_gpt.cli.common import add_command, add_preset, setup_logging


def register(sub) -> None:
    p = add_command(
        sub,
        "demo",
        "the nightly job end to end on the embedded store and synthetic footage (make run)",
        "The nightly job end to end on the embedded defaults: store, synthetic archive, demo models,\n"
        "nightly run, example queries, match against the injected events (va_gpt/demo.py).",
    )
    p.add_argument("--work", default="work", help="working folder (store data, models, Ray temp)")
    p.add_argument("--num-cameras", type=int, default=3, help="cameras in the synthetic archive")
    p.add_argument("--videos-per-camera", type=int, default=2, help="videos per camera")
    p.add_argument("--duration", type=float, default=30.0, help="seconds per video")
    add_preset(p)
    p.add_argument(
        "--vagpt",
        choices=("auto", "train", "off"),
        default="train",
        help="summaries: train = train WORK/models/<preset>/vagpt first when missing; "
        "auto = describe only when it exists; off = no summaries",
    )
    p.add_argument(
        "--build-models",
        metavar="DIR",
        help="only build the demo models (fixed seeds, float16, model card) into DIR and exit: "
        "`make models` writes the committed models/demo (default: run the demo); the build works in "
        "WORK/models-build/<preset>, and a build cut off after its classifier stage resumes from it",
    )
    p.add_argument(
        "--reuse-encoder",
        action="store_true",
        help="with --build-models: keep the encoder already in DIR (its card verifies and its recipe is "
        "the code's) and train only the classifier and VA-GPT on it",
    )
    p.add_argument(
        "--reuse-classifier",
        action="store_true",
        help="with --build-models: also keep the classifier already in DIR (its recipe and the preset's "
        "classifier section are the code's) and train only the VA-GPT; implies --reuse-encoder",
    )
    p.add_argument(
        "--recalibrate",
        action="store_true",
        help="with --build-models: calibrate every interval setting of the classifier in DIR (its card "
        "verifies) again on the code's recipe's count of validation videos, weights kept; the card's "
        "test figures measured again (va_gpt/train/demo_recalibrate.py)",
    )
    p.add_argument(
        "--no-committed",
        action="store_true",
        help="ignore the committed checkpoint in models/<preset>: train the demo models into WORK/models",
    )
    p.set_defaults(run=run)


def run(args) -> int:
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    setup_logging(logging.WARNING, "%(levelname)s %(name)s: %(message)s")
    # a build's (or make run's own) classifier training says how far it is every few minutes
    logging.getLogger("va_gpt.train.progress").setLevel(logging.INFO)
    build_work = Path(args.work) / "models-build" / Path(args.preset).stem  # --build-models' work folder
    if args.recalibrate:
        if not args.build_models or args.reuse_encoder or args.reuse_classifier:
            print(
                "vagpt demo: error: --recalibrate needs --build-models DIR and no --reuse-* option",
                file=sys.stderr,
            )
            return 2
        from va_gpt.train.demo_models import DATA_CACHE
        from va_gpt.train.demo_recalibrate import recalibrate_demo_models

        # the build's kept work folder: the videos a build rendered are not rendered again
        card = recalibrate_demo_models(args.build_models, data_cache=build_work / DATA_CACHE)
        part = card["checkpoints"]["classifier"]
        print(f"models: {args.build_models} recalibrated: {json.dumps(part['eval']['calibration'])}")
        print(f"models: validation {json.dumps(part['recalibrated']['validation'])}")
        print(f"models: model_version {card['model_version']}")
        return 0
    if args.build_models:
        from va_gpt.train.demo_models import build_demo_models

        build_demo_models(
            args.build_models,
            args.preset,
            # kept: a build cut off after its classifier stage resumes from there
            work=build_work,
            reuse_encoder=args.reuse_encoder,
            reuse_classifier=args.reuse_classifier,
        )
        return 0
    from va_gpt.demo import run_demo

    return run_demo(
        args.work,
        cameras=args.num_cameras,
        videos_per_camera=args.videos_per_camera,
        duration_s=args.duration,
        preset_name=args.preset,
        vagpt=args.vagpt,
        committed=not args.no_committed,
    )
