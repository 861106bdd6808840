"""Training the classifier ensemble's members in turn against side by side (`make bench`, part 6).

    python jobs/bench_members.py [--videos 200 --steps 40 --processes 2]

The demo preset's classifier (its members, layers and widths) on random inputs of the real
shapes: 40 frames of 16 x 16 patches per video, the encoder's 192 channels plus the 6 per-patch
maps, float16 patches as `make models` holds them; the recipe's 4 pairs a step and one torch
thread per member. Trains the ensemble once with `TrainConfig.processes` 1 and once with
`--processes`, and prints the wall seconds of each, their ratio and the ideal ratio (members /
rounds of `processes`). Speed does not depend on the values: random inputs, random weights.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time

import numpy as np

from va_gpt.config import load_preset
from va_gpt.models.classifier import KINDS, num_features, patch_features_for
from va_gpt.train.classifier import TrainConfig, train_classifier

FRAMES = 40  # 20 s at the demo's 2 fps


def random_videos(n: int, grid: tuple[int, int], features: int, patch_features: int, seed: int = 0):
    """n videos of the classifier's input shapes, every other one with a 10-frame event."""
    rng = np.random.default_rng(seed)
    patches = grid[0] * grid[1]
    data = dict(features=[], labels=[], frame_labels=[], kinds=[], patches=[], patch_labels=[])
    for i in range(n):
        y = np.zeros(FRAMES, np.float32)
        box = np.zeros((FRAMES, patches), np.float32)
        if i % 2:
            y[15:25] = 1
            box[15:25, :8] = 1
        data["features"].append(rng.normal(size=(FRAMES, features)).astype(np.float32))
        data["labels"].append(i % 2)
        data["frame_labels"].append(y)
        data["kinds"].append(KINDS[1 + i % (len(KINDS) - 1)] if i % 2 else None)
        data["patches"].append(rng.normal(size=(FRAMES, patches, patch_features)).astype(np.float16))
        data["patch_labels"].append(box)
    return data


def members_bench(videos: int = 200, steps: int = 40, processes: int = 2, preset_name: str = "demo") -> dict:
    preset = load_preset(preset_name)
    cfg, enc = preset.classifier, preset.encoder
    side = enc.image_size // enc.patch_size
    grid = (side, side)
    d = random_videos(
        videos, grid, num_features(enc.hidden_size, cfg.use_cls), patch_features_for(enc.hidden_size, cfg)
    )
    train = TrainConfig(steps=steps, seed=0, pairs_per_step=4, ema=0.995, kind_balance=True, lookahead=8)
    kw = dict(frame_labels=d["frame_labels"], kinds=d["kinds"], patches=d["patches"],
              patch_labels=d["patch_labels"], grid=grid)  # fmt: skip
    seconds = {}
    for n in (1, processes):
        t0 = time.perf_counter()
        train_classifier(d["features"], d["labels"], cfg, dataclasses.replace(train, processes=n), **kw)
        seconds[n] = time.perf_counter() - t0
    rounds = math.ceil(cfg.members / min(processes, cfg.members))
    return {
        "members": cfg.members,
        "steps_per_member": steps,
        "videos": videos,
        "in_turn_s": round(seconds[1], 1),
        f"side_by_side_{processes}_s": round(seconds[processes], 1),
        "speedup": round(seconds[1] / seconds[processes], 2),
        "ideal_speedup": round(cfg.members / rounds, 2),
        "s_per_step_in_turn": round(seconds[1] / (cfg.members * steps), 3),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=200)
    ap.add_argument("--steps", type=int, default=40, help="optimizer steps per member")
    ap.add_argument("--processes", type=int, default=2)
    args = ap.parse_args(argv)
    print(json.dumps(members_bench(args.videos, args.steps, args.processes)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
