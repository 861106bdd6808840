"""Which frames a video is sampled at, and which decode strategy gets them cheapest.

Sampling (identical for every strategy)
---------------------------------------
Times are the video's own presentation timestamps, `(pts - stream.start_time) * time_base`,
so odd rates (27, 30000/1001, 30.067 fps) and variable frame rate come out right. Target
times are `k / fps`, k = 0, 1, 2, ... For each target the *nearest* decoded frame is taken
(ties go to the earlier frame), so a sample is at most half a native frame interval from its
target on constant-rate video. A source frame is emitted at most once: when two targets
pick the same frame (sampling faster than the video, or a gap in VFR footage) the second
target is skipped. After the last frame, one more target is served by that last frame only
if it lies less than half a native frame interval beyond it. `Clip.t` always holds the
chosen frame's real time, never the target.

Strategies
----------
- `full`: decode every frame, keep the sampled ones. Always correct; cost = every frame.
- `nonkey`: `skip_frame = NONKEY` and only keyframe packets are sent to the decoder, so
  only keyframes are ever candidates. It gives the same samples as `full` exactly when
  every target time has a keyframe within half a native frame interval, i.e. the keyframe
  grid contains the sampling grid: all-intra video, or a fixed GOP whose duration divides
  the sampling period (GOP 15 at 30 fps = 0.5 s with 2 fps sampling: yes; GOP 30 = 1 s or
  GOP 60 = 2 s with 2 fps: no, half or three quarters of the targets have no keyframe and
  would snap to one up to half a GOP away). Asked for explicitly it runs anyway (times
  stay honest, but they snap to keyframes); `auto` only picks it when the condition holds.
- `seek`: before decoding towards the next target, if the keyframe preceding that target
  lies beyond the last decoded frame, seek to it (`container.seek(..., backward=True)`) and
  decode forward; otherwise keep decoding. This skips the frames between a sample and the
  next target's keyframe, so it wins when samples are far apart relative to the GOP. Seeks
  that land after the target (MPEG-TS seeks are imprecise) are retried further back, so the
  samples are always those of `full`.
- `auto`: from the keyframe positions (the container index when it has one, e.g. MP4;
  otherwise the first keyframes' pts, extrapolated as a regular grid) it predicts the work
  of each strategy with costs measured by jobs/bench_decode.py (`COST_*` below): `nonkey`
  when it is exact, else `seek` when its predicted cost is below `SEEK_GAIN` of `full`,
  else `full`. Measured at 2 fps on 640x480 30 fps H.264, per CPU second, relative to
  full: GOP 15 nonkey 4.4-5.2x, seek 2.6-2.8x; GOP 30 seek 1.4-1.5x; GOP 60 seek
  1.1-1.2x (nonkey is not exact at GOP 30/60 there).
"""

from __future__ import annotations

import math
from typing import Any

from va_gpt.video.container import EPS, Video

STRATEGIES = ("auto", "full", "nonkey", "seek")

# Cost model for `auto`, in units of "decode one average frame", measured with
# jobs/bench_decode.py (640x480 30 fps H.264 x264-veryfast with B-frames, GOP 15/30/60,
# 2 fps sampling, one thread). In the least loaded run a seek (demuxer seek + decoder
# flush + restart) cost 4.1-4.7 frames and a keyframe 3.3 frames plus 0.02 per packet
# demuxed and skipped; with these the predicted cost relative to full matched the
# measured one: seek 0.38/0.70/0.86 predicted vs 0.35/0.70/0.86 measured for GOP
# 15/30/60, nonkey 0.22 vs 0.22 for GOP 15. Noisier runs on the shared machine put GOP 60
# seek anywhere from 0.84 to 1.0, so seek needs a predicted gain of 10%.
COST_SEEK = 4.5
COST_KEYFRAME = 3.0
COST_DEMUX = 0.02  # demuxing one packet that nonkey does not decode
SEEK_GAIN = 0.9


class Sampler:
    """Nearest-frame selection on the grid k / fps (ties to the earlier frame), each frame once."""

    def __init__(self, fps: float, start_s: float = 0.0, end_s: float = math.inf):
        self.fps = float(fps)
        self.k = max(0, math.ceil(start_s * self.fps - 1e-9))
        self.end_s = end_s
        self.prev: tuple[float, Any] | None = None
        self.last_emit: float | None = None

    @property
    def next_target(self) -> float | None:
        t = self.k / self.fps
        return t if t <= self.end_s + EPS else None

    def _emit(self, pick, out: list) -> None:
        if self.last_emit is None or pick[0] > self.last_emit + EPS:
            out.append(pick)
            self.last_emit = pick[0]

    def feed(self, t: float, frame) -> list:
        out: list = []
        while (target := self.next_target) is not None and target <= t + EPS:
            if self.prev is not None and target - self.prev[0] <= t - target + EPS:
                self._emit(self.prev, out)
            else:
                self._emit((t, frame), out)
            self.k += 1
        self.prev = (t, frame)
        return out

    def finish(self, frame_dur: float) -> list:
        out: list = []
        target = self.next_target
        if target is not None and self.prev is not None and target - self.prev[0] < frame_dur / 2 - EPS:
            self._emit(self.prev, out)
        self.prev = None
        return out


def choose_strategy(vid: Video, fps: float, start_s: float = 0.0, end_s: float | None = None) -> str:
    """`auto`'s rule: predicted work of each strategy over the targets, see module docstring."""
    d = vid.frame_dur
    end = vid.duration_estimate() if end_s is None else min(end_s, vid.duration_estimate())
    k0 = max(0, math.ceil(start_s * fps - 1e-9))
    last = end - 0.5 * d  # the last frame is at about end - d: targets past this get no frame
    targets = [k / fps for k in range(k0, int(math.floor(last * fps + 1e-9)) + 1)]
    if not targets or not vid.keyframes:
        return "full"
    span = max(end - start_s, d)
    full_cost = span / d
    # nonkey: exact when every target has a keyframe within half a frame.
    exact = vid.keyframes_complete or vid.gop_regular
    if exact:
        for t in targets:
            k = vid.key_before(t + 0.5 * d)
            if k is None or abs(t - k) > 0.5 * d + EPS:
                exact = False
                break
    if exact:
        if vid.keyframes_complete:
            n_keys = sum(1 for k in vid.keyframes if start_s - EPS <= k <= end + EPS)
        else:
            n_keys = span / vid.gop_s if vid.gop_s else len(targets)
        nonkey_cost = COST_KEYFRAME * n_keys + COST_DEMUX * full_cost
        if nonkey_cost < full_cost:
            return "nonkey"
    # seek: simulate the decode position.
    if not (vid.keyframes_complete or vid.gop_regular):
        return "full"
    first_key = vid.keyframes[0]
    pos, cost = -math.inf, 0.0  # pos: time of the last decoded frame, as at run time
    for t in targets:
        k = vid.key_before(t)
        if k is None:  # before the first keyframe: decoded from the start anyway
            cost += max(t - first_key, 0.0) / d + 1 if pos == -math.inf else (t - pos) / d
        elif pos == -math.inf and k <= first_key + EPS:
            cost += (t - k) / d + 1  # decoding from the start: no seek needed
        elif k > pos + 0.5 * d:
            cost += COST_SEEK + (t - k) / d + 1
        else:
            cost += (t - pos) / d
        pos = t
    if end_s is None:  # a whole video: both decode on from the last sample to the end
        cost += max(end - pos, 0.0) / d
    if cost < SEEK_GAIN * full_cost:
        return "seek"
    return "full"
