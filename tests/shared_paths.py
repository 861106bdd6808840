"""Where the team's shared reference data lies: `../shared` beside the repository (CI's
layout), falling back to the workplace's /work/shared."""

from pathlib import Path

_BESIDE = Path(__file__).resolve().parents[2] / "shared"
SHARED = _BESIDE if _BESIDE.is_dir() else Path("/work/shared")
BENCHMARKS = SHARED / "benchmarks"
CAR_ACCIDENT = SHARED / "media" / "car_accident.mp4"
