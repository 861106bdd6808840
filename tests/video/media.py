"""Test videos for the decode tests (va_gpt.video and the decode stage), and helpers to read them back."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from tests import videos
from va_gpt.video.clips import Clip, iter_clips

SIZE = 64  # large enough for the frame-index code to read back reliably


class Media:
    """Test videos, written on first use and shared by the whole session."""

    SPECS = {
        "cfr30": dict(seconds=3, fps=30),
        "cfr27": dict(seconds=3, fps=27),
        "ntsc": dict(seconds=3, fps=Fraction(30000, 1001)),
        "odd": dict(seconds=3, fps=Fraction(30067, 1000)),
        "vfr": dict(times=videos.vfr_times(90, seed=1)),
        "vfr_b": dict(times=videos.vfr_times(90, seed=1), bframes=3),
        "h264_audio": dict(seconds=2, audio=True),
        "hevc": dict(seconds=2, codec="libx265"),
        "hevc_audio": dict(seconds=2, codec="libx265", audio=True),
        "gop15": dict(seconds=4, gop=15, bframes=2),
        "gop30": dict(seconds=4, gop=30, bframes=2),
        "gop45": dict(seconds=4, gop=45, bframes=2),
        "gop30_ts": dict(seconds=4, gop=30, bframes=2, suffix=".ts"),
        "gop15_ts": dict(seconds=4, gop=15, suffix=".ts"),
        "frag": dict(seconds=4, gop=15, container_options={"movflags": "frag_keyframe+empty_moov"}),
        "one_frame": dict(times=[0.0]),
    }

    def __init__(self, root: Path):
        self.root = root
        self.cache: dict[str, Path] = {}

    def __call__(self, name: str) -> Path:
        if name not in self.cache:
            spec = dict(self.SPECS[name])
            suffix = spec.pop("suffix", ".mp4")
            self.cache[name] = videos.write_video(self.root / f"{name}{suffix}", **spec)
        return self.cache[name]

    def bad(self, name: str) -> Path:
        """Inputs that must fail (or decode partly), by name."""
        path = self.root / f"bad_{name}"
        if name in self.cache:
            return self.cache[name]
        if name == "empty":
            out = videos.write_empty(path.with_suffix(".mp4"))
        elif name == "text":
            out = videos.write_text(path.with_suffix(".mp4"))
        elif name == "audio_only":
            out = videos.write_audio_only(path.with_suffix(".m4a"))
        elif name == "bogus_codec":
            out = videos.write_bogus_codec(path.with_suffix(".mp4"), self("cfr30"))
        elif name == "garbled":
            out = videos.write_garbled(path.with_suffix(".mp4"), self("cfr30"))
        elif name == "random_after_ftyp":
            out = videos.write_random_after_ftyp(path.with_suffix(".mp4"), self("cfr30"))
        elif name == "cut_mp4":  # moov at the end, cut off: nothing decodes
            out = videos.truncate(self("gop15"), path.with_suffix(".mp4"), 0.6)
        elif name == "cut_frag":  # fragmented mp4: the first fragments survive
            out = videos.truncate(self("frag"), path.with_suffix(".mp4"), 0.55)
        elif name == "cut_ts":
            out = videos.truncate(self("gop15_ts"), path.with_suffix(".ts"), 0.55)
        elif name == "missing":
            out = path.with_suffix(".mp4")
        else:
            raise KeyError(name)
        self.cache[name] = out
        return out


def decode_all(uri, fps=2.0, clip_len=4, size=SIZE, **kw) -> tuple[list[Clip], np.ndarray, np.ndarray]:
    """Clips, plus the distinct samples (overlap frames once): times and frames."""
    clips = list(iter_clips(str(uri), fps=fps, clip_len=clip_len, size=size, **kw))
    ts, fs = [], []
    for c in clips:
        skip = 1 if c.first_is_overlap else 0
        ts.append(c.t[skip:])
        fs.append(c.frames[skip:])
    return clips, np.concatenate(ts), np.concatenate(fs)


def indices(frames: np.ndarray) -> list[int]:
    return [videos.read_index(f) for f in frames]


def expected_nearest(frame_times: list[float], fps: float) -> list[int]:
    """Reference: for each target k/fps, the nearest frame (ties to the earlier), each frame once."""
    ft = np.asarray(frame_times)
    dur = ft[-1] + (ft[-1] - ft[-2] if len(ft) > 1 else 1.0)
    out: list[int] = []
    k = 0
    while True:
        target = k / fps
        if target > ft[-1] + 1e-9:
            # after the last frame: served by it only within half a frame interval
            half = (dur - ft[-1]) / 2
            if target - ft[-1] < half - 1e-9 and (not out or out[-1] != len(ft) - 1):
                out.append(len(ft) - 1)
            break
        i = int(np.argmin(np.abs(ft - target) + np.arange(len(ft)) * 1e-12))
        if not out or out[-1] != i:
            out.append(i)
        k += 1
    return out
