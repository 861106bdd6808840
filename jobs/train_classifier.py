"""Train TETG's anomaly classifier on synthetic footage and save it as a checkpoint folder.

    python jobs/train_classifier.py --preset demo --out s3://models/classifier/demo \
        [--train-videos 120 --test-videos 48 --duration 20 --steps 300]

Renders synthetic camera videos (va_gpt.synthetic.generate; half normal, half with
one of the six anomaly kinds in turn), samples them at the preset's decode fps,
extracts per-frame features with the preset's encoder + SETS exactly as the
visual stage does, trains with the MIL ranking loss from video-level labels
only, saves to --out (any fsspec URL; s3:// credentials from the AWS_*
environment variables) and prints the frame AUC on held-out seeds, overall and
per anomaly kind (each kind's videos against the normal test videos).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

TEST_SEED_OFFSET = 100_000  # held-out videos use seeds (and so cameras) the training never saw


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="demo")
    p.add_argument("--out", required=True, help="checkpoint folder URL (local path, file://, s3://, ...)")
    p.add_argument("--endpoint", default=None, help="S3 endpoint URL (default: AWS_ENDPOINT_URL)")
    p.add_argument("--train-videos", type=int, default=120)
    p.add_argument("--test-videos", type=int, default=48)
    p.add_argument("--duration", type=float, default=20.0, help="seconds per synthetic video")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--width", type=int, default=160, help="rendered width: match the footage it will score")
    p.add_argument("--height", type=int, default=120, help="rendered height")
    p.add_argument("--seed", type=int, default=0)
    return p


def dataset(
    preset, encoder, n: int, seed0: int, duration_s: float, width: int = 160, height: int = 120, kinds_=None
):
    """n synthetic videos, every other one normal, the others cycling through `kinds_` (default all):
    (features [T, D] per video, video labels, frame labels, kinds)."""
    from va_gpt.synthetic.generate import ALL_KINDS
    from va_gpt.train.classifier import synthetic_video, video_features

    cycle = tuple(kinds_ or ALL_KINDS)
    feats, labels, frame_labels, kinds = [], [], [], []
    for j in range(n):
        kind = cycle[(j // 2) % len(cycle)] if j % 2 else None
        v = synthetic_video(
            seed0 + j,
            kind,
            preset.encoder.image_size,
            fps=preset.decode.fps,
            duration_s=duration_s,
            width=width,
            height=height,
        )
        feats.append(video_features(encoder, v.frames, preset.sets, preset.classifier.use_cls))
        labels.append(int(kind is not None))
        frame_labels.append(v.frame_labels)
        kinds.append(kind)
    return feats, labels, frame_labels, kinds


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    import numpy as np
    from sklearn.metrics import roc_auc_score

    from va_gpt.config import load_preset
    from va_gpt.io.credentials import storage_options_for
    from va_gpt.models.classifier import save_classifier
    from va_gpt.models.dinov2 import DinoEncoder
    from va_gpt.pipeline.visual import feature_spec
    from va_gpt.train.classifier import TrainConfig, predict, train_classifier

    preset = load_preset(args.preset)
    encoder = DinoEncoder.from_config(
        preset.encoder, device=preset.runtime.device, dtype=preset.runtime.dtype
    )
    t0 = time.time()
    train = dataset(
        preset, encoder, args.train_videos, args.seed * 1_000_000, args.duration, args.width, args.height
    )
    test = dataset(
        preset,
        encoder,
        args.test_videos,
        args.seed * 1_000_000 + TEST_SEED_OFFSET,
        args.duration,
        args.width,
        args.height,
    )
    t_feat = time.time() - t0
    t0 = time.time()
    model = train_classifier(
        train[0], train[1], preset.classifier, TrainConfig(steps=args.steps, seed=args.seed)
    )
    t_train = time.time() - t0

    scores = [predict(model, f) for f in test[0]]
    y = np.concatenate(test[2])
    report = {
        "preset": preset.name,
        "train_videos": args.train_videos,
        "test_videos": args.test_videos,
        "frame_auc": float(roc_auc_score(y, np.concatenate(scores))),
        "frame_auc_by_kind": {},
        "feature_seconds": round(t_feat, 1),
        "train_seconds": round(t_train, 1),
    }
    for kind in sorted({k for k in test[3] if k is not None}):
        idx = [i for i, k in enumerate(test[3]) if k in (kind, None)]
        report["frame_auc_by_kind"][kind] = float(
            roc_auc_score(np.concatenate([test[2][i] for i in idx]), np.concatenate([scores[i] for i in idx]))
        )
    features = {**feature_spec(preset, encoder), "trained_on": "synthetic", "frame_auc": report["frame_auc"]}
    save_classifier(model, args.out, features, storage_options_for(args.out, args.endpoint))
    report["saved_to"] = args.out
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
