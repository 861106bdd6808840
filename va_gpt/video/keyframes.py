"""Stills of one anomaly interval, cut from its source object: the peak frame and a contact sheet.

    media = cut_interval_media(uri, peak_s=41.5, start_s=38.0, end_s=47.0, box=(0.2, 0.3, 0.5, 0.8))
    media.keyframe  # JPEG bytes: the frame nearest the peak, the SETS region box drawn on it
    media.sheet     # JPEG bytes: `frames` frames spread evenly over [start_s, end_s], in a grid

One pass over the source: the object is opened like the decode stage opens it
(va_gpt.video.container.Video, through fsspec, nothing copied to disk), seeks to the
keyframe before the first wanted time and decodes forward; each wanted time gets the
nearest decoded frame. Pictures keep their aspect ratio (unlike the encoder's square
input). JPEGs are encoded by FFmpeg's mjpeg encoder through PyAV, so no image library
is needed. Every failure is a DecodeError naming the object (a missing source: kind
`missing`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import numpy as np

from va_gpt.video.container import DEFAULT_THREADS, EPS, Video
from va_gpt.video.errors import DecodeError
from va_gpt.video.frames import Run, sampled_frames, zero_frames_error

BOX_RGB = (255, 48, 32)  # the region box; a dark outline keeps it visible on bright footage
_OUTLINE_RGB = (0, 0, 0)
_SHEET_GAP = 4
_SHEET_BG = (24, 24, 24)


@dataclass(frozen=True)
class IntervalMedia:
    keyframe: bytes  # JPEG
    sheet: bytes  # JPEG contact sheet, row-major in time
    peak_t: float  # time (s) of the frame shown as the keyframe
    sheet_t: tuple[float, ...]  # times (s) of the sheet's frames


class _Targets:
    """A Sampler (va_gpt.video.sampling) for a given list of times: each gets its nearest frame.

    `sampled_frames` drives it; it yields (target, t, frame). Times past the last frame get
    the last frame.
    """

    def __init__(self, times: list[float]):
        self.times = sorted(set(times))
        self.i = 0
        self.prev: tuple[float, Any] | None = None

    @property
    def next_target(self) -> float | None:
        return self.times[self.i] if self.i < len(self.times) else None

    def feed(self, t: float, frame) -> list:
        out = []
        while (target := self.next_target) is not None and target <= t + EPS:
            if self.prev is not None and target - self.prev[0] <= t - target + EPS:
                out.append((target, *self.prev))
            else:
                out.append((target, t, frame))
            self.i += 1
        self.prev = (t, frame)
        return out

    def finish(self, frame_dur: float) -> list:
        out = []
        while (target := self.next_target) is not None and self.prev is not None:
            out.append((target, *self.prev))
            self.i += 1
        return out


def _even(n: float) -> int:
    return max(2, int(round(n / 2.0)) * 2)


def _picture(frame: av.VideoFrame, width: int) -> np.ndarray:
    """A decoded frame -> RGB uint8 [H, width, 3], aspect ratio kept (even sizes for JPEG)."""
    w = _even(min(width, frame.width))
    h = _even(frame.height * w / frame.width)
    return frame.reformat(width=w, height=h, format="rgb24").to_ndarray()


def draw_box(rgb: np.ndarray, box, thickness: int | None = None) -> np.ndarray:
    """A copy of `rgb` with the normalised box (x0, y0, x1, y1 in [0, 1]) drawn as a rectangle."""
    out = rgb.copy()
    if box is None:
        return out
    vals = [float(v) for v in box]
    if len(vals) != 4 or not all(math.isfinite(v) for v in vals):
        return out
    h, w = out.shape[:2]
    x0, y0, x1, y1 = vals
    x0, x1 = sorted((min(max(x0, 0.0), 1.0), min(max(x1, 0.0), 1.0)))
    y0, y1 = sorted((min(max(y0, 0.0), 1.0), min(max(y1, 0.0), 1.0)))
    c0, c1 = int(round(x0 * (w - 1))), int(round(x1 * (w - 1)))
    r0, r1 = int(round(y0 * (h - 1))), int(round(y1 * (h - 1)))
    th = thickness or max(2, round(min(h, w) / 120))

    def rect(a0, b0, a1, b1, t, color):
        a0, b0, a1, b1 = max(a0, 0), max(b0, 0), min(a1, h - 1), min(b1, w - 1)
        out[a0 : min(a0 + t, h), b0 : b1 + 1] = color
        out[max(a1 - t + 1, 0) : a1 + 1, b0 : b1 + 1] = color
        out[a0 : a1 + 1, b0 : min(b0 + t, w)] = color
        out[a0 : a1 + 1, max(b1 - t + 1, 0) : b1 + 1] = color

    rect(r0 - 1, c0 - 1, r1 + 1, c1 + 1, th + 2, _OUTLINE_RGB)
    rect(r0, c0, r1, c1, th, BOX_RGB)
    return out


def encode_jpeg(rgb: np.ndarray, quality: int = 3) -> bytes:
    """RGB uint8 [H, W, 3] -> JPEG bytes (FFmpeg mjpeg; `quality` is its qscale, 2 best .. 31 worst)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected uint8 [H, W, 3], got {rgb.dtype} {list(rgb.shape)}")
    h, w = _even(rgb.shape[0]), _even(rgb.shape[1])
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    frame = frame.reformat(width=w, height=h, format="yuvj420p")
    cc = av.CodecContext.create("mjpeg", "w")
    cc.width, cc.height, cc.pix_fmt = w, h, "yuvj420p"
    cc.time_base = Fraction(1, 25)
    cc.options = {"qmin": str(quality), "qmax": str(quality)}
    packets = list(cc.encode(frame)) + list(cc.encode(None))
    return b"".join(bytes(p) for p in packets)


def contact_sheet(pictures: list[np.ndarray], columns: int = 3) -> np.ndarray:
    """Pictures of one size in a grid (row-major), on a dark background with small gaps."""
    if not pictures:
        raise ValueError("no pictures for a contact sheet")
    h, w = pictures[0].shape[:2]
    cols = max(1, min(columns, len(pictures)))
    rows = math.ceil(len(pictures) / cols)
    g = _SHEET_GAP
    sheet = np.empty((rows * h + (rows + 1) * g, cols * w + (cols + 1) * g, 3), np.uint8)
    sheet[:] = _SHEET_BG
    for k, pic in enumerate(pictures):
        r, c = divmod(k, cols)
        y, x = g + r * (h + g), g + c * (w + g)
        ph, pw = min(h, pic.shape[0]), min(w, pic.shape[1])
        sheet[y : y + ph, x : x + pw] = pic[:ph, :pw]
    return sheet


def sheet_times(start_s: float, end_s: float, frames: int) -> list[float]:
    """`frames` times spread over [start_s, end_s]: the centres of equal parts."""
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    span = max(0.0, end_s - start_s)
    return [start_s + (k + 0.5) * span / frames for k in range(frames)]


def cut_interval_media(
    uri: str,
    *,
    peak_s: float,
    start_s: float,
    end_s: float,
    box=None,
    storage_options: dict | None = None,
    frames: int = 6,
    columns: int = 3,
    width: int = 640,
    thumb_width: int = 240,
    threads: int = DEFAULT_THREADS,
) -> IntervalMedia:
    """The keyframe (frame nearest `peak_s`, `box` drawn) and a contact sheet of [start_s, end_s].

    Raises DecodeError (kind `missing` when the source object is gone).
    """
    if end_s < start_s:
        raise ValueError(f"end_s ({end_s}) must be >= start_s ({start_s})")
    times = sheet_times(start_s, end_s, frames)
    targets = _Targets([*times, float(peak_s)])
    picked: dict[float, tuple[float, Any]] = {}
    with Video(uri, storage_options, threads) as vid:
        run = Run("seek")
        for target, t, frame in sampled_frames(vid, targets, run):
            picked[target] = (t, frame)
        if run.error is not None:
            raise run.error
        if not picked:
            if run.decoded == 0 and run.damage is not None:
                raise zero_frames_error(vid, run)
            raise DecodeError(uri, "corrupt", f"{uri}: no frame decodes at {start_s:.2f}-{end_s:.2f}s")
        last = max(picked.values(), key=lambda p: p[0])
        peak_t, peak_frame = picked.get(float(peak_s), last)
        key = draw_box(_picture(peak_frame, width), box)
        thumbs, thumb_t = [], []
        for s in times:
            t, frame = picked.get(s, last)
            thumbs.append(draw_box(_picture(frame, thumb_width), box, thickness=2))
            thumb_t.append(t)
    return IntervalMedia(
        keyframe=encode_jpeg(key),
        sheet=encode_jpeg(contact_sheet(thumbs, columns)),
        peak_t=float(peak_t),
        sheet_t=tuple(float(t) for t in thumb_t),
    )
