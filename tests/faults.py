"""The fault corpus: one archive object per way a night's footage goes wrong, with the status
each must end as.

    faults = write_corpus(root)          # files under root/{camera}/{date}/... + bad names
    faults["truncated"].key, faults["truncated"].status   # "faults/2026-11-21/truncated.mp4", "truncated"

Every kind is one object whose key fits PATTERN, except the bad names (status "skipped":
listed, not processed, reported with the reason). `forbidden` is not a file: it is what
the store answers a request it refuses (HTTP 403); `jobs/faults.py` and the tests produce
it with credentials the store rejects. Video writers come from tests/videos.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from tests import videos

CAMERA = "faults"
DAY = "2026-11-21"
PATTERN = "{camera_id}/{date}/{name}.{ext}"


@dataclass(frozen=True)
class Fault:
    kind: str
    key: str  # relative to the archive root
    status: str  # videos.status it must end as; "skipped" for a key that is reported, not processed


def _key(name: str, ext: str = "mp4") -> str:
    return f"{CAMERA}/{DAY}/{name}.{ext}"


def _write_zero_frames(path: Path) -> Path:
    """An mp4 with a video stream header and not one frame."""
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        container.start_encoding()
    return path


def _write_no_moov(path: Path, src: Path) -> Path:
    """`src` without its `moov` box (the index a camera writes last): ftyp + mdat only."""
    data = src.read_bytes()
    pos = 0
    out = b""
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        if size < 8:
            break
        if data[pos + 4 : pos + 8] != b"moov":
            out += data[pos : pos + size]
        pos += size
    path.write_bytes(out)
    return path


def _write_tiny(path: Path) -> Path:
    """A 1x1 H.264 video of 10 frames."""
    frames = (np.arange(10, dtype=np.uint8) * 20)[:, None, None, None].repeat(3, axis=3)
    return videos.write_rgb(path, frames, lossless=False)


def write_corpus(root: str | Path) -> dict[str, Fault]:
    """Write every fault kind under `root`; kind -> Fault."""
    root = Path(root)
    day = root / CAMERA / DAY
    day.mkdir(parents=True, exist_ok=True)
    scratch = root.parent / f"{root.name}-sources"
    scratch.mkdir(parents=True, exist_ok=True)
    good = videos.write_video(scratch / "good.mp4", seconds=2.0, fps=10)
    late_moov = videos.write_video(scratch / "gop.mp4", seconds=3.0, fps=10, gop=10)
    faults: list[Fault] = []

    def add(kind: str, status: str, write, ext: str = "mp4") -> None:
        write(day / f"{kind}.{ext}")
        faults.append(Fault(kind, _key(kind, ext), status))

    add("ok", "ok", lambda p: p.write_bytes(good.read_bytes()))
    add("zero_byte", "empty", videos.write_empty)
    add("truncated", "truncated", lambda p: videos.truncate(late_moov, p, 0.6))
    add("no_moov", "corrupt", lambda p: _write_no_moov(p, late_moov))
    add("text", "not_video", videos.write_text)
    add("audio_only", "no_video_stream", videos.write_audio_only)
    add("zero_frames", "no_video_stream", _write_zero_frames)
    add("unknown_fourcc", "unsupported_codec", lambda p: videos.write_bogus_codec(p, good))
    add("random_after_ftyp", "corrupt", lambda p: videos.write_random_after_ftyp(p, good))
    add("garbled", "corrupt", lambda p: videos.write_garbled(p, good))
    add("hevc", "ok", lambda p: videos.write_video(p, seconds=2.0, fps=10, codec="libx265"))
    add("vp9", "ok", lambda p: videos.write_video(p, seconds=2.0, fps=10, codec="libvpx-vp9"), ext="mkv")
    add("mpeg4_part2", "ok", lambda p: videos.write_video(p, seconds=2.0, fps=10, codec="mpeg4"), ext="mov")
    add("vfr", "ok", lambda p: videos.write_video(p, times=videos.vfr_times(40, seed=1), fps=25))
    add("uhd_4k", "ok", lambda p: videos.write_video(p, seconds=0.6, fps=5, width=3840, height=2160))
    add("tiny_1x1", "ok", _write_tiny)
    add("upper_ext", "ok", lambda p: p.write_bytes(good.read_bytes()), ext="MP4")
    # Keys that do not fit the pattern: listed, not processed, each reported with why.
    for kind, key in (
        ("extra_segment", f"{CAMERA}/{DAY}/sub/extra.mp4"),
        ("not_a_video_ext", f"{CAMERA}/{DAY}/notes.txt"),
        ("bad_date", f"{CAMERA}/2026-13-45/baddate.mp4"),
        ("top_level", "README.md"),
    ):
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(good.read_bytes() if key.endswith(".mp4") else b"not a video\n")
        faults.append(Fault(kind, key, "skipped"))
    return {f.kind: f for f in faults}
