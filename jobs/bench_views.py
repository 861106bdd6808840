"""The visual stage's time with the classifier's views (`make bench`, part 7).

    python jobs/bench_views.py [--frames 191 --repeats 3]

The demo preset's visual stage (int8 encoder, SETS, the classifier) on clips of random frames,
once per `classifier.views` setting: [224] (the preset), [224, 336] and [224, 448]. Each setting
gets the same clips of new frames (the preset's clip_len), decoded at its largest view; the settings are timed in turn,
`repeats` rounds, best of each, so the ratios are taken under the same load. Speed does not
depend on the values: random frames, random weights.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import numpy as np

from va_gpt.config import load_preset
from va_gpt.pipeline.visual import Visual

VIEWS = ((224,), (224, 336), (224, 448))


def _batches(preset, frames: int) -> tuple[list[dict], int]:
    """Clips of random frames at the preset's decode size, each with clip_len - 1 new frames and
    the frame before them (as the decode stage's), at least `frames` new frames in all, in
    batches of the preset's batch size -> (batches, new frames)."""
    S, L, bs = preset.decode_size, preset.decode.clip_len, preset.runtime.batch_size
    rng = np.random.default_rng(0)
    clips = -(-frames // (L - 1))
    rows = [
        dict(
            video_id="bench",
            clip_index=c,
            frames=rng.integers(0, 256, (L, S, S, 3), dtype=np.uint8),
            t=np.arange(L) + c * (L - 1.0),
            first_is_overlap=True,
            reference=np.zeros((S, S, 3), np.uint8),
        )
        for c in range(clips)
    ]
    batches = [
        {k: np.array([r[k] for r in rows[i : i + bs]]) for k in rows[0]} for i in range(0, len(rows), bs)
    ]
    return batches, clips * (L - 1)


def views_bench(frames: int = 191, repeats: int = 3) -> dict:
    base = load_preset("demo")
    stages = {}
    for views in VIEWS:
        preset = dataclasses.replace(base, classifier=dataclasses.replace(base.classifier, views=views))
        stage, (batches, n) = Visual(preset), _batches(preset, frames)
        stage(batches[0])  # warm-up
        stages[views] = (stage, batches)
    best = {v: float("inf") for v in VIEWS}
    for _ in range(repeats):
        for views, (stage, batches) in stages.items():
            t0 = time.perf_counter()
            for b in batches:
                stage(b)
            best[views] = min(best[views], time.perf_counter() - t0)
    one = best[VIEWS[0]]
    return {
        f"views {list(v)}": {
            "frames_per_s": round(n / best[v], 2),
            "time_vs_one_view": round(best[v] / one, 2),
        }
        for v in VIEWS
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=191, help="new frames (whole clips of clip_len - 1)")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    print(json.dumps(views_bench(args.frames, args.repeats), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
