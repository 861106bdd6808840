"""Compare the frame-evidence classifier with the patch-pooling one on the same rendered footage.

    python jobs/compare_classifiers.py [--train-videos 240 --val-videos 48 --test-videos 48
        --out-of-range-videos 24 --seeds 0 1 --steps 1200 --pairs-per-step 4
        --train-sizes 240 1000 --models frame patch --lookaheads 0 8 --ema 0.995 --kind-balance]

Renders and encodes the demo preset's randomized footage once (va_gpt.train.synthetic_classifier.
classifier_dataset, the `make models` seeds: training 0.., validation 50000.., test 100000..,
out of range 150000..; every split's events start anywhere in 5-70 % of the video, so neither
model can read the clock), then trains, per training seed, the demo classifier config with the
per-patch pooling off (patch_hidden 0: the frame evidence only) and on, and prints one JSON line
per model: frame AUC on validation, test and out-of-range videos, and raw motion energy's. Why a
script: one retrain moves a figure by about +-0.03, so a change is judged on the same rows over
several seeds, not on two `vagpt train-classifier` runs. About 4 minutes of rendering here plus
3-15 minutes per patch model on 2 cores.

`--train-sizes` trains each model on the first n training videos for every n (a learning curve
over the same footage; --train-videos is raised to the largest n). Each row also gives `fit`: the
frame AUC on the first 48 of the model's own training videos. Fit far above validation means the
model memorises its videos and more footage is the lever; fit near validation means the evidence
itself is the limit. `--lookaheads` trains each model once per lookahead (TrainConfig.lookahead:
frames after each frame its score sees), `--tails 0 1` each lookahead without and with a tail
(TrainConfig.tail: the video's last frames scored from its last inputs held past the end);
`--frames raw prepared` renders and trains everything twice: on frames as decoded (sets.stabilise
and match_gain off, sets.min_brightness 0) and as the demo preset prepares them (stabilised, dark frames lifted: docs/MEASUREMENTS.md,
"Camera shake and dark footage"). `--ema` and `--kind-balance` as `vagpt train-classifier`'s (the demo recipe: 0.995, on);
`--patch-dropouts 0 0.5` trains each patch model once per TrainConfig.patch_dropout. Each model is the preset's ensemble (classifier.members, seeds
seed, seed + 1, ...), `--processes` members at a time.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import numpy as np

from va_gpt.checkpoints.build import build_encoder
from va_gpt.config import load_preset
from va_gpt.ops.metrics import frame_auc
from va_gpt.train import classifier as tc
from va_gpt.train.member_cache import in_data_cache
from va_gpt.train.synthetic_classifier import (
    EVENT_START,
    OOR_SEED_OFFSET,
    TEST_SEED_OFFSET,
    VAL_SEED_OFFSET,
    classifier_dataset,
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train-videos", type=int, default=240)
    ap.add_argument("--val-videos", type=int, default=48)
    ap.add_argument("--test-videos", type=int, default=48)
    ap.add_argument("--out-of-range-videos", type=int, default=24)
    ap.add_argument(
        "--seeds", type=int, nargs="+", default=[0, 1], help="training seeds (the footage is fixed)"
    )
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--pairs-per-step", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2, help="processes rendering the footage")
    ap.add_argument(
        "--train-sizes", type=int, nargs="+", default=None,
        help="train on the first n training videos for each n (default: all of --train-videos)",
    )  # fmt: skip
    ap.add_argument(
        "--models", nargs="+", choices=("frame", "patch"), default=["frame", "patch"],
        help="frame: the frame evidence only (patch_hidden 0); patch: the preset's patch pooling",
    )  # fmt: skip
    ap.add_argument(
        "--lookaheads", type=int, nargs="+", default=[0], metavar="FRAMES",
        help="train each model once per lookahead in frames (0: causal)",
    )  # fmt: skip
    ap.add_argument(
        "--tails", type=int, nargs="+", choices=(0, 1), default=[0],
        help="with a lookahead, train each model without (0) and/or with (1) a tail (TrainConfig.tail)",
    )  # fmt: skip
    ap.add_argument(
        "--frames", nargs="+", choices=("raw", "prepared"), default=["prepared"],
        help="raw: frames as decoded; prepared: as the demo preset's sets prepare them",
    )  # fmt: skip
    ap.add_argument("--ema", type=float, default=0.0, help="moving average of the weights (0: off)")
    ap.add_argument("--kind-balance", action="store_true", help="equal share of the kind loss per kind")
    ap.add_argument(
        "--patch-dropouts", type=float, nargs="+", default=[0.0], metavar="P",
        help="train each patch model once per patch dropout (TrainConfig.patch_dropout; 0: off)",
    )  # fmt: skip
    ap.add_argument(
        "--processes", type=int, default=2,
        help="ensemble members trained at once (TrainConfig.processes; the weights do not depend on it)",
    )  # fmt: skip
    ap.add_argument(
        "--data-cache", default=None, metavar="DIR",
        help="keep the rendered videos and the trained ensemble members in DIR and take them from there next time "
        "(va_gpt.train.dataset_cache, va_gpt.train.member_cache)",
    )  # fmt: skip
    args = ap.parse_args(argv)
    if min(args.lookaheads) < 0:
        ap.error(f"--lookaheads must be >= 0 frames, got {min(args.lookaheads)}")
    if args.processes < 1:
        ap.error(f"--processes must be at least 1, got {args.processes}")
    if not 0.0 <= args.ema < 1.0:
        ap.error(f"--ema must be in [0, 1), got {args.ema}")
    if not all(0.0 <= p < 1.0 for p in args.patch_dropouts):
        ap.error(f"--patch-dropouts must be in [0, 1), got {args.patch_dropouts}")
    sizes = args.train_sizes or [args.train_videos]
    if min(sizes) < 2:
        ap.error(f"--train-sizes must be at least 2, got {min(sizes)}")
    args.train_videos = max(args.train_videos, *sizes)
    if min(args.train_videos, args.val_videos, args.test_videos) < 2 or args.out_of_range_videos < 0:
        ap.error("need at least 2 training, validation and test videos and no negative count")

    demo = load_preset("demo")
    if not demo.classifier.patch_hidden:
        ap.error("the demo preset's classifier has patch_hidden 0: nothing to compare")
    encoder = build_encoder(demo.encoder, demo.runtime.device, demo.runtime.dtype)
    # frames as decoded: none of the preset's preparation (match_gain is newer than this job and was left on)
    nothing = dict(stabilise=False, min_brightness=0.0, match_gain=False)
    raw = dataclasses.replace(demo, sets=dataclasses.replace(demo.sets, **nothing))
    for frames in args.frames:
        _compare(args, {"raw": raw, "prepared": demo}[frames], frames, sizes, encoder)
    return 0


def _compare(args, preset, frames: str, sizes: list[int], encoder) -> None:
    """Render every split with `preset`'s frame preparation, train and score each model on it."""
    t0 = time.time()
    splits = {
        name: classifier_dataset(
            preset, encoder, n, offset, 20.0, None, None, split, args.workers, EVENT_START, args.data_cache
        )  # fmt: skip
        for name, n, offset, split in (
            ("train", args.train_videos, 0, "train"),
            ("val", args.val_videos, VAL_SEED_OFFSET, "val"),
            ("test", args.test_videos, TEST_SEED_OFFSET, "test"),
            ("out_of_range", args.out_of_range_videos, OOR_SEED_OFFSET, "out_of_range"),
        )
        if n
    }
    print(json.dumps({"frames": frames, "rendered_s": round(time.time() - t0, 1)}), flush=True)
    configs = {
        "frame": ("frame evidence", dataclasses.replace(preset.classifier, patch_hidden=0)),
        "patch": ("patch pooling", preset.classifier),
    }
    for n in sorted(set(sizes)):
        tr = {k: v[:n] for k, v in splits["train"].items()}
        # the model's own first videos: how well it fits what it was trained on
        held = {
            "fit": {k: v[:48] for k, v in tr.items()},
            **{k: v for k, v in splits.items() if k != "train"},
        }
        for seed in args.seeds:
            for ahead in args.lookaheads:
                for tail in sorted({bool(x and ahead) for x in args.tails}, reverse=True):
                    for name, cfg in (configs[m] for m in args.models):
                        # the frame-evidence model has no patch inputs to drop: trained once
                        for drop in args.patch_dropouts if cfg.patch_hidden else [0.0]:
                            row = _row(tr, held, name, cfg, n, seed, ahead, tail, args, encoder.grid, drop)
                            print(json.dumps({"frames": frames, **row}), flush=True)


def _row(
    tr: dict,
    held: dict,
    name: str,
    cfg,
    n: int,
    seed: int,
    lookahead: int,
    tail: bool,
    args,
    grid,
    patch_dropout: float = 0.0,
) -> dict:
    """Train `cfg` on the rows `tr`, seed `seed`, with `lookahead` (and a tail); its frame AUC on
    every split of `held` (predict puts a lookahead's outputs on their frames), and on each split
    without its videos' last `lookahead` frames (`<split>_body`: the frames a tail does not touch)."""
    per_patch = bool(cfg.patch_hidden)
    t0 = time.time()
    model = tc.train_classifier(
        tr["features"], [int(k is not None) for k in tr["kind"]], cfg,
        tc.TrainConfig(
            steps=args.steps, seed=seed, pairs_per_step=args.pairs_per_step, lookahead=lookahead, tail=tail, ema=args.ema,
            kind_balance=args.kind_balance, processes=args.processes, patch_dropout=patch_dropout,
        ),
        frame_labels=tr["frame_labels"], kinds=tr["kind"],
        patches=tr["patches"] if per_patch else None,
        patch_labels=tr["event_patches"] if per_patch else None, grid=grid,
        member_cache=in_data_cache(args.data_cache),  # a rerun takes them
    )  # fmt: skip
    row = {"model": name, "train_videos": n, "seed": seed, "lookahead": lookahead, "tail": tail,
           "patch_dropout": patch_dropout}  # fmt: skip
    row["train_s"] = round(time.time() - t0, 1)
    for split, d in held.items():
        px = d["patches"] if per_patch else [None] * len(d["features"])
        scores = np.concatenate([tc.predict(model, f, p) for f, p in zip(d["features"], px)])
        y = np.concatenate(d["frame_labels"])
        row[split] = round(frame_auc(scores, y), 3)
        body = np.concatenate([np.arange(len(f)) < len(f) - lookahead for f in d["features"]])
        row[f"{split}_body"] = round(frame_auc(scores[body], y[body]), 3)
        row[f"{split}_energy"] = round(frame_auc(np.concatenate(d["energy"]), y), 3)
    return row


if __name__ == "__main__":
    raise SystemExit(main())
