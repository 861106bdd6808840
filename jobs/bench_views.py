"""The visual stage's time with the classifier's views (`make bench`, part 7).

    python jobs/bench_views.py [--frames 96 --repeats 3]

The demo preset's visual stage (int8 encoder, SETS, the classifier) on clips of random frames,
once per `classifier.views` setting: [224] (the preset), [224, 336] and [224, 448]. Each setting
gets the same number of new frames, decoded at its largest view; the settings are timed in turn,
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


def _batches(preset, frames: int) -> list[dict]:
    """Clips of random frames at the preset's decode size, `frames` new frames in all, in batches
    of the preset's batch size (each clip carries one frame before it, as the decode stage's do)."""
    S, L, bs = preset.decode_size, preset.decode.clip_len, preset.runtime.batch_size
    rng = np.random.default_rng(0)
    rows, done, c = [], 0, 0
    while done < frames:
        n = min(L - 1, frames - done)
        rows.append(
            dict(
                video_id="bench",
                clip_index=c,
                frames=rng.integers(0, 256, (n + 1, S, S, 3), dtype=np.uint8),
                t=np.arange(done, done + n + 1, dtype=np.float64),
                first_is_overlap=True,
                reference=np.zeros((S, S, 3), np.uint8),
            )
        )
        done, c = done + n, c + 1
    return [{k: np.array([r[k] for r in rows[i : i + bs]]) for k in rows[0]} for i in range(0, len(rows), bs)]


def views_bench(frames: int = 96, repeats: int = 3) -> dict:
    base = load_preset("demo")
    stages = {}
    for views in VIEWS:
        preset = dataclasses.replace(base, classifier=dataclasses.replace(base.classifier, views=views))
        stage, batches = Visual(preset), _batches(preset, frames)
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
            "frames_per_s": round(frames / best[v], 2),
            "time_vs_one_view": round(best[v] / one, 2),
        }
        for v in VIEWS
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=96)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    print(json.dumps(views_bench(args.frames, args.repeats), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
