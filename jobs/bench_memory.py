"""Driver memory against footage: peak RSS of the nightly driver for 1x and 10x the footage.

Each size runs in its own child process (`python -m jobs.bench_memory --child ARCHIVE`), which
starts a local Ray, runs the nightly job (tiny preset, no describe: the driver's memory does
not depend on the models) and prints its own peak RSS (VmHWM: the driver alone, not the Ray
workers). The driver holds one small row per video, never frames,
so the two peaks should be within 10% (issue 13 item 7).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from va_gpt.config import load_preset
from va_gpt.pipeline.nightly import NightlyArgs, run_nightly
from va_gpt.synthetic.archive import generate_archive

REPO = Path(__file__).resolve().parents[1]


def peak_rss_kb() -> int:
    """This process's peak RSS in KiB. Linux: VmHWM, which starts afresh at execve; getrusage's
    ru_maxrss does not (it keeps the forking parent's peak), so it is only the fallback."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(archive: str, results: str, preset_name: str) -> dict:
    t0 = time.monotonic()
    s = run_nightly(
        NightlyArgs(
            archive=archive,
            results=results,
            preset=load_preset(preset_name),
            describe=False,
            keyframes=False,
            ray_temp_dir=str(Path(results).parent / "ray"),
        )
    )
    return {
        "videos_ok": s.ok,
        "seconds": round(time.monotonic() - t0, 1),
        "peak_rss_mb": round(peak_rss_kb() / 1024, 1),
    }


def run(work: Path, videos: int = 4, duration_s: float = 6.0, factor: int = 10, preset: str = "tiny") -> dict:
    """Peak driver RSS for `videos` and `factor * videos` videos of `duration_s` seconds."""
    out = {}
    for mult in (1, factor):
        archive = work / f"archive-{mult}x"
        n = videos * mult
        if not (archive / "_truth" / "events.json").exists():
            generate_archive(str(archive), cameras=2, videos_per_camera=n // 2, duration_s=duration_s, seed=7)
        cmd = [sys.executable, "-m", "jobs.bench_memory", "--child", str(archive)]
        cmd += ["--results", str(work / f"results-{mult}x-{time.time_ns()}"), "--preset", preset]
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode or not lines:
            raise RuntimeError(f"bench_memory child failed ({proc.returncode}): {proc.stderr[-2000:]}")
        out[f"{mult}x"] = {"videos": n, "footage_h": round(n * duration_s / 3600, 3), **json.loads(lines[-1])}
    one, many = out["1x"]["peak_rss_mb"], out[f"{factor}x"]["peak_rss_mb"]
    out["ratio"] = round(many / one, 3)
    out["flat_within_10pct"] = bool(abs(many / one - 1) <= 0.10)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--child", help="(internal) run the nightly on this archive and print peak RSS")
    p.add_argument("--results")
    p.add_argument("--preset", default="tiny")
    p.add_argument("--work", default="work/bench/memory")
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.results, args.preset)))
        return 0
    print(json.dumps(run(Path(args.work).resolve()), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
