"""`vagpt train` (VA-GPT, one stage per run, or the demo model) and `vagpt train-classifier`."""

from __future__ import annotations

import json
import logging
import os
import sys
import time

from va_gpt.cli.common import add_command, add_endpoint, add_preset, setup_logging

log = logging.getLogger("va_gpt.cli.train")

TRAIN_DESCRIPTION = """Train VA-GPT on VA-Instruction records, one stage per run, and save a checkpoint.

    # stage 1: align the projector (vision tower and LLM frozen)
    vagpt train --preset demo --records s3://data/va-instruct --stage 1 \\
        --classifier s3://models/classifier/demo --out s3://models/vagpt/demo-s1 --steps 300
    # stage 2: instruction tuning from stage 1 (full LLM, or --lora)
    vagpt train --preset demo --records s3://data/va-instruct --stage 2 \\
        --init s3://models/vagpt/demo-s1 --classifier s3://models/classifier/demo \\
        --out s3://models/vagpt/demo --steps 600 [--lora] [--deepspeed infra/deepspeed/zero2.json]
    # continue an interrupted run
    vagpt train ... --out s3://models/vagpt/demo --resume
    # the small demo VA-GPT (synthetic footage, both stages, a few minutes on CPU)
    vagpt train --demo --work work --classifier work/models/demo/classifier

--records: a builder output folder (its train/records.jsonl), or a .jsonl /
.parquet file. Per-frame TETG scores come from --scores (a nightly results
folder or a JSON cache) where they cover a video, else the --classifier runs on
the decoded clip. Losses are printed as training goes; the checkpoint (and
trainer_state.pt for --resume) goes to --out, any fsspec URL (s3:// credentials
from the AWS_* environment variables, or --endpoint).
"""

CLASSIFIER_DESCRIPTION = """Train TETG's anomaly classifier on synthetic footage and save it as a checkpoint folder.

    vagpt train-classifier --preset demo --out s3://models/classifier/demo \\
        [--train-videos 120 --test-videos 48 --duration 20 --steps 300]

See va_gpt/train/synthetic_classifier.py: frame-level labels from the synthetic truth (--mil:
video labels only), interval thresholds calibrated on validation videos and stored in the
checkpoint. Prints the held-out report: frame AUC overall and per kind, event recall /
precision at tIoU 0.3/0.5/0.7, false intervals per normal video, kind accuracy, and the same
for the raw motion energy (the baseline row).
"""


def register(sub) -> None:
    p = add_command(sub, "train-classifier", "train the TETG anomaly classifier", CLASSIFIER_DESCRIPTION)
    add_preset(p)
    p.add_argument("--out", required=True, help="checkpoint folder URL (local path, file://, s3://, ...)")
    add_endpoint(p)
    p.add_argument("--train-videos", type=int, default=120, help="synthetic training videos")
    p.add_argument("--test-videos", type=int, default=48, help="held-out synthetic videos")
    p.add_argument("--duration", type=float, default=20.0, help="seconds per synthetic video")
    p.add_argument("--steps", type=int, default=300, help="optimizer steps")
    p.add_argument(
        "--pairs-per-step", type=int, default=8,
        help="videos per step: this many anomalous and normal ones (the demo recipe: 4)",
    )  # fmt: skip
    p.add_argument(
        "--ema", type=float, default=0.0,
        help="keep the exponential moving average of the weights with this decay per step (the demo recipe: 0.995)",
    )  # fmt: skip
    p.add_argument(
        "--kind-balance", action="store_true",
        help="give every anomaly kind an equal share of the kind head's loss (the demo recipe does)",
    )  # fmt: skip
    p.add_argument(
        "--time-balance", type=int, default=0, metavar="FRAMES",
        help="balance event and normal frames within bins of this many frames from a video's start, so "
        "the time since the start is no evidence (frame labels only; 0: off)",
    )  # fmt: skip
    p.add_argument(
        "--lookahead", type=int, default=0, metavar="FRAMES",
        help="let every frame's score see this many frames after it (frame labels only; stored with the "
        "classifier; 0: causal)",
    )  # fmt: skip
    p.add_argument(
        "--patch-dropout", type=float, default=0.0, metavar="P",
        help="drop each per-patch evidence value with this probability while training (0: off; docs/MEASUREMENTS.md, "
        "\"Dropout on the patch evidence\")",
    )  # fmt: skip
    p.add_argument(
        "--cosine-lr", action="store_true",
        help="lower the learning rate along half a cosine over the steps (default: the same throughout)",
    )  # fmt: skip
    p.add_argument(
        "--focal-gamma", type=float, default=0.0, metavar="G",
        help="scale each frame's anomaly loss by (1 - p_t)^G, so frames scored right weigh little (focal loss; 0: off)",
    )  # fmt: skip
    p.add_argument(
        "--width", type=int, default=160,
        help="rendered width: match the footage it will score (0: each randomized camera's own, 320-1280)",
    )  # fmt: skip
    p.add_argument("--height", type=int, default=120, help="rendered height (0: the camera's own)")
    p.add_argument("--seed", type=int, default=0, help="seed of the videos and the training")
    p.add_argument(
        "--val-videos", type=int, default=None,
        help="validation videos the interval thresholds are calibrated on (default: train/3, at least 12)",
    )  # fmt: skip
    p.add_argument(
        "--out-of-range-videos", type=int, default=0,
        help="also report on this many videos of the out_of_range domain split (darker, shakier, other sizes)",
    )  # fmt: skip
    p.add_argument(
        "--event-start", type=float, nargs=2, default=None, metavar=("LO", "HI"),
        help="fractions of the video the training and validation events start within (default: the "
        "recipe's EVENT_START, va_gpt/train/synthetic_classifier.py: spread, so the classifier cannot "
        "learn the renderer's 25-45%% clock)",
    )  # fmt: skip
    p.add_argument(
        "--event-hard-negative-p", type=float, default=0.0, metavar="P",
        help="give the training and validation videos with an event hard negatives too, each with "
        "probability P (default 0: normal videos only; the test videos keep 0)",
    )  # fmt: skip
    p.add_argument(
        "--workers", type=int, default=1,
        help="processes rendering and encoding the videos (each loads the encoder) and training an ensemble's "
        "members; the result does not depend on it",
    )  # fmt: skip
    p.add_argument(
        "--data-cache", default=None, metavar="DIR",
        help="keep the rendered and encoded videos in DIR and take them from there next time (same videos, "
        "preset, encoder and rendering code): a retrain skips the rendering, a cut-off run keeps what it rendered",
    )  # fmt: skip
    p.add_argument(
        "--plain",
        action="store_true",
        help="plain renders (+ shake/night/flicker looks), no domain randomization",
    )
    p.add_argument(
        "--mil",
        action="store_true",
        help="weak supervision: video labels only (MIL), as real benchmarks have",
    )
    p.set_defaults(run=run_classifier)

    p = add_command(
        sub,
        "train",
        "train VA-GPT (stage 1 projector alignment, stage 2 instruction tuning)",
        TRAIN_DESCRIPTION,
    )
    add_preset(p)
    p.add_argument(
        "--records",
        help="VA-Instruction records: builder output folder or .jsonl/.parquet file (default: none)",
    )
    p.add_argument("--split", default="train", help="records split to train on")
    p.add_argument(
        "--source", default=None, help="keep only records of this source, e.g. ucf_crime (default: all)"
    )
    p.add_argument(
        "--video-root",
        default=None,
        help="folder URL the benchmark records' video names are under (default: none)",
    )
    p.add_argument("--stage", type=int, choices=(1, 2), default=1, help="training stage")
    p.add_argument(
        "--init",
        default=None,
        help="checkpoint to start from; stage 2: stage 1's output (default: the preset's)",
    )
    p.add_argument("--out", help="checkpoint folder URL to write (default: none; required without --demo)")
    p.add_argument("--steps", type=int, default=None, help="optimizer steps (default: 1 epoch)")
    p.add_argument("--epochs", type=float, default=None, help="epochs instead of --steps (default: 1)")
    p.add_argument(
        "--lr", type=float, default=None, help="learning rate (default: 1e-3 stage 1, 2e-4 stage 2)"
    )
    p.add_argument("--warmup", type=int, default=0, help="warmup steps")
    p.add_argument(
        "--schedule", choices=("constant", "cosine"), default="constant", help="learning-rate schedule"
    )
    p.add_argument("--batch-size", type=int, default=2, help="samples per micro-batch")
    p.add_argument("--grad-accum", type=int, default=1, help="micro-batches per optimizer step")
    p.add_argument("--lora", action="store_true", help="stage 2: LoRA adapters instead of the full LLM")
    p.add_argument("--lora-r", type=int, default=8, help="LoRA rank")
    p.add_argument(
        "--deepspeed",
        default=None,
        help="DeepSpeed JSON config, e.g. infra/deepspeed/zero2.json (default: plain torch)",
    )
    p.add_argument(
        "--allow-plain-fallback",
        action="store_true",
        help="with --deepspeed: train with plain torch when DeepSpeed cannot start here (default: an error)",
    )
    p.add_argument(
        "--classifier", default=None, help="TETG anomaly classifier folder / checkpoint URL (default: none)"
    )
    p.add_argument(
        "--scores",
        default=None,
        help="per-frame scores: nightly results folder or .json cache (default: none)",
    )
    p.add_argument("--resume", action="store_true", help="continue the run saved at --out")
    p.add_argument("--seed", type=int, default=0, help="seed of initialization and data order")
    p.add_argument("--log-every", type=int, default=10, help="steps between loss lines")
    p.add_argument("--save-every", type=int, default=0, help="steps between checkpoints (0: at the end only)")
    add_endpoint(p)
    p.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: auto, see cpu_threads)"
    )
    p.add_argument("--demo", action="store_true", help="train the small demo VA-GPT (va_gpt/train/demo.py)")
    p.add_argument("--work", default="work", help="--demo: working folder")
    p.add_argument(
        "--test-videos", type=int, default=6, help="--demo: held-out videos (the ablation's questions)"
    )
    p.add_argument("--mc-variants", type=int, default=4, help="--demo: multiple-choice questions per event")
    p.set_defaults(run=run_train)


def run_classifier(args) -> int:
    from va_gpt.train.demo import train_synthetic_classifier

    setup_logging()
    report = train_synthetic_classifier(
        args.preset, args.out, train_videos=args.train_videos, test_videos=args.test_videos,
        duration_s=args.duration, steps=args.steps, width=args.width or None, height=args.height or None, seed=args.seed,
        endpoint=args.endpoint, val_videos=args.val_videos, out_of_range_videos=args.out_of_range_videos,
        domain=not args.plain, frame_level=not args.mil, workers=args.workers, pairs_per_step=args.pairs_per_step,
        ema=args.ema, kind_balance=args.kind_balance, time_balance=args.time_balance, lookahead=args.lookahead,
        patch_dropout=args.patch_dropout, cosine_lr=args.cosine_lr, data_cache=args.data_cache, event_hard_negative_p=args.event_hard_negative_p,
        focal_gamma=args.focal_gamma,
        **({"event_start": tuple(args.event_start)} if args.event_start else {}),
    )  # fmt: skip
    print(json.dumps(report, indent=2))
    return 0


def _setup_train_logging() -> None:
    setup_logging(fmt="%(asctime)s %(name)s: %(message)s")
    for name in ("va_gpt.train.vagpt", "va_gpt.train.samples", log.name):
        logging.getLogger(name).setLevel(logging.INFO)


def run_train(args) -> int:
    from va_gpt.train.demo import cpu_threads, train_demo

    _setup_train_logging()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.demo or args.threads:
        log.info("torch CPU threads: %d", cpu_threads(args.threads))
    if args.demo:
        if not args.classifier:
            print(
                "vagpt train: error: --demo needs --classifier DIR (vagpt train-classifier --preset demo --out DIR)",
                file=sys.stderr,
            )
            return 2
        report = train_demo(
            args.work, args.classifier, deepspeed=args.deepspeed, threads=args.threads,
            test_videos=args.test_videos, mc_variants=args.mc_variants,
        )  # fmt: skip
        print(json.dumps({k: v for k, v in report.items() if k != "samples"}, indent=2))
        return 0
    if not args.records or not args.out:
        print("vagpt train: error: --records and --out are required (or --demo)", file=sys.stderr)
        return 2
    return _train_stage(args)


def _train_stage(args) -> int:
    from va_gpt.checkpoints.classifier import classifier_parts
    from va_gpt.checkpoints.fetch import CheckpointError
    from va_gpt.config import ConfigError, load_preset
    from va_gpt.data.records import DatasetError, read_records, record_texts
    from va_gpt.io.credentials import storage_options_for
    from va_gpt.train.config import TrainConfig, TrainError
    from va_gpt.train.initial import initial_model
    from va_gpt.train.samples import SampleBuilder, scores_for_records
    from va_gpt.train.vagpt import resume_training, train

    try:
        preset = load_preset(args.preset)
        so = storage_options_for(args.out, args.endpoint)
        rso = storage_options_for(args.records, args.endpoint)
        records = read_records(args.records, args.split, rso, video_root=args.video_root)
        if args.source:
            records = [r for r in records if r.get("source") == args.source]
        scores = scores_for_records(
            args.records, args.scores, storage_options_for(args.scores or args.records, args.endpoint)
        )
        builder = SampleBuilder(preset, classifier_dir=args.classifier, scores=scores, storage_options=rso)
        t0 = time.monotonic()
        data = builder.build(records)
        print(
            f"data: {len(data)} samples from {len(records)} records in {time.monotonic() - t0:.0f} s"
            + (f"; skipped {data.skipped_counts()}" if data.skipped else ""),
            flush=True,
        )
        lr = args.lr if args.lr is not None else (1e-3 if args.stage == 1 else 2e-4)
        cfg = TrainConfig(
            stage=args.stage,
            steps=args.steps if args.steps or args.epochs else None,
            epochs=args.epochs if args.epochs else (None if args.steps else 1.0),
            lr=lr,
            warmup_steps=args.warmup,
            schedule=args.schedule,
            batch_size=args.batch_size,
            grad_accum=args.grad_accum,
            lora=args.lora,
            lora_r=args.lora_r,
            seed=args.seed,
            log_every=args.log_every,
            save_every=args.save_every,
            deepspeed=args.deepspeed,
            allow_plain_fallback=args.allow_plain_fallback,
        )
        cs, cc = (
            classifier_parts(args.classifier, storage_options_for(args.classifier, args.endpoint))
            if args.classifier
            else (None, None)
        )
        if args.resume:
            result = resume_training(
                preset, data, cfg, args.out, storage_options=so, tokenizer_texts=record_texts(records),
                classifier_state=cs, classifier_config=cc,
            )  # fmt: skip
        else:
            if args.stage == 2 and not args.init:
                log.warning("stage 2 without --init: starting from the preset's (untrained) projector")
            model = initial_model(
                preset, init=args.init, tokenizer_texts=record_texts(records), seed=args.seed,
                storage_options=storage_options_for(args.init, args.endpoint) if args.init else None,
            )  # fmt: skip
            result = train(
                model, data, cfg, out=args.out, storage_options=so, init=args.init,
                classifier_state=cs, classifier_config=cc,
            )  # fmt: skip
    except (DatasetError, TrainError, ConfigError, CheckpointError) as e:
        print(f"vagpt train: error: {e}", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {
                "stage": args.stage,
                "backend": result.backend,
                "steps": result.step,
                "first_loss": result.losses[0] if result.losses else None,
                "last_loss": result.losses[-1] if result.losses else None,
                "seconds": round(result.seconds, 1),
                "checkpoint": result.checkpoint,
                "model_version": result.model_version,
            },
            indent=2,
        )
    )
    return 0
