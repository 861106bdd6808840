"""`make bench`: the figures the README quotes, measured side by side in one run.

1. decode: video-seconds per wall-second and per core at 640x480/30 fps sampled at
   2 fps, for each strategy beside full decode (jobs/bench_decode.py);
2. visual stage: frames/s for the demo preset on this machine (stages/visual.py);
3. LLM side: prefill time and visual-token FLOPs at K = 100/50/25/10 % beside the
   paper's compute column (jobs/bench_llm.py);
4. the whole nightly job on a local Ray (demo preset) against a plain sequential
   loop over the same videos with the same models in one process, as a ratio, and
   the pipeline's throughput as a fraction of its slowest stage standalone (decode;
   the visual stage on the same decoded clips), in footage-hours per wall-hour;
5. the nightly driver's peak RSS for 1x and 10x the footage (jobs/bench_memory.py);
6. training the classifier ensemble's members in turn against two at a time (jobs/bench_members.py);
7. the visual stage with the classifier scoring one view against two sizes, and with pixel maps
   (jobs/bench_views.py).

Speed does not depend on weight values: random weights throughout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from jobs import bench_decode, bench_llm, bench_members, bench_memory, bench_views
from va_gpt.config import load_preset
from va_gpt.io.archive import list_archive
from va_gpt.pipeline.decode import Decode
from va_gpt.pipeline.nightly import NightlyArgs, run_nightly
from va_gpt.pipeline.raylocal import start_ray, stop_ray
from va_gpt.pipeline.run import Job, run_local
from va_gpt.pipeline.visual import Visual, context_frames
from va_gpt.synthetic.archive import generate_archive


def replicate_archive(base: Path, out: Path, copies: int) -> Path:
    """`copies` cameras per camera of `base` (`{cam}r{k}`), the same videos hard-linked: more
    footage without rendering it (the work per video is real: every copy is decoded and scored)."""
    for src in sorted(base.glob("*/*/*.mp4")):
        cam, date = src.parent.parent.name, src.parent.name
        for k in range(copies):
            dst = out / f"{cam}r{k}" / date / src.name
            if not dst.exists():
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.link(src, dst)
    return out


def pipeline_bench(
    work: Path, preset_name: str = "demo", videos: int = 12, duration_s: float = 60.0, copies: int = 6
) -> dict:
    """Enough footage that the job's fixed start-up (Ray workers importing torch, actors
    loading models: ~10 s here) is about a tenth of it: 12 rendered 60 s videos, 6 copies."""
    preset = load_preset(preset_name)
    base = work / f"archive-{videos}x{duration_s:g}s"
    if not (base / "_truth" / "events.json").exists():
        generate_archive(str(base), cameras=2, videos_per_camera=videos // 2, duration_s=duration_s, seed=5)
    archive = replicate_archive(base, work / f"archive-{videos}x{duration_s:g}s-x{copies}", copies)
    objects = list_archive(str(archive))
    footage_s = len(objects) * duration_s

    # Plain sequential loop: what a user would write first (same callables, one process).
    t0 = time.monotonic()
    run_local([{"video_id": o.video_id, "uri": o.uri} for o in objects], Job(preset=preset, describe=False))
    seq_s = time.monotonic() - t0

    # The nightly job on a local Ray. A night's cluster is up before the job starts (KubeRay
    # RayJob), so Ray's own start-up is timed apart from the job.
    t0 = time.monotonic()
    start_ray(temp_dir=str(work / "ray"))
    ray_start_s = time.monotonic() - t0
    t0 = time.monotonic()
    s = run_nightly(
        NightlyArgs(
            archive=str(archive),
            results=str(work / f"results-{time.time_ns()}"),
            preset=preset,
            describe=False,
        )
    )
    ray_s = time.monotonic() - t0
    stop_ray()
    assert s.ok == len(objects), s

    # Each stage standalone on the same videos, in footage-seconds per second on the whole
    # machine: the decode stage itself, frame preparation included (one task per core), then the
    # visual stage (torch uses every core) on exactly the clip rows the pipeline feeds it (with
    # their context frames, prepared), preset batch size.
    decode = Decode.from_config(
        preset.decode, preset.decode_size, context=context_frames(preset.classifier), sets=preset.sets
    )
    rows, t0 = [], time.monotonic()
    for o in objects[:2]:
        rows += decode({"uri": np.array([o.uri]), "video_id": np.array([o.video_id])})
    decode_rate = 2 * duration_s / (time.monotonic() - t0) * (os.cpu_count() or 1)
    stage = Visual(preset)
    bs = preset.runtime.batch_size
    batches = [_visual_batch(rows[i : i + bs]) for i in range(0, len(rows), bs)]
    stage(batches[0])  # warm-up
    t0 = time.monotonic()
    for b in batches:
        stage(b)
    visual_rate = 2 * duration_s / (time.monotonic() - t0)
    slowest = min(decode_rate, visual_rate)
    both = 1 / (1 / decode_rate + 1 / visual_rate)  # the stages sharing the same cores
    ray_rate, seq_rate = footage_s / ray_s, footage_s / seq_s
    return {
        "videos": len(objects),
        "footage_hours": round(footage_s / 3600, 3),
        "loop_s": round(seq_s, 1),
        "pipeline_s": round(ray_s, 1),
        "ray_startup_s": round(ray_start_s, 1),
        "loop_footage_s_per_s": round(seq_rate, 2),
        "decode_footage_s_per_s": round(decode_rate, 2),
        "visual_footage_s_per_s": round(visual_rate, 2),
        "pipeline_footage_s_per_s": round(ray_rate, 2),
        "pipeline_vs_loop": round(ray_rate / seq_rate, 2),
        "pipeline_vs_slowest_stage": round(ray_rate / slowest, 2),
        "pipeline_vs_stages_sharing_cores": round(ray_rate / both, 2),
        "footage_h_per_wall_h": round(ray_rate, 2),
    }


def _visual_batch(rows: list[dict]) -> dict:
    """Decode-stage clip rows (one-element columns) -> one visual-stage input batch (ragged
    columns as object arrays)."""
    out = {}
    for k in ("video_id", "clip_index", "frames", "t", "context", "reference", "background", "prepared"):
        arr = np.empty(len(rows), dtype=object)
        for i, r in enumerate(rows):
            arr[i] = r[k][0]
        out[k] = arr if k in ("frames", "t", "reference", "background", "prepared") else np.array(list(arr))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", default="work/bench")
    p.add_argument(
        "--skip", default="", help="comma-separated parts to skip: decode,llm,pipeline,memory,members,views"
    )
    args = p.parse_args(argv)
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    skip = set(args.skip.split(","))
    report = {}
    if "decode" not in skip:
        print("== decode (640x480 30 fps H.264, sampled at 2 fps) ==")
        report["decode"] = bench_decode.run(work / "decode", repeats=3)
    if "llm" not in skip:
        print("\n== LLM side: visual tokens by SETS ratio K (demo preset) ==")
        report["llm"] = bench_llm.run()
        bench_llm.print_table(report["llm"])
    if "pipeline" not in skip:
        print("\n== nightly job: Ray Data pipeline vs a sequential loop (demo preset) ==")
        report["pipeline"] = pipeline_bench(work / "pipeline")
        for k, v in report["pipeline"].items():
            print(f"  {k:<38} {v}")
    if "memory" not in skip:
        print("\n== driver peak RSS: nightly on 1x and 10x the footage (tiny preset, child processes) ==")
        report["memory"] = m = bench_memory.run(work / "memory")
        for k in ("1x", "10x"):
            print(
                f"  {k:<4} {m[k]['videos']:>3} videos {m[k]['footage_h']:.3f} h  peak RSS {m[k]['peak_rss_mb']} MB"
            )
        print(f"  10x / 1x = {m['ratio']}  (flat within 10%: {m['flat_within_10pct']})")
    if "members" not in skip:
        print("\n== classifier ensemble training: members in turn vs two at a time (demo preset shapes) ==")
        report["members"] = bench_members.members_bench()
        for k, v in report["members"].items():
            print(f"  {k:<38} {v}")
    if "views" not in skip:
        print("\n== visual stage: the classifier's views, one against two sizes (demo preset) ==")
        report["views"] = bench_views.views_bench()
        for k, v in report["views"].items():
            print(f"  {k:<38} {v}")
    (work / "report.json").write_text(json.dumps(report, indent=2, default=str))
    print(f"\nreport: {work / 'report.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
