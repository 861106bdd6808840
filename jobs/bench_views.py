"""The visual stage's time with the classifier's views and pixel maps (`make bench`, part 7).

    python jobs/bench_views.py [--frames 191 --repeats 3]

The demo preset's visual stage (int8 encoder, SETS, the classifier) on clips of random frames,
once per classifier setting: `views` [224] (the preset), [224, 336] and [224, 448], and [224]
with `pixel_maps` (per-patch evidence from the frames' pixels as well). Each setting
gets the same clips of new frames (va_gpt.pipeline.visual.bench_batches), at its largest view;
the settings are timed in turn, `repeats` rounds, best of each, so the ratios are taken under the
same load. Speed does not depend on the values: random frames, random weights.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

from va_gpt.config import load_preset
from va_gpt.pipeline.visual import Visual, bench_batches

# label -> the classifier settings it times; the first is the one the others are compared with
SETTINGS = {
    "views [224]": {"views": (224,)},
    "views [224, 336]": {"views": (224, 336)},
    "views [224, 448]": {"views": (224, 448)},
    "views [224] + pixel maps": {"views": (224,), "pixel_maps": True},
}


def views_bench(frames: int = 191, repeats: int = 3) -> dict:
    base = load_preset("demo")
    stages = {}
    for label, kw in SETTINGS.items():
        preset = dataclasses.replace(base, classifier=dataclasses.replace(base.classifier, **kw))
        stage, (batches, n) = Visual(preset), bench_batches(preset, frames)
        stage(batches[0])  # warm-up
        stages[label] = (stage, batches)
    best = {label: float("inf") for label in SETTINGS}
    for _ in range(repeats):
        for label, (stage, batches) in stages.items():
            t0 = time.perf_counter()
            for b in batches:
                stage(b)
            best[label] = min(best[label], time.perf_counter() - t0)
    one = best[next(iter(SETTINGS))]
    return {
        label: {"frames_per_s": round(n / best[label], 2), "time_vs_one_view": round(best[label] / one, 2)}
        for label in SETTINGS
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
